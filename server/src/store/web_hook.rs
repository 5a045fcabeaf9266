//! The queue of web hook deliveries (`response.ignore` hooks): enqueue, claim with a lease,
//! record outcomes, list for the admin API. Shaped like the courier's queue.

use async_trait::async_trait;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, StoreError, StoreResult, from_micros, to_micros};

/// One queued request.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Also the `webhook-id` the receiver sees, the same on every attempt.
    pub id: Uuid,
    /// The key of the configured hook (`WebHook::key`).
    pub hook: String,
    pub url: String,
    pub body: Option<String>,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    async fn enqueue_delivery(&self, delivery: &Delivery) -> StoreResult<()>;
    /// Leases up to `limit` due deliveries (queued and due, or processing with a lapsed lease)
    /// until `lease_until` and counts the attempt.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>>;
    /// Delivered, retried at `retry_at`, or (no retry) abandoned.
    async fn record_delivery(
        &self,
        id: Uuid,
        outcome: Result<(), String>,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Newest first, optionally of one status.
    async fn list_deliveries(&self, status: Option<&str>, limit: u32)
    -> StoreResult<Vec<Delivery>>;
    /// Forgets delivered and abandoned requests last touched before `before`; returns how many.
    async fn purge_deliveries(&self, before: OffsetDateTime) -> StoreResult<u64>;
}

#[derive(FromRow)]
struct DeliveryRow {
    id: String,
    hook: String,
    url: String,
    body: Option<String>,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str =
    "id, hook, url, body, status, attempts, next_attempt_at, last_error, created_at, updated_at";

fn from_row(row: DeliveryRow) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: Uuid::parse_str(&row.id).map_err(|error| StoreError::Corrupt(error.to_string()))?,
        hook: row.hook,
        url: row.url,
        body: row.body,
        status: row.status,
        attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
        next_attempt_at: from_micros(row.next_attempt_at)?,
        last_error: row.last_error,
        created_at: from_micros(row.created_at)?,
        updated_at: from_micros(row.updated_at)?,
    })
}

#[async_trait]
impl DeliveryStore for SqlStore {
    async fn enqueue_delivery(&self, delivery: &Delivery) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO web_hook_deliveries (id, hook, url, body, status, attempts, \
             next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6)",
        )
        .bind(delivery.id.to_string())
        .bind(&delivery.hook)
        .bind(&delivery.url)
        .bind(delivery.body.clone())
        .bind(to_micros(delivery.next_attempt_at))
        .bind(to_micros(delivery.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let sql = self.claim_sql("web_hook_deliveries", "attempts", "created_at", COLUMNS);
        let rows: Vec<DeliveryRow> = sqlx::query_as(&sql)
            .bind(to_micros(lease_until))
            .bind(to_micros(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut deliveries = rows
            .into_iter()
            .map(from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        deliveries.sort_by_key(|delivery| delivery.created_at);
        Ok(deliveries)
    }

    async fn record_delivery(
        &self,
        id: Uuid,
        outcome: Result<(), String>,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let (status, next) = match (&outcome, retry_at) {
            (Ok(()), _) => ("delivered", now),
            (Err(_), Some(at)) => ("queued", at),
            (Err(_), None) => ("abandoned", now),
        };
        sqlx::query(
            "UPDATE web_hook_deliveries SET status = $2, next_attempt_at = $3, lease_until = NULL, \
             last_error = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(status)
        .bind(to_micros(next))
        .bind(outcome.err())
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn purge_deliveries(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM web_hook_deliveries \
             WHERE status IN ('delivered', 'abandoned') AND updated_at < $1",
        )
        .bind(to_micros(before))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn list_deliveries(
        &self,
        status: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        let filter = if status.is_some() {
            "WHERE status = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM web_hook_deliveries {filter} \
             ORDER BY created_at DESC, id DESC LIMIT $1"
        );
        let mut query = sqlx::query_as::<_, DeliveryRow>(&sql).bind(i64::from(limit));
        if let Some(status) = status {
            query = query.bind(status.to_string());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(from_row)
            .collect()
    }
}
