//! Signing out: browser logout URLs with one-time tokens, and native apps by session token.

use crate::http::Query;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::respond::respond_api_error;
use super::{FlowType, see_other, validate_return_to};
use crate::error::{ApiError, ApiResult};
use crate::http::JsonBody;
use crate::http::openapi::{ErrorEnvelope, LogoutFlow};
use crate::http::request::Client;
use crate::session::cookie::{clear_session_cookie, csrf_cookie, new_csrf_token};
use crate::session::handlers::{current_session, session_inactive};
use crate::session::{SessionToken, logout_token};
use crate::state::AppState;

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct LogoutParams {
    /// The logout token of the logout URL.
    token: Option<String>,
    /// Where to go afterwards; must be an allowed return URL.
    return_to: Option<String>,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct LogoutInitParams {
    /// Where the logout URL sends the browser afterwards; must be an allowed return URL.
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub struct LogoutQuery {
    token: Option<String>,
    return_to: Option<String>,
}

/// `GET /self-service/logout/browser`: a logout URL with a fresh one-time token.
#[utoipa::path(get, path = "/self-service/logout/browser", operation_id = "createBrowserLogoutFlow", tag = "logout", params(LogoutInitParams),
    responses(
        (status = 200, description = "The logout URL and its token.", body = LogoutFlow),
        (status = 303, description = "A browser without a session: to the error page."),
        (status = 400, description = "A `return_to` that is not allowed.", body = ErrorEnvelope),
        (status = 401, description = "No session.", body = ErrorEnvelope)))]
pub async fn create_browser_logout(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<LogoutQuery>,
) -> Response {
    let result = async {
        let return_to = validate_return_to(&state, query.return_to.as_deref())?;
        let (session, _) = current_session(&state, &client)
            .await?
            .ok_or_else(session_inactive)?;
        let token = logout_token(state.secrets.current(), session.id);
        let mut url = state
            .urls
            .public
            .join("self-service/logout")
            .map_err(ApiError::internal)?;
        url.query_pairs_mut().append_pair("token", &token);
        if let Some(return_to) = return_to {
            url.query_pairs_mut().append_pair("return_to", &return_to);
        }
        Ok::<_, ApiError>(Json(
            json!({"logout_url": url.to_string(), "logout_token": token}),
        ))
    }
    .await;
    match result {
        Ok(body) => body.into_response(),
        Err(error) => respond_api_error(&state, &client, FlowType::Browser, error).await,
    }
}

/// `GET /self-service/logout?token=`: ends the browser's session.
#[utoipa::path(get, path = "/self-service/logout", operation_id = "updateLogoutFlow", tag = "logout", params(LogoutParams),
    responses(
        (status = 204, description = "Signed out (clients that asked for JSON)."),
        (status = 303, description = "Signed out: to the return address; or an error page."),
        (status = 400, description = "No token, or a `return_to` that is not allowed.", body = ErrorEnvelope),
        (status = 401, description = "No session.", body = ErrorEnvelope),
        (status = 403, description = "The token is not this session's.", body = ErrorEnvelope)))]
pub async fn logout(
    State(state): State<AppState>,
    client: Client,
    Query(query): Query<LogoutQuery>,
) -> Response {
    let result = async {
        let token = query
            .token
            .as_deref()
            .filter(|token| !token.is_empty())
            .ok_or_else(|| ApiError::bad_request("The query parameter `token` is required."))?;
        let return_to = validate_return_to(&state, query.return_to.as_deref())?;
        let (mut session, _) = current_session(&state, &client)
            .await?
            .ok_or_else(session_inactive)?;
        // Tokens made under any configured key are accepted, so keys can rotate.
        let valid = state.secrets.all().iter().any(|key| {
            bool::from(
                logout_token(key, session.id)
                    .as_bytes()
                    .ct_eq(token.as_bytes()),
            )
        });
        if !valid {
            return Err(ApiError::new(StatusCode::FORBIDDEN)
                .with_reason("The logout token does not belong to this session."));
        }
        session.active = false;
        state.sessions.update_session(&session).await?;
        Ok(return_to)
    }
    .await;
    let return_to = match result {
        Ok(return_to) => return_to,
        Err(error) => return respond_api_error(&state, &client, FlowType::Browser, error).await,
    };
    let mut response = if client.wants_json {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let destination = return_to
            .or_else(|| {
                state
                    .config
                    .selfservice
                    .flows
                    .logout
                    .after
                    .default_browser_return_url
                    .as_ref()
                    .map(url::Url::to_string)
            })
            .or_else(|| {
                state
                    .config
                    .selfservice
                    .default_browser_return_url
                    .as_ref()
                    .map(url::Url::to_string)
            })
            .unwrap_or_else(|| state.urls.ui.to_string());
        see_other(&destination)
    };
    let headers = response.headers_mut();
    for cookie in [
        clear_session_cookie(&state),
        csrf_cookie(&state, &new_csrf_token()),
    ]
    .into_iter()
    .flatten()
    {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutApiBody {
    session_token: String,
}

/// `DELETE /self-service/logout/api` with `{session_token}`: ends a native app's session.
#[utoipa::path(delete, path = "/self-service/logout/api", operation_id = "performNativeLogout", tag = "logout",
    request_body = LogoutApiBody, responses(
        (status = 204, description = "The session ended."),
        (status = 400, description = "The body is not `{session_token}`.", body = ErrorEnvelope),
        (status = 403, description = "The token names no active session.", body = ErrorEnvelope)))]
pub async fn logout_api(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LogoutApiBody>,
) -> ApiResult<StatusCode> {
    if body.session_token.is_empty() {
        return Err(ApiError::bad_request("session_token must not be empty."));
    }
    let hash = SessionToken::from_client(&body.session_token).hash();
    let session = state.sessions.find_session_by_token_hash(&hash).await?;
    let Some(mut session) = session.filter(|session| session.active) else {
        return Err(
            ApiError::new(StatusCode::FORBIDDEN).with_reason("The session token is not valid.")
        );
    };
    session.active = false;
    state.sessions.update_session(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}
