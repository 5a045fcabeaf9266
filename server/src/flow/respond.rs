//! How flows answer: the one place that chooses between a browser redirect and JSON.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::request::Client;
use super::{Flow, FlowType, see_other, ui_url};
use crate::error::ApiError;
use crate::identity::timestamp;
use crate::state::AppState;
use crate::store::StoreError;

/// Why a flow request did not succeed.
#[derive(Debug)]
pub enum FlowError {
    /// Answered in the error envelope (JSON clients) or on the error page (browsers).
    Api(ApiError),
    /// The flow expired; the engine starts a new one in its place.
    Expired(Box<Flow>),
    /// The submission was judged and refused: the flow carries the messages.
    Rejected(Box<Flow>),
}

pub type FlowResult<T> = Result<T, FlowError>;

impl From<ApiError> for FlowError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<crate::hash::HashError> for FlowError {
    fn from(error: crate::hash::HashError) -> Self {
        Self::Api(error.into())
    }
}

impl From<StoreError> for FlowError {
    fn from(error: StoreError) -> Self {
        Self::Api(error.into())
    }
}

/// Browsers that navigate get redirects; SPAs and native apps get JSON.
pub fn is_browser_navigation(client: &Client, flow_type: FlowType) -> bool {
    flow_type == FlowType::Browser && !client.wants_json
}

/// The browser is sent to the page that renders the flow.
pub fn redirect_to_flow(state: &AppState, flow: &Flow) -> Response {
    let mut url = ui_url(state, flow.kind);
    url.query_pairs_mut()
        .append_pair("flow", &flow.id.to_string());
    see_other(url.as_str())
}

/// A flow whose submission was refused: saved with its messages, then shown again.
pub async fn respond_rejected(state: &AppState, client: &Client, mut flow: Flow) -> Response {
    flow.updated_at = state.clock.now();
    if let Err(error) = state.flows.update_flow(&flow).await {
        return respond_api_error(state, client, flow.flow_type, error.into()).await;
    }
    if is_browser_navigation(client, flow.flow_type) {
        redirect_to_flow(state, &flow)
    } else {
        (StatusCode::BAD_REQUEST, Json(flow.to_json())).into_response()
    }
}

/// An error outside any form: browsers see it on the error page, other clients as JSON.
pub async fn respond_api_error(
    state: &AppState,
    client: &Client,
    flow_type: FlowType,
    error: ApiError,
) -> Response {
    if !is_browser_navigation(client, flow_type) {
        return error.into_response();
    }
    let stored = state
        .flows
        .create_error(&error.body()["error"], state.clock.now())
        .await;
    match stored {
        Ok(id) => {
            let mut url = error_ui_url(state);
            url.query_pairs_mut().append_pair("id", &id.to_string());
            see_other(url.as_str())
        }
        Err(store_error) => {
            tracing::error!(error = %store_error, "could not store a self-service error");
            error.into_response()
        }
    }
}

/// The page that shows stored errors.
pub fn error_ui_url(state: &AppState) -> url::Url {
    state
        .config
        .selfservice
        .flows
        .error
        .ui_url
        .clone()
        .or_else(|| state.urls.ui.join("error").ok())
        .unwrap_or_else(|| state.urls.ui.clone())
}

/// A flow that expired before its submission: browsers are sent to the replacement, other
/// clients get 410 pointing at it.
pub fn respond_expired(
    state: &AppState,
    client: &Client,
    old: &Flow,
    replacement: &Flow,
) -> Response {
    if is_browser_navigation(client, replacement.flow_type) {
        return redirect_to_flow(state, replacement);
    }
    let now = state.clock.now();
    let since = (now - old.expires_at).whole_nanoseconds();
    let mut body = ApiError::new(StatusCode::GONE)
        .with_id("self_service_flow_expired")
        .with_reason(format!(
            "The self-service flow expired {:.2} minutes ago, initialize a new one.",
            (now - old.expires_at).as_seconds_f64() / 60.0
        ))
        .body();
    body["expired_at"] = json!(timestamp(old.expires_at));
    body["since"] = json!(since);
    body["use_flow_id"] = json!(replacement.id);
    (StatusCode::GONE, Json(body)).into_response()
}
