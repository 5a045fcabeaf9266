//! Flows and stored self-service errors.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{AnyConnection, FromRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, StoreError, StoreResult, from_micros, to_micros};
use crate::flow::model::{Flow, FlowKind, FlowType};
use crate::session::Aal;

#[async_trait]
pub trait FlowStore: Send + Sync {
    async fn create_flow(&self, flow: &Flow) -> StoreResult<()>;
    /// The flow `id` of `kind`; a flow of another kind is not found.
    async fn get_flow(&self, kind: FlowKind, id: Uuid) -> StoreResult<Flow>;
    async fn update_flow(&self, flow: &Flow) -> StoreResult<()>;
    /// Stores an error for the error page; returns its id.
    async fn create_error(&self, error: &Value, now: OffsetDateTime) -> StoreResult<Uuid>;
    async fn get_error(&self, id: Uuid) -> StoreResult<(Value, OffsetDateTime)>;
}

#[derive(FromRow)]
struct FlowRow {
    id: String,
    kind: String,
    #[sqlx(rename = "type")]
    flow_type: String,
    state: String,
    request_url: String,
    return_to: Option<String>,
    ui: String,
    csrf_token: Option<String>,
    active: Option<String>,
    refresh: i64,
    requested_aal: String,
    identity_id: Option<String>,
    internal_context: String,
    issued_at: i64,
    expires_at: i64,
    updated_at: i64,
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn create_flow(&self, flow: &Flow) -> StoreResult<()> {
        insert_flow(&mut *self.pool.acquire().await?, flow).await
    }

    async fn get_flow(&self, kind: FlowKind, id: Uuid) -> StoreResult<Flow> {
        let row: FlowRow = sqlx::query_as(
            "SELECT id, kind, type, state, request_url, return_to, ui, csrf_token, active, refresh, \
             requested_aal, identity_id, internal_context, issued_at, expires_at, updated_at \
             FROM selfservice_flows WHERE id = $1 AND kind = $2",
        )
        .bind(id.to_string())
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        flow_from_row(row)
    }

    async fn update_flow(&self, flow: &Flow) -> StoreResult<()> {
        update_flow_row(&mut *self.pool.acquire().await?, flow).await
    }

    async fn create_error(&self, error: &Value, now: OffsetDateTime) -> StoreResult<Uuid> {
        let id = Uuid::new_v4();
        sqlx::query("INSERT INTO selfservice_errors (id, error, created_at) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(error.to_string())
            .bind(to_micros(now))
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    async fn get_error(&self, id: Uuid) -> StoreResult<(Value, OffsetDateTime)> {
        let (error, created_at): (String, i64) =
            sqlx::query_as("SELECT error, created_at FROM selfservice_errors WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        let error = serde_json::from_str(&error).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok((error, from_micros(created_at)?))
    }
}

fn ui_text(flow: &Flow) -> StoreResult<String> {
    serde_json::to_string(&flow.ui).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn internal_text(flow: &Flow) -> StoreResult<String> {
    serde_json::to_string(&flow.internal).map_err(|error| StoreError::Corrupt(error.to_string()))
}

fn flow_from_row(row: FlowRow) -> StoreResult<Flow> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("flow {}: bad {what}", row.id));
    Ok(Flow {
        id: Uuid::parse_str(&row.id).map_err(|_| corrupt("id"))?,
        kind: FlowKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
        flow_type: FlowType::parse(&row.flow_type).ok_or_else(|| corrupt("type"))?,
        ui: serde_json::from_str(&row.ui).map_err(|_| corrupt("ui"))?,
        requested_aal: Aal::parse(&row.requested_aal).ok_or_else(|| corrupt("requested_aal"))?,
        refresh: row.refresh != 0,
        identity_id: row
            .identity_id
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| corrupt("identity_id"))?,
        internal: serde_json::from_str(&row.internal_context)
            .map_err(|_| corrupt("internal_context"))?,
        identity: None,
        issued_at: from_micros(row.issued_at)?,
        expires_at: from_micros(row.expires_at)?,
        updated_at: from_micros(row.updated_at)?,
        state: row.state,
        request_url: row.request_url,
        return_to: row.return_to,
        csrf_token: row.csrf_token,
        active: row.active,
    })
}

pub(super) async fn insert_flow(connection: &mut AnyConnection, flow: &Flow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO selfservice_flows (id, kind, type, state, request_url, return_to, ui, csrf_token, \
         active, refresh, requested_aal, issued_at, expires_at, updated_at, identity_id, internal_context) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(flow.id.to_string())
    .bind(flow.kind.as_str())
    .bind(flow.flow_type.as_str())
    .bind(&flow.state)
    .bind(&flow.request_url)
    .bind(flow.return_to.as_deref())
    .bind(ui_text(flow)?)
    .bind(flow.csrf_token.as_deref())
    .bind(flow.active.as_deref())
    .bind(i64::from(flow.refresh))
    .bind(flow.requested_aal.as_str())
    .bind(to_micros(flow.issued_at))
    .bind(to_micros(flow.expires_at))
    .bind(to_micros(flow.updated_at))
    .bind(flow.identity_id.map(|id| id.to_string()))
    .bind(internal_text(flow)?)
    .execute(connection)
    .await?;
    Ok(())
}

pub(super) async fn update_flow_row(
    connection: &mut AnyConnection,
    flow: &Flow,
) -> StoreResult<()> {
    let updated = sqlx::query(
        "UPDATE selfservice_flows SET state = $2, ui = $3, active = $4, updated_at = $5, \
         identity_id = $6, internal_context = $7 WHERE id = $1",
    )
    .bind(flow.id.to_string())
    .bind(&flow.state)
    .bind(ui_text(flow)?)
    .bind(flow.active.as_deref())
    .bind(to_micros(flow.updated_at))
    .bind(flow.identity_id.map(|id| id.to_string()))
    .bind(internal_text(flow)?)
    .execute(connection)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
