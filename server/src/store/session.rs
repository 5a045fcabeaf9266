//! The session store.

use async_trait::async_trait;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SqlStore, StoreError, StoreResult, from_micros, to_micros};
use crate::session::{Aal, Session};

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// The session whose token hashes to `token_hash`, active or not.
    async fn find_session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    /// Writes the mutable parts: active, methods, AAL, times and devices.
    async fn update_session(&self, session: &Session) -> StoreResult<()>;
    async fn get_session(&self, id: Uuid) -> StoreResult<Session>;
    /// An identity's sessions by id, after `after`, at most `limit`; only active (and unexpired
    /// at `now`) ones, only inactive ones, or all.
    async fn list_sessions(&self, query: &SessionQuery) -> StoreResult<Vec<Session>>;
    /// Deactivates the identity's active sessions except `keep`; returns how many.
    async fn revoke_other_sessions(
        &self,
        identity_id: Uuid,
        keep: Option<Uuid>,
    ) -> StoreResult<u64>;
    /// Deletes all of the identity's sessions.
    async fn delete_sessions_of(&self, identity_id: Uuid) -> StoreResult<()>;
}

#[derive(Debug, Clone)]
pub struct SessionQuery {
    pub identity_id: Uuid,
    pub active: Option<bool>,
    pub now: OffsetDateTime,
    pub after: Option<Uuid>,
    pub limit: u32,
}

const SESSION_COLUMNS: &str = "id, identity_id, token_hash, active, aal, \
     authentication_methods, devices, issued_at, authenticated_at, expires_at";

#[derive(FromRow)]
struct SessionRow {
    id: String,
    identity_id: String,
    token_hash: String,
    active: i64,
    aal: String,
    authentication_methods: String,
    devices: String,
    issued_at: i64,
    authenticated_at: i64,
    expires_at: i64,
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, identity_id, token_hash, active, aal, authentication_methods, \
             devices, issued_at, authenticated_at, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(session.id.to_string())
        .bind(session.identity_id.to_string())
        .bind(&session.token_hash)
        .bind(i64::from(session.active))
        .bind(session.aal.as_str())
        .bind(encode(serde_json::to_string(&session.authentication_methods))?)
        .bind(encode(serde_json::to_string(&session.devices))?)
        .bind(to_micros(session.issued_at))
        .bind(to_micros(session.authenticated_at))
        .bind(to_micros(session.expires_at))
        .bind(to_micros(session.issued_at))
        .bind(to_micros(session.issued_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(session_from_row).transpose()
    }

    async fn update_session(&self, session: &Session) -> StoreResult<()> {
        let updated = sqlx::query(
            "UPDATE sessions SET active = $2, aal = $3, authentication_methods = $4, devices = $5, \
             authenticated_at = $6, expires_at = $7, updated_at = $8 WHERE id = $1",
        )
        .bind(session.id.to_string())
        .bind(i64::from(session.active))
        .bind(session.aal.as_str())
        .bind(encode(serde_json::to_string(
            &session.authentication_methods,
        ))?)
        .bind(encode(serde_json::to_string(&session.devices))?)
        .bind(to_micros(session.authenticated_at))
        .bind(to_micros(session.expires_at))
        .bind(to_micros(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get_session(&self, id: Uuid) -> StoreResult<Session> {
        let row: SessionRow = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        session_from_row(row)
    }

    async fn list_sessions(&self, query: &SessionQuery) -> StoreResult<Vec<Session>> {
        // $3 is "now": active means flagged active and not yet expired.
        let filter = match query.active {
            Some(true) => " AND active = 1 AND expires_at > $3",
            Some(false) => " AND (active = 0 OR expires_at <= $3)",
            None => " AND $3 = $3",
        };
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE identity_id = $1 AND id > $2{filter} ORDER BY id LIMIT $4"
        );
        let rows: Vec<SessionRow> = sqlx::query_as(&sql)
            .bind(query.identity_id.to_string())
            .bind(query.after.map(|id| id.to_string()).unwrap_or_default())
            .bind(to_micros(query.now))
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        rows_to_sessions(rows)
    }

    async fn revoke_other_sessions(
        &self,
        identity_id: Uuid,
        keep: Option<Uuid>,
    ) -> StoreResult<u64> {
        let revoked = sqlx::query(
            "UPDATE sessions SET active = 0, updated_at = $3 WHERE identity_id = $1 AND id <> $2 AND active = 1",
        )
        .bind(identity_id.to_string())
        .bind(keep.map(|id| id.to_string()).unwrap_or_default())
        .bind(to_micros(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected())
    }

    async fn delete_sessions_of(&self, identity_id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE identity_id = $1")
            .bind(identity_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn rows_to_sessions(rows: Vec<SessionRow>) -> StoreResult<Vec<Session>> {
    rows.into_iter().map(session_from_row).collect()
}

fn session_from_row(row: SessionRow) -> StoreResult<Session> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("session {}: bad {what}", row.id));
    Ok(Session {
        id: Uuid::parse_str(&row.id).map_err(|_| corrupt("id"))?,
        identity_id: Uuid::parse_str(&row.identity_id).map_err(|_| corrupt("identity_id"))?,
        active: row.active != 0,
        aal: Aal::parse(&row.aal).ok_or_else(|| corrupt("aal"))?,
        authentication_methods: serde_json::from_str(&row.authentication_methods)
            .map_err(|_| corrupt("authentication_methods"))?,
        devices: serde_json::from_str(&row.devices).map_err(|_| corrupt("devices"))?,
        issued_at: from_micros(row.issued_at)?,
        authenticated_at: from_micros(row.authenticated_at)?,
        expires_at: from_micros(row.expires_at)?,
        token_hash: row.token_hash,
    })
}

fn encode(value: serde_json::Result<String>) -> StoreResult<String> {
    value.map_err(|error| StoreError::Corrupt(error.to_string()))
}
