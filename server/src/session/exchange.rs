//! Kratos's session token exchange, for native apps that sign in through an upstream in the
//! system browser. The app starts an API flow with `return_session_token_exchange_code=true`
//! and gets an `init_code`; the upstream's callback sends the browser to the flow's
//! `return_to` (the app's own address) with a `code`; the app trades the two codes at
//! `GET /sessions/token-exchange` for its session token. The browser never holds the token,
//! and neither code alone is worth anything.
//!
//! The exchange lives in the flow's internal context (codes hashed); the init code names its
//! flow. The token is minted at the exchange, once: Ward keeps tokens only hashed, so the one
//! issued with the session is replaced by a new one the app receives.

use crate::http::Query;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;
use crate::flow::{Flow, FlowKind};
use crate::http::openapi::{ErrorEnvelope, LoginFlow, SuccessfulCodeExchange};
use crate::oauth2::grant::{random_token, signature};
use crate::session::SessionToken;
use crate::session::issue::session_json;
use crate::state::AppState;
use crate::store::{Changes, StoreError};

const KEY: &str = "token_exchange";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Exchange {
    init_code_hash: String,
    return_to_code_hash: Option<String>,
    /// The session the flow (or the flow it turned into) signed in.
    session_id: Option<Uuid>,
    /// Where it failed instead: the (login or registration) flow to show the app.
    failed_flow: Option<Uuid>,
    used: bool,
}

fn read(flow: &Flow) -> Option<Exchange> {
    flow.internal
        .get(KEY)
        .and_then(|value| serde_json::from_value(value.clone()).ok())
}

fn write(flow: &mut Flow, exchange: &Exchange) {
    if let Ok(value) = serde_json::to_value(exchange) {
        flow.internal.insert(KEY.into(), value);
    }
}

/// Opens an exchange on a new API flow whose app asked for one; returns the app's
/// `init_code`.
pub fn open(flow: &mut Flow, query: &crate::flow::InitQuery) -> Option<String> {
    (flow.flow_type == crate::flow::FlowType::Api && query.token_exchange()).then(|| start(flow))
}

/// The new flow, with the `init_code` (`session_token_exchange_code`), which only this answer
/// carries.
pub fn answer_new_flow(flow: &Flow, code: &str) -> Response {
    let mut body = flow.to_json();
    body["session_token_exchange_code"] = json!(code);
    Json(body).into_response()
}

fn start(flow: &mut Flow) -> String {
    let code = format!("{}.{}.{}", flow.kind.as_str(), flow.id, random_token(""));
    write(
        flow,
        &Exchange {
            init_code_hash: signature(&code),
            ..Exchange::default()
        },
    );
    code
}

/// Whether the flow was started for an exchange.
pub fn expected(flow: &Flow) -> bool {
    read(flow).is_some()
}

/// Records how the browser's part of flow `id` ended (a session, or the flow that refused
/// it) and returns the `code` for the app's `return_to`.
pub async fn finish(
    state: &AppState,
    kind: FlowKind,
    id: Uuid,
    session_id: Option<Uuid>,
    failed_flow: Option<Uuid>,
) -> Result<String, StoreError> {
    let mut flow = state.flows.get_flow(kind, id).await?;
    let mut exchange = read(&flow).unwrap_or_default();
    let code = random_token("");
    exchange.return_to_code_hash = Some(signature(&code));
    exchange.session_id = session_id;
    exchange.failed_flow = failed_flow;
    write(&mut flow, &exchange);
    state.flows.update_flow(&flow).await?;
    Ok(code)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExchangeQuery {
    /// The flow's `session_token_exchange_code`.
    init_code: Option<String>,
    /// The `code` the browser brought back to the app's `return_to`.
    return_to_code: Option<String>,
}

fn same(hash: &str, code: &str) -> bool {
    bool::from(hash.as_bytes().ct_eq(signature(code).as_bytes()))
}

/// `GET /sessions/token-exchange?init_code=&return_to_code=`
#[utoipa::path(get, path = "/sessions/token-exchange", operation_id = "exchangeSessionToken", tag = "session",
    params(ExchangeQuery),
    responses(
        (status = 200, description = "The session and a new token for it; the codes are spent.", body = SuccessfulCodeExchange),
        (status = 400, description = "A code is missing.", body = ErrorEnvelope),
        (status = 404, description = "No session for these codes (unknown, spent, or not yet signed in).", body = ErrorEnvelope),
        (status = 410, description = "The flow expired.", body = ErrorEnvelope),
        (status = 422, description = "The sign-in was refused: the flow that says why.", body = LoginFlow)))]
pub async fn token_exchange(
    State(state): State<AppState>,
    Query(query): Query<ExchangeQuery>,
) -> Result<Response, ApiError> {
    let (Some(init_code), Some(return_to_code)) = (
        query.init_code.filter(|code| !code.is_empty()),
        query.return_to_code.filter(|code| !code.is_empty()),
    ) else {
        return Err(ApiError::bad_request(
            "The query parameters `init_code` and `return_to_code` are required.",
        ));
    };
    let not_yet = || ApiError::not_found().with_reason("no session yet for this \"code\"");
    let mut parts = init_code.splitn(3, '.');
    let kind = parts.next().and_then(FlowKind::parse);
    let id = parts.next().and_then(|id| Uuid::parse_str(id).ok());
    let (Some(kind @ (FlowKind::Login | FlowKind::Registration)), Some(id)) = (kind, id) else {
        return Err(not_yet());
    };
    let mut flow = match state.flows.get_flow(kind, id).await {
        Ok(flow) => flow,
        Err(StoreError::NotFound) => return Err(not_yet()),
        Err(error) => return Err(error.into()),
    };
    let exchange = read(&flow).ok_or_else(not_yet)?;
    let matches = same(&exchange.init_code_hash, &init_code)
        && exchange
            .return_to_code_hash
            .as_deref()
            .is_some_and(|hash| same(hash, &return_to_code));
    if !matches || exchange.used {
        return Err(not_yet());
    }
    if flow.is_expired(state.clock.now()) {
        return Err(ApiError::new(StatusCode::GONE)
            .with_id("self_service_flow_expired")
            .with_reason("The flow of this exchange expired."));
    }
    let Some(session_id) = exchange.session_id else {
        // The browser's part ended in a refusal: the app gets the flow that says why.
        if let Some(failed) = exchange.failed_flow {
            for kind in [FlowKind::Login, FlowKind::Registration] {
                if let Ok(failed) = state.flows.get_flow(kind, failed).await {
                    let body = Json(failed.to_json());
                    return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
                }
            }
        }
        return Err(not_yet());
    };
    let mut session = state.sessions.get_session(session_id).await?;
    let identity = state.identities.get_identity(session.identity_id).await?;
    let token = SessionToken::generate();
    session.token_hash = token.hash();
    write(
        &mut flow,
        &Exchange {
            used: true,
            ..exchange
        },
    );
    let now = state.clock.now();
    state
        .changes
        .commit(
            Changes {
                update_sessions: vec![session.clone()],
                update_flows: vec![flow],
                ..Changes::default()
            },
            now,
        )
        .await?;
    Ok(Json(json!({
        "session_token": token.expose(),
        "session": session_json(&state, &session, &identity),
    }))
    .into_response())
}
