//! The courier's queue: enqueue in a caller's transaction, claim with a lease, record outcomes.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{AnyConnection, FromRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Dialect, SqlStore, StoreError, StoreResult, from_micros, to_micros};
use crate::courier::{Dispatch, Message, MessageStatus};

#[async_trait]
pub trait CourierStore: Send + Sync {
    async fn enqueue(&self, message: &Message) -> StoreResult<()>;
    /// Marks up to `limit` due messages (queued and due, or processing with a lapsed lease) as
    /// processing until `lease_until`, counts the attempt, and returns them. Concurrent workers
    /// never claim the same message while its lease holds.
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// Records delivery attempts in one transaction: each sent, retried at its `retry_at`, or
    /// (no retry) abandoned.
    async fn record_attempts(&self, attempts: &[Attempt], now: OffsetDateTime) -> StoreResult<()>;
    /// Extends to `lease_until` the leases of messages still being delivered (a worker's
    /// heartbeat); a lease that lapsed before `now` is not taken back.
    async fn extend_leases(
        &self,
        ids: &[Uuid],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn list_messages(&self, query: &MessageQuery) -> StoreResult<Vec<Message>>;
    async fn get_message(&self, id: Uuid) -> StoreResult<Message>;
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub message_id: Uuid,
    pub outcome: Result<(), String>,
    /// When to try again after a failure; `None` abandons the message.
    pub retry_at: Option<OffsetDateTime>,
}

/// Newest first; `before` is the last message of the previous page.
#[derive(Debug, Clone, Default)]
pub struct MessageQuery {
    pub status: Option<MessageStatus>,
    pub recipient: Option<String>,
    pub before: Option<Uuid>,
    pub limit: u32,
}

#[derive(FromRow)]
struct MessageRow {
    id: String,
    #[sqlx(rename = "type")]
    channel: String,
    status: String,
    recipient: String,
    subject: String,
    body: String,
    html_body: String,
    template_type: String,
    template_data: String,
    send_count: i64,
    priority: i64,
    next_attempt_at: i64,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, type, status, recipient, subject, body, html_body, template_type, \
     template_data, send_count, priority, next_attempt_at, created_at, updated_at";

pub(super) async fn insert_message(
    connection: &mut AnyConnection,
    message: &Message,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO courier_messages (id, type, status, recipient, subject, body, html_body, \
         template_type, template_data, send_count, priority, next_attempt_at, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(message.id.to_string())
    .bind(&message.channel)
    .bind(message.status.as_str())
    .bind(&message.recipient)
    .bind(&message.subject)
    .bind(&message.body)
    .bind(&message.html_body)
    .bind(&message.template_type)
    .bind(message.template_data.to_string())
    .bind(i64::from(message.send_count))
    .bind(message.priority)
    .bind(to_micros(message.next_attempt_at))
    .bind(to_micros(message.created_at))
    .bind(to_micros(message.updated_at))
    .execute(connection)
    .await?;
    Ok(())
}

#[async_trait]
impl CourierStore for SqlStore {
    async fn enqueue(&self, message: &Message) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_message(&mut tx, message).await?;
        self.commit_mail(tx).await
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let sql = self.claim_sql(
            "courier_messages",
            "send_count",
            "priority DESC, created_at",
            COLUMNS,
        );
        let rows: Vec<MessageRow> = sqlx::query_as(&sql)
            .bind(to_micros(lease_until))
            .bind(to_micros(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows
            .into_iter()
            .map(message_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        messages.sort_by_key(|message| (-message.priority, message.created_at));
        Ok(messages)
    }

    async fn record_attempts(&self, attempts: &[Attempt], now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for attempt in attempts {
            let (status, next) = match (&attempt.outcome, attempt.retry_at) {
                (Ok(()), _) => (MessageStatus::Sent, now),
                (Err(_), Some(at)) => (MessageStatus::Queued, at),
                (Err(_), None) => (MessageStatus::Abandoned, now),
            };
            let id = attempt.message_id.to_string();
            sqlx::query(
                "UPDATE courier_messages SET status = $2, next_attempt_at = $3, \
                 lease_until = NULL, updated_at = $4 WHERE id = $1",
            )
            .bind(&id)
            .bind(status.as_str())
            .bind(to_micros(next))
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO courier_message_dispatches (id, message_id, status, error, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(&id)
            .bind(if attempt.outcome.is_ok() { "success" } else { "failed" })
            .bind(attempt.outcome.clone().err())
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn extend_leases(
        &self,
        ids: &[Uuid],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (3..ids.len() + 3).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE courier_messages SET lease_until = $1 \
             WHERE status = 'processing' AND lease_until > $2 AND id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(to_micros(lease_until))
            .bind(to_micros(now));
        for id in ids {
            query = query.bind(id.to_string());
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn list_messages(&self, query: &MessageQuery) -> StoreResult<Vec<Message>> {
        let mut sql = format!("SELECT {COLUMNS} FROM courier_messages WHERE 1 = 1");
        let mut next = 1;
        let mut placeholder = || {
            let text = format!("${next}");
            next += 1;
            text
        };
        if query.status.is_some() {
            sql += &format!(" AND status = {}", placeholder());
        }
        if query.recipient.is_some() {
            sql += &format!(" AND recipient = {}", placeholder());
        }
        if query.before.is_some() {
            let id = placeholder();
            let at = format!("(SELECT created_at FROM courier_messages WHERE id = {id})");
            sql += &format!(" AND (created_at < {at} OR (created_at = {at} AND id < {id}))");
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT {}", placeholder());
        let mut statement = sqlx::query_as::<_, MessageRow>(&sql);
        if let Some(status) = query.status {
            statement = statement.bind(status.as_str());
        }
        if let Some(recipient) = &query.recipient {
            statement = statement.bind(recipient.clone());
        }
        if let Some(id) = query.before {
            statement = statement.bind(id.to_string());
        }
        let rows = statement
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows
            .into_iter()
            .map(message_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<Uuid> = messages.iter().map(|message| message.id).collect();
        let mut dispatches = self.dispatches_of(&ids).await?;
        for message in &mut messages {
            message.dispatches = dispatches.remove(&message.id).unwrap_or_default();
        }
        Ok(messages)
    }

    async fn get_message(&self, id: Uuid) -> StoreResult<Message> {
        let row: MessageRow = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM courier_messages WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut message = message_from_row(row)?;
        message.dispatches = self
            .dispatches_of(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(message)
    }
}

impl SqlStore {
    /// The statement that leases up to `$3` due rows of a work queue (`table`: courier
    /// messages, web hook deliveries) until `$1`, as of `$2`: queued rows whose next attempt is
    /// due, and rows whose previous lease lapsed, first by `order`. It counts the attempt in
    /// `counter` and returns `columns`. PostgreSQL skips rows another worker is claiming; SQLite
    /// has one writer at a time, so the single UPDATE is already exclusive there. The rows are
    /// chosen in a CTE: PostgreSQL may run a locking `IN (SELECT … LIMIT n)` subquery more
    /// than once per statement and so claim more than `n` rows; a CTE runs once.
    pub(super) fn claim_sql(
        &self,
        table: &str,
        counter: &str,
        order: &str,
        columns: &str,
    ) -> String {
        let lock = match self.dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let due = "((status = 'queued' AND next_attempt_at <= $2) \
                    OR (status = 'processing' AND lease_until <= $2))";
        format!(
            "WITH claimed AS (SELECT id FROM {table} WHERE {due} ORDER BY {order} LIMIT $3 {lock}) \
             UPDATE {table} SET status = 'processing', lease_until = $1, updated_at = $2, \
             {counter} = {counter} + 1 \
             WHERE {due} AND id IN (SELECT id FROM claimed) RETURNING {columns}"
        )
    }

    /// The delivery attempts of `ids`, in one query, oldest first per message.
    async fn dispatches_of(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, Vec<Dispatch>>> {
        let mut by_message: HashMap<Uuid, Vec<Dispatch>> = HashMap::new();
        if ids.is_empty() {
            return Ok(by_message);
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id, message_id, status, error, created_at FROM courier_message_dispatches \
             WHERE message_id IN ({}) ORDER BY created_at, id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, String, String, Option<String>, i64)>(&sql);
        for id in ids {
            query = query.bind(id.to_string());
        }
        for (id, message_id, status, error, created_at) in query.fetch_all(&self.pool).await? {
            let message_id = parse_uuid(&message_id)?;
            by_message.entry(message_id).or_default().push(Dispatch {
                id: parse_uuid(&id)?,
                message_id,
                success: status == "success",
                error,
                created_at: from_micros(created_at)?,
            });
        }
        Ok(by_message)
    }
}

fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("bad uuid {text:?}")))
}

fn message_from_row(row: MessageRow) -> StoreResult<Message> {
    Ok(Message {
        id: parse_uuid(&row.id)?,
        status: MessageStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Corrupt(format!("message {}: bad status", row.id)))?,
        send_count: u32::try_from(row.send_count).unwrap_or(u32::MAX),
        priority: row.priority,
        next_attempt_at: from_micros(row.next_attempt_at)?,
        created_at: from_micros(row.created_at)?,
        updated_at: from_micros(row.updated_at)?,
        recipient: row.recipient,
        subject: row.subject,
        body: row.body,
        html_body: row.html_body,
        template_type: row.template_type,
        template_data: serde_json::from_str(&row.template_data).unwrap_or_default(),
        channel: row.channel,
        dispatches: Vec::new(),
    })
}
