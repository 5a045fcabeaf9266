//! The settings flow: a signed-in identity changes its profile or password. Changes to
//! credentials and addresses need a recent sign-in (`privileged_session_max_age`).

use super::{FlowIdParam, InitParams, SubmitParams};
use crate::http::Query;
use crate::http::openapi::{
    ErrorEnvelope, FlowSubmission, GetFlowAnswers, SettingsFlow, SettingsFlowOrError, SubmitAnswers,
};
use app::model::UiText;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::respond::{
    answer_new_flow, expired_on_get, init_url, is_browser_navigation, location_change,
    respond_flow, respond_flow_error,
};
use super::{
    Flow, FlowError, FlowId, FlowKind, FlowType, InitQuery, STATE_SUCCESS, answer_init,
    load_for_submit, new_flow, see_other, ui_url, validate_return_to, verification,
};
use crate::config::HookName;
use crate::error::ApiError;
use crate::hook::address_change;
use crate::http::request::{Client, Submission, field};
use crate::identity::{Identity, View};
use crate::session::handlers::{current_session, missing_factor, session_inactive};
use crate::session::{Aal, AuthenticationMethod, Session};
use crate::session::{aal2_required, step_up_url};
use crate::state::AppState;
use crate::store::Changes;
use crate::strategy::SettingsOutcome;

/// Binds a settings flow to `identity` and fills its forms with the identity's values.
pub fn attach(state: &AppState, flow: &mut Flow, identity: &Identity) {
    flow.identity_id = Some(identity.id);
    flow.identity = Some(identity.to_json(&state.schema_url(&identity.schema_id), View::default()));
    flow.ui
        .nodes
        .retain(|node| node.name() == Some("csrf_token"));
    for strategy in &state.strategies.settings {
        strategy.populate_settings(state, flow, identity);
    }
}

/// Browsers without a session sign in first and come back; other clients get 401.
fn sign_in_first(state: &AppState, client: &Client, flow_type: FlowType) -> Response {
    if is_browser_navigation(client, flow_type) {
        let mut login = state
            .urls
            .public
            .join("self-service/login/browser")
            .unwrap_or_else(|_| state.urls.public.clone());
        login
            .query_pairs_mut()
            .append_pair("return_to", &init_url(state, FlowKind::Settings));
        see_other(login.as_str())
    } else {
        session_inactive().into_response()
    }
}

/// `GET /self-service/settings/browser`
#[utoipa::path(get, path = "/self-service/settings/browser", operation_id = "createBrowserSettingsFlow", tag = "settings",
    params(InitParams),
    responses(
        (status = 200, description = "The new flow, for a client that asked for JSON.", body = SettingsFlow),
        (status = 303, description = "To the flow's page, or where a browser goes instead (already signed in, an error page)."),
        (status = 400, description = "A `return_to` that is not allowed.", body = ErrorEnvelope),
        (status = 401, description = "No session (`session_inactive`).", body = ErrorEnvelope),
        (status = 403, description = "The session does not have the required AAL (`session_aal2_required`).", body = ErrorEnvelope)))]
pub async fn init_browser(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    let result = init(&state, &client, &query, FlowType::Browser).await;
    answer_init(&state, &client, FlowType::Browser, result).await
}

/// `GET /self-service/settings/api`
#[utoipa::path(get, path = "/self-service/settings/api", operation_id = "createNativeSettingsFlow", tag = "settings",
    params(InitParams),
    responses(
        (status = 200, description = "The new flow.", body = SettingsFlow, links(
            ("getSettingsFlow" = (operation_id = "getSettingsFlow", parameters(("id" = "$response.body#/id")))),
            ("updateSettingsFlow" = (operation_id = "updateSettingsFlow", parameters(("flow" = "$response.body#/id")))),
        )),
        (status = 400, description = "A `return_to` that is not allowed.", body = ErrorEnvelope),
        (status = 401, description = "No session (`session_inactive`).", body = ErrorEnvelope),
        (status = 403, description = "The session does not have the required AAL (`session_aal2_required`).", body = ErrorEnvelope)))]
pub async fn init_api(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    let result = init(&state, &client, &query, FlowType::Api).await;
    answer_init(&state, &client, FlowType::Api, result).await
}

async fn init(
    state: &AppState,
    client: &Client,
    query: &InitQuery,
    flow_type: FlowType,
) -> Result<Response, ApiError> {
    let return_to = validate_return_to(state, query.return_to.as_deref())?;
    let Some((session, _)) = current_session(state, client).await? else {
        return Ok(sign_in_first(state, client, flow_type));
    };
    if needs_second_factor(state, &session).await? {
        let back = init_url(state, FlowKind::Settings);
        if is_browser_navigation(client, flow_type) {
            return Ok(see_other(&step_up_url(state, Some(&back))));
        }
        return Ok(aal2_required(state, Some(&back)));
    }
    let identity = state.identities.get_identity(session.identity_id).await?;
    let (mut flow, set_cookie) = new_flow(state, client, FlowKind::Settings, flow_type, return_to);
    attach(state, &mut flow, &identity);
    if state
        .config
        .session
        .whoami
        .enforce_mfa_enrolment
        .applies_to(&identity.schema_id)
        && !identity.has_second_factor(state.second_factors())
    {
        // Ward's own message id: Kratos has no enrolment policy.
        flow.ui.messages.push(UiText::plain(1059001));
    }
    let before = &state.config.selfservice.flows.settings.before.hooks;
    crate::hook::before(state, client, before, &flow).await?;
    state.flows.create_flow(&flow).await?;
    Ok(answer_new_flow(state, client, &flow, set_cookie))
}

/// `GET /self-service/settings/flows?id=`: only for the identity the flow belongs to.
#[utoipa::path(get, path = "/self-service/settings/flows", operation_id = "getSettingsFlow", tag = "settings",
    params(FlowIdParam),
    responses(
        (status = 200, description = "The flow.", body = SettingsFlow),
        (status = 401, description = "No session.", body = ErrorEnvelope),
        GetFlowAnswers))]
pub async fn get_flow(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
) -> Result<Response, ApiError> {
    let Some((session, identity)) = current_session(&state, &client).await? else {
        return Err(session_inactive());
    };
    let mut flow = state
        .flows
        .get_flow(FlowKind::Settings, id.parse("id")?)
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound => super::flow_not_found(),
            other => other.into(),
        })?;
    if flow.identity_id != Some(session.identity_id) {
        return Err(identity_mismatch());
    }
    if needs_second_factor(&state, &session).await? {
        return Ok(aal2_required(&state, Some(&flow_page(&state, &flow))));
    }
    if flow.is_expired(state.clock.now()) {
        return Err(expired_on_get(&state, &flow));
    }
    flow.identity = Some(identity.to_json(&state.schema_url(&identity.schema_id), View::default()));
    Ok(Json(flow.to_json()).into_response())
}

/// Whether the session must prove the identity's second factor before settings
/// (`selfservice.flows.settings.required_aal`).
async fn needs_second_factor(state: &AppState, session: &Session) -> Result<bool, ApiError> {
    let required = state.config.selfservice.flows.settings.required_aal;
    // The enrolment policy does not apply here: settings is where users enrol.
    Ok(missing_factor(state, session, "", required, false)
        .await?
        .is_some())
}

/// The settings page showing `flow`.
fn flow_page(state: &AppState, flow: &Flow) -> String {
    let mut page = ui_url(state, FlowKind::Settings);
    page.query_pairs_mut()
        .append_pair("flow", &flow.id.to_string());
    page.to_string()
}

pub(super) fn identity_mismatch() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN)
        .with_id("security_identity_mismatch")
        .with_reason("The requested flow does not belong to this user.")
}

/// `POST /self-service/settings?flow=`
#[utoipa::path(post, path = "/self-service/settings", operation_id = "updateSettingsFlow", tag = "settings",
    params(SubmitParams),
    request_body(content((FlowSubmission = "application/json"), (FlowSubmission = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Done: the flow in its new state.", body = SettingsFlow),
        (status = 400, description = "The form has errors (the flow with messages), or the request is not usable (the envelope).", body = SettingsFlowOrError),
        (status = 401, description = "No session.", body = ErrorEnvelope),
        SubmitAnswers))]
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
    Submission(form): Submission,
) -> Response {
    let id = match id.parse("flow") {
        Ok(id) => id,
        Err(_) if !client.wants_json => return see_other(&init_url(&state, FlowKind::Settings)),
        Err(error) => return error.into_response(),
    };
    handle(&state, &client, id, field(&form, "csrf_token"), &form).await
}

/// Loads flow `id` and runs `form` on it for the signed-in identity the flow belongs to: a
/// submission, or an upstream's answer.
pub(crate) async fn handle(
    state: &AppState,
    client: &Client,
    id: uuid::Uuid,
    csrf: Option<&str>,
    form: &Value,
) -> Response {
    let result = async {
        let Some((session, _)) = current_session(state, client).await? else {
            let flow_type = if client.header_token.is_some() {
                FlowType::Api
            } else {
                FlowType::Browser
            };
            return Ok(sign_in_first(state, client, flow_type));
        };
        let flow = load_for_submit(state, client, FlowKind::Settings, id, csrf).await?;
        if flow.identity_id != Some(session.identity_id) {
            return Err(identity_mismatch().into());
        }
        if needs_second_factor(state, &session).await? {
            let back = flow_page(state, &flow);
            if is_browser_navigation(client, flow.flow_type) {
                return Ok(see_other(&step_up_url(state, Some(&back))));
            }
            return Ok(aal2_required(state, Some(&back)));
        }
        run(state, client, flow, session, form).await
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => respond_flow_error(state, client, error).await,
    }
}

async fn run(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    session: Session,
    form: &Value,
) -> Result<Response, FlowError> {
    let original = state.identities.get_identity(session.identity_id).await?;
    let mut identity = original.clone();
    flow.identity = Some(original.to_json(&state.schema_url(&original.schema_id), View::default()));
    flow.ui.clear_messages();
    flow.active = field(form, "method").map(str::to_string);
    for strategy in &state.strategies.settings {
        match strategy
            .update_settings(state, &mut flow, &mut identity, form)
            .await?
        {
            SettingsOutcome::NotMine => continue,
            SettingsOutcome::Rejected => return Err(FlowError::Rejected(Box::new(flow))),
            SettingsOutcome::Shown => {
                flow.updated_at = state.clock.now();
                state.flows.update_flow(&flow).await?;
                return Ok(respond_flow(state, client, &flow, StatusCode::OK));
            }
            // Linking an upstream account is a privileged change: the sign-in must be recent
            // before the browser leaves for the upstream.
            SettingsOutcome::Redirect(url) => {
                if !is_privileged(state, &session) {
                    return Ok(refresh_required(state, client, &flow));
                }
                flow.updated_at = state.clock.now();
                state.flows.update_flow(&flow).await?;
                return Ok(location_change(client, flow.flow_type, &url));
            }
            SettingsOutcome::Changed {
                method,
                privileged,
                second_factor,
            } => {
                if privileged && !is_privileged(state, &session) {
                    return Ok(refresh_required(state, client, &flow));
                }
                let mut session = session;
                let original_aal = session.aal;
                if second_factor {
                    let now = state.clock.now();
                    session.authentication_methods.push(AuthenticationMethod {
                        method: method.into(),
                        aal: Aal::Aal2,
                        completed_at: now,
                        provider: None,
                    });
                    session.aal = session.achieved_aal();
                }
                let before = Before {
                    identity: &original,
                    aal: original_aal,
                };
                return finish(state, client, flow, identity, before, &session, method).await;
            }
        }
    }
    flow.ui
        .messages
        .push(UiText::plain(FlowKind::Settings.no_strategy_message()));
    Err(FlowError::Rejected(Box::new(flow)))
}

fn is_privileged(state: &AppState, session: &Session) -> bool {
    let max_age = time::Duration::try_from(
        state
            .config
            .selfservice
            .flows
            .settings
            .privileged_session_max_age,
    )
    .unwrap_or(time::Duration::HOUR);
    session.authenticated_at + max_age > state.clock.now()
}

/// The caller must sign in again; the refresh login returns to this settings flow.
fn refresh_required(state: &AppState, client: &Client, flow: &Flow) -> Response {
    let back = flow_page(state, flow);
    let mut login = state
        .urls
        .public
        .join("self-service/login/browser")
        .unwrap_or_else(|_| state.urls.public.clone());
    login
        .query_pairs_mut()
        .append_pair("refresh", "true")
        .append_pair("return_to", &back);
    if is_browser_navigation(client, flow.flow_type) {
        return see_other(login.as_str());
    }
    crate::session::forbidden_with_redirect(
        "session_refresh_required",
        "The login session is too old and thus not allowed to update these fields. Please re-authenticate.",
        login.as_str(),
    )
}

/// The identity and the session's level before the change.
struct Before<'a> {
    identity: &'a Identity,
    aal: Aal,
}

/// Stores the change with what follows from it (verification of new addresses, revoked
/// sessions) in one transaction, then shows the flow again with "saved".
async fn finish(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    mut identity: Identity,
    before: Before<'_>,
    session: &Session,
    method: &'static str,
) -> Result<Response, FlowError> {
    let Before {
        identity: original,
        aal: original_aal,
    } = before;
    let now = state.clock.now();
    let mut changes = Changes::default();
    let hooks = crate::hook::settings_hooks(state, method);
    // Hooks that read their answer run before the change is stored: they may amend or refuse
    // it.
    let context = crate::hook::HookContext {
        client,
        flow: &flow,
        identity: Some(&identity),
        session: Some(session),
    };
    match crate::hook::run_web_hooks(state, hooks, crate::hook::Stage::BeforeStoring, &context)
        .await
    {
        Ok(None) => {}
        Ok(Some(patch)) => {
            crate::hook::apply_patch(&mut identity, &patch);
            if !crate::strategy::traits::check_against_schema(state, &mut flow, &mut identity) {
                return Err(FlowError::Rejected(Box::new(flow)));
            }
        }
        Err(error) => return Err(crate::hook::refusal(flow, error)),
    }
    // `verify_new_address`: a changed address stays as it was until the new one is verified.
    let mut pending_change = None;
    if method == "profile"
        && crate::hook::configured(hooks, HookName::VerifyNewAddress)
        && let Some(schema) = state.schemas.get(&identity.schema_id)
        && let Some(pending) = address_change::hold_back(schema, original, &mut identity)
    {
        // The addresses follow the (restored) traits again.
        if !crate::strategy::traits::check_against_schema(state, &mut flow, &mut identity) {
            return Err(FlowError::Rejected(Box::new(flow)));
        }
        pending_change = Some(pending);
    }
    let new_addresses = identity.verifiable_addresses.iter().any(|address| {
        !address.verified()
            && !original
                .verifiable_addresses
                .iter()
                .any(|old| old.value == address.value)
    });
    let mut continue_with = Vec::new();
    if new_addresses
        && let Some(item) = verification::start_for(
            state,
            client,
            &mut identity,
            flow.flow_type,
            None,
            &mut changes,
        )
        .await
    {
        continue_with.push(item);
    }
    let mut pending_addresses = Vec::new();
    if let Some(pending) = pending_change {
        pending_addresses = address_change::addresses(&pending);
        let started = verification::start_for_change(
            state,
            client,
            &identity,
            pending,
            session.id,
            flow.flow_type,
            &mut changes,
        )
        .await;
        continue_with.extend(started);
    } else {
        address_change::notify_previous(
            state,
            flow.language(),
            hooks,
            original,
            &identity,
            &mut changes,
        );
    }
    if hooks
        .iter()
        .any(|hook| hook.hook == HookName::RevokeActiveSessions)
    {
        changes.revoke_sessions = Some((identity.id, Some(session.id)));
    }
    attach(state, &mut flow, &identity);
    flow.state = STATE_SUCCESS.into();
    flow.updated_at = now;
    flow.ui.messages = vec![UiText::plain(1050001)];
    for address in &pending_addresses {
        flow.ui
            .messages
            .push(UiText::new(1059002, json!({ "address": address })));
    }
    flow.internal
        .insert("continue_with".into(), json!(continue_with));
    changes.update_identity = Some(identity.clone());
    changes.update_flows.push(flow.clone());
    if session.aal != original_aal {
        changes.update_sessions.push(session.clone());
    }
    state.changes.commit(changes, now).await?;
    let context = crate::hook::HookContext {
        client,
        flow: &flow,
        identity: Some(&identity),
        session: Some(session),
    };
    crate::hook::after_storing(state, hooks, &context).await;

    if is_browser_navigation(client, flow.flow_type)
        && let Some(return_to) = flow.return_to.clone()
    {
        return Ok(see_other(&return_to));
    }
    Ok(respond_flow(state, client, &flow, StatusCode::OK))
}
