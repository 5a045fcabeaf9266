//! The login flow: browser, API (native apps) and SPA variants.

use super::{FlowIdParam, LoginInitParams, SubmitParams};
use crate::http::Query;
use crate::http::openapi::{
    ErrorEnvelope, FlowSubmission, GetFlowAnswers, LoginFlow, LoginFlowOrError, SubmitAnswers,
    SuccessfulLogin,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::respond::{
    SignedIn, answer_new_flow, init_url, is_browser_navigation, location_change,
    respond_flow_error, signed_in_response,
};
use super::{
    FlowError, FlowId, FlowKind, FlowType, InitQuery, STATE_PASSED_CHALLENGE, answer_init,
    load_for_submit, new_flow, read_flow, return_url, see_other, session_already_available,
    validate_return_to,
};
use crate::config::{HookName, LoginStyle, RequiredAal};
use crate::error::ApiError;
use crate::flow::Flow;
use crate::http::request::{Client, Submission, field};
use crate::identity::Identity;
use crate::session::handlers::current_session;
use crate::session::issue::{new_session, session_json};
use crate::session::{Aal, AuthenticationMethod, SessionToken};
use crate::state::AppState;
use crate::store::Changes;
use crate::strategy::LoginOutcome;
use crate::strategy::identifier_first::{self, IdentifierFirstStrategy};

/// `GET /self-service/login/browser`
#[utoipa::path(get, path = "/self-service/login/browser", operation_id = "createBrowserLoginFlow", tag = "login",
    params(LoginInitParams),
    responses(
        (status = 200, description = "The new flow, for a client that asked for JSON.", body = LoginFlow),
        (status = 303, description = "To the flow's page, or where a browser goes instead (already signed in, an error page)."),
        (status = 400, description = "Already signed in (`session_already_available`), a `return_to` that is not allowed, or an unknown `aal`.", body = ErrorEnvelope),
        (status = 401, description = "`aal=aal2` without a session (`session_aal1_required`).", body = ErrorEnvelope)))]
pub async fn init_browser(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    let result = init(&state, &client, &query, FlowType::Browser).await;
    answer_init(&state, &client, FlowType::Browser, result).await
}

/// `GET /self-service/login/api`
#[utoipa::path(get, path = "/self-service/login/api", operation_id = "createNativeLoginFlow", tag = "login",
    params(LoginInitParams),
    responses(
        (status = 200, description = "The new flow.", body = LoginFlow, links(
            ("getLoginFlow" = (operation_id = "getLoginFlow", parameters(("id" = "$response.body#/id")))),
            ("updateLoginFlow" = (operation_id = "updateLoginFlow", parameters(("flow" = "$response.body#/id")))),
        )),
        (status = 400, description = "Already signed in (`session_already_available`), a `return_to` that is not allowed, or an unknown `aal`.", body = ErrorEnvelope),
        (status = 401, description = "`aal=aal2` without a session (`session_aal1_required`).", body = ErrorEnvelope)))]
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
    let oauth2 = query.oauth2_login(state, client, flow_type).await?;
    let return_to = match &oauth2 {
        Some((_, resume)) => Some(resume.to_string()),
        None => validate_return_to(state, query.return_to.as_deref())?,
    };
    let existing = current_session(state, client).await?;
    let requested = match query.aal.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("aal1") => Aal::Aal1,
        Some("aal2") => Aal::Aal2,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The requested authenticator assurance level {other:?} is not available; ask for aal1 or aal2."
            )));
        }
    };
    if requested == Aal::Aal2 && existing.is_none() {
        return Err(aal1_required());
    }
    let refresh = query.refresh() && existing.is_some();
    // A session that already has the level asked for needs no login, unless it re-authenticates.
    if let Some((session, _)) = &existing
        && session.aal >= requested
        && !refresh
    {
        if is_browser_navigation(client, flow_type) {
            let target =
                return_to.unwrap_or_else(|| return_url(state, None, &after_defaults(state)));
            return Ok(see_other(&target));
        }
        return Err(session_already_available());
    }

    let (mut flow, set_cookie) = new_flow(state, client, FlowKind::Login, flow_type, return_to);
    flow.refresh = refresh;
    flow.requested_aal = requested;
    if let Some((request, _)) = oauth2 {
        flow.internal
            .insert(super::model::OAUTH2_LOGIN_REQUEST.into(), request);
    }
    // Refreshing and stepping up concern the signed-in identity (with its credentials).
    let identity = match &existing {
        Some((session, _)) if refresh || requested == Aal::Aal2 => {
            Some(state.identities.get_identity(session.identity_id).await?)
        }
        _ => None,
    };
    populate(state, &mut flow, identity.as_ref());
    if let Some(identity) = &identity {
        if requested == Aal::Aal1 {
            prefill_identifier(&mut flow, identity);
        }
        if refresh {
            flow.ui.messages.push(app::model::UiText::plain(1010003));
        }
    }
    let exchange = crate::session::exchange::open(&mut flow, query);
    let before = &state.config.selfservice.flows.login.before.hooks;
    crate::hook::before(state, client, before, &flow).await?;
    state.flows.create_flow(&flow).await?;
    Ok(match exchange {
        Some(code) => crate::session::exchange::answer_new_flow(&flow, &code),
        None => answer_new_flow(state, client, &flow, set_cookie),
    })
}

/// Adds the nodes of the methods that prove the assurance level the flow asks for; an aal2
/// flow belongs to the signed-in `identity` and offers its second factors.
pub(crate) fn populate(state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
    if flow.requested_aal == Aal::Aal2 {
        flow.identity_id = identity.map(|identity| identity.id);
        flow.ui.messages.push(app::model::UiText::plain(1010004));
    }
    // Identifier-first sign-in asks for the identifier alone first; re-authentication knows it.
    let first_screen = flow.requested_aal == Aal::Aal1
        && !flow.refresh
        && state.config.selfservice.flows.login.style == LoginStyle::IdentifierFirst;
    for strategy in &state.strategies.login {
        let method = strategy.method();
        let shown = if first_screen {
            IdentifierFirstStrategy::on_first_screen(method)
        } else {
            method != identifier_first::METHOD
        };
        if strategy.aal() == flow.requested_aal && shown {
            strategy.populate_login(state, flow, identity);
        }
    }
}

fn aal1_required() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED)
        .with_id("session_aal1_required")
        .with_reason("You must sign in with a first factor before you can add a second one.")
}

/// Re-authentication asks for the password of the signed-in identity only.
fn prefill_identifier(flow: &mut Flow, identity: &Identity) {
    let identifier = identity
        .credentials
        .get(&crate::identity::CredentialType::Password)
        .and_then(|credential| credential.identifiers.first().cloned());
    if let (Some(identifier), Some(node)) = (identifier, flow.ui.input_mut("identifier"))
        && let app::model::NodeAttributes::Input(input) = &mut node.attributes
    {
        input.value = Some(json!(identifier));
        input.input_type = "hidden".into();
    }
}

/// Where a browser goes after signing in, unless the flow says otherwise.
fn after_defaults(state: &AppState) -> [Option<&url::Url>; 2] {
    let after = &state.config.selfservice.flows.login.after;
    [
        after.password.default_browser_return_url.as_ref(),
        after.default_browser_return_url.as_ref(),
    ]
}

/// `GET /self-service/login/flows?id=`
#[utoipa::path(get, path = "/self-service/login/flows", operation_id = "getLoginFlow", tag = "login",
    params(FlowIdParam),
    responses(
        (status = 200, description = "The flow.", body = LoginFlow),
        GetFlowAnswers))]
pub async fn get_flow(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
) -> Result<Json<Value>, ApiError> {
    read_flow(&state, &client, FlowKind::Login, &id).await
}

/// `POST /self-service/login?flow=`
#[utoipa::path(post, path = "/self-service/login", operation_id = "updateLoginFlow", tag = "login",
    params(SubmitParams),
    request_body(content((FlowSubmission = "application/json"), (FlowSubmission = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Done: the session (and, for API flows, its token).", body = SuccessfulLogin),
        (status = 400, description = "The form has errors (the flow with messages), or the request is not usable (the envelope).", body = LoginFlowOrError),
        SubmitAnswers))]
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
    Submission(form): Submission,
) -> Response {
    // Without a usable flow id a browser starts over; other clients learn why.
    let id = match id.parse("flow") {
        Ok(id) => id,
        Err(_) if !client.wants_json => return see_other(&init_url(&state, FlowKind::Login)),
        Err(error) => return error.into_response(),
    };
    handle(&state, &client, id, field(&form, "csrf_token"), &form).await
}

/// Loads flow `id` and runs `form` on it: a submission, or an upstream's answer.
pub(crate) async fn handle(
    state: &AppState,
    client: &Client,
    id: uuid::Uuid,
    csrf: Option<&str>,
    form: &Value,
) -> Response {
    let result = async {
        let flow = load_for_submit(state, client, FlowKind::Login, id, csrf).await?;
        run(state, client, flow, form).await
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => respond_flow_error(state, client, error).await,
    }
}

pub(crate) async fn run(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    form: &Value,
) -> Result<Response, FlowError> {
    let existing = current_session(state, client).await?;
    // The identity an aal2 flow steps up: the signed-in one, which the flow was made for.
    let mut step_up = None;
    if flow.requested_aal == Aal::Aal2 {
        let Some((session, _)) = &existing else {
            return Err(aal1_required().into());
        };
        if flow.identity_id != Some(session.identity_id) {
            return Err(super::settings::identity_mismatch().into());
        }
        step_up = Some(state.identities.get_identity(session.identity_id).await?);
    }
    if let Some((session, _)) = &existing
        && session.aal >= flow.requested_aal
        && !flow.refresh
    {
        if is_browser_navigation(client, flow.flow_type) {
            return Ok(see_other(&return_url(
                state,
                Some(&flow),
                &after_defaults(state),
            )));
        }
        return Err(session_already_available().into());
    }
    flow.ui.clear_messages();
    flow.active = field(form, "method").map(str::to_string);
    // A second-factor code counts against the identity's budget before it is checked.
    let mut second_factor = None;
    if let Some(identity) = &step_up
        && state
            .strategies
            .login
            .iter()
            .any(|strategy| strategy.aal() == Aal::Aal2 && strategy.claims(form))
    {
        match crate::throttle::second_factor(state, identity.id).await? {
            Ok(attempt) => second_factor = Some(attempt),
            Err(refused) => return Err(refused.reject(&flow)),
        }
    }
    for strategy in &state.strategies.login {
        if strategy.aal() != flow.requested_aal {
            continue;
        }
        match strategy
            .login(state, &mut flow, form, step_up.as_ref(), client.ip)
            .await?
        {
            LoginOutcome::NotMine => continue,
            LoginOutcome::Rejected | LoginOutcome::NextStep => {
                return Err(FlowError::Rejected(Box::new(flow)));
            }
            LoginOutcome::Redirect(url) => {
                flow.updated_at = state.clock.now();
                state.flows.update_flow(&flow).await?;
                return Ok(location_change(client, flow.flow_type, &url));
            }
            LoginOutcome::Register(registration) => {
                // This flow hands over: it is stored as the strategy left it.
                state.flows.update_flow(&flow).await?;
                state.flows.create_flow(&registration).await?;
                return Box::pin(super::registration::run(state, client, *registration, form))
                    .await;
            }
            LoginOutcome::Authenticated {
                identity,
                method,
                changed,
            } => {
                if let Some(attempt) = second_factor {
                    attempt.succeeded(state).await?;
                }
                let proof = Proof {
                    identity: &identity,
                    method,
                    changed,
                };
                return finish(
                    state,
                    client,
                    flow,
                    proof,
                    existing.map(|(session, _)| session),
                )
                .await;
            }
        }
    }
    flow.ui.messages.push(app::model::UiText::plain(
        FlowKind::Login.no_strategy_message(),
    ));
    Err(FlowError::Rejected(Box::new(flow)))
}

/// What a strategy's success hands the engine.
struct Proof<'a> {
    identity: &'a Identity,
    method: &'static str,
    /// The strategy changed the identity, which is stored with the session.
    changed: bool,
}

/// The identity proved itself: complete the flow and sign it in (or refresh its session).
async fn finish(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    proof: Proof<'_>,
    existing: Option<crate::session::Session>,
) -> Result<Response, FlowError> {
    let Proof {
        identity,
        method,
        changed,
    } = proof;
    // A sign-in that proves the account an upstream account was waiting to be linked to.
    let mut identity = identity.clone();
    let changed = crate::strategy::oidc::link_after_login(state, &flow, &mut identity) || changed;
    let identity = &identity;
    let provider = crate::strategy::oidc::provider_for(method, &flow);
    let hooks = crate::hook::login_hooks(state, method);
    if crate::hook::configured(hooks, HookName::RequireVerifiedAddress)
        && !identity
            .verifiable_addresses
            .iter()
            .any(|address| address.verified())
    {
        flow.ui.messages.push(app::model::UiText::plain(4000010));
        return Err(FlowError::Rejected(Box::new(flow)));
    }
    // Hooks that read their answer may refuse the sign-in before the session exists (a
    // sign-in changes no identity: fields they send back are not applied).
    let context = crate::hook::HookContext {
        client,
        flow: &flow,
        identity: Some(identity),
        session: None,
    };
    if let Err(error) =
        crate::hook::run_web_hooks(state, hooks, crate::hook::Stage::BeforeStoring, &context).await
    {
        return Err(crate::hook::refusal(flow, error));
    }
    let now = state.clock.now();
    let aal = if flow.requested_aal == Aal::Aal2 {
        Aal::Aal2
    } else {
        Aal::Aal1
    };
    let continuing = existing
        .filter(|session| session.identity_id == identity.id && (flow.refresh || aal == Aal::Aal2));
    let continuing_identity = continuing.is_some();
    let (session, token) = match continuing {
        // Re-authentication and step-up continue the signed-in session.
        Some(mut session) => {
            session.authenticated_at = now;
            session.authentication_methods.push(AuthenticationMethod {
                method: method.into(),
                aal,
                completed_at: now,
                provider,
            });
            session.aal = session.achieved_aal();
            // A browser's session that gains a level gets a new token (ASVS 3.2.1); native
            // apps keep theirs, which they hold and send, and get it back in the answer.
            let token = if flow.flow_type == FlowType::Browser && aal == Aal::Aal2 {
                let token = SessionToken::generate();
                session.token_hash = token.hash();
                Some(token)
            } else {
                client
                    .header_token
                    .as_deref()
                    .map(SessionToken::from_client)
            };
            // A changed identity (a backup code used up), the session and the finished flow
            // are written together.
            flow.state = STATE_PASSED_CHALLENGE.into();
            flow.updated_at = now;
            let changes = Changes {
                update_identity: changed.then(|| identity.clone()),
                update_sessions: vec![session.clone()],
                update_flows: vec![flow.clone()],
                ..Changes::default()
            };
            state.changes.commit(changes, now).await?;
            (session, token)
        }
        None => {
            let (mut session, token) = new_session(state, identity, method, client);
            if let Some(first) = session.authentication_methods.first_mut() {
                first.provider = provider;
            }
            flow.state = STATE_PASSED_CHALLENGE.into();
            flow.updated_at = now;
            let changes = Changes {
                update_identity: changed.then(|| identity.clone()),
                create_sessions: vec![session.clone()],
                update_flows: vec![flow.clone()],
                ..Changes::default()
            };
            state.changes.commit(changes, now).await?;
            (session, Some(token))
        }
    };
    if crate::hook::configured(hooks, HookName::RevokeActiveSessions) {
        state
            .sessions
            .revoke_other_sessions(identity.id, Some(session.id))
            .await?;
    }
    let context = crate::hook::HookContext {
        client,
        flow: &flow,
        identity: Some(identity),
        session: Some(&session),
    };
    crate::hook::after_storing(state, hooks, &context).await;

    let mut destination = return_url(state, Some(&flow), &after_defaults(state));
    // A first factor is not enough for an identity with a second one (where whoami asks for
    // the highest level available): browsers go on to the second factor, then where they were
    // going.
    let whoami = &state.config.session.whoami;
    if session.aal < Aal::Aal2
        && whoami.required_aal == RequiredAal::HighestAvailable
        && identity.has_second_factor(state.second_factors())
    {
        destination = crate::session::step_up_url(state, Some(&destination));
    } else if whoami.enforce_mfa_enrolment.applies_to(&identity.schema_id)
        && !identity.has_second_factor(state.second_factors())
    {
        // The account is of no use until it has a second factor: settings first.
        destination = init_url(state, FlowKind::Settings);
    }
    let body = json!({ "session": session_json(state, &session, identity) });
    let mut signed_in = SignedIn::new(&session, token.as_ref().map(|t| t.expose()));
    if continuing_identity {
        // The same identity keeps its CSRF token.
        signed_in.csrf_token = client
            .cookie(&crate::session::cookie::csrf_cookie_name(state))
            .map(str::to_string)
            .unwrap_or(signed_in.csrf_token);
    }
    Ok(signed_in_response(
        state,
        client,
        &flow,
        body,
        signed_in,
        &destination,
    ))
}
