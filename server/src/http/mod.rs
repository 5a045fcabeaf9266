//! The HTTP surface: one router per listener, built from the shared state.

pub mod admin;
mod admin_courier;
mod admin_identities;
mod admin_sessions;
mod extract;
mod identity_body;
mod lenient;
pub mod openapi;
pub mod pagination;
pub mod public;
pub mod request;
pub mod site;
pub mod theme;
pub mod ui;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::middleware;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::metrics::{Observed, observe};
use crate::state::AppState;

pub use extract::{JsonBody, Query, non_empty_pairs, parse_json, read_body};

/// Kratos's request body limit.
pub const BODY_LIMIT: usize = 5 * 1024 * 1024;

/// Layers every API listener shares: metrics, tracing, the body limit, no-cache headers, and
/// errors (unknown paths too) in the Kratos envelope.
fn api_layers(router: Router, state: &AppState, listener: &'static str) -> Router {
    router
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn(lenient::json_errors))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(
            Observed {
                metrics: state.metrics.clone(),
                listener,
            },
            observe,
        ))
}

/// What [`browser_headers`] adds for one listener.
#[derive(Clone, Copy)]
pub struct BrowserHeaders {
    /// The listener's base URL is https: browsers must keep to https (HSTS).
    pub https: bool,
    /// The listener serves pages (the UI): responses without a policy of their own get one that
    /// allows nothing, and frames are refused unless `ui.frame_ancestors` names who may.
    pub pages: bool,
    pub frameable: bool,
}

/// The headers every response of a browser-facing listener carries (OWASP ASVS 4.0.3 V14.4),
/// redirects included: flow ids and codes travel in URLs and must not reach other sites in a
/// `Referer`.
pub async fn browser_headers(
    axum::extract::State(settings): axum::extract::State<BrowserHeaders>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if settings.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if settings.pages {
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            );
        }
        if !settings.frameable {
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
    }
    response
}

/// An API listener's service: `router` behind the path leniency of [`lenient`], which must
/// act before routing.
pub type ApiService =
    tower::util::MapRequest<Router, fn(axum::extract::Request) -> axum::extract::Request>;

pub fn api_service(router: Router) -> ApiService {
    tower::ServiceExt::map_request(router, lenient::canonical_path as fn(_) -> _)
}
