//! The UI listener: the Leptos pages, rendered in-process, and the site's static files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::backend::{Backend, BackendError, SharedBackend};
use app::model::SessionView;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::identity::{IdentityState, timestamp};
use crate::metrics::{Observed, observe};
use crate::session::token_from_cookie_header;
use crate::state::AppState;
use crate::store::StoreError;

/// Where the built site (`pkg/` and the `public/` files) lives: `LEPTOS_SITE_ROOT`, else
/// `target/site` under the working directory, as the README's run command builds it.
pub fn site_root() -> PathBuf {
    std::env::var_os("LEPTOS_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/site"))
}

pub fn router(state: AppState, site_root: &Path) -> Router {
    let pkg_file = site_root
        .join("pkg")
        .join(format!("{}.js", app::OUTPUT_NAME));
    if !pkg_file.is_file() {
        tracing::warn!(
            path = %pkg_file.display(),
            "the UI's site assets were not found: pages render without styles or interactivity; \
             build them with `make run` or set LEPTOS_SITE_ROOT"
        );
    }
    let options = LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .build();
    let backend: SharedBackend = Arc::new(EngineBackend {
        state: state.clone(),
    });
    let context = move || provide_context(backend.clone());
    let routes = generate_route_list(app::App);

    let pkg = Router::new()
        .fallback_service(ServeDir::new(site_root.join("pkg")))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            // The bundle's file names carry no content hash, so browsers must revalidate.
            HeaderValue::from_static("no-cache"),
        ));

    let shell_options = options.clone();
    Router::new()
        .leptos_routes_with_context(&options, routes, context.clone(), move || {
            app::shell(shell_options.clone())
        })
        .nest("/pkg", pkg)
        .fallback(file_and_error_handler_with_context(context, app::shell))
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

/// Pages depend on the visitor's cookies and are never cached; static files may be for an hour.
async fn cache_policy(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        let is_page = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value.starts_with("text/html") || value.starts_with("application/json")
            });
        let policy = if is_page {
            "private, no-cache, no-store, must-revalidate"
        } else {
            "public, max-age=3600"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// The pages' backend: the engine in this process.
struct EngineBackend {
    state: AppState,
}

#[async_trait::async_trait]
impl Backend for EngineBackend {
    async fn whoami(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<SessionView>, BackendError> {
        let state = &self.state;
        let Some(token) = cookie_header
            .and_then(|header| token_from_cookie_header(header, &state.config.session.cookie.name))
        else {
            return Ok(None);
        };
        let unavailable = |error: StoreError| {
            tracing::error!(%error, "session lookup failed");
            BackendError
        };
        let session = state
            .sessions
            .find_session_by_token_hash(&token.hash())
            .await
            .map_err(unavailable)?;
        let Some(session) = session.filter(|session| session.is_valid_at(state.clock.now())) else {
            return Ok(None);
        };
        let identity = match state.identities.get_identity(session.identity_id).await {
            Ok(identity) => identity,
            Err(StoreError::NotFound) => return Ok(None),
            Err(error) => return Err(unavailable(error)),
        };
        if identity.state != IdentityState::Active {
            return Ok(None);
        }
        Ok(Some(SessionView {
            id: session.id.to_string(),
            identity_id: identity.id.to_string(),
            traits: identity.traits,
            authenticated_at: timestamp(session.authenticated_at),
            expires_at: timestamp(session.expires_at),
        }))
    }
}
