//! `/sessions/whoami` and resolving the caller's session.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::Session;
use super::issue::session_json;
use crate::error::{ApiError, ApiResult};
use crate::flow::request::Client;
use crate::identity::{Identity, IdentityState};
use crate::state::AppState;
use crate::store::StoreError;

/// The caller's valid session and its active identity, if the request carries one.
pub async fn current_session(
    state: &AppState,
    client: &Client,
) -> ApiResult<Option<(Session, Identity)>> {
    let Some(token) = client.session_token(&state.config.session.cookie.name) else {
        return Ok(None);
    };
    let Some(session) = state
        .sessions
        .find_session_by_token_hash(&token.hash())
        .await?
    else {
        return Ok(None);
    };
    if !session.is_valid_at(state.clock.now()) {
        return Ok(None);
    }
    match state.identities.get_identity(session.identity_id).await {
        Ok(identity) if identity.state == IdentityState::Active => Ok(Some((session, identity))),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

pub fn session_inactive() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED)
        .with_id("session_inactive")
        .with_reason("No valid session credentials found in the request.")
}

/// `GET /sessions/whoami`: the caller's session, or 401 `session_inactive`.
pub async fn whoami(State(state): State<AppState>, client: Client) -> ApiResult<Response> {
    let (session, identity) = current_session(&state, &client)
        .await?
        .ok_or_else(session_inactive)?;
    let mut response = Json(session_json(&state, &session, &identity)).into_response();
    if let Ok(value) = HeaderValue::from_str(&identity.id.to_string()) {
        response
            .headers_mut()
            .insert("x-kratos-authenticated-identity-id", value);
    }
    Ok(response)
}
