//! Admin session endpoints: all sessions, an identity's sessions, one session, revoking and
//! extending.

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
use crate::http::openapi::{ErrorEnvelope, Session as SessionSchema};
use crate::http::pagination::PageParams;
use crate::session::Session;
use crate::session::handlers::sessions_page;
use crate::session::issue::{session_json, session_json_expanded};
use crate::state::AppState;
use crate::store::IdentityQuery;

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_sessions,
    list_identity_sessions,
    delete_identity_sessions,
    get_session,
    revoke_session,
    extend_session
))]
pub struct Api;

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListSessionsParams {
    /// Only active (`true`) or only inactive (`false`) sessions.
    active: Option<bool>,
    /// Fill in `identity` and/or `devices` (repeatable), which are `null` otherwise.
    #[param(inline)]
    expand: Option<Vec<Expand>>,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum Expand {
    Identity,
    Devices,
}

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ActiveParam {
    /// Only active (`true`) or only inactive (`false`) sessions.
    active: Option<bool>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list_sessions))
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

/// `GET /admin/sessions?active=&expand=identity&expand=devices`: every identity's sessions,
/// in keyset pages.
#[utoipa::path(get, path = "/admin/sessions", operation_id = "listSessions", tag = "session",
    params(ListSessionsParams, PageParams), responses(
    (status = 200, description = "One page of sessions.", body = Vec<SessionSchema>,
        headers(("Link" = String, description = "The first and next pages."))),
    (status = 400, description = "A bad filter or page parameter.", body = ErrorEnvelope)))]
async fn list_sessions(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    let page = Page::parse(&params, 250, 1000)?;
    let active = parse_active(&params)?;
    let (mut with_identity, mut with_devices) = (false, false);
    for option in params.all("expand") {
        match option.to_ascii_lowercase().as_str() {
            "identity" => with_identity = true,
            "devices" => with_devices = true,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Could not parse expand option: {option}"
                )));
            }
        }
    }
    let (sessions, next) = sessions_page(&state, None, active, &page).await?;
    let identities = if with_identity {
        let mut ids: Vec<Uuid> = sessions.iter().map(|session| session.identity_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let size = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        state
            .identities
            .list_identities(&IdentityQuery {
                page_size: size.max(1),
                after: None,
                credentials_identifier: None,
                ids,
            })
            .await?
            .identities
    } else {
        Vec::new()
    };
    let body: Vec<Value> = sessions
        .iter()
        .map(|session| {
            let identity = identities
                .iter()
                .find(|identity| identity.id == session.identity_id);
            session_json_expanded(&state, session, identity, with_devices)
        })
        .collect();
    let mut response = Json(body).into_response();
    if let Some(link) = page.link_header("/admin/sessions", next, &params) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `active`, read as Go's `strconv.ParseBool` reads it.
fn parse_active(params: &Params) -> ApiResult<Option<bool>> {
    match params.single("active").as_deref() {
        None => Ok(None),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(Some(true)),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!(
            "active must be true or false, not {other:?}."
        ))),
    }
}

/// `GET /admin/identities/{id}/sessions?active=`
#[utoipa::path(get, path = "/admin/identities/{id}/sessions", operation_id = "listIdentitySessions", tag = "session",
    params(("id" = Uuid, Path, description = "The identity's id."), ActiveParam, PageParams),
    responses(
    (status = 200, description = "One page of the identity's sessions.", body = Vec<SessionSchema>,
        headers(("Link" = String, description = "The first and next pages."))),
    (status = 400, description = "A bad id, filter or page parameter.", body = ErrorEnvelope),
    (status = 404, description = "No such identity.", body = ErrorEnvelope)))]
async fn list_identity_sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let identity = state.identities.get_identity(parse_id(&id)?).await?;
    let params = Params::parse(raw);
    let page = Page::parse(&params, 250, 1000)?;
    let active = parse_active(&params)?;
    let (sessions, next) = sessions_page(&state, Some(identity.id), active, &page).await?;
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
#[utoipa::path(delete, path = "/admin/identities/{id}/sessions", operation_id = "deleteIdentitySessions", tag = "session",
    params(("id" = Uuid, Path, description = "The identity's id.")), responses(
    (status = 204, description = "Every session of the identity is gone."),
    (status = 400, description = "A bad id.", body = ErrorEnvelope),
    (status = 404, description = "No such identity.", body = ErrorEnvelope)))]
async fn delete_identity_sessions(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let identity = state.identities.get_identity(parse_id(&id)?).await?;
    state.sessions.delete_sessions_of(identity.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One session, with its identity.
#[utoipa::path(get, path = "/admin/sessions/{id}", operation_id = "getSession", tag = "session",
    params(("id" = Uuid, Path, description = "The session's id.")), responses(
    (status = 200, description = "The session.", body = SessionSchema),
    (status = 400, description = "A bad id.", body = ErrorEnvelope),
    (status = 404, description = "No such session.", body = ErrorEnvelope)))]
async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let session = state.sessions.get_session(parse_id(&id)?).await?;
    Ok(Json(session_body(&state, &session).await?))
}

/// `DELETE /admin/sessions/{id}`: deactivates the session.
#[utoipa::path(delete, path = "/admin/sessions/{id}", operation_id = "disableSession", tag = "session",
    params(("id" = Uuid, Path, description = "The session's id.")), responses(
    (status = 204, description = "Deactivated."),
    (status = 400, description = "A bad id.", body = ErrorEnvelope),
    (status = 404, description = "No such session.", body = ErrorEnvelope)))]
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
#[utoipa::path(patch, path = "/admin/sessions/{id}/extend", operation_id = "extendSession", tag = "session",
    params(("id" = Uuid, Path, description = "The session's id.")), responses(
    (status = 200, description = "The session, extended or not yet due.", body = SessionSchema),
    (status = 400, description = "A bad id.", body = ErrorEnvelope),
    (status = 404, description = "No such active session.", body = ErrorEnvelope)))]
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
