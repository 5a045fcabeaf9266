//! The recovery flow: regain access through an address (`code` or `link`). Success signs the
//! identity in with a privileged session and sends it to a settings flow to set a new password.

use super::{FlowIdParam, InitParams, LinkParams, SubmitParams};
use crate::http::Query;
use crate::http::openapi::{
    ErrorEnvelope, FlowSubmission, GetFlowAnswers, RecoveryCodeForIdentity, RecoveryFlow,
    RecoveryFlowOrError, RecoveryLinkForIdentity, SubmitAnswers,
};
use app::model::UiText;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::one_time::SubmitQuery;
use super::respond::{answer_new_flow, is_browser_navigation, location_change};
use super::{
    Flow, FlowError, FlowId, FlowKind, FlowType, InitQuery, STATE_PASSED_CHALLENGE, answer_init,
    new_flow, one_time, read_flow, return_url, see_other, session_already_available, settings,
    ui_url, validate_return_to,
};
use crate::config::HookName;
use crate::error::ApiError;
use crate::http::request::{Client, Submission};
use crate::identity::VerificationStatus;
use crate::session::cookie::session_cookie;
use crate::session::handlers::current_session;
use crate::session::{Device, Session, SessionToken};
use crate::state::AppState;
use crate::store::{Changes, StoreError};
use crate::strategy::one_time::OneTimeStrategy;

/// `GET /self-service/recovery/browser`
#[utoipa::path(get, path = "/self-service/recovery/browser", operation_id = "createBrowserRecoveryFlow", tag = "recovery",
    params(InitParams),
    responses(
        (status = 200, description = "The new flow, for a client that asked for JSON.", body = RecoveryFlow),
        (status = 302, description = "Already signed in: to the return address."),
        (status = 303, description = "To the flow's page, or where a browser goes instead (already signed in, an error page)."),
        (status = 400, description = "Already signed in (`session_already_available`), recovery disabled, or a `return_to` that is not allowed.", body = ErrorEnvelope)))]
pub async fn init_browser(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    let result = init(&state, &client, &query, FlowType::Browser).await;
    answer_init(&state, &client, FlowType::Browser, result).await
}

/// `GET /self-service/recovery/api`
#[utoipa::path(get, path = "/self-service/recovery/api", operation_id = "createNativeRecoveryFlow", tag = "recovery",
    params(InitParams),
    responses(
        (status = 200, description = "The new flow.", body = RecoveryFlow, links(
            ("getRecoveryFlow" = (operation_id = "getRecoveryFlow", parameters(("id" = "$response.body#/id")))),
            ("updateRecoveryFlow" = (operation_id = "updateRecoveryFlow", parameters(("flow" = "$response.body#/id")))),
        )),
        (status = 400, description = "Already signed in (`session_already_available`), recovery disabled, or a `return_to` that is not allowed.", body = ErrorEnvelope)))]
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
    one_time::strategy(state, FlowKind::Recovery)?;
    let return_to = validate_return_to(state, query.return_to.as_deref())?;
    if current_session(state, client).await?.is_some() {
        if is_browser_navigation(client, flow_type) {
            // Kratos answers a signed-in browser with 302 here.
            let mut response =
                see_other(&return_to.unwrap_or_else(|| return_url(state, None, &[])));
            *response.status_mut() = StatusCode::FOUND;
            return Ok(response);
        }
        return Err(session_already_available());
    }
    let (flow, set_cookie) = new_flow(state, client, FlowKind::Recovery, flow_type, return_to);
    let before = &state.config.selfservice.flows.recovery.before.hooks;
    crate::hook::before(state, client, before, &flow).await?;
    state.flows.create_flow(&flow).await?;
    Ok(answer_new_flow(state, client, &flow, set_cookie))
}

/// `GET /self-service/recovery/flows?id=`
#[utoipa::path(get, path = "/self-service/recovery/flows", operation_id = "getRecoveryFlow", tag = "recovery",
    params(FlowIdParam),
    responses(
        (status = 200, description = "The flow.", body = RecoveryFlow),
        GetFlowAnswers))]
pub async fn get_flow(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
) -> Result<Json<Value>, ApiError> {
    read_flow(&state, &client, FlowKind::Recovery, &id).await
}

/// `POST /self-service/recovery?flow=`, and `GET` with `&token=` from a recovery link.
#[utoipa::path(post, path = "/self-service/recovery", operation_id = "updateRecoveryFlow", tag = "recovery",
    params(SubmitParams),
    request_body(content((FlowSubmission = "application/json"), (FlowSubmission = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Done: the flow in its new state.", body = RecoveryFlow),
        (status = 400, description = "The form has errors (the flow with messages), or the request is not usable (the envelope).", body = RecoveryFlowOrError),
        SubmitAnswers))]
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    method: axum::http::Method,
    Query(query): Query<SubmitQuery>,
    Submission(form): Submission,
) -> Response {
    one_time::submit(&state, &client, &method, &query, &form, FlowKind::Recovery).await
}

/// `GET /self-service/recovery?flow=&...`: a recovery link opened from a message.
#[utoipa::path(get, path = "/self-service/recovery", operation_id = "openRecoveryLink", tag = "recovery",
    params(SubmitParams, LinkParams),
    responses(
        (status = 200, description = "Done: the flow in its new state (clients that asked for JSON).", body = RecoveryFlow),
        (status = 400, description = "The link is not valid (the flow with a message), or the request is not usable (the envelope).", body = RecoveryFlowOrError),
        SubmitAnswers))]
pub async fn open_link(
    state: State<AppState>,
    client: Client,
    method: axum::http::Method,
    query: Query<SubmitQuery>,
    submission: Submission,
) -> Response {
    submit(state, client, method, query, submission).await
}

/// Checks the secret; on success: a privileged session, the address verified (it was just
/// proven), and a settings flow to change the password in.
pub(super) async fn finish(
    state: &AppState,
    client: &Client,
    strategy: &OneTimeStrategy,
    mut flow: Flow,
    secret: &str,
    is_link: bool,
) -> Result<Response, FlowError> {
    let code = one_time::check(state, strategy, &mut flow, secret, is_link).await?;
    let now = state.clock.now();
    let mut identity = state.identities.get_identity(code.identity_id).await?;
    if identity.state != crate::identity::IdentityState::Active {
        flow.ui.clear_messages();
        flow.ui.messages.push(UiText::plain(4010011));
        return Err(FlowError::Rejected(Box::new(flow)));
    }
    for address in &mut identity.verifiable_addresses {
        if address.value == code.address && !address.verified() {
            address.status = VerificationStatus::Completed;
            address.verified_at = Some(now);
            address.updated_at = now;
        }
    }

    let token = SessionToken::generate();
    let lifespan =
        time::Duration::try_from(state.config.session.lifespan).unwrap_or(time::Duration::DAY);
    let method = if is_link {
        "link_recovery"
    } else {
        "code_recovery"
    };
    let mut session = Session::new(identity.id, &token, method, now, lifespan);
    session.devices.push(Device {
        id: Uuid::new_v4(),
        ip_address: client.ip_address.clone(),
        user_agent: client.user_agent.clone(),
        location: None,
    });

    let (mut settings_flow, csrf_set_cookie) = new_flow(
        state,
        client,
        FlowKind::Settings,
        flow.flow_type,
        flow.return_to.clone(),
    );
    settings::attach(state, &mut settings_flow, &identity);
    let privileged_until = now
        + time::Duration::try_from(
            state
                .config
                .selfservice
                .flows
                .settings
                .privileged_session_max_age,
        )
        .unwrap_or(time::Duration::HOUR);
    settings_flow.ui.messages.push(UiText::new(
        1060001,
        json!({
            "privileged_session_expires_at": crate::identity::timestamp(privileged_until),
            "privileged_session_expires_at_unix": privileged_until.unix_timestamp(),
        }),
    ));
    let mut settings_url = ui_url(state, FlowKind::Settings);
    settings_url
        .query_pairs_mut()
        .append_pair("flow", &settings_flow.id.to_string());

    // The flow keeps where to go next; the session token is only ever in the answer, never
    // stored with the flow.
    let show_settings = json!({
        "action": "show_settings_ui",
        "flow": {"id": settings_flow.id, "url": settings_url.to_string()},
    });
    // The flow as it will be once the code is spent; `flow` stays as it was for a lost race.
    let mut done = flow.clone();
    done.internal
        .insert("continue_with".into(), json!([show_settings]));
    done.state = STATE_PASSED_CHALLENGE.into();
    done.updated_at = now;
    done.ui.clear_messages();

    let revoke = state
        .config
        .selfservice
        .flows
        .recovery
        .after
        .hooks
        .iter()
        .any(|hook| hook.hook == HookName::RevokeActiveSessions);
    let changes = Changes {
        update_identity: Some(identity.clone()),
        create_flows: vec![settings_flow.clone()],
        update_flows: vec![done.clone()],
        use_codes: vec![code.id],
        create_sessions: vec![session.clone()],
        revoke_sessions: revoke.then_some((identity.id, Some(session.id))),
        ..Changes::default()
    };
    match state.changes.commit(changes, now).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            flow.ui.clear_messages();
            flow.ui
                .messages
                .push(UiText::plain(if is_link { 4060004 } else { 4060006 }));
            return Err(FlowError::Rejected(Box::new(flow)));
        }
        Err(error) => return Err(error.into()),
    }
    let context = crate::hook::HookContext {
        client,
        flow: &done,
        identity: Some(&identity),
        session: Some(&session),
    };
    let hooks = &state.config.selfservice.flows.recovery.after.hooks;
    crate::hook::after_storing(state, hooks, &context).await;

    let mut response = match flow.flow_type {
        FlowType::Api => {
            let mut body = done.to_json();
            body["continue_with"] = json!([
                {"action": "set_ory_session_token", "ory_session_token": token.expose()},
                show_settings,
            ]);
            Json(body).into_response()
        }
        FlowType::Browser => location_change(client, flow.flow_type, settings_url.as_str()),
    };
    if flow.flow_type == FlowType::Browser {
        let headers = response.headers_mut();
        if let Some(cookie) = session_cookie(state, token.expose(), session.expires_at) {
            headers.append(header::SET_COOKIE, cookie);
        }
        // A link opened in another browser has no CSRF cookie yet; the settings flow needs one.
        if let Some(csrf) = csrf_set_cookie {
            headers.append(header::SET_COOKIE, csrf);
        }
    }
    Ok(response)
}

/// Admin routes that start a recovery for an identity (`/admin/recovery/{code,link}`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(admin_code, admin_link))]
pub struct AdminApi;

pub fn admin_routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/recovery/code", axum::routing::post(admin_code))
        .route("/recovery/link", axum::routing::post(admin_link))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AdminRecovery {
    identity_id: Uuid,
    expires_in: Option<String>,
    flow_type: Option<String>,
    return_to: Option<String>,
}

/// A recovery flow made by an administrator, with one secret for the identity.
async fn admin_flow(
    state: &AppState,
    request: &AdminRecovery,
    method: crate::config::OneTimeMethod,
) -> Result<(Flow, String, time::OffsetDateTime), ApiError> {
    one_time::strategy(state, FlowKind::Recovery)?;
    let identity = match state.identities.get_identity(request.identity_id).await {
        Ok(identity) => identity,
        Err(StoreError::NotFound) => {
            return Err(ApiError::bad_request("The identity does not exist.")
                .with_reason("The requested identity id does not exist."));
        }
        Err(error) => return Err(error.into()),
    };
    let strategy = OneTimeStrategy { method };
    let lifespan = match &request.expires_in {
        Some(text) => humantime::parse_duration(text)
            .ok()
            .and_then(|duration| time::Duration::try_from(duration).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "expires_in {text:?} is not a duration such as 1h or 15m."
                ))
            })?,
        None => strategy.lifespan(state),
    };
    let flow_type = match request.flow_type.as_deref() {
        None | Some("browser") => FlowType::Browser,
        Some("api") => FlowType::Api,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "flow_type must be browser or api, not {other:?}."
            )));
        }
    };
    let return_to = validate_return_to(state, request.return_to.as_deref())?;
    let client = Client::internal(state);
    let (mut flow, _) = new_flow(state, &client, FlowKind::Recovery, flow_type, return_to);
    // No browser started this flow: whoever holds the secret may finish it.
    flow.csrf_token = None;
    let now = state.clock.now();
    flow.expires_at = now + lifespan;
    let address = identity
        .recovery_addresses
        .first()
        .map(|address| address.value.clone())
        .unwrap_or_default();
    strategy.populate_sent(&mut flow, &address);
    flow.state = super::STATE_SENT_EMAIL.into();
    let secret = strategy.generate();
    let code = strategy.record(state, &flow, identity.id, &address, &secret);
    let expires_at = code.expires_at;
    let changes = Changes {
        create_flows: vec![flow.clone()],
        create_codes: vec![code],
        ..Changes::default()
    };
    state.changes.commit(changes, now).await?;
    Ok((flow, secret, expires_at))
}

/// `POST /admin/recovery/code`: 201 with a code to hand to the user and the page to enter it.
#[utoipa::path(post, path = "/admin/recovery/code", operation_id = "createRecoveryCodeForIdentity", tag = "recovery",
    request_body = AdminRecovery, responses(
    (status = 201, description = "The code and the page to enter it.", body = RecoveryCodeForIdentity),
    (status = 400, description = "A bad body, an unknown identity, or recovery by code disabled.",
        body = ErrorEnvelope)))]
async fn admin_code(
    State(state): State<AppState>,
    crate::http::JsonBody(request): crate::http::JsonBody<AdminRecovery>,
) -> Result<Response, ApiError> {
    let (flow, code, expires_at) =
        admin_flow(&state, &request, crate::config::OneTimeMethod::Code).await?;
    let mut link = ui_url(&state, FlowKind::Recovery);
    link.query_pairs_mut()
        .append_pair("flow", &flow.id.to_string());
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "recovery_link": link.to_string(),
            "recovery_code": code,
            "expires_at": crate::identity::timestamp(expires_at),
        })),
    )
        .into_response())
}

/// `POST /admin/recovery/link`: a link that recovers the account when opened.
#[utoipa::path(post, path = "/admin/recovery/link", operation_id = "createRecoveryLinkForIdentity", tag = "recovery",
    request_body = AdminRecovery, responses(
    (status = 200, description = "The link.", body = RecoveryLinkForIdentity),
    (status = 400, description = "A bad body, an unknown identity, or recovery by link disabled.",
        body = ErrorEnvelope)))]
async fn admin_link(
    State(state): State<AppState>,
    crate::http::JsonBody(request): crate::http::JsonBody<AdminRecovery>,
) -> Result<Response, ApiError> {
    let (flow, token, expires_at) =
        admin_flow(&state, &request, crate::config::OneTimeMethod::Link).await?;
    Ok(Json(json!({
        "recovery_link": crate::strategy::one_time::flow_link(&state, &flow, "token", &token),
        "expires_at": crate::identity::timestamp(expires_at),
    }))
    .into_response())
}
