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
