//! How flows answer: the one place that chooses between a browser redirect and JSON.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Flow, FlowKind, FlowType, new_flow, see_other, ui_url};
use crate::error::ApiError;
use crate::http::request::Client;
use crate::identity::timestamp;
use crate::session::cookie::{csrf_cookie, new_csrf_token, session_cookie};
use crate::state::AppState;
use crate::store::StoreError;

/// Why a flow request did not succeed.
#[derive(Debug)]
pub enum FlowError {
    /// Answered in the error envelope (JSON clients) or on the error page (browsers).
    Api(ApiError),
    /// The flow expired; the engine starts a new one in its place.
    Expired(Box<Flow>),
    /// The submission was judged and refused: the flow carries the messages.
    Rejected(Box<Flow>),
    /// A brute-force limit refused the submission without judging it.
    Throttled {
        flow: Box<Flow>,
        retry_after: std::time::Duration,
    },
}

pub type FlowResult<T> = Result<T, FlowError>;

impl From<ApiError> for FlowError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<crate::hash::HashError> for FlowError {
    fn from(error: crate::hash::HashError) -> Self {
        Self::Api(error.into())
    }
}

impl From<StoreError> for FlowError {
    fn from(error: StoreError) -> Self {
        Self::Api(error.into())
    }
}

/// Browsers that navigate get redirects; SPAs and native apps get JSON.
pub fn is_browser_navigation(client: &Client, flow_type: FlowType) -> bool {
    flow_type == FlowType::Browser && !client.wants_json
}

/// A flow just created: browsers go to its page, other clients get it as JSON; either way with
/// the CSRF cookie the browser lacked.
pub fn answer_new_flow(
    state: &AppState,
    client: &Client,
    flow: &Flow,
    set_cookie: Option<HeaderValue>,
) -> Response {
    let mut response = if is_browser_navigation(client, flow.flow_type) {
        redirect_to_flow(state, flow)
    } else {
        Json(flow.to_json()).into_response()
    };
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The browser must go to `url` to go on (an upstream sign-in, the settings page after a
/// recovery): browsers are sent there, other clients are told so (422
/// `browser_location_change_required`, Kratos's answer).
pub fn location_change(client: &Client, flow_type: FlowType, url: &str) -> Response {
    if is_browser_navigation(client, flow_type) {
        return see_other(url);
    }
    let mut body = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY)
        .with_id("browser_location_change_required")
        .with_reason(format!(
            "In order to complete this flow please redirect the browser to: {url}"
        ))
        .body();
    body["redirect_browser_to"] = json!(url);
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The browser is sent to the page that renders the flow.
pub fn redirect_to_flow(state: &AppState, flow: &Flow) -> Response {
    let mut url = ui_url(state, flow.kind);
    url.query_pairs_mut()
        .append_pair("flow", &flow.id.to_string());
    see_other(url.as_str())
}

/// A flow that moved on (already saved): browsers see its page again, other clients get it
/// with `status`.
pub fn respond_flow(
    state: &AppState,
    client: &Client,
    flow: &Flow,
    status: StatusCode,
) -> Response {
    if is_browser_navigation(client, flow.flow_type) {
        redirect_to_flow(state, flow)
    } else {
        (status, Json(flow.to_json())).into_response()
    }
}

/// A flow whose submission was refused: saved with its messages, then shown again.
pub async fn respond_rejected(state: &AppState, client: &Client, mut flow: Flow) -> Response {
    flow.updated_at = state.clock.now();
    if let Err(error) = state.flows.update_flow(&flow).await {
        return respond_api_error(state, client, flow.flow_type, error.into()).await;
    }
    respond_flow(state, client, &flow, StatusCode::BAD_REQUEST)
}

/// An error outside any form: browsers see it on the error page, other clients as JSON.
pub async fn respond_api_error(
    state: &AppState,
    client: &Client,
    flow_type: FlowType,
    error: ApiError,
) -> Response {
    if !is_browser_navigation(client, flow_type) {
        return error.into_response();
    }
    let stored = state
        .flows
        .create_error(&error.body()["error"], state.clock.now())
        .await;
    match stored {
        Ok(id) => {
            let mut url = error_ui_url(state);
            url.query_pairs_mut().append_pair("id", &id.to_string());
            see_other(url.as_str())
        }
        Err(store_error) => {
            tracing::error!(error = %store_error, "could not store a self-service error");
            error.into_response()
        }
    }
}

/// The page that shows stored errors.
pub fn error_ui_url(state: &AppState) -> url::Url {
    state
        .config
        .selfservice
        .flows
        .error
        .ui_url
        .clone()
        .or_else(|| state.urls.ui.join("error").ok())
        .unwrap_or_else(|| state.urls.ui.clone())
}

/// A flow that expired before its submission: browsers are sent to the replacement, other
/// clients get 410 pointing at it.
pub fn respond_expired(
    state: &AppState,
    client: &Client,
    old: &Flow,
    replacement: &Flow,
) -> Response {
    if is_browser_navigation(client, replacement.flow_type) {
        return redirect_to_flow(state, replacement);
    }
    let now = state.clock.now();
    let since = (now - old.expires_at).whole_nanoseconds();
    let mut body = ApiError::new(StatusCode::GONE)
        .with_id("self_service_flow_expired")
        .with_reason(format!(
            "The self-service flow expired {:.2} minutes ago, initialize a new one.",
            (now - old.expires_at).as_seconds_f64() / 60.0
        ))
        .body();
    body["expired_at"] = json!(timestamp(old.expires_at));
    body["since"] = json!(since);
    body["use_flow_id"] = json!(replacement.id);
    (StatusCode::GONE, Json(body)).into_response()
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
pub async fn respond_flow_error(state: &AppState, client: &Client, error: FlowError) -> Response {
    match error {
        FlowError::Rejected(flow) => respond_rejected(state, client, *flow).await,
        // Browsers see the form again, saying how long to wait; other clients get 429.
        FlowError::Throttled {
            mut flow,
            retry_after,
        } => {
            if !is_browser_navigation(client, flow.flow_type) {
                return ApiError::too_many_requests(retry_after).into_response();
            }
            flow.ui.clear_messages();
            flow.ui.messages.push(crate::throttle::message(retry_after));
            respond_rejected(state, client, *flow).await
        }
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
        // Without a loaded flow, the client's Accept header decides between page and JSON.
        FlowError::Api(error) => respond_api_error(state, client, FlowType::Browser, error).await,
    }
}

/// A new flow of the same kind and type in place of an expired one, holding the "expired"
/// message and keeping `return_to`.
async fn replace_expired(
    state: &AppState,
    client: &Client,
    old: &Flow,
) -> Result<(Flow, Option<HeaderValue>), ApiError> {
    let (mut flow, set_cookie) = new_flow(
        state,
        client,
        old.kind,
        old.flow_type,
        old.return_to.clone(),
    );
    // The nodes that depend on the identity: settings shows its values, an aal2 login its
    // second factors.
    let identity = match (old.kind, old.identity_id) {
        (FlowKind::Settings | FlowKind::Login, Some(id)) => {
            Some(state.identities.get_identity(id).await?)
        }
        _ => None,
    };
    match old.kind {
        FlowKind::Settings => {
            if let Some(identity) = &identity {
                super::settings::attach(state, &mut flow, identity);
            }
        }
        FlowKind::Login => {
            flow.refresh = old.refresh;
            flow.requested_aal = old.requested_aal;
            super::login::populate(state, &mut flow, identity.as_ref());
        }
        _ => {}
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

/// A session a flow just issued (or refreshed), as the answer hands it over.
pub struct SignedIn<'a> {
    pub session: &'a crate::session::Session,
    /// The new session token; `None` when an existing session was refreshed.
    pub token: Option<&'a str>,
    /// The browser's CSRF token from now on: a new identity in a browser gets a new one. Flows
    /// made for that browser in the same request (a verification flow after sign-up) must
    /// carry it.
    pub csrf_token: String,
}

impl<'a> SignedIn<'a> {
    pub fn new(session: &'a crate::session::Session, token: Option<&'a str>) -> Self {
        Self {
            session,
            token,
            csrf_token: new_csrf_token(),
        }
    }
}

/// The answer after a flow signed someone in: a redirect with cookies for browsers, JSON with
/// cookies for SPAs, JSON with the session token for native apps. `body` already holds what
/// the flow reports (`session`, `identity`).
pub fn signed_in_response(
    state: &AppState,
    client: &Client,
    flow: &Flow,
    mut body: Value,
    signed_in: SignedIn<'_>,
    destination: &str,
) -> Response {
    let SignedIn {
        session,
        token,
        csrf_token,
    } = signed_in;
    match flow.flow_type {
        FlowType::Api => {
            if !body["continue_with"].is_array() {
                body["continue_with"] = json!([]);
            }
            if let Some(token) = token {
                body["session_token"] = json!(token);
                if let Some(items) = body["continue_with"].as_array_mut() {
                    items.insert(
                        0,
                        json!({"action": "set_ory_session_token", "ory_session_token": token}),
                    );
                }
            }
            Json(body).into_response()
        }
        FlowType::Browser => {
            let mut response = if client.wants_json {
                push_continue_with(
                    &mut body,
                    json!({"action": "redirect_browser_to", "redirect_browser_to": destination}),
                );
                Json(body).into_response()
            } else {
                see_other(destination)
            };
            let headers = response.headers_mut();
            if let Some(cookie) =
                token.and_then(|token| session_cookie(state, token, session.expires_at))
            {
                headers.append(header::SET_COOKIE, cookie);
                if let Some(csrf) = csrf_cookie(state, &csrf_token) {
                    headers.append(header::SET_COOKIE, csrf);
                }
            }
            response
        }
    }
}

/// Appends an item to a response body's `continue_with` list.
pub fn push_continue_with(body: &mut Value, item: Value) {
    if !body["continue_with"].is_array() {
        body["continue_with"] = json!([]);
    }
    if let Some(items) = body["continue_with"].as_array_mut() {
        items.push(item);
    }
}
