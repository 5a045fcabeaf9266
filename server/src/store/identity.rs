//! The identity store: identities with their credentials, identifiers and addresses, always
//! written whole in one transaction.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde_json::Value;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, FromRow, Transaction};
use uuid::Uuid;

use super::{SqlStore, StoreError, StoreResult, from_micros, placeholders, to_micros};
use crate::identity::{
    Credential, CredentialType, Identity, IdentityState, RecoveryAddress, VerifiableAddress,
    VerificationStatus, Via,
};

/// Which identities to list: keyset pagination by id, optionally filtered.
#[derive(Debug, Clone, Default)]
pub struct IdentityQuery {
    pub page_size: u32,
    /// Only identities with ids greater than this (the previous page's last id).
    pub after: Option<Uuid>,
    /// Only identities with a credential identifier equal to this.
    pub credentials_identifier: Option<String>,
    /// Only these identities.
    pub ids: Vec<Uuid>,
}

#[derive(Debug)]
pub struct IdentityPage {
    pub identities: Vec<Identity>,
    /// Present when another page may follow.
    pub next_after: Option<Uuid>,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn create_identity(&self, identity: &Identity) -> StoreResult<()>;
    async fn get_identity(&self, id: Uuid) -> StoreResult<Identity>;
    /// Replaces the identity and everything that hangs off it.
    async fn update_identity(&self, identity: &Identity) -> StoreResult<()>;
    async fn delete_identity(&self, id: Uuid) -> StoreResult<()>;
    async fn list_identities(&self, query: &IdentityQuery) -> StoreResult<IdentityPage>;
    /// The identity owning `identifier` for a credential type, if any.
    async fn find_by_identifier(
        &self,
        kind: CredentialType,
        identifier: &str,
    ) -> StoreResult<Option<Identity>>;
    /// The identity with this recovery (or, `verifiable`, verifiable) address.
    async fn find_by_address(&self, verifiable: bool, value: &str)
    -> StoreResult<Option<Identity>>;
    /// The identity an outside system knows by `external_id`.
    async fn find_by_external_id(&self, external_id: &str) -> StoreResult<Option<Identity>>;
    /// Whether the identity has a second factor of `kinds` set up (its highest level is aal2),
    /// without loading its credentials; see [`Identity::has_second_factor`].
    async fn has_second_factor(&self, id: Uuid, kinds: &[CredentialType]) -> StoreResult<bool>;
}

#[derive(FromRow)]
pub(super) struct IdentityRow {
    pub(super) id: String,
    pub(super) schema_id: String,
    pub(super) state: String,
    pub(super) state_changed_at: Option<i64>,
    pub(super) traits: String,
    pub(super) metadata_public: Option<String>,
    pub(super) metadata_admin: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) organization_id: Option<String>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

#[derive(FromRow)]
struct CredentialRow {
    id: String,
    identity_id: String,
    #[sqlx(rename = "type")]
    kind: String,
    config: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(FromRow)]
struct IdentifierRow {
    credential_id: String,
    identifier: String,
}

#[derive(FromRow)]
pub(super) struct VerifiableRow {
    pub(super) id: String,
    pub(super) identity_id: String,
    pub(super) via: String,
    pub(super) value: String,
    pub(super) status: String,
    pub(super) verified_at: Option<i64>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

#[derive(FromRow)]
pub(super) struct RecoveryRow {
    pub(super) id: String,
    pub(super) identity_id: String,
    pub(super) via: String,
    pub(super) value: String,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

const IDENTITY_COLUMNS: &str = "id, schema_id, state, state_changed_at, traits, metadata_public, \
     metadata_admin, external_id, organization_id, created_at, updated_at";

#[async_trait]
impl IdentityStore for SqlStore {
    async fn create_identity(&self, identity: &Identity) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_identity(&mut tx, identity).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_identity(&self, id: Uuid) -> StoreResult<Identity> {
        let row: IdentityRow = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut identities = self.hydrate(vec![row]).await?;
        identities.pop().ok_or(StoreError::NotFound)
    }

    async fn update_identity(&self, identity: &Identity) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        update_identity_rows(&mut tx, identity).await?;
        self.commit_changed(tx, &[identity.id]).await?;
        Ok(())
    }

    async fn delete_identity(&self, id: Uuid) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM identities WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_changed(tx, &[id]).await?;
        Ok(())
    }

    async fn list_identities(&self, query: &IdentityQuery) -> StoreResult<IdentityPage> {
        // Placeholders are numbered ($1, $2, ...), the one style both dialects accept.
        let mut sql = format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if let Some(after) = query.after {
            binds.push(after.to_string());
            sql.push_str(&format!(" AND id > ${}", binds.len()));
        }
        if let Some(identifier) = &query.credentials_identifier {
            // E-mail identifiers are stored lower-cased; a lookup with capitals finds them too.
            binds.push(identifier.clone());
            binds.push(identifier.to_lowercase());
            sql.push_str(&format!(
                " AND id IN (SELECT identity_id FROM identity_credential_identifiers WHERE identifier IN (${}, ${}))",
                binds.len() - 1,
                binds.len()
            ));
        }
        if !query.ids.is_empty() {
            let first = binds.len() + 1;
            binds.extend(query.ids.iter().map(Uuid::to_string));
            sql.push_str(&format!(
                " AND id IN ({})",
                placeholders(first, query.ids.len())
            ));
        }
        // One extra row tells whether another page follows.
        sql.push_str(&format!(" ORDER BY id LIMIT ${}", binds.len() + 1));
        let mut statement = sqlx::query_as::<_, IdentityRow>(&sql);
        for value in binds {
            statement = statement.bind(value);
        }
        let mut rows = statement
            .bind(i64::from(query.page_size) + 1)
            .fetch_all(&self.pool)
            .await?;
        let has_more = rows.len() > query.page_size as usize;
        rows.truncate(query.page_size as usize);
        let identities = self.hydrate(rows).await?;
        let next_after = if has_more {
            identities.last().map(|identity| identity.id)
        } else {
            None
        };
        Ok(IdentityPage {
            identities,
            next_after,
        })
    }

    async fn find_by_identifier(
        &self,
        kind: CredentialType,
        identifier: &str,
    ) -> StoreResult<Option<Identity>> {
        let row: Option<IdentityRow> = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = \
             (SELECT identity_id FROM identity_credential_identifiers WHERE type = $1 AND identifier = $2)"
        ))
        .bind(kind.as_str())
        .bind(identifier)
        .fetch_optional(&self.pool)
        .await?;
        self.hydrate_one(row).await
    }

    async fn find_by_address(
        &self,
        verifiable: bool,
        value: &str,
    ) -> StoreResult<Option<Identity>> {
        let table = if verifiable {
            "identity_verifiable_addresses"
        } else {
            "identity_recovery_addresses"
        };
        let row: Option<IdentityRow> = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = \
             (SELECT identity_id FROM {table} WHERE via = 'email' AND value = $1)"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        self.hydrate_one(row).await
    }

    async fn find_by_external_id(&self, external_id: &str) -> StoreResult<Option<Identity>> {
        let row: Option<IdentityRow> = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE external_id = $1"
        ))
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?;
        self.hydrate_one(row).await
    }

    async fn has_second_factor(&self, id: Uuid, kinds: &[CredentialType]) -> StoreResult<bool> {
        // Strategies store these credentials only once they are set up, and remove them
        // when they are not.
        // A code credential is kept for any code identifier: it counts where it has an address.
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT type, config FROM identity_credentials WHERE identity_id = $1 \
             AND type IN ($2, $3, $4, $5)",
        )
        .bind(id.to_string())
        .bind(CredentialType::Totp.as_str())
        .bind(CredentialType::LookupSecret.as_str())
        .bind(CredentialType::Webauthn.as_str())
        .bind(CredentialType::Code.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().any(|(found, config)| {
            kinds.iter().any(|kind| kind.as_str() == found)
                && (found != CredentialType::Code.as_str()
                    || serde_json::from_str::<serde_json::Value>(config).is_ok_and(|config| {
                        config["addresses"]
                            .as_array()
                            .is_some_and(|addresses| !addresses.is_empty())
                    }))
        }))
    }
}

impl SqlStore {
    async fn hydrate_one(&self, row: Option<IdentityRow>) -> StoreResult<Option<Identity>> {
        match row {
            Some(row) => Ok(self.hydrate(vec![row]).await?.pop()),
            None => Ok(None),
        }
    }

    /// Loads credentials and addresses of the given identity rows with one query per table.
    async fn hydrate(&self, rows: Vec<IdentityRow>) -> StoreResult<Vec<Identity>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let credentials: Vec<CredentialRow> = self
            .fetch_for(
                &ids,
                "SELECT id, identity_id, type, config, version, created_at, updated_at \
                 FROM identity_credentials WHERE identity_id IN (",
                ") ORDER BY type",
            )
            .await?;
        let identifiers: Vec<IdentifierRow> = self
            .fetch_for(
                &ids,
                "SELECT credential_id, identifier FROM identity_credential_identifiers \
                 WHERE identity_id IN (",
                ") ORDER BY created_at, identifier",
            )
            .await?;
        let verifiable: Vec<VerifiableRow> = self
            .fetch_for(
                &ids,
                "SELECT id, identity_id, via, value, status, verified_at, created_at, updated_at \
                 FROM identity_verifiable_addresses WHERE identity_id IN (",
                ") ORDER BY created_at, value",
            )
            .await?;
        let recovery: Vec<RecoveryRow> = self
            .fetch_for(
                &ids,
                "SELECT id, identity_id, via, value, created_at, updated_at \
                 FROM identity_recovery_addresses WHERE identity_id IN (",
                ") ORDER BY created_at, value",
            )
            .await?;

        let mut identifiers_by_credential: HashMap<String, Vec<String>> = HashMap::new();
        for row in identifiers {
            identifiers_by_credential
                .entry(row.credential_id)
                .or_default()
                .push(row.identifier);
        }
        let mut identities: Vec<Identity> = rows
            .into_iter()
            .map(identity_from_row)
            .collect::<StoreResult<_>>()?;
        let position: HashMap<String, usize> = identities
            .iter()
            .enumerate()
            .map(|(index, identity)| (identity.id.to_string(), index))
            .collect();
        for row in credentials {
            let Some(&index) = position.get(&row.identity_id) else {
                continue;
            };
            let credential = credential_from_row(row, &mut identifiers_by_credential)?;
            identities[index]
                .credentials
                .insert(credential.kind, credential);
        }
        for row in verifiable {
            if let Some(&index) = position.get(&row.identity_id) {
                identities[index]
                    .verifiable_addresses
                    .push(row.into_address()?);
            }
        }
        for row in recovery {
            if let Some(&index) = position.get(&row.identity_id) {
                identities[index]
                    .recovery_addresses
                    .push(row.into_address()?);
            }
        }
        Ok(identities)
    }

    async fn fetch_for<T>(&self, ids: &[String], head: &str, tail: &str) -> StoreResult<Vec<T>>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let sql = format!("{head}{}{tail}", placeholders(1, ids.len()));
        let mut statement = sqlx::query_as::<_, T>(&sql);
        for id in ids {
            statement = statement.bind(id.clone());
        }
        Ok(statement.fetch_all(&self.pool).await?)
    }
}

/// Binds `$1..$10` of an identity row: id, schema_id, state, state_changed_at, traits,
/// metadata_public, metadata_admin, external_id, organization_id, updated_at.
fn bind_identity<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    identity: &'q Identity,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(identity.id.to_string())
        .bind(&identity.schema_id)
        .bind(identity.state.as_str())
        .bind(identity.state_changed_at.map(to_micros))
        .bind(json_text(&identity.traits))
        .bind(identity.metadata_public.as_ref().map(json_text))
        .bind(identity.metadata_admin.as_ref().map(json_text))
        .bind(identity.external_id.as_deref())
        .bind(identity.organization_id.map(|id| id.to_string()))
        .bind(to_micros(identity.updated_at))
}

async fn insert_children(tx: &mut Transaction<'_, Any>, identity: &Identity) -> StoreResult<()> {
    let identity_id = identity.id.to_string();
    for credential in identity.credentials.values() {
        sqlx::query(
            "INSERT INTO identity_credentials (id, identity_id, type, config, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(credential.id.to_string())
        .bind(&identity_id)
        .bind(credential.kind.as_str())
        .bind(json_text(&credential.config))
        .bind(credential.version)
        .bind(to_micros(credential.created_at))
        .bind(to_micros(credential.updated_at))
        .execute(&mut **tx)
        .await?;
        for identifier in &credential.identifiers {
            sqlx::query(
                "INSERT INTO identity_credential_identifiers (id, identity_id, credential_id, type, identifier, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(Uuid::new_v4().to_string())
            .bind(&identity_id)
            .bind(credential.id.to_string())
            .bind(credential.kind.as_str())
            .bind(identifier)
            .bind(to_micros(credential.created_at))
            .execute(&mut **tx)
            .await?;
        }
    }
    for address in &identity.verifiable_addresses {
        sqlx::query(
            "INSERT INTO identity_verifiable_addresses (id, identity_id, via, value, status, verified_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(address.id.to_string())
        .bind(&identity_id)
        .bind(address.via.as_str())
        .bind(&address.value)
        .bind(address.status.as_str())
        .bind(address.verified_at.map(to_micros))
        .bind(to_micros(address.created_at))
        .bind(to_micros(address.updated_at))
        .execute(&mut **tx)
        .await?;
    }
    for address in &identity.recovery_addresses {
        sqlx::query(
            "INSERT INTO identity_recovery_addresses (id, identity_id, via, value, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(address.id.to_string())
        .bind(&identity_id)
        .bind(address.via.as_str())
        .bind(&address.value)
        .bind(to_micros(address.created_at))
        .bind(to_micros(address.updated_at))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl VerifiableRow {
    pub(super) fn into_address(self) -> StoreResult<VerifiableAddress> {
        Ok(VerifiableAddress {
            id: parse_uuid(&self.id)?,
            via: Via::parse(&self.via).ok_or_else(|| corrupt("via", &self.via))?,
            status: VerificationStatus::parse(&self.status)
                .ok_or_else(|| corrupt("status", &self.status))?,
            value: self.value,
            verified_at: self.verified_at.map(from_micros).transpose()?,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

impl RecoveryRow {
    pub(super) fn into_address(self) -> StoreResult<RecoveryAddress> {
        Ok(RecoveryAddress {
            id: parse_uuid(&self.id)?,
            via: Via::parse(&self.via).ok_or_else(|| corrupt("via", &self.via))?,
            value: self.value,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
        })
    }
}

pub(super) fn identity_from_row(row: IdentityRow) -> StoreResult<Identity> {
    Ok(Identity {
        id: parse_uuid(&row.id)?,
        state: IdentityState::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
        state_changed_at: row.state_changed_at.map(from_micros).transpose()?,
        traits: parse_json(&row.traits)?,
        metadata_public: row.metadata_public.as_deref().map(parse_json).transpose()?,
        metadata_admin: row.metadata_admin.as_deref().map(parse_json).transpose()?,
        external_id: row.external_id,
        organization_id: row.organization_id.as_deref().map(parse_uuid).transpose()?,
        created_at: from_micros(row.created_at)?,
        updated_at: from_micros(row.updated_at)?,
        schema_id: row.schema_id,
        verifiable_addresses: Vec::new(),
        recovery_addresses: Vec::new(),
        credentials: BTreeMap::new(),
    })
}

fn credential_from_row(
    row: CredentialRow,
    identifiers: &mut HashMap<String, Vec<String>>,
) -> StoreResult<Credential> {
    Ok(Credential {
        kind: CredentialType::parse(&row.kind)
            .ok_or_else(|| corrupt("credential type", &row.kind))?,
        identifiers: identifiers.remove(&row.id).unwrap_or_default(),
        id: parse_uuid(&row.id)?,
        config: parse_json(&row.config)?,
        version: row.version,
        created_at: from_micros(row.created_at)?,
        updated_at: from_micros(row.updated_at)?,
    })
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

fn parse_json(text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt(format!("json: {error}")))
}

fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| corrupt("uuid", text))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} {value:?}"))
}

pub(super) async fn insert_identity(
    tx: &mut Transaction<'_, Any>,
    identity: &Identity,
) -> StoreResult<()> {
    bind_identity(
        sqlx::query(
            "INSERT INTO identities (id, schema_id, state, state_changed_at, traits, metadata_public, \
             metadata_admin, external_id, organization_id, updated_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        ),
        identity,
    )
    .bind(to_micros(identity.created_at))
    .execute(&mut **tx)
    .await?;
    insert_children(tx, identity).await
}

/// Replaces the identity's row and children; ids are kept, so addresses and credentials stay
/// stable.
pub(super) async fn update_identity_rows(
    tx: &mut Transaction<'_, Any>,
    identity: &Identity,
) -> StoreResult<()> {
    let updated = bind_identity(
        sqlx::query(
            "UPDATE identities SET schema_id = $2, state = $3, state_changed_at = $4, traits = $5, \
             metadata_public = $6, metadata_admin = $7, external_id = $8, organization_id = $9, \
             updated_at = $10 WHERE id = $1",
        ),
        identity,
    )
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    for table in [
        "identity_credential_identifiers",
        "identity_credentials",
        "identity_verifiable_addresses",
        "identity_recovery_addresses",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE identity_id = $1"))
            .bind(identity.id.to_string())
            .execute(&mut **tx)
            .await?;
    }
    insert_children(tx, identity).await
}
