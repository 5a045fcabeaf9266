//! Admin session endpoints: an identity's sessions, one session, revoking and extending.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use serde_json::Value;
use uuid::Uuid;

use super::pagination::{Page, Params};
use crate::error::{ApiError, ApiResult};
use crate::session::Session;
use crate::session::handlers::sessions_page;
use crate::session::issue::session_json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/identities/{id}/sessions",
            get(list_identity_sessions).delete(delete_identity_sessions),
        )
        .route("/sessions/{id}", get(get_session).delete(revoke_session))
        .route("/sessions/{id}/extend", patch(extend_session))
}

fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::bad_request(format!("{id:?} is not a valid id.")))
}

/// The session as JSON; the identity is included (as `expand=identity` asks, and Kratos's
/// legacy answers do).
async fn session_body(state: &AppState, session: &Session) -> ApiResult<Value> {
    let identity = state.identities.get_identity(session.identity_id).await?;
    Ok(session_json(state, session, &identity))
}

/// `GET /admin/identities/{id}/sessions?active=`
async fn list_identity_sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let identity = state.identities.get_identity(parse_id(&id)?).await?;
    let params = Params::parse(raw);
    let page = Page::parse(&params, 250, 1000)?;
    let active = match params.single("active").as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "active must be true or false, not {other:?}."
            )));
        }
    };
    let (sessions, next) = sessions_page(&state, identity.id, active, &page).await?;
    let body: Vec<Value> = sessions
        .iter()
        .map(|session| session_json(&state, session, &identity))
        .collect();
    let mut response = Json(body).into_response();
    if let Some(link) = page.link_header(
        &format!("/admin/identities/{}/sessions", identity.id),
        next,
        &params,
    ) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `DELETE /admin/identities/{id}/sessions`: signs the identity out everywhere.
async fn delete_identity_sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let identity = state.identities.get_identity(parse_id(&id)?).await?;
    state.sessions.delete_sessions_of(identity.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let session = state.sessions.get_session(parse_id(&id)?).await?;
    Ok(Json(session_body(&state, &session).await?))
}

/// `DELETE /admin/sessions/{id}`: deactivates the session.
async fn revoke_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut session = state.sessions.get_session(parse_id(&id)?).await?;
    session.active = false;
    state.sessions.update_session(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /admin/sessions/{id}/extend`: a fresh lifespan from now, once less than
/// `session.earliest_possible_extend` of it is left.
async fn extend_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut session = state.sessions.get_session(parse_id(&id)?).await?;
    let now = state.clock.now();
    if !session.is_valid_at(now) {
        return Err(ApiError::not_found().with_reason("The session is not active."));
    }
    let config = &state.config.session;
    let lifespan = time::Duration::try_from(config.lifespan).unwrap_or(time::Duration::DAY);
    let window = config
        .earliest_possible_extend
        .and_then(|window| time::Duration::try_from(window).ok())
        .unwrap_or(lifespan);
    if session.expires_at - now <= window {
        session.expires_at = now + lifespan;
        state.sessions.update_session(&session).await?;
    }
    Ok(Json(session_body(&state, &session).await?))
}
