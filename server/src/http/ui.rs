//! The UI listener: the Leptos pages, rendered in-process, and the site's static files.

use std::sync::Arc;

use app::backend::{Backend, BackendError, SharedBackend};
use app::model::{
    DeviceSessionView, ErrorView, FlowPage, FlowView, MailView, PageFlow, SessionView, SessionsView,
};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use super::site::Site;
use super::theme::Theme;
use crate::flow::{FlowKind, csrf_cookie_matches};
use crate::identity::timestamp;
use crate::metrics::{Observed, observe};
use crate::session::handlers::session_for_token;
use crate::session::{Aal, logout_token, token_from_cookie_header};
use crate::state::AppState;
use crate::store::StoreError;

pub fn router(state: AppState, site: Site, theme: Arc<Theme>) -> Router {
    if !site.has_bundle() {
        tracing::warn!(
            site = %site.describe(),
            "the UI's site assets were not found: pages render without styles or interactivity; \
             build them with `scripts/build-site.sh` (then rebuild ward) or set LEPTOS_SITE_ROOT"
        );
    }
    let options = LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_pkg_dir(site.pkg_dir())
        .build();
    let backend: SharedBackend = Arc::new(EngineBackend {
        state: state.clone(),
    });
    let branding = theme.branding().clone();
    let context = move || {
        provide_context(backend.clone());
        provide_context(branding.clone());
    };
    let routes = route_list();

    let shell_options = options.clone();
    let not_found_options = options.clone();
    let render_page = leptos_axum::render_app_async_with_context(context.clone(), move || {
        app::shell(not_found_options.clone())
    });
    // A static file of the site, else the app (its 404 page).
    let files_or_page = move |request: Request| {
        let site = site.clone();
        let theme = theme.clone();
        let render_page = render_page.clone();
        async move {
            let path = request.uri().path();
            match theme
                .serve(path)
                .or_else(|| site.serve(path, request.headers()))
            {
                Some(response) => response,
                None => render_page(request).await,
            }
        }
    };
    Router::new()
        .leptos_routes_with_context(&options, routes, context, move || {
            app::shell(shell_options.clone())
        })
        .fallback(files_or_page)
        .with_state(options)
        .layer(middleware::from_fn(cache_policy))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(
            Observed {
                metrics: state.metrics.clone(),
                listener: "ui",
            },
            observe,
        ))
}

/// The app's routes, generated once per process. Leptos suppresses resource loading in the
/// whole process while it generates a route list (leptos-rs/leptos#4773): a page rendering
/// meanwhile, on another router of the same process, would wait forever. Several routers
/// share a process in the integration tests.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// Pages depend on the visitor's cookies and are never cached; the site's files say their own
/// policy (see [`Site::serve`]).
async fn cache_policy(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
        );
    }
    response
}

/// The pages' backend: the engine in this process.
struct EngineBackend {
    state: AppState,
}

impl EngineBackend {
    /// The valid session the session cookie names, with its identity.
    async fn cookie_session(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<(crate::session::Session, crate::identity::Identity)>, BackendError> {
        let state = &self.state;
        let Some(token) = cookie_header
            .and_then(|header| token_from_cookie_header(header, &state.config.session.cookie.name))
        else {
            return Ok(None);
        };
        session_for_token(state, &token).await.map_err(|error| {
            tracing::error!(%error, "session lookup failed");
            BackendError
        })
    }
}

/// The URL that signs the browser's session `session_id` out.
fn logout_url(state: &AppState, session_id: Uuid) -> Result<url::Url, BackendError> {
    let mut url = state
        .urls
        .public
        .join("self-service/logout")
        .map_err(|_| BackendError)?;
    url.query_pairs_mut()
        .append_pair("token", &logout_token(state.secrets.current(), session_id));
    Ok(url)
}

#[async_trait::async_trait]
impl Backend for EngineBackend {
    async fn whoami(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<SessionView>, BackendError> {
        let state = &self.state;
        let Some((session, identity)) = self.cookie_session(cookie_header).await? else {
            return Ok(None);
        };
        let logout_url = logout_url(state, session.id)?;
        Ok(Some(SessionView {
            id: session.id.to_string(),
            identity_id: identity.id.to_string(),
            traits: identity.traits,
            authenticated_at: timestamp(session.authenticated_at),
            expires_at: timestamp(session.expires_at),
            logout_url: logout_url.to_string(),
        }))
    }

    async fn flow_page(
        &self,
        kind: PageFlow,
        id: Option<&str>,
        query: &[(String, String)],
        cookie_header: Option<&str>,
    ) -> Result<FlowPage, BackendError> {
        let state = &self.state;
        let kind = match kind {
            PageFlow::Login => FlowKind::Login,
            PageFlow::Registration => FlowKind::Registration,
            PageFlow::Settings => FlowKind::Settings,
            PageFlow::Recovery => FlowKind::Recovery,
            PageFlow::Verification => FlowKind::Verification,
        };
        // Anything but a live flow of this browser starts a new one, keeping the parameters.
        let restart = || {
            let mut url = state
                .urls
                .public
                .join(&format!("self-service/{}/browser", kind.as_str()))
                .map_err(|_| BackendError)?;
            for (key, value) in query
                .iter()
                .filter(|(key, _)| FORWARDED.contains(&key.as_str()))
            {
                url.query_pairs_mut().append_pair(key, value);
            }
            Ok(FlowPage::Redirect(url.to_string()))
        };
        let Some(id) = id.and_then(|id| Uuid::parse_str(id).ok()) else {
            return restart();
        };
        let flow = match state.flows.get_flow(kind, id).await {
            Ok(flow) => flow,
            Err(StoreError::NotFound) => return restart(),
            Err(error) => {
                tracing::error!(%error, "flow lookup failed");
                return Err(BackendError);
            }
        };
        // A verified address may be confirmed in another browser than the one that asked;
        // the finished flow holds nothing secret, so it is shown to whoever opened the link.
        let shown_anywhere = flow.kind == FlowKind::Verification && flow.is_completed();
        if flow.is_expired(state.clock.now())
            || !(shown_anywhere || csrf_cookie_matches(state, cookie_header, &flow))
        {
            return restart();
        }
        let sign_out_url = if flow.kind == FlowKind::Login && flow.requested_aal == Aal::Aal2 {
            match self.cookie_session(cookie_header).await? {
                Some((session, _)) => Some(logout_url(state, session.id)?.to_string()),
                None => None,
            }
        } else {
            None
        };
        let oauth2 = flow.internal.get(crate::flow::model::OAUTH2_LOGIN_REQUEST);
        let carry = match (oauth2, &flow.return_to) {
            (Some(request), _) => ("login_challenge", request["challenge"].as_str()),
            (None, Some(return_to)) => ("return_to", Some(return_to.as_str())),
            (None, None) => ("", None),
        };
        let carry = match carry {
            (key, Some(value)) => format!(
                "?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(key, value)
                    .finish()
            ),
            _ => String::new(),
        };
        let client_name = oauth2.and_then(|request| {
            let client = &request["client"];
            [&client["client_name"], &client["client_id"]]
                .into_iter()
                .filter_map(serde_json::Value::as_str)
                .find(|name| !name.is_empty())
                .map(str::to_string)
        });
        Ok(FlowPage::Show(FlowView {
            id: flow.id.to_string(),
            return_to: flow.return_to.clone(),
            refresh: flow.refresh,
            sign_out_url,
            carry,
            client_name,
            ui: flow.ui,
        }))
    }

    async fn sessions(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<SessionsView>, BackendError> {
        let state = &self.state;
        let Some((current, _)) = self.cookie_session(cookie_header).await? else {
            return Ok(None);
        };
        let sessions = state
            .sessions
            .list_sessions(&crate::store::SessionQuery {
                identity_id: Some(current.identity_id),
                active: Some(true),
                now: state.clock.now(),
                after: None,
                limit: 100,
            })
            .await
            .map_err(|error| {
                tracing::error!(%error, "session listing failed");
                BackendError
            })?;
        let csrf_token = cookie_header
            .and_then(|header| {
                crate::http::request::cookie_value(
                    header,
                    &crate::session::cookie::csrf_cookie_name(state),
                )
            })
            .unwrap_or_default()
            .to_string();
        Ok(Some(SessionsView {
            sessions: sessions
                .into_iter()
                .map(|session| {
                    let device = session.devices.last();
                    DeviceSessionView {
                        id: session.id.to_string(),
                        current: session.id == current.id,
                        ip_address: device.and_then(|device| device.ip_address.clone()),
                        user_agent: device.and_then(|device| device.user_agent.clone()),
                        authenticated_at: timestamp(session.authenticated_at),
                        expires_at: timestamp(session.expires_at),
                    }
                })
                .collect(),
            csrf_token,
        }))
    }

    async fn revoke_sessions(
        &self,
        cookie_header: Option<&str>,
        csrf_token: &str,
        id: Option<&str>,
    ) -> Result<bool, BackendError> {
        let state = &self.state;
        let Some((current, _)) = self.cookie_session(cookie_header).await? else {
            return Ok(false);
        };
        let expected = cookie_header
            .and_then(|header| {
                crate::http::request::cookie_value(
                    header,
                    &crate::session::cookie::csrf_cookie_name(state),
                )
            })
            .unwrap_or_default();
        let authorised = !expected.is_empty()
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                expected.as_bytes(),
                csrf_token.as_bytes(),
            ));
        if !authorised {
            return Ok(false);
        }
        let failed = |error: StoreError| {
            tracing::error!(%error, "revoking sessions failed");
            BackendError
        };
        match id.map(Uuid::parse_str) {
            None => {
                state
                    .sessions
                    .revoke_other_sessions(current.identity_id, Some(current.id))
                    .await
                    .map_err(failed)?;
                Ok(true)
            }
            Some(Ok(id)) if id != current.id => {
                let session = match state.sessions.get_session(id).await {
                    Ok(session) => session,
                    Err(StoreError::NotFound) => return Ok(false),
                    Err(error) => return Err(failed(error)),
                };
                if session.identity_id != current.identity_id {
                    return Ok(false);
                }
                let mut session = session;
                session.active = false;
                state
                    .sessions
                    .update_session(&session)
                    .await
                    .map_err(failed)?;
                Ok(true)
            }
            // The current session ends by signing out; a malformed id names nothing.
            Some(_) => Ok(false),
        }
    }

    async fn consent(
        &self,
        challenge: &str,
        cookie_header: Option<&str>,
    ) -> Result<Option<app::model::ConsentView>, BackendError> {
        let state = &self.state;
        if !state.config.oauth2_server.enabled {
            return Ok(None);
        }
        let Some(browser) = cookie_header.and_then(|header| {
            crate::http::request::cookie_value(header, crate::oauth2::BROWSER_COOKIE)
        }) else {
            return Ok(None);
        };
        let sessions = crate::store::BrowserSessions::new(state.database.clone());
        let Some((client, parked)) =
            crate::oauth2::authorize::find_parked(state, &sessions, browser, challenge).await
        else {
            return Ok(None);
        };
        // Only the user who was asked sees the request.
        let Some((_, identity)) = self.cookie_session(cookie_header).await? else {
            return Ok(None);
        };
        if parked.subject.as_deref() != Some(identity.id.to_string().as_str()) {
            return Ok(None);
        }
        let account = identity
            .verifiable_addresses
            .first()
            .map(|address| address.value.clone())
            .unwrap_or_else(|| identity.id.to_string());
        let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_string());
        Ok(Some(app::model::ConsentView {
            challenge: challenge.to_string(),
            csrf_token: parked.csrf_token.clone(),
            action: crate::oauth2::endpoint(state, "oauth2/auth/consent").to_string(),
            client_name: non_empty(&client.client_name).unwrap_or_else(|| client.client_id.clone()),
            client_uri: non_empty(&client.client_uri),
            logo_uri: non_empty(&client.logo_uri),
            scopes: parked
                .scope
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            account,
        }))
    }

    async fn mailbox(&self) -> Result<Option<Vec<MailView>>, BackendError> {
        if !self.state.config.dev {
            return Ok(None);
        }
        let messages = self
            .state
            .courier_queue
            .list_messages(&crate::store::MessageQuery {
                limit: 50,
                ..Default::default()
            })
            .await
            .map_err(|error| {
                tracing::error!(%error, "mailbox listing failed");
                BackendError
            })?;
        Ok(Some(
            messages
                .into_iter()
                .map(|message| MailView {
                    id: message.id.to_string(),
                    recipient: message.recipient,
                    subject: message.subject,
                    body: message.body,
                    status: message.status.as_str().to_string(),
                    created_at: timestamp(message.created_at),
                })
                .collect(),
        ))
    }

    async fn error(&self, id: &str) -> Result<Option<ErrorView>, BackendError> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        match self.state.flows.get_error(id).await {
            Ok((error, _)) => Ok(Some(ErrorView {
                code: error["code"]
                    .as_u64()
                    .and_then(|code| u16::try_from(code).ok())
                    .unwrap_or(500),
                status: error["status"].as_str().unwrap_or_default().to_string(),
                reason: error["reason"].as_str().map(str::to_string),
                message: error["message"].as_str().unwrap_or_default().to_string(),
            })),
            Err(StoreError::NotFound) => Ok(None),
            Err(error) => {
                tracing::error!(%error, "error lookup failed");
                Err(BackendError)
            }
        }
    }
}

/// Query parameters a flow page passes on when it starts a new flow.
const FORWARDED: [&str; 4] = ["return_to", "refresh", "aal", "login_challenge"];
