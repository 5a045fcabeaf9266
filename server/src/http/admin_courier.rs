//! Admin courier endpoints: the queued and sent messages (reference §1b, §10).

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use uuid::Uuid;

use super::openapi::{CourierMessage, ErrorEnvelope};
use super::pagination::{Page, PageParams, Params};
use crate::courier::MessageStatus;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::MessageQuery;

#[derive(utoipa::OpenApi)]
#[openapi(paths(list_messages, get_message))]
pub struct Api;

#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ListMessagesParams {
    /// Only messages in this state: `queued`, `processing`, `sent` or `abandoned`.
    status: Option<String>,
    /// Only messages to this address.
    recipient: Option<String>,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/courier/messages", get(list_messages))
        .route("/courier/messages/{id}", get(get_message))
}

/// `GET /admin/courier/messages?status=&recipient=&page_size=&page_token=`, newest first.
#[utoipa::path(get, path = "/admin/courier/messages", operation_id = "listCourierMessages", tag = "courier",
    params(ListMessagesParams, PageParams), responses(
    (status = 200, description = "One page of messages.", body = Vec<CourierMessage>,
        headers(("Link" = String, description = "The first and next pages."))),
    (status = 400, description = "A bad filter or page parameter.", body = ErrorEnvelope)))]
async fn list_messages(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(raw);
    let page = Page::parse(&params, 10, 1000)?;
    let status = params
        .single("status")
        .map(|text| {
            MessageStatus::parse(&text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status must be one of queued, processing, sent, abandoned, not {text:?}."
                ))
            })
        })
        .transpose()?;
    let mut messages = state
        .courier_queue
        .list_messages(&MessageQuery {
            status,
            recipient: params.single("recipient"),
            before: page.after,
            limit: page.size + 1,
        })
        .await?;
    let more = messages.len() > page.size as usize;
    messages.truncate(page.size as usize);
    let next = more
        .then(|| messages.last().map(|message| message.id))
        .flatten();
    let body: Vec<Value> = messages.iter().map(|message| message.to_json()).collect();
    let mut response = Json(body).into_response();
    if let Some(link) = page.link_header("/admin/courier/messages", next, &params) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `GET /admin/courier/messages/{id}`
#[utoipa::path(get, path = "/admin/courier/messages/{id}", operation_id = "getCourierMessage", tag = "courier",
    params(("id" = Uuid, Path, description = "The message's id.")), responses(
    (status = 200, description = "The message.", body = CourierMessage),
    (status = 400, description = "A bad id.", body = ErrorEnvelope),
    (status = 404, description = "No such message.", body = ErrorEnvelope)))]
async fn get_message(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a valid message id.")))?;
    let message = state.courier_queue.get_message(id).await?;
    Ok(Json(message.to_json()))
}
