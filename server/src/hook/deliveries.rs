//! Web hook requests nobody waits for (`response.ignore`), delivered from a queue in the
//! database: the flow only stores the rendered request; a worker sends it, and retries with
//! doubling pauses from a second (as the courier does) until the receiver takes it or the
//! attempts run out. At least once, with the same `webhook-id` and body every time; a Ward that
//! stops mid-delivery leaves a lease that lapses, and any replica delivers it then.

use std::time::Duration;

use crate::http::Query;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::web_hook::{HookError, Request, WebHook};
use crate::error::ApiResult;
use crate::identity::timestamp;
use crate::state::AppState;
use crate::store::{Delivery, StoreResult};

/// Attempts before a delivery is abandoned: pauses of 1 s, 2 s, 4 s, … (capped at ten
/// minutes), about 40 minutes in all.
const MAX_ATTEMPTS: u32 = 12;
/// How long a claimed delivery belongs to one worker; longer than a request may take.
const LEASE: Duration = Duration::from_secs(60);
/// How often an idle worker looks for retries that fell due.
const POLL: Duration = Duration::from_secs(1);
const BATCH: u32 = 20;
/// How long finished deliveries (their bodies hold identity data) stay listed.
const KEPT: time::Duration = time::Duration::days(7);
/// How often a worker forgets finished deliveries older than that.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Queues `request` for `hook` and wakes this replica's worker.
pub async fn enqueue(state: &AppState, hook: &WebHook, request: &Request) -> StoreResult<()> {
    let now = state.clock.now();
    let delivery = Delivery {
        id: request.id,
        hook: hook.key.clone(),
        url: hook.url().to_string(),
        body: request.body.clone(),
        status: "queued".into(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        updated_at: now,
    };
    state.deliveries.enqueue_delivery(&delivery).await?;
    state.delivery_wake.notify_one();
    Ok(())
}

/// Delivers until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut last_purge: Option<tokio::time::Instant> = None;
    loop {
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            last_purge = Some(tokio::time::Instant::now());
            let before = state.clock.now() - KEPT;
            match state.deliveries.purge_deliveries(before).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "forgot finished web hook deliveries"),
                Err(error) => {
                    tracing::warn!(%error, "could not forget finished web hook deliveries")
                }
            }
        }
        let claimed = match deliver_due(&state).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "the web hook queue could not be read");
                0
            }
        };
        if *stop.borrow() {
            return;
        }
        if claimed == 0 {
            tokio::select! {
                _ = state.delivery_wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// Claims one batch of due deliveries and attempts each; returns how many were claimed.
pub async fn deliver_due(state: &AppState) -> StoreResult<usize> {
    let now = state.clock.now();
    let lease = time::Duration::try_from(LEASE).unwrap_or(time::Duration::MINUTE);
    let batch = state
        .deliveries
        .claim_deliveries(now, now + lease, BATCH)
        .await?;
    for delivery in &batch {
        let outcome = match state.web_hooks.by_key(&delivery.hook) {
            None => Err("the hook is no longer configured".to_string()),
            Some(hook) => {
                let request = Request {
                    id: delivery.id,
                    body: delivery.body.clone(),
                };
                match state.web_hooks.send(hook, &request).await {
                    Ok(_) => Ok(()),
                    Err(HookError::Failed(reason)) => Err(reason),
                    Err(HookError::Interrupted(_)) => Err("the receiver refused it".into()),
                }
            }
        };
        let retry_at = match &outcome {
            Ok(()) => None,
            Err(error) => {
                tracing::warn!(delivery = %delivery.id, attempt = delivery.attempts, %error,
                    "a web hook delivery failed");
                (delivery.attempts < MAX_ATTEMPTS
                    && state.web_hooks.by_key(&delivery.hook).is_some())
                .then(|| state.clock.now() + crate::courier::worker::backoff(delivery.attempts))
            }
        };
        if outcome.is_err() && retry_at.is_none() {
            tracing::error!(delivery = %delivery.id, "abandoned a web hook delivery");
        }
        state
            .deliveries
            .record_delivery(delivery.id, outcome, retry_at, state.clock.now())
            .await?;
    }
    Ok(batch.len())
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub struct Api;

pub fn admin_routes() -> Router<AppState> {
    Router::new().route("/web-hooks/deliveries", get(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only deliveries in this state: `queued`, `processing`, `delivered` or `abandoned`.
    status: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    page_size: Option<u32>,
}

/// `GET /admin/web-hooks/deliveries` (Ward only): the queued web hook requests and how they
/// fared.
#[utoipa::path(get, path = "/admin/web-hooks/deliveries", operation_id = "listWebHookDeliveries", tag = "web hooks",
    params(ListParams),
    responses(
        (status = 200, description = "Newest first.", body = Vec<crate::http::openapi::JsonObject>),
        (status = 400, description = "A parameter is not valid.", body = crate::http::openapi::ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    let limit = params.page_size.unwrap_or(100).clamp(1, 1000);
    if let Some(status) = params.status.as_deref()
        && !["queued", "processing", "delivered", "abandoned"].contains(&status)
    {
        return Err(crate::error::ApiError::bad_request(format!(
            "The status {status:?} is not one of queued, processing, delivered, abandoned."
        )));
    }
    let deliveries = state
        .deliveries
        .list_deliveries(params.status.as_deref(), limit)
        .await?;
    Ok(Json(Value::Array(
        deliveries
            .iter()
            .map(|delivery| {
                json!({
                    "id": delivery.id,
                    "url": delivery.url,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "next_attempt_at": timestamp(delivery.next_attempt_at),
                    "last_error": delivery.last_error,
                    "created_at": timestamp(delivery.created_at),
                    "updated_at": timestamp(delivery.updated_at),
                })
            })
            .collect(),
    )))
}
