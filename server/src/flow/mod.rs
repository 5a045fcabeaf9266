//! Self-service flows: the life cycle every flow shares (create, load, check expiry and CSRF,
//! respond as the client expects). Each flow's own module runs its strategies and hooks; no
//! flow names a method.

pub mod errors;
pub mod login;
pub mod logout;
pub mod model;
pub(crate) mod one_time;
pub mod recovery;
pub mod registration;
pub mod respond;
pub mod settings;
pub mod verification;

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use url::Url;
use uuid::Uuid;

use crate::http::request::Client;
pub use model::{
    Flow, FlowKind, FlowType, STATE_CHOOSE_METHOD, STATE_PASSED_CHALLENGE, STATE_SENT_EMAIL,
    STATE_SHOW_FORM, STATE_SUCCESS,
};
pub use respond::{FlowError, FlowResult, init_url};

use app::model::{InputAttributes, NodeGroup, UiContainer, UiNode, UiText};

use crate::error::ApiError;
use crate::session::Aal;
use crate::session::cookie::{csrf_cookie, csrf_cookie_name, new_csrf_token};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/self-service/login/browser", get(login::init_browser))
        .route("/self-service/login/api", get(login::init_api))
        .route("/self-service/login/flows", get(login::get_flow))
        .route(
            "/self-service/login",
            get(login::submit).post(login::submit),
        )
        .route(
            "/self-service/registration/browser",
            get(registration::init_browser),
        )
        .route(
            "/self-service/registration/api",
            get(registration::init_api),
        )
        .route(
            "/self-service/registration/flows",
            get(registration::get_flow),
        )
        .route(
            "/self-service/registration",
            get(registration::submit).post(registration::submit),
        )
        .route(
            "/self-service/logout/browser",
            get(logout::create_browser_logout),
        )
        .route("/self-service/logout", get(logout::logout))
        .route("/self-service/logout/api", delete(logout::logout_api))
        .route("/self-service/errors", get(errors::get_error))
        .route(
            "/self-service/settings/browser",
            get(settings::init_browser),
        )
        .route("/self-service/settings/api", get(settings::init_api))
        .route("/self-service/settings/flows", get(settings::get_flow))
        .route(
            "/self-service/settings",
            get(settings::submit).post(settings::submit),
        )
        .route(
            "/self-service/recovery/browser",
            get(recovery::init_browser),
        )
        .route("/self-service/recovery/api", get(recovery::init_api))
        .route("/self-service/recovery/flows", get(recovery::get_flow))
        .route(
            "/self-service/recovery",
            get(recovery::open_link).post(recovery::submit),
        )
        .route(
            "/self-service/verification/browser",
            get(verification::init_browser),
        )
        .route(
            "/self-service/verification/api",
            get(verification::init_api),
        )
        .route(
            "/self-service/verification/flows",
            get(verification::get_flow),
        )
        .route(
            "/self-service/verification",
            get(verification::open_link).post(verification::submit),
        )
}

/// The self-service endpoints in the API description.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    login::init_browser,
    login::init_api,
    login::get_flow,
    login::submit,
    registration::init_browser,
    registration::init_api,
    registration::get_flow,
    registration::submit,
    settings::init_browser,
    settings::init_api,
    settings::get_flow,
    settings::submit,
    recovery::init_browser,
    recovery::init_api,
    recovery::get_flow,
    recovery::submit,
    recovery::open_link,
    verification::init_browser,
    verification::init_api,
    verification::get_flow,
    verification::submit,
    verification::open_link,
    logout::create_browser_logout,
    logout::logout,
    logout::logout_api,
    errors::get_error,
))]
pub struct Api;

// Query parameters as the API description states them; [`InitQuery`], [`FlowId`] and
// `one_time::SubmitQuery` read them.

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct InitParams {
    /// Where to go when the flow is done; must be an allowed return URL.
    return_to: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct LoginInitParams {
    /// Where to go when the flow is done; must be an allowed return URL.
    return_to: Option<String>,
    /// `true` (or `1`) asks a signed-in user to sign in again; any other value does not.
    refresh: Option<String>,
    /// The assurance level to reach: `aal1` (or `aal2` once second factors are enabled).
    aal: Option<String>,
    /// Native apps (API flows): `true` returns a `session_token_exchange_code` with the flow,
    /// for signing in through an upstream in the system browser.
    return_session_token_exchange_code: Option<bool>,
    /// Browser flows: the OAuth2 request (from `/oauth2/auth`) this sign-in is for. The flow
    /// shows it as `oauth2_login_request` and returns to it when done.
    login_challenge: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct RegistrationInitParams {
    /// Where to go when the flow is done; must be an allowed return URL.
    return_to: Option<String>,
    /// Native apps (API flows): `true` returns a `session_token_exchange_code` with the flow,
    /// for signing up through an upstream in the system browser.
    return_session_token_exchange_code: Option<bool>,
    /// Browser flows: the OAuth2 request (from `/oauth2/auth`) this sign-up is for. The flow
    /// shows it as `oauth2_login_request` and returns to it when done.
    login_challenge: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct FlowIdParam {
    /// The flow's id.
    id: String,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct SubmitParams {
    /// The flow's id. Without a usable one a browser is sent to start a new flow; other
    /// clients get an error.
    flow: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct LinkParams {
    /// The token of a recovery link.
    token: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct CodeLinkParams {
    /// The code of a verification link.
    code: Option<String>,
    /// The token of a verification link.
    token: Option<String>,
}

/// Query parameters that start a flow.
#[derive(Debug, Default, Deserialize)]
pub struct InitQuery {
    pub return_to: Option<String>,
    #[serde(default)]
    pub refresh: Option<String>,
    pub aal: Option<String>,
    /// API flows: a native app signs in through an upstream in the system browser and trades
    /// codes for its session token (see `session::exchange`).
    pub return_session_token_exchange_code: Option<String>,
    /// Browser login and registration: the OAuth2 request (`/oauth2/auth`) the flow signs in
    /// for, as Kratos takes Hydra's.
    pub login_challenge: Option<String>,
}

impl InitQuery {
    pub fn refresh(&self) -> bool {
        matches!(self.refresh.as_deref(), Some("true" | "1"))
    }

    /// The OAuth2 request a browser login or registration flow signs in for
    /// (`?login_challenge=`), and where the flow then returns, whatever `return_to` says.
    pub async fn oauth2_login(
        &self,
        state: &AppState,
        client: &crate::http::request::Client,
        flow_type: FlowType,
    ) -> Result<Option<(Value, Url)>, ApiError> {
        match (&self.login_challenge, flow_type) {
            (Some(challenge), FlowType::Browser) => Ok(Some(
                crate::oauth2::login_request::find(state, client, challenge).await?,
            )),
            _ => Ok(None),
        }
    }

    pub fn token_exchange(&self) -> bool {
        matches!(
            self.return_session_token_exchange_code.as_deref(),
            Some("true" | "1")
        )
    }
}

/// `?id=` of the get-flow endpoints; `?flow=` of the submit endpoints.
#[derive(Debug, Deserialize)]
pub struct FlowId {
    pub id: Option<String>,
    pub flow: Option<String>,
}

impl FlowId {
    pub fn parse(&self, key: &str) -> Result<Uuid, ApiError> {
        let raw = if key == "id" { &self.id } else { &self.flow };
        let raw = raw.as_deref().ok_or_else(|| {
            ApiError::bad_request(format!("The query parameter `{key}` is required."))
        })?;
        Uuid::parse_str(raw).map_err(|_| flow_not_found())
    }
}

/// `GET /self-service/<kind>/flows?id=`: the flow, for the browser that started it.
pub async fn read_flow(
    state: &AppState,
    client: &Client,
    kind: FlowKind,
    id: &FlowId,
) -> Result<Json<Value>, ApiError> {
    let flow = state
        .flows
        .get_flow(kind, id.parse("id")?)
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound => flow_not_found(),
            other => other.into(),
        })?;
    check_flow_owner(state, client, &flow)?;
    if flow.is_expired(state.clock.now()) {
        return Err(respond::expired_on_get(state, &flow));
    }
    Ok(Json(flow.to_json()))
}

/// The answer to a flow's init: its response, or its error (on the error page for browsers).
pub async fn answer_init(
    state: &AppState,
    client: &Client,
    flow_type: FlowType,
    result: Result<Response, ApiError>,
) -> Response {
    match result {
        Ok(response) => response,
        Err(error) => respond::respond_api_error(state, client, flow_type, error).await,
    }
}

pub fn flow_not_found() -> ApiError {
    ApiError::not_found().with_reason("The requested flow could not be found.")
}

/// A new flow of `kind` with its CSRF token (browser flows), the configured lifespan, and the
/// nodes of every enabled strategy. Returns the `Set-Cookie` for a CSRF cookie the browser
/// lacked.
pub fn new_flow(
    state: &AppState,
    client: &Client,
    kind: FlowKind,
    flow_type: FlowType,
    return_to: Option<String>,
) -> (Flow, Option<axum::http::HeaderValue>) {
    let (csrf_token, set_cookie) = match flow_type {
        FlowType::Api => (None, None),
        FlowType::Browser => match client.cookie(&csrf_cookie_name(state)) {
            Some(existing) => (Some(existing.to_string()), None),
            None => {
                let token = new_csrf_token();
                let cookie = csrf_cookie(state, &token);
                (Some(token), cookie)
            }
        },
    };
    let mut flow = blank_flow(
        state,
        kind,
        flow_type,
        return_to,
        client.request_url.clone(),
        csrf_token,
    );
    flow.internal
        .insert(model::LANGUAGE.into(), client.language.tag().into());
    (flow, set_cookie)
}

/// A new flow of `kind` for the browser or app that `from` belongs to (a sign-in that turns
/// out to be a sign-up, and the other way round): same type, CSRF token, return address and
/// initiating request. Login flows still need `login::populate`.
pub fn derive_flow(state: &AppState, from: &Flow, kind: FlowKind) -> Flow {
    let mut flow = blank_flow(
        state,
        kind,
        from.flow_type,
        from.return_to.clone(),
        from.request_url.clone(),
        from.csrf_token.clone(),
    );
    flow.active = from.active.clone();
    if let Some(language) = from.internal.get(model::LANGUAGE) {
        flow.internal
            .insert(model::LANGUAGE.into(), language.clone());
    }
    flow
}

fn blank_flow(
    state: &AppState,
    kind: FlowKind,
    flow_type: FlowType,
    return_to: Option<String>,
    request_url: String,
    csrf_token: Option<String>,
) -> Flow {
    let now = state.clock.now();
    let id = Uuid::new_v4();
    let action = state
        .urls
        .public
        .join(&format!("self-service/{}?flow={id}", kind.as_str()))
        .map(String::from)
        .unwrap_or_default();
    let mut ui = UiContainer::new(action);
    let mut csrf = InputAttributes::new("csrf_token", "hidden");
    csrf.required = true;
    csrf.value = Some(json!(csrf_token.clone().unwrap_or_default()));
    ui.nodes.push(UiNode::input(NodeGroup::Default, csrf, None));
    let flows = &state.config.selfservice.flows;
    let lifespan = match kind {
        FlowKind::Login => flows.login.lifespan,
        FlowKind::Registration => flows.registration.lifespan,
        FlowKind::Settings => flows.settings.lifespan,
        FlowKind::Recovery => flows.recovery.lifespan,
        FlowKind::Verification => flows.verification.lifespan,
    };
    let lifespan = time::Duration::try_from(lifespan).unwrap_or(time::Duration::HOUR);
    let mut flow = Flow {
        id,
        kind,
        flow_type,
        state: kind.initial_state().into(),
        request_url,
        return_to,
        ui,
        csrf_token,
        active: None,
        refresh: false,
        requested_aal: Aal::Aal1,
        identity_id: None,
        internal: serde_json::Map::new(),
        identity: None,
        issued_at: now,
        expires_at: now + lifespan,
        updated_at: now,
    };
    match kind {
        // Login nodes depend on the assurance level asked for: see `login::populate`.
        FlowKind::Login => {}
        FlowKind::Registration => {
            let screen = crate::strategy::profile::Screen::first(state);
            crate::strategy::profile::populate_registration_screen(state, &mut flow, screen);
        }
        FlowKind::Recovery => {
            if let Some(strategy) = &state.strategies.recovery {
                strategy.populate(&mut flow);
            }
        }
        FlowKind::Verification => {
            if let Some(strategy) = &state.strategies.verification {
                strategy.populate(&mut flow);
            }
        }
        // Settings forms show an identity: `settings::populate` fills them.
        FlowKind::Settings => {}
    }
    flow
}

/// Loads a flow for a submission: it must exist, be of this kind, unexpired, not completed,
/// and (browser flows) carry the CSRF token; API flows refuse cookies.
pub async fn load_for_submit(
    state: &AppState,
    client: &Client,
    kind: FlowKind,
    id: Uuid,
    submitted_csrf: Option<&str>,
) -> FlowResult<Flow> {
    let mut flow = state
        .flows
        .get_flow(kind, id)
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound => FlowError::Api(flow_not_found()),
            other => FlowError::Api(other.into()),
        })?;
    if flow.is_expired(state.clock.now()) {
        return Err(FlowError::Expired(Box::new(flow)));
    }
    if let Some(message) = kind.completed_message().filter(|_| flow.is_completed()) {
        flow.ui.clear_messages();
        flow.ui.messages.push(UiText::plain(message));
        return Err(FlowError::Rejected(Box::new(flow)));
    }
    match flow.flow_type {
        FlowType::Browser => check_csrf(state, client, &flow, submitted_csrf)?,
        FlowType::Api => {
            let cookies = client.foreign_cookies();
            if !cookies.is_empty() || client.origin.is_some() {
                flow.ui.clear_messages();
                flow.ui.messages.push(UiText::new(
                    4000001,
                    json!({"reason": "API flows must not be submitted with cookies or an Origin header: \
                                       native apps do not use them, and browsers must use the browser flow."}),
                ));
                return Err(FlowError::Rejected(Box::new(flow)));
            }
        }
    }
    Ok(flow)
}

/// The submitted token must equal the flow's and the browser's CSRF cookie (constant time).
fn check_csrf(
    state: &AppState,
    client: &Client,
    flow: &Flow,
    submitted: Option<&str>,
) -> FlowResult<()> {
    let cookie = client.cookie(&csrf_cookie_name(state)).unwrap_or_default();
    let expected = flow.csrf_token.as_deref().unwrap_or_default();
    let submitted = submitted.unwrap_or_default();
    let matches = !expected.is_empty()
        && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
        && bool::from(expected.as_bytes().ct_eq(cookie.as_bytes()));
    if matches {
        return Ok(());
    }
    let reason = if cookie.is_empty() {
        "The CSRF cookie is missing: cookies must be enabled and sent with the request."
    } else {
        "The CSRF token in the request does not match the CSRF cookie."
    };
    Err(FlowError::Api(
        ApiError::new(StatusCode::FORBIDDEN)
            .with_id("security_csrf_violation")
            .with_reason("A security violation was detected, please fill out the form again.")
            .with_details(json!({
                "reject_reason": reason,
                "hint": "Submit the form from the page that rendered it, with cookies enabled.",
            })),
    ))
}

/// Whether the browser with these cookies started `flow` (API flows belong to no browser).
pub fn csrf_cookie_matches(state: &AppState, cookie_header: Option<&str>, flow: &Flow) -> bool {
    if flow.flow_type == FlowType::Api {
        return true;
    }
    let cookie = cookie_header
        .and_then(|header| crate::http::request::cookie_value(header, &csrf_cookie_name(state)))
        .unwrap_or_default();
    let expected = flow.csrf_token.as_deref().unwrap_or_default();
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(cookie.as_bytes()))
}

/// A get-flow request by a browser must come with the CSRF cookie the flow was made for.
pub fn check_flow_owner(state: &AppState, client: &Client, flow: &Flow) -> Result<(), ApiError> {
    if csrf_cookie_matches(state, client.cookies.as_deref(), flow) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN)
            .with_id("security_csrf_violation")
            .with_reason("The flow was started by another browser, or the CSRF cookie is missing."))
    }
}

/// Checks `return_to` against `selfservice.allowed_return_urls`; Ward's own UI, the public
/// self-service paths and the default return URL's origin are always allowed.
pub fn validate_return_to(
    state: &AppState,
    return_to: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(raw) = return_to.filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    let forbidden = || {
        ApiError::bad_request("Requested return_to URL is not allowed.")
            .with_id("self_service_flow_return_to_forbidden")
    };
    let url = Url::parse(raw).map_err(|_| forbidden())?;
    let config = &state.config.selfservice;
    let same_origin = |allowed: &Url| {
        allowed.scheme() == url.scheme()
            && allowed.host_str() == url.host_str()
            && allowed.port_or_known_default() == url.port_or_known_default()
    };
    let mut allowed = config.allowed_return_urls.iter().any(|allowed| {
        let host_ok = match allowed.host_str() {
            Some(host) if host.starts_with("*.") => url
                .host_str()
                .is_some_and(|candidate| candidate.ends_with(&host[1..])),
            host => host == url.host_str(),
        };
        allowed.scheme() == url.scheme()
            && host_ok
            && allowed.port_or_known_default() == url.port_or_known_default()
            && url.path().starts_with(allowed.path())
    });
    allowed |= same_origin(&state.urls.ui);
    allowed |= same_origin(&state.urls.public)
        && (url.path().starts_with("/self-service") || url.path().starts_with("/oauth2/"));
    allowed |= config
        .default_browser_return_url
        .as_ref()
        .is_some_and(same_origin);
    if allowed {
        Ok(Some(url.to_string()))
    } else {
        Err(forbidden())
    }
}

/// Where a browser goes after a flow: the flow's `return_to`, else the first configured
/// default (method, flow, global), else the UI.
pub fn return_url(state: &AppState, flow: Option<&Flow>, defaults: &[Option<&Url>]) -> String {
    if let Some(return_to) = flow.and_then(|flow| flow.return_to.as_ref()) {
        return return_to.clone();
    }
    defaults
        .iter()
        .flatten()
        .next()
        .copied()
        .or(state.config.selfservice.default_browser_return_url.as_ref())
        .map_or_else(|| state.urls.ui.to_string(), Url::to_string)
}

/// The UI page that renders flows of `kind`: configured, else Ward's own page.
pub fn ui_url(state: &AppState, kind: FlowKind) -> Url {
    let flows = &state.config.selfservice.flows;
    let configured = match kind {
        FlowKind::Login => flows.login.ui_url.as_ref(),
        FlowKind::Registration => flows.registration.ui_url.as_ref(),
        FlowKind::Settings => flows.settings.ui_url.as_ref(),
        FlowKind::Recovery => flows.recovery.ui_url.as_ref(),
        FlowKind::Verification => flows.verification.ui_url.as_ref(),
    };
    configured
        .cloned()
        .or_else(|| state.urls.ui.join(kind.as_str()).ok())
        .unwrap_or_else(|| state.urls.ui.clone())
}

/// 303 to `location`.
pub fn see_other(location: &str) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = axum::http::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A signed-in caller starting or submitting a flow that needs no session.
pub fn session_already_available() -> ApiError {
    ApiError::bad_request("A valid session was detected and thus login is not possible.")
        .with_id("session_already_available")
}
