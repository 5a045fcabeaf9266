//! What the API listeners forgive, as Kratos does, and how they answer what they cannot.
//!
//! - Repeated slashes in a path are one slash, and a trailing slash is dropped: Ory's SDKs
//!   join a base URL that ends in `/` with paths that start with one
//!   (`http://host:4433//self-service/...`). Kratos's router redirects such paths; Ward serves
//!   them in place, so a POST keeps its method and body.
//! - Every error answer is Kratos's JSON envelope, including those axum writes itself
//!   (405 with an empty body, extractor rejections in plain text).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The request with its path in canonical form; other requests pass unchanged.
pub fn canonical_path(mut request: Request<Body>) -> Request<Body> {
    if let Some(uri) = canonical_uri(request.uri()) {
        *request.uri_mut() = uri;
    }
    request
}

fn canonical_uri(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let needs_change = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    if !needs_change {
        return None;
    }
    let mut canonical = String::with_capacity(path.len());
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        canonical.push('/');
        canonical.push_str(segment);
    }
    if canonical.is_empty() {
        canonical.push('/');
    }
    if let Some(query) = uri.query() {
        canonical.push('?');
        canonical.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = canonical.parse().ok();
    Uri::from_parts(parts).ok()
}

/// Turns any error answer that is not JSON into the Kratos envelope with the same status.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default();
    let mut error = ApiError::new(status);
    if !text.is_empty() {
        error = error.with_reason(text);
    }
    let mut answer = error.into_response();
    // Headers that belong to the status, such as the methods a 405 allows.
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = parts.headers.remove(&name) {
            answer.headers_mut().insert(name, value);
        }
    }
    answer
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json") || value.contains("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(uri: &str) -> String {
        let uri: Uri = uri.parse().unwrap();
        canonical_uri(&uri).map_or_else(|| uri.to_string(), |uri| uri.to_string())
    }

    #[test]
    fn slashes_collapse_and_trailing_ones_go() {
        assert_eq!(
            canonical("//self-service/registration/flows?id=a//b"),
            "/self-service/registration/flows?id=a//b"
        );
        assert_eq!(canonical("/sessions//whoami/"), "/sessions/whoami");
        assert_eq!(canonical("///"), "/");
        assert_eq!(canonical("/"), "/");
        assert_eq!(canonical("/health/alive"), "/health/alive");
    }
}
