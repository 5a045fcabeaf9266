//! Writes that must land together. A flow step collects what it changes (the flow, codes it
//! issued, messages it queued, the identity, sessions) and commits it in one transaction, so a
//! message is queued exactly when the change that causes it is stored.

use async_trait::async_trait;
use sqlx::{AnyConnection, FromRow};
use time::OffsetDateTime;
use uuid::Uuid;

use super::courier::insert_message;
use super::flow::{insert_flow, update_flow_row};
use super::identity::{insert_identity, update_identity_rows};
use super::session::{insert_session, revoke_sessions, write_session};
use super::{SqlStore, StoreError, StoreResult, from_micros, to_micros};
use crate::courier::Message;
use crate::flow::model::Flow;
use crate::identity::Identity;
use crate::session::Session;

/// A one-time code or link token of recovery or verification; only its keyed hash is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeCode {
    pub id: Uuid,
    pub flow_id: Uuid,
    pub identity_id: Uuid,
    /// `recovery`, `verification` or `login`.
    pub purpose: &'static str,
    /// The address the secret was sent to.
    pub address: String,
    pub secret_hash: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

#[derive(Default)]
pub struct Changes {
    pub create_identity: Option<Identity>,
    pub update_identity: Option<Identity>,
    pub create_flows: Vec<Flow>,
    pub update_flows: Vec<Flow>,
    /// Flows whose earlier codes stop working (a resend replaces them).
    pub clear_codes_of: Vec<Uuid>,
    pub create_codes: Vec<OneTimeCode>,
    /// Codes spent now.
    pub use_codes: Vec<Uuid>,
    pub messages: Vec<Message>,
    pub create_sessions: Vec<Session>,
    pub update_sessions: Vec<Session>,
    /// Deactivate the identity's sessions except the one given.
    pub revoke_sessions: Option<(Uuid, Option<Uuid>)>,
}

#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// Writes everything or nothing.
    async fn commit(&self, changes: Changes, now: OffsetDateTime) -> StoreResult<()>;
    /// The unused codes of a flow for `purpose`.
    async fn codes_of_flow(&self, flow_id: Uuid, purpose: &str) -> StoreResult<Vec<OneTimeCode>>;
}

#[derive(FromRow)]
struct CodeRow {
    id: String,
    flow_id: String,
    identity_id: String,
    purpose: String,
    address: String,
    secret_hash: String,
    expires_at: i64,
    used_at: Option<i64>,
}

#[async_trait]
impl ChangeStore for SqlStore {
    async fn commit(&self, changes: Changes, now: OffsetDateTime) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(identity) = &changes.create_identity {
            insert_identity(&mut tx, identity).await?;
        }
        if let Some(identity) = &changes.update_identity {
            update_identity_rows(&mut tx, identity).await?;
        }
        for flow in &changes.create_flows {
            insert_flow(&mut tx, flow).await?;
        }
        for flow in &changes.update_flows {
            update_flow_row(&mut tx, flow).await?;
        }
        for flow_id in &changes.clear_codes_of {
            sqlx::query("DELETE FROM selfservice_codes WHERE flow_id = $1 AND used_at IS NULL")
                .bind(flow_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        for code in &changes.create_codes {
            insert_code(&mut tx, code, now).await?;
        }
        for id in &changes.use_codes {
            let used = sqlx::query(
                "UPDATE selfservice_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
            )
            .bind(id.to_string())
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
            // Two requests racing for one code: only the first one wins.
            if used.rows_affected() == 0 {
                return Err(StoreError::Conflict);
            }
        }
        for message in &changes.messages {
            insert_message(&mut tx, message).await?;
        }
        for session in &changes.create_sessions {
            insert_session(&mut tx, session).await?;
        }
        for session in &changes.update_sessions {
            write_session(&mut tx, session).await?;
        }
        if let Some((identity_id, keep)) = changes.revoke_sessions {
            revoke_sessions(&mut tx, identity_id, keep).await?;
        }
        let changed: Vec<Uuid> = changes
            .update_identity
            .iter()
            .map(|identity| identity.id)
            .chain(changes.revoke_sessions.map(|(identity_id, _)| identity_id))
            .chain(
                changes
                    .update_sessions
                    .iter()
                    .map(|session| session.identity_id),
            )
            .collect();
        let queued_mail = !changes.messages.is_empty();
        if queued_mail {
            self.announce_mail(&mut tx).await?;
        }
        self.commit_changed(tx, &changed).await?;
        if queued_mail {
            self.courier_wake.notify_one();
        }
        Ok(())
    }

    async fn codes_of_flow(&self, flow_id: Uuid, purpose: &str) -> StoreResult<Vec<OneTimeCode>> {
        let rows: Vec<CodeRow> = sqlx::query_as(
            "SELECT id, flow_id, identity_id, purpose, address, secret_hash, expires_at, used_at \
             FROM selfservice_codes WHERE flow_id = $1 AND purpose = $2 AND used_at IS NULL",
        )
        .bind(flow_id.to_string())
        .bind(purpose)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(code_from_row).collect()
    }
}

async fn insert_code(
    connection: &mut AnyConnection,
    code: &OneTimeCode,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO selfservice_codes (id, flow_id, identity_id, purpose, address, secret_hash, \
         expires_at, used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(code.id.to_string())
    .bind(code.flow_id.to_string())
    .bind(code.identity_id.to_string())
    .bind(code.purpose)
    .bind(&code.address)
    .bind(&code.secret_hash)
    .bind(to_micros(code.expires_at))
    .bind(code.used_at.map(to_micros))
    .bind(to_micros(now))
    .execute(connection)
    .await?;
    Ok(())
}

fn code_from_row(row: CodeRow) -> StoreResult<OneTimeCode> {
    let uuid = |text: &str| {
        Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("code {}: bad id", row.id)))
    };
    let purpose = match row.purpose.as_str() {
        "recovery" => "recovery",
        "verification" => "verification",
        "login" => "login",
        _ => return Err(StoreError::Corrupt(format!("code {}: bad purpose", row.id))),
    };
    Ok(OneTimeCode {
        id: uuid(&row.id)?,
        flow_id: uuid(&row.flow_id)?,
        identity_id: uuid(&row.identity_id)?,
        purpose,
        address: row.address.clone(),
        secret_hash: row.secret_hash.clone(),
        expires_at: from_micros(row.expires_at)?,
        used_at: row.used_at.map(from_micros).transpose()?,
    })
}
