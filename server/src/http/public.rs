//! The public listener's routes that are not self-service flows: schemas and health.

use crate::http::Query;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::session::handlers as sessions;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/schemas", get(list_schemas))
        .route("/schemas/{id}", get(get_schema))
        .route("/sessions/whoami", any(sessions::whoami))
        .route(
            "/sessions",
            get(sessions::list_my_sessions).delete(sessions::revoke_my_other_sessions),
        )
        .route("/sessions/{id}", delete(sessions::revoke_my_session))
        .merge(crate::flow::routes())
        .merge(health_routes());
    let router = super::api_layers(routes.with_state(state.clone()), &state, "public");
    match cors_layer(&state.config.serve.public.cors) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// `serve.public.cors` as a CORS layer; `None` when disabled. Origins may use one `*`
/// wildcard (`https://*.example.com`); `*` alone allows any origin.
fn cors_layer(config: &crate::config::Cors) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if !config.enabled {
        return None;
    }
    let patterns = config.allowed_origins.clone();
    let origin = AllowOrigin::predicate(move |origin: &HeaderValue, _| {
        let origin = origin.to_str().unwrap_or_default();
        patterns
            .iter()
            .any(|pattern| match pattern.split_once('*') {
                None => pattern == origin,
                Some((prefix, suffix)) => {
                    origin.len() >= prefix.len() + suffix.len()
                        && origin.starts_with(prefix)
                        && origin.ends_with(suffix)
                }
            })
    });
    let methods: Vec<Method> = config
        .allowed_methods
        .iter()
        .filter_map(|m| m.parse().ok())
        .collect();
    let headers: Vec<HeaderName> = config
        .allowed_headers
        .iter()
        .filter_map(|h| h.parse().ok())
        .collect();
    let exposed: Vec<HeaderName> = config
        .exposed_headers
        .iter()
        .filter_map(|h| h.parse().ok())
        .collect();
    let mut layer = CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(methods)
        .allow_headers(headers)
        .expose_headers(exposed)
        .allow_credentials(config.allow_credentials);
    if let Some(max_age) = config.max_age {
        layer = layer.max_age(max_age);
    }
    Some(layer)
}

/// `/health/alive` and `/health/ready`, served on both API listeners.
pub fn health_routes() -> Router<AppState> {
    Router::new()
        .route("/health/alive", get(alive))
        .route("/health/ready", get(ready))
}

async fn alive() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Response {
    let check =
        tokio::time::timeout(std::time::Duration::from_secs(2), state.database.ping()).await;
    let failure = match check {
        Ok(Ok(())) => return Json(json!({"status": "ok"})).into_response(),
        Ok(Err(error)) => format!("the database did not answer: {error}"),
        Err(_) => "the database did not answer within 2s".to_string(),
    };
    tracing::warn!(reason = %failure, "readiness check failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"errors": {"database": failure}})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Pagination {
    page: Option<usize>,
    per_page: Option<usize>,
}

async fn list_schemas(
    State(state): State<AppState>,
    Query(pagination): Query<Pagination>,
) -> ApiResult<Json<Vec<Value>>> {
    let per_page = pagination.per_page.unwrap_or(250).clamp(1, 1000);
    let page = pagination.page.unwrap_or(0);
    let schemas = state
        .schemas
        .all()
        .iter()
        .skip(page.saturating_mul(per_page))
        .take(per_page)
        .map(|schema| json!({"id": schema.id, "schema": schema.raw}))
        .collect();
    Ok(Json(schemas))
}

async fn get_schema(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .schemas
        .find_by_url_id(&id)
        .map(|schema| Json(schema.raw.clone()))
        .ok_or_else(|| {
            ApiError::not_found().with_reason(format!("Identity schema `{id}` does not exist."))
        })
}
