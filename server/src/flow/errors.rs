//! `/self-service/errors?id=`: errors stored for the error page.

use crate::http::Query;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::http::openapi::{ErrorEnvelope, FlowError};
use crate::state::AppState;

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ErrorParams {
    /// The error's id (`stub:500` answers a sample error); `error` is accepted as its alias.
    id: Option<String>,
}

/// A self-service error stored for the error page.
#[utoipa::path(get, path = "/self-service/errors", operation_id = "getFlowError", tag = "error", params(ErrorParams), responses(
    (status = 200, description = "The error.", body = FlowError),
    (status = 400, description = "No `id`.", body = ErrorEnvelope),
    (status = 404, description = "No such error.", body = ErrorEnvelope)))]
pub async fn get_error(
    State(state): State<AppState>,
    Query(query): Query<ErrorQuery>,
) -> ApiResult<Json<Value>> {
    let id = query
        .id()
        .ok_or_else(|| ApiError::bad_request("The query parameter `id` is required."))?
        .to_string();
    // `stub:500` lets UIs test their error page without a real error.
    if id == "stub:500" {
        let error = json!({"code": 500, "status": "Internal Server Error", "reason": "This is a stub error.", "message": "An internal server error occurred, please contact the system administrator"});
        return Ok(Json(error_json(&id, error, state.clock.now())));
    }
    let uuid = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    let (error, created_at) = state.flows.get_error(uuid).await?;
    Ok(Json(error_json(&id, error, created_at)))
}

#[derive(Deserialize)]
pub struct ErrorQuery {
    id: Option<String>,
    error: Option<String>,
}

/// Builds the `/self-service/errors` body.
pub fn error_json(id: &str, error: Value, created_at: time::OffsetDateTime) -> Value {
    let at = crate::identity::timestamp(created_at);
    json!({"id": id, "error": error, "created_at": at, "updated_at": at})
}

impl ErrorQuery {
    pub fn id(&self) -> Option<&str> {
        self.error.as_deref().or(self.id.as_deref())
    }
}
