//! `/sessions/whoami`, the caller's own sessions, and resolving the caller's session.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::issue::session_json;
use super::{Aal, Session};
use crate::config::RequiredAal;
use crate::error::{ApiError, ApiResult};
use crate::http::openapi::{Count, ErrorEnvelope, Session as SessionSchema};
use crate::http::pagination::PageParams;
use crate::http::pagination::{Page, Params};
use crate::http::request::{Client, session_token_in};
use crate::identity::{Identity, IdentityState};
use crate::state::AppState;
use crate::store::SessionQuery;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    whoami,
    list_my_sessions,
    revoke_my_other_sessions,
    revoke_my_session,
    super::exchange::token_exchange
))]
pub struct Api;

/// The session token header, for the API description; browsers send the session cookie
/// instead.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
struct SessionCredentials {
    /// A session token (`ory_st_…`) of an API flow.
    #[param(rename = "X-Session-Token")]
    session_token: Option<String>,
}

/// The caller's valid session and its active identity (without credentials), if the request
/// carries one. One database round trip.
pub async fn current_session(
    state: &AppState,
    client: &Client,
) -> ApiResult<Option<(Session, Identity)>> {
    let Some(token) = client.session_token(&state.config.session.cookie.name) else {
        return Ok(None);
    };
    Ok(session_for_token(state, &token).await?)
}

/// The valid session `token` names, with its active identity (without credentials).
pub async fn session_for_token(
    state: &AppState,
    token: &crate::session::SessionToken,
) -> crate::store::StoreResult<Option<(Session, Identity)>> {
    session_for_hash(state, &token.hash()).await
}

async fn session_for_hash(
    state: &AppState,
    token_hash: &str,
) -> crate::store::StoreResult<Option<(Session, Identity)>> {
    let found = state
        .sessions
        .find_session_with_identity(token_hash)
        .await?;
    Ok(found.filter(|(session, identity)| {
        session.is_valid_at(state.clock.now()) && identity.state == IdentityState::Active
    }))
}

/// What a session lacks before it is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The second factor its identity has (`required` is `highest_available`).
    SecondFactor,
    /// A second factor set up at all (`session.whoami.enforce_mfa_enrolment`).
    Enrolment,
}

/// What `session` still lacks, asking the store at most once. `enrolment` applies the
/// enrolment policy (whoami does; settings, where users enrol, does not).
pub async fn missing_factor(
    state: &AppState,
    session: &Session,
    schema_id: &str,
    required: RequiredAal,
    enrolment: bool,
) -> ApiResult<Option<Missing>> {
    let steps_up = required == RequiredAal::HighestAvailable && session.aal < Aal::Aal2;
    let enrols = enrolment
        && state
            .config
            .session
            .whoami
            .enforce_mfa_enrolment
            .applies_to(schema_id);
    if !steps_up && !enrols {
        return Ok(None);
    }
    let has = state
        .identities
        .has_second_factor(session.identity_id, state.second_factors())
        .await?;
    Ok(match (has, steps_up, enrols) {
        (true, true, _) => Some(Missing::SecondFactor),
        (false, _, true) => Some(Missing::Enrolment),
        _ => None,
    })
}

pub fn session_inactive() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED)
        .with_id("session_inactive")
        .with_reason("No valid session credentials found in the request.")
}

/// `GET /sessions/whoami`: the caller's session, or 401 `session_inactive`. Valid sessions'
/// answers are kept in the session cache (`session.cache`), which every change to a session
/// or its identity clears at once; an inactive session always reads the database.
#[utoipa::path(get, path = "/sessions/whoami", operation_id = "toSession", tag = "session", params(SessionCredentials),
    responses(
        (status = 200, description = "The caller's session; header `X-Kratos-Authenticated-Identity-Id` names the identity.",
            body = SessionSchema),
        (status = 401, description = "No valid session (`session_inactive`).", body = ErrorEnvelope),
        (status = 403, description = "The session's AAL is below what is required (`session_aal2_required`).",
            body = ErrorEnvelope)))]
pub async fn whoami(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let token = session_token_in(request.headers(), &state.config.session.cookie.name)
        .ok_or_else(session_inactive)?;
    let token_hash = token.hash();
    let cache = state.database.session_cache();
    if let Some(hit) = cache.get(&token_hash)
        && hit.expires_at > state.clock.now()
    {
        return Ok(whoami_response(hit.body.clone(), hit.identity_id));
    }
    let started = cache.begin_fill();
    let (session, identity) = session_for_hash(&state, &token_hash)
        .await?
        .ok_or_else(session_inactive)?;
    let required = state.config.session.whoami.required_aal;
    match missing_factor(&state, &session, &identity.schema_id, required, true).await? {
        Some(Missing::SecondFactor) => return Ok(super::aal2_required(&state, None)),
        Some(Missing::Enrolment) => return Ok(super::mfa_enrolment_required(&state)),
        None => {}
    }
    let body = serde_json::to_vec(&session_json(&state, &session, &identity))
        .map(Bytes::from)
        .map_err(ApiError::internal)?;
    cache.fill(
        started,
        &token_hash,
        identity.id,
        session.expires_at,
        body.clone(),
    );
    Ok(whoami_response(body, identity.id))
}

fn whoami_response(body: Bytes, identity_id: uuid::Uuid) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&identity_id.to_string()) {
        response
            .headers_mut()
            .insert("x-kratos-authenticated-identity-id", value);
    }
    response
}

/// The caller's session, or 401.
async fn require_session(state: &AppState, client: &Client) -> ApiResult<(Session, Identity)> {
    current_session(state, client)
        .await?
        .ok_or_else(session_inactive)
}

/// `GET /sessions`: the caller's other active sessions.
#[utoipa::path(get, path = "/sessions", operation_id = "listMySessions", tag = "session", params(SessionCredentials, PageParams),
    responses(
        (status = 200, description = "The caller's other active sessions, newest first.",
            body = Vec<SessionSchema>, headers(("Link" = String, description = "The first and next pages."))),
        (status = 400, description = "Bad paging parameters.", body = ErrorEnvelope),
        (status = 401, description = "No valid session.", body = ErrorEnvelope)))]
pub async fn list_my_sessions(
    State(state): State<AppState>,
    client: Client,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let (current, identity) = require_session(&state, &client).await?;
    let params = Params::parse(raw);
    let page = Page::parse(&params, 250, 1000)?;
    let (sessions, next) = sessions_page(&state, Some(identity.id), Some(true), &page).await?;
    let body: Vec<Value> = sessions
        .iter()
        .filter(|session| session.id != current.id)
        .map(|session| session_json(&state, session, &identity))
        .collect();
    let mut response = Json(body).into_response();
    if let Some(link) = page.link_header("/sessions", next, &params) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// One page of an identity's sessions and the id to continue after, if more may follow.
pub async fn sessions_page(
    state: &AppState,
    identity_id: Option<uuid::Uuid>,
    active: Option<bool>,
    page: &Page,
) -> ApiResult<(Vec<Session>, Option<uuid::Uuid>)> {
    let mut sessions = state
        .sessions
        .list_sessions(&SessionQuery {
            identity_id,
            active,
            now: state.clock.now(),
            after: page.after,
            limit: page.size + 1,
        })
        .await?;
    let more = sessions.len() > page.size as usize;
    sessions.truncate(page.size as usize);
    let next = if more {
        sessions.last().map(|session| session.id)
    } else {
        None
    };
    Ok((sessions, next))
}

/// `DELETE /sessions`: signs out everywhere else; answers how many sessions ended.
#[utoipa::path(delete, path = "/sessions", operation_id = "disableMyOtherSessions", tag = "session", params(SessionCredentials), responses(
    (status = 200, description = "How many sessions ended.", body = Count),
    (status = 401, description = "No valid session.", body = ErrorEnvelope)))]
pub async fn revoke_my_other_sessions(
    State(state): State<AppState>,
    client: Client,
) -> ApiResult<Json<Value>> {
    let (current, identity) = require_session(&state, &client).await?;
    let count = state
        .sessions
        .revoke_other_sessions(identity.id, Some(current.id))
        .await?;
    Ok(Json(json!({ "count": count })))
}

/// `DELETE /sessions/{id}`: ends another of the caller's sessions.
#[utoipa::path(delete, path = "/sessions/{id}", operation_id = "disableMySession", tag = "session",
    params(("id" = uuid::Uuid, Path, description = "The session to end."), SessionCredentials),
    responses(
        (status = 204, description = "Ended."),
        (status = 400, description = "That is the current session.", body = ErrorEnvelope),
        (status = 401, description = "No valid session.", body = ErrorEnvelope),
        (status = 404, description = "No such session of the caller's.", body = ErrorEnvelope)))]
pub async fn revoke_my_session(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (current, identity) = require_session(&state, &client).await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    if id == current.id {
        return Err(ApiError::bad_request(
            "The current session cannot be revoked here; sign out instead.",
        ));
    }
    let mut session = state.sessions.get_session(id).await?;
    if session.identity_id != identity.id {
        return Err(ApiError::not_found());
    }
    session.active = false;
    state.sessions.update_session(&session).await?;
    Ok(StatusCode::NO_CONTENT)
}
