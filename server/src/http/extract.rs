//! Request extractors that answer bad input in the Kratos error envelope.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Malformed JSON, wrong types and unknown fields (where the type denies them)
/// are 400 naming the field; bodies over the limit are 413.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/json");
        if !content_type.starts_with("application/json") && !content_type.contains("+json") {
            return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with_reason("The request body must be JSON (Content-Type: application/json)."));
        }
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The whole body, within the listener's limit: over it is 413 in the Kratos envelope.
pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection: BytesRejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE)
                    .with_reason("The request body exceeds the limit of 5 MB.")
            } else {
                ApiError::bad_request(format!("The request body could not be read: {rejection}"))
            }
        })
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let reason = if path == "." || path.is_empty() {
            format!("The request body is not valid: {inner}")
        } else {
            format!("The request body is not valid at `{path}`: {inner}")
        };
        ApiError::bad_request(reason)
    })
}

/// Query parameters, read as Kratos reads them: an empty value (`?aal=&return_to=`) is the
/// same as no value, so a UI that sends every parameter it knows works unchanged. Bad values
/// are 400 in the Kratos envelope.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = non_empty_pairs(query);
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let deserializer =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(encoded.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| {
                let path = error.path().to_string();
                ApiError::bad_request(format!(
                    "The query parameter `{path}` is not valid: {}",
                    error.into_inner()
                ))
            })
    }
}

/// The name/value pairs of a query string, without those whose value is empty.
pub fn non_empty_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(_, value)| !value.is_empty())
        .collect()
}
