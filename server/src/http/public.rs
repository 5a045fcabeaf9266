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
use crate::http::openapi::{
    self, ErrorEnvelope, HealthNotReady, HealthStatus, IdentitySchema, JsonObject,
};
use crate::session::handlers as sessions;
use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(paths(list_schemas, get_schema))]
struct Api;

/// The public listener's API description.
pub fn description() -> &'static Value {
    use utoipa::OpenApi;
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        openapi::document(
            "Ward public API",
            "Self-service flows, sessions and identity schemas, as Ory Kratos serves them.",
            [
                Api::openapi(),
                HealthApi::openapi(),
                crate::flow::Api::openapi(),
                sessions::Api::openapi(),
            ],
        )
    })
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(alive, ready))]
pub struct HealthApi;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/schemas", get(list_schemas))
        .route("/schemas/{id}", get(get_schema))
        .route("/sessions/whoami", any(sessions::whoami))
        .route(
            "/sessions",
            get(sessions::list_my_sessions).delete(sessions::revoke_my_other_sessions),
        )
        .route(
            "/sessions/token-exchange",
            get(crate::session::exchange::token_exchange),
        )
        .route("/sessions/{id}", delete(sessions::revoke_my_session))
        .merge(crate::flow::routes())
        .merge(crate::oauth2::public_routes(&state))
        .merge(crate::strategy::oidc::callback::routes())
        .merge(health_routes())
        .route(
            openapi::PATH,
            get(|| async { openapi::answer(description()) }),
        )
        .route("/.well-known/ory/webauthn.js", get(webauthn_script))
        .route("/identities", any(to_admin))
        .route("/identities/{*rest}", any(to_admin))
        .route("/admin/{*rest}", any(to_admin));
    let router = super::api_layers(routes.with_state(state.clone()), &state, "public");
    match cors_layer(&state.config.serve.public.cors) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// Admin paths asked of the public listener: 307 to the same path and query on the admin
/// listener (under `/admin`), method and body kept, as Kratos answers SDKs configured with one
/// base URL. Nothing is served from here.
async fn to_admin(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let rest = path.strip_prefix("/admin").unwrap_or(path);
    let mut target = state.urls.admin.clone();
    let base = target.path().trim_end_matches('/').to_string();
    target.set_path(&format!("{base}/admin{rest}"));
    target.set_query(uri.query());
    axum::response::Redirect::temporary(target.as_str()).into_response()
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

/// Whether Ward is up; it does not check the database.
#[utoipa::path(get, path = "/health/alive", operation_id = "isAlive", tag = "health",
    responses((status = 200, description = "Ward is running.", body = HealthStatus)))]
async fn alive() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Whether Ward can serve requests: its database answers.
#[utoipa::path(get, path = "/health/ready", operation_id = "isReady", tag = "health", responses(
    (status = 200, description = "Ready.", body = HealthStatus),
    (status = 503, description = "Not ready, with the reason per dependency.", body = HealthNotReady)))]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Pagination {
    /// The page, from 0.
    #[param(minimum = 0)]
    page: Option<usize>,
    /// Schemas per page; at most 1000.
    #[param(minimum = 0)]
    per_page: Option<usize>,
}

/// The identity schemas Ward knows.
#[utoipa::path(get, path = "/schemas", operation_id = "listIdentitySchemas", tag = "identity", params(Pagination), responses(
    (status = 200, description = "The schemas with their ids.", body = Vec<IdentitySchema>),
    (status = 400, description = "A query parameter is not a number.", body = ErrorEnvelope)))]
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

/// One identity schema, by its id or the unpadded base64url of its id (as in `schema_url`).
#[utoipa::path(get, path = "/schemas/{id}", operation_id = "getIdentitySchema", tag = "identity",
    params(("id" = String, Path, description = "The schema's id.")), responses(
    (status = 200, description = "The JSON Schema.", body = JsonObject),
    (status = 404, description = "No such schema.", body = ErrorEnvelope)))]
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

/// `GET /.well-known/ory/webauthn.js`: the script that runs WebAuthn and passkey ceremonies
/// for the flows' buttons, where UIs made for Kratos look for it.
async fn webauthn_script() -> impl axum::response::IntoResponse {
    use axum::http::header;
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=UTF-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            // UIs on other origins load it with `crossorigin` and its integrity value.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        crate::strategy::webauthn::ceremony::SCRIPT,
    )
}
