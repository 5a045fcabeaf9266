//! The one place an error becomes an HTTP response: the Kratos (herodot) error envelope
//! `{"error": {id?, code, status, reason?, message, details?}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::hash::HashError;
use crate::store::StoreError;

/// Boxed so that `Result<T, ApiError>` stays small on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    id: Option<&'static str>,
    reason: Option<String>,
    details: Option<Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode) -> Self {
        Self(Box::new(Inner {
            status,
            id: None,
            reason: None,
            details: None,
            retry_after: None,
        }))
    }

    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST).with_reason(reason)
    }

    /// 429 `too_many_requests`, with `Retry-After`.
    pub fn too_many_requests(retry_after: std::time::Duration) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS)
            .with_id("too_many_requests")
            .with_reason("Too many attempts. Wait until Retry-After has passed, then try again.");
        error.0.retry_after = Some(retry_after.as_secs().max(1));
        error
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND)
    }

    pub fn conflict() -> Self {
        Self::new(StatusCode::CONFLICT)
            .with_reason("This identity conflicts with another identity that already exists.")
    }

    /// Logs the cause with its context and answers 500 without revealing it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn with_id(mut self, id: &'static str) -> Self {
        self.0.id = Some(id);
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.0.reason = Some(reason.into());
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.0.details = Some(details);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn body(&self) -> Value {
        let inner = &self.0;
        let mut error = json!({
            "code": inner.status.as_u16(),
            "status": inner.status.canonical_reason().unwrap_or("Error"),
            "message": default_message(inner.status),
        });
        if let Some(id) = inner.id {
            error["id"] = json!(id);
        }
        if let Some(reason) = &inner.reason {
            error["reason"] = json!(reason);
        }
        if let Some(details) = &inner.details {
            error["details"] = details.clone();
        }
        json!({ "error": error })
    }
}

/// Kratos's fixed `message` per status; the specific cause goes into `reason`.
fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "The request was malformed or contained invalid parameters",
        StatusCode::UNAUTHORIZED => "The request could not be authorized",
        StatusCode::FORBIDDEN => "The requested action was forbidden",
        StatusCode::NOT_FOUND => "The requested resource could not be found",
        StatusCode::METHOD_NOT_ALLOWED => "The request method is not allowed for this resource",
        StatusCode::REQUEST_TIMEOUT => "The request took too long",
        StatusCode::UNPROCESSABLE_ENTITY => "The request could not be processed",
        StatusCode::CONFLICT => "The resource could not be created due to a conflict",
        StatusCode::GONE => "The requested resource is no longer available",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "The request's content type is not supported",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests, please try again later",
        StatusCode::SERVICE_UNAVAILABLE => "The service is temporarily unavailable",
        status if status.is_client_error() => "The request could not be processed",
        _ => "An internal server error occurred, please contact the system administrator",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.0.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Conflict => ApiError::conflict(),
            StoreError::Database(cause) => ApiError::internal(cause),
            StoreError::Corrupt(cause) => ApiError::internal(cause),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Overloaded => {
                let mut api = ApiError::new(StatusCode::SERVICE_UNAVAILABLE)
                    .with_reason("Too many password hashes are in progress.");
                api.0.retry_after = Some(1);
                api
            }
            HashError::UnsupportedFormat => ApiError::bad_request(
                "The hashed password is in a format Ward cannot import (supported: argon2id, argon2i, bcrypt).",
            ),
            HashError::Internal(cause) => ApiError::internal(cause),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_kratos_shape() {
        let body = ApiError::bad_request("bad traits")
            .with_id("some_id")
            .with_details(json!({"a": 1}))
            .body();
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["status"], "Bad Request");
        assert_eq!(body["error"]["id"], "some_id");
        assert_eq!(body["error"]["reason"], "bad traits");
        assert_eq!(body["error"]["details"]["a"], 1);
        assert!(body["error"]["message"].as_str().is_some());
    }

    #[test]
    fn optional_fields_are_omitted() {
        let body = ApiError::not_found().body();
        let error = body["error"].as_object().map(|o| o.len());
        assert_eq!(error, Some(3), "{body}");
    }
}
