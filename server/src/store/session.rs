//! The session store.

use async_trait::async_trait;
use sqlx::{AnyConnection, FromRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::identity::{IdentityRow, RecoveryRow, VerifiableRow, identity_from_row};
use super::{SqlStore, StoreError, StoreResult, from_micros, to_micros};
use crate::identity::Identity;
use crate::session::{Aal, Session};

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// The session whose token hashes to `token_hash`, active or not.
    async fn find_session_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    /// The session with its identity (traits, addresses; no credentials) in one round trip:
    /// what every whoami needs.
    async fn find_session_with_identity(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(Session, Identity)>>;
    /// Writes the mutable parts: active, methods, AAL, times, devices and the token's hash (a
    /// step-up gives browsers a new token).
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
    /// One identity's sessions, or everyone's.
    pub identity_id: Option<Uuid>,
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
        insert_session(&mut *self.pool.acquire().await?, session).await
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

    async fn find_session_with_identity(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(Session, Identity)>> {
        // Identities have few addresses, so joining both lists costs a handful of rows at most.
        let rows: Vec<WhoamiRow> = sqlx::query_as(
            "SELECT s.id, s.identity_id, s.token_hash, s.active, s.aal, s.authentication_methods, s.devices, \
             s.issued_at, s.authenticated_at, s.expires_at, \
             i.schema_id, i.state, i.state_changed_at, i.traits, i.metadata_public, i.metadata_admin, \
             i.external_id, i.organization_id, i.created_at AS i_created_at, i.updated_at AS i_updated_at, \
             va.id AS va_id, va.via AS va_via, va.value AS va_value, va.status AS va_status, \
             va.verified_at AS va_verified_at, va.created_at AS va_created_at, va.updated_at AS va_updated_at, \
             ra.id AS ra_id, ra.via AS ra_via, ra.value AS ra_value, ra.created_at AS ra_created_at, \
             ra.updated_at AS ra_updated_at \
             FROM sessions s JOIN identities i ON i.id = s.identity_id \
             LEFT JOIN identity_verifiable_addresses va ON va.identity_id = i.id \
             LEFT JOIN identity_recovery_addresses ra ON ra.identity_id = i.id \
             WHERE s.token_hash = $1 \
             ORDER BY va.created_at, va.value, ra.created_at, ra.value",
        )
        .bind(token_hash)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let session = session_from_row(first.session_row())?;
        let mut identity = identity_from_row(first.identity_row())?;
        for row in rows {
            if let Some(address) = row.verifiable_row()
                && !identity
                    .verifiable_addresses
                    .iter()
                    .any(|known| known.id.to_string() == address.id)
            {
                identity.verifiable_addresses.push(address.into_address()?);
            }
            if let Some(address) = row.recovery_row()
                && !identity
                    .recovery_addresses
                    .iter()
                    .any(|known| known.id.to_string() == address.id)
            {
                identity.recovery_addresses.push(address.into_address()?);
            }
        }
        Ok(Some((session, identity)))
    }

    async fn update_session(&self, session: &Session) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        write_session(&mut tx, session).await?;
        self.commit_changed(tx, &[session.identity_id]).await?;
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
        // $1 is the identity, or empty for all sessions.
        let owner = match query.identity_id {
            Some(_) => "identity_id = $1",
            None => "$1 = ''",
        };
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE {owner} AND id > $2{filter} ORDER BY id LIMIT $4"
        );
        let rows: Vec<SessionRow> = sqlx::query_as(&sql)
            .bind(
                query
                    .identity_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            )
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
        let mut tx = self.pool.begin().await?;
        let revoked = revoke_sessions(&mut tx, identity_id, keep).await?;
        self.commit_changed(tx, &[identity_id]).await?;
        Ok(revoked)
    }

    async fn delete_sessions_of(&self, identity_id: Uuid) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE identity_id = $1")
            .bind(identity_id.to_string())
            .execute(&mut *tx)
            .await?;
        self.commit_changed(tx, &[identity_id]).await?;
        Ok(())
    }
}

/// One row of the whoami join: session, identity, and one verifiable and one recovery address.
#[derive(FromRow)]
struct WhoamiRow {
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
    schema_id: String,
    state: String,
    state_changed_at: Option<i64>,
    traits: String,
    metadata_public: Option<String>,
    metadata_admin: Option<String>,
    external_id: Option<String>,
    organization_id: Option<String>,
    i_created_at: i64,
    i_updated_at: i64,
    va_id: Option<String>,
    va_via: Option<String>,
    va_value: Option<String>,
    va_status: Option<String>,
    va_verified_at: Option<i64>,
    va_created_at: Option<i64>,
    va_updated_at: Option<i64>,
    ra_id: Option<String>,
    ra_via: Option<String>,
    ra_value: Option<String>,
    ra_created_at: Option<i64>,
    ra_updated_at: Option<i64>,
}

impl WhoamiRow {
    fn session_row(&self) -> SessionRow {
        SessionRow {
            id: self.id.clone(),
            identity_id: self.identity_id.clone(),
            token_hash: self.token_hash.clone(),
            active: self.active,
            aal: self.aal.clone(),
            authentication_methods: self.authentication_methods.clone(),
            devices: self.devices.clone(),
            issued_at: self.issued_at,
            authenticated_at: self.authenticated_at,
            expires_at: self.expires_at,
        }
    }

    fn identity_row(&self) -> IdentityRow {
        IdentityRow {
            id: self.identity_id.clone(),
            schema_id: self.schema_id.clone(),
            state: self.state.clone(),
            state_changed_at: self.state_changed_at,
            traits: self.traits.clone(),
            metadata_public: self.metadata_public.clone(),
            metadata_admin: self.metadata_admin.clone(),
            external_id: self.external_id.clone(),
            organization_id: self.organization_id.clone(),
            created_at: self.i_created_at,
            updated_at: self.i_updated_at,
        }
    }

    fn verifiable_row(&self) -> Option<VerifiableRow> {
        Some(VerifiableRow {
            id: self.va_id.clone()?,
            identity_id: self.identity_id.clone(),
            via: self.va_via.clone()?,
            value: self.va_value.clone()?,
            status: self.va_status.clone()?,
            verified_at: self.va_verified_at,
            created_at: self.va_created_at?,
            updated_at: self.va_updated_at?,
        })
    }

    fn recovery_row(&self) -> Option<RecoveryRow> {
        Some(RecoveryRow {
            id: self.ra_id.clone()?,
            identity_id: self.identity_id.clone(),
            via: self.ra_via.clone()?,
            value: self.ra_value.clone()?,
            created_at: self.ra_created_at?,
            updated_at: self.ra_updated_at?,
        })
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

/// Writes the mutable parts of a stored session.
pub(super) async fn write_session(
    connection: &mut AnyConnection,
    session: &Session,
) -> StoreResult<()> {
    let updated = sqlx::query(
            "UPDATE sessions SET active = $2, aal = $3, authentication_methods = $4, devices = $5, \
             authenticated_at = $6, expires_at = $7, updated_at = $8, token_hash = $9 WHERE id = $1",
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
        .bind(&session.token_hash)
        .execute(&mut *connection)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn insert_session(
    connection: &mut AnyConnection,
    session: &Session,
) -> StoreResult<()> {
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
    .bind(encode(serde_json::to_string(
        &session.authentication_methods,
    ))?)
    .bind(encode(serde_json::to_string(&session.devices))?)
    .bind(to_micros(session.issued_at))
    .bind(to_micros(session.authenticated_at))
    .bind(to_micros(session.expires_at))
    .bind(to_micros(session.issued_at))
    .bind(to_micros(session.issued_at))
    .execute(connection)
    .await?;
    Ok(())
}

/// Deactivates the identity's active sessions except `keep`; returns how many.
pub(super) async fn revoke_sessions(
    connection: &mut AnyConnection,
    identity_id: Uuid,
    keep: Option<Uuid>,
) -> StoreResult<u64> {
    let revoked = sqlx::query(
        "UPDATE sessions SET active = 0, updated_at = $3 WHERE identity_id = $1 AND id <> $2 AND active = 1",
    )
    .bind(identity_id.to_string())
    .bind(keep.map(|id| id.to_string()).unwrap_or_default())
    .bind(to_micros(OffsetDateTime::now_utc()))
    .execute(connection)
    .await?;
    Ok(revoked.rows_affected())
}
