//! The login flow: browser, API (native apps) and SPA variants.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::request::{Client, Submission, field};
use super::respond::{
    is_browser_navigation, redirect_to_flow, respond_api_error, respond_expired, respond_rejected,
};
use super::{
    FlowError, FlowId, FlowKind, FlowType, InitQuery, STATE_PASSED_CHALLENGE, check_flow_owner,
    load_for_submit, new_flow, return_url, see_other, session_already_available,
    validate_return_to,
};
use crate::error::ApiError;
use crate::flow::Flow;
use crate::identity::Identity;
use crate::session::cookie::{csrf_cookie, new_csrf_token, session_cookie};
use crate::session::handlers::current_session;
use crate::session::issue::{issue, session_json};
use crate::session::{Aal, AuthenticationMethod};
use crate::state::AppState;
use crate::strategy::LoginOutcome;

/// `GET /self-service/login/browser`
pub async fn init_browser(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    match init(&state, &client, &query, FlowType::Browser).await {
        Ok(response) => response,
        Err(error) => respond_api_error(&state, &client, FlowType::Browser, error).await,
    }
}

/// `GET /self-service/login/api`
pub async fn init_api(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<InitQuery>,
) -> Response {
    init(&state, &client, &query, FlowType::Api)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn init(
    state: &AppState,
    client: &Client,
    query: &InitQuery,
    flow_type: FlowType,
) -> Result<Response, ApiError> {
    let return_to = validate_return_to(state, query.return_to.as_deref())?;
    let existing = current_session(state, client).await?;
    match query.aal.as_deref() {
        None | Some("aal1") => {}
        Some("aal2") if existing.is_none() => {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED)
                .with_id("session_aal1_required")
                .with_reason(
                    "You must sign in with a first factor before you can add a second one.",
                ));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The requested authenticator assurance level {other:?} is not available: no second-factor method is enabled."
            )));
        }
    }
    let refresh = query.refresh() && existing.is_some();
    if existing.is_some() && !refresh {
        if is_browser_navigation(client, flow_type) {
            let target = return_to.unwrap_or_else(|| default_return(state));
            return Ok(see_other(&target));
        }
        return Err(session_already_available());
    }

    let lifespan = state.config.selfservice.flows.login.lifespan;
    let (mut flow, set_cookie) = new_flow(
        state,
        client,
        FlowKind::Login,
        flow_type,
        return_to,
        lifespan,
    );
    flow.refresh = refresh;
    for strategy in &state.strategies.login {
        strategy.populate_login(state, &mut flow);
    }
    if let Some((session, _)) = existing.filter(|_| refresh) {
        // The session's identity comes without credentials; the identifier lives in them.
        let identity = state.identities.get_identity(session.identity_id).await?;
        prefill_identifier(&mut flow, &identity);
        flow.ui.messages.push(app::model::UiText::plain(1010003));
    }
    state.flows.create_flow(&flow).await?;

    let mut response = if is_browser_navigation(client, flow_type) {
        redirect_to_flow(state, &flow)
    } else {
        Json(flow.to_json()).into_response()
    };
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
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

fn default_return(state: &AppState) -> String {
    let login = &state.config.selfservice.flows.login.after;
    return_url_defaults(
        state,
        &[
            login.password.default_browser_return_url.as_ref(),
            login.default_browser_return_url.as_ref(),
        ],
    )
}

fn return_url_defaults(state: &AppState, defaults: &[Option<&url::Url>]) -> String {
    defaults
        .iter()
        .flatten()
        .next()
        .map(|url| url.to_string())
        .or_else(|| {
            state
                .config
                .selfservice
                .default_browser_return_url
                .as_ref()
                .map(url::Url::to_string)
        })
        .unwrap_or_else(|| state.urls.ui.to_string())
}

/// `GET /self-service/login/flows?id=`
pub async fn get_flow(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
) -> Result<Json<Value>, ApiError> {
    let flow = state
        .flows
        .get_flow(FlowKind::Login, id.parse("id")?)
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound => super::flow_not_found(),
            other => other.into(),
        })?;
    check_flow_owner(&state, &client, &flow)?;
    if flow.is_expired(state.clock.now()) {
        return Err(expired_on_get(&state, &flow));
    }
    Ok(Json(flow.to_json()))
}

/// 410 for an expired flow that is only read: where to start a new one.
pub fn expired_on_get(state: &AppState, flow: &Flow) -> ApiError {
    let init = |variant: &str| {
        state
            .urls
            .public
            .join(&format!("self-service/{}/{variant}", flow.kind.as_str()))
            .map(String::from)
            .unwrap_or_default()
    };
    ApiError::new(StatusCode::GONE)
        .with_id("self_service_flow_expired")
        .with_reason("The self-service flow expired, initialize a new one.")
        .with_details(json!({"redirect_to": init("browser"), "api": init("api")}))
}

/// `POST /self-service/login?flow=`
pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    Query(id): Query<FlowId>,
    Submission(form): Submission,
) -> Response {
    // Without a usable flow id a browser starts over; other clients learn why.
    let id = match id.parse("flow") {
        Ok(id) => id,
        Err(error) if !client.wants_json => {
            let _ = error;
            return see_other(&init_url(&state, FlowKind::Login));
        }
        Err(error) => return error.into_response(),
    };
    let flow = match load_for_submit(
        &state,
        &client,
        FlowKind::Login,
        id,
        field(&form, "csrf_token"),
    )
    .await
    {
        Ok(flow) => flow,
        Err(error) => return respond_flow_error(&state, &client, FlowKind::Login, error).await,
    };
    let flow_type = flow.flow_type;
    match run(&state, &client, flow, &form).await {
        Ok(response) => response,
        Err(error) => {
            let _ = flow_type;
            respond_flow_error(&state, &client, FlowKind::Login, error).await
        }
    }
}

pub fn init_url(state: &AppState, kind: FlowKind) -> String {
    state
        .urls
        .public
        .join(&format!("self-service/{}/browser", kind.as_str()))
        .map(String::from)
        .unwrap_or_default()
}

/// Answers a failed submission: refused forms are shown again, expired flows are replaced.
pub async fn respond_flow_error(
    state: &AppState,
    client: &Client,
    kind: FlowKind,
    error: FlowError,
) -> Response {
    match error {
        FlowError::Rejected(flow) => respond_rejected(state, client, *flow).await,
        FlowError::Expired(old) => match replace_expired(state, client, &old).await {
            Ok((replacement, set_cookie)) => {
                let mut response = respond_expired(state, client, &old, &replacement);
                if let Some(cookie) = set_cookie {
                    response.headers_mut().append(header::SET_COOKIE, cookie);
                }
                response
            }
            Err(error) => respond_api_error(state, client, old.flow_type, error).await,
        },
        FlowError::Api(error) => {
            let flow_type = if client.wants_json {
                FlowType::Api
            } else {
                FlowType::Browser
            };
            let _ = kind;
            respond_api_error(state, client, flow_type, error).await
        }
    }
}

/// A new flow of the same kind and type in place of an expired one, holding the "expired"
/// message and keeping `return_to`.
async fn replace_expired(
    state: &AppState,
    client: &Client,
    old: &Flow,
) -> Result<(Flow, Option<HeaderValue>), ApiError> {
    let lifespan = match old.kind {
        FlowKind::Login => state.config.selfservice.flows.login.lifespan,
        FlowKind::Registration => state.config.selfservice.flows.registration.flow.lifespan,
    };
    let (mut flow, set_cookie) = new_flow(
        state,
        client,
        old.kind,
        old.flow_type,
        old.return_to.clone(),
        lifespan,
    );
    match old.kind {
        FlowKind::Login => state
            .strategies
            .login
            .iter()
            .for_each(|s| s.populate_login(state, &mut flow)),
        FlowKind::Registration => state
            .strategies
            .registration
            .iter()
            .for_each(|s| s.populate_registration(state, &mut flow)),
    }
    let expired_at = old.expires_at;
    flow.ui.messages.push(app::model::UiText::new(
        old.kind.expired_message(),
        json!({
            "expired_at": crate::identity::timestamp(expired_at),
            "expired_at_unix": expired_at.unix_timestamp(),
        }),
    ));
    state.flows.create_flow(&flow).await?;
    Ok((flow, set_cookie))
}

async fn run(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    form: &Value,
) -> Result<Response, FlowError> {
    let existing = current_session(state, client).await?;
    if existing.is_some() && !flow.refresh {
        if is_browser_navigation(client, flow.flow_type) {
            return Ok(see_other(&return_url(state, &flow, &[])));
        }
        return Err(session_already_available().into());
    }
    flow.ui.clear_messages();
    flow.active = field(form, "method").map(str::to_string);
    for strategy in &state.strategies.login {
        match strategy.login(state, &mut flow, form).await? {
            LoginOutcome::NotMine => continue,
            LoginOutcome::Rejected => return Err(FlowError::Rejected(Box::new(flow))),
            LoginOutcome::Authenticated { identity, method } => {
                return finish(
                    state,
                    client,
                    flow,
                    &identity,
                    method,
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

/// The identity proved itself: complete the flow and sign it in (or refresh its session).
async fn finish(
    state: &AppState,
    client: &Client,
    mut flow: Flow,
    identity: &Identity,
    method: &'static str,
    existing: Option<crate::session::Session>,
) -> Result<Response, FlowError> {
    let now = state.clock.now();
    let (session, token) =
        match existing.filter(|session| flow.refresh && session.identity_id == identity.id) {
            Some(mut session) => {
                session.authenticated_at = now;
                session.authentication_methods.push(AuthenticationMethod {
                    method: method.into(),
                    aal: Aal::Aal1,
                    completed_at: now,
                    provider: None,
                });
                state.sessions.update_session(&session).await?;
                (session, None)
            }
            None => {
                let (session, token) = issue(state, identity, method, client).await?;
                (session, Some(token))
            }
        };
    flow.state = STATE_PASSED_CHALLENGE.into();
    flow.updated_at = now;
    state.flows.update_flow(&flow).await?;

    let after = &state.config.selfservice.flows.login.after;
    let destination = return_url(
        state,
        &flow,
        &[
            after.password.default_browser_return_url.as_ref(),
            after.default_browser_return_url.as_ref(),
        ],
    );
    let body = json!({ "session": session_json(state, &session, identity) });
    Ok(signed_in_response(
        state,
        client,
        &flow,
        body,
        token.as_ref().map(|t| t.expose()),
        &session,
        &destination,
    ))
}

/// The answer after a flow signed someone in: a redirect with cookies for browsers, JSON with
/// cookies for SPAs, JSON with the session token for native apps. `body` already holds what
/// the flow reports (`session`, `identity`).
pub fn signed_in_response(
    state: &AppState,
    client: &Client,
    flow: &Flow,
    mut body: Value,
    token: Option<&str>,
    session: &crate::session::Session,
    destination: &str,
) -> Response {
    match flow.flow_type {
        FlowType::Api => {
            let mut continue_with = Vec::new();
            if let Some(token) = token {
                body["session_token"] = json!(token);
                continue_with
                    .push(json!({"action": "set_ory_session_token", "ory_session_token": token}));
            }
            body["continue_with"] = json!(continue_with);
            Json(body).into_response()
        }
        FlowType::Browser => {
            let mut response = if client.wants_json {
                body["continue_with"] =
                    json!([{"action": "redirect_browser_to", "redirect_browser_to": destination}]);
                Json(body).into_response()
            } else {
                see_other(destination)
            };
            let headers = response.headers_mut();
            if let Some(cookie) =
                token.and_then(|token| session_cookie(state, token, session.expires_at))
            {
                headers.append(header::SET_COOKIE, cookie);
                // A new identity in this browser gets a new CSRF token.
                if let Some(csrf) = csrf_cookie(state, &new_csrf_token()) {
                    headers.append(header::SET_COOKIE, csrf);
                }
            }
            response
        }
    }
}
