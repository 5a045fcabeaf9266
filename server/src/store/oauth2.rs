//! The OpenID Connect provider's records: clients, signing keys, grants with their tokens and
//! remembered consents.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::token_writes::{TokenWriter, Write};
use super::{SqlStore, StoreError, StoreResult, from_micros, to_micros};

impl SqlStore {
    /// This process's token writer, started by the first write.
    fn token_writer(&self) -> &TokenWriter {
        self.token_writer
            .get_or_init(|| TokenWriter::start(self.pool.clone()))
    }
}

/// A client: Hydra's client document without its secret, and the secret's hash.
#[derive(Debug, Clone)]
pub struct StoredClient {
    pub id: String,
    pub secret_hash: Option<String>,
    pub document: Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A signing key; `private_key` is encrypted with `secrets.cipher`.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub set_id: String,
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: Value,
    pub created_at: OffsetDateTime,
}

/// What one authorization allowed; its tokens live and die with it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: Uuid,
    pub client_id: String,
    /// The identity id, or the client id for client credentials.
    pub subject: String,
    /// The Ward session the user authorized in (`sid`).
    pub session_id: Option<Uuid>,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// What the tokens need later (see `oauth2::grant::Details`).
    pub details: Value,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Code,
    Access,
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "code" => Self::Code,
            "access" => Self::Access,
            "refresh" => Self::Refresh,
            other => return Err(StoreError::Corrupt(format!("token kind {other}"))),
        })
    }
}

/// A token by the SHA-256 of its text.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub signature: String,
    pub grant_id: Uuid,
    pub kind: TokenKind,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A remembered consent.
#[derive(Debug, Clone)]
pub struct Consent {
    pub subject: String,
    pub client_id: String,
    pub scope: String,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait OAuth2Store: Send + Sync {
    /// Fails with `Conflict` when the id is taken.
    async fn create_client(&self, client: &StoredClient) -> StoreResult<()>;
    async fn get_client(&self, id: &str) -> StoreResult<Option<StoredClient>>;
    /// Clients by id, after `after`, optionally only those with this name or owner.
    async fn list_clients(
        &self,
        after: Option<&str>,
        limit: u32,
        name: Option<&str>,
        owner: Option<&str>,
    ) -> StoreResult<Vec<StoredClient>>;
    /// Fails with `NotFound` when there is no such client.
    async fn update_client(&self, client: &StoredClient) -> StoreResult<()>;
    /// Deletes the client and its grants; whether there was one.
    async fn delete_client(&self, id: &str) -> StoreResult<bool>;

    /// The keys of a set, newest first.
    async fn keys(&self, set_id: &str) -> StoreResult<Vec<StoredKey>>;
    async fn add_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// Deletes a set's key `kid`, or all its keys; how many.
    async fn delete_keys(&self, set_id: &str, kid: Option<&str>) -> StoreResult<u64>;

    /// Stores a grant with its first tokens, in one transaction.
    async fn create_grant(&self, grant: &Grant, tokens: &[StoredToken]) -> StoreResult<()>;
    /// A token and its grant, by the token's signature.
    async fn find_token(&self, signature: &str) -> StoreResult<Option<(StoredToken, Grant)>>;
    /// In one transaction: spends the token `spend` (false, and nothing written, when it was
    /// already spent), deletes its grant's access tokens when `rotate`, and stores `tokens`.
    async fn spend_token(
        &self,
        spend: &str,
        rotate: bool,
        tokens: &[StoredToken],
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Stores more tokens of existing grants.
    async fn add_tokens(&self, tokens: &[StoredToken]) -> StoreResult<()>;
    /// Ends every token of the grant.
    async fn revoke_grant(&self, grant_id: Uuid, now: OffsetDateTime) -> StoreResult<()>;
    /// Ends the grants of a subject (for one client, or all); how many.
    async fn revoke_grants_of(
        &self,
        subject: &str,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;
    /// Ends the grants made in a Ward session; how many.
    async fn revoke_grants_of_session(
        &self,
        session_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<u64>;

    /// Records the client assertion `signature` as used until `expires_at`; false when it was
    /// used before.
    async fn use_assertion(&self, signature: &str, expires_at: OffsetDateTime)
    -> StoreResult<bool>;

    /// Deletes expired tokens and assertions, and grants revoked (or left without tokens) a
    /// day before `now`.
    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<()>;

    async fn consent(&self, subject: &str, client_id: &str) -> StoreResult<Option<Consent>>;
    async fn remember_consent(&self, consent: &Consent) -> StoreResult<()>;
    async fn consents_of(&self, subject: &str) -> StoreResult<Vec<Consent>>;
    /// Forgets a subject's consents (for one client, or all); how many.
    async fn forget_consents(&self, subject: &str, client_id: Option<&str>) -> StoreResult<u64>;
}

#[derive(FromRow)]
struct ClientRow {
    id: String,
    secret_hash: Option<String>,
    document: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ClientRow> for StoredClient {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> StoreResult<Self> {
        Ok(Self {
            document: serde_json::from_str(&row.document)
                .map_err(|error| StoreError::Corrupt(format!("client {}: {error}", row.id)))?,
            id: row.id,
            secret_hash: row.secret_hash,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(FromRow)]
struct KeyRow {
    set_id: String,
    kid: String,
    alg: String,
    private_key: String,
    public_jwk: String,
    created_at: i64,
}

#[derive(FromRow)]
struct TokenGrantRow {
    signature: String,
    grant_id: String,
    kind: String,
    expires_at: i64,
    used_at: Option<i64>,
    token_created_at: i64,
    client_id: String,
    subject: String,
    session_id: Option<String>,
    scope: String,
    details: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

#[derive(FromRow)]
struct ConsentRow {
    subject: String,
    client_id: String,
    scope: String,
    created_at: i64,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;

    fn try_from(row: ConsentRow) -> StoreResult<Self> {
        Ok(Self {
            subject: row.subject,
            client_id: row.client_id,
            scope: row.scope,
            created_at: from_micros(row.created_at)?,
        })
    }
}

fn uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|error| StoreError::Corrupt(format!("id {text}: {error}")))
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

/// Stores `grants` (in a few statements, see [`super::fixed_chunks`]).
pub(super) async fn insert_grants(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    grants: &[&Grant],
) -> StoreResult<()> {
    for chunk in super::fixed_chunks(grants) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|row| format!("({}, NULL)", super::placeholders(row * 7 + 1, 7)))
            .collect();
        let sql = format!(
            "INSERT INTO oauth2_grants \
             (id, client_id, subject, session_id, scope, details, created_at, revoked_at) \
             VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for grant in chunk {
            query = query
                .bind(grant.id.to_string())
                .bind(&grant.client_id)
                .bind(&grant.subject)
                .bind(grant.session_id.map(|id| id.to_string()))
                .bind(&grant.scope)
                .bind(json_text(&grant.details))
                .bind(to_micros(grant.created_at));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Stores `tokens` (in a few statements, see [`super::fixed_chunks`]).
pub(super) async fn insert_tokens(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tokens: &[&StoredToken],
) -> StoreResult<()> {
    for chunk in super::fixed_chunks(tokens) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|row| {
                let at = row * 5;
                let column = |n: usize| format!("${}", at + n);
                // A new token is unused: used_at is NULL.
                format!(
                    "({}, {}, {}, {}, NULL, {})",
                    column(1),
                    column(2),
                    column(3),
                    column(4),
                    column(5)
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO oauth2_tokens \
             (signature, grant_id, kind, expires_at, used_at, created_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for token in chunk {
            query = query
                .bind(&token.signature)
                .bind(token.grant_id.to_string())
                .bind(token.kind.as_str())
                .bind(to_micros(token.expires_at))
                .bind(to_micros(token.created_at));
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

const CLIENT_COLUMNS: &str = "id, secret_hash, document, created_at, updated_at";

#[async_trait]
impl OAuth2Store for SqlStore {
    async fn create_client(&self, client: &StoredClient) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth2_clients (id, secret_hash, document, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client.id)
        .bind(client.secret_hash.as_deref())
        .bind(json_text(&client.document))
        .bind(to_micros(client.created_at))
        .bind(to_micros(client.updated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_client(&self, id: &str) -> StoreResult<Option<StoredClient>> {
        let row: Option<ClientRow> = sqlx::query_as(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth2_clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(StoredClient::try_from).transpose()
    }

    async fn list_clients(
        &self,
        after: Option<&str>,
        limit: u32,
        name: Option<&str>,
        owner: Option<&str>,
    ) -> StoreResult<Vec<StoredClient>> {
        // Name and owner live in the document: filtered here, pages stay by id.
        let mut clients = Vec::new();
        let mut cursor = after.unwrap_or_default().to_string();
        loop {
            let rows: Vec<ClientRow> = sqlx::query_as(&format!(
                "SELECT {CLIENT_COLUMNS} FROM oauth2_clients WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .bind(&cursor)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            let done = rows.len() < limit as usize;
            for row in rows {
                cursor = row.id.clone();
                let client = StoredClient::try_from(row)?;
                let matches = |key: &str, wanted: Option<&str>| {
                    wanted.is_none_or(|wanted| client.document[key].as_str() == Some(wanted))
                };
                if matches("client_name", name) && matches("owner", owner) {
                    clients.push(client);
                }
                if clients.len() == limit as usize {
                    return Ok(clients);
                }
            }
            if done {
                return Ok(clients);
            }
        }
    }

    async fn update_client(&self, client: &StoredClient) -> StoreResult<()> {
        let updated = sqlx::query(
            "UPDATE oauth2_clients SET secret_hash = $2, document = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(&client.id)
        .bind(client.secret_hash.as_deref())
        .bind(json_text(&client.document))
        .bind(to_micros(client.updated_at))
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn delete_client(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM oauth2_grants WHERE client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM oauth2_consents WHERE client_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM oauth2_clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn keys(&self, set_id: &str) -> StoreResult<Vec<StoredKey>> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT set_id, kid, alg, private_key, public_jwk, created_at FROM oauth2_keys \
             WHERE set_id = $1 ORDER BY created_at DESC, kid",
        )
        .bind(set_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredKey {
                    public_jwk: serde_json::from_str(&row.public_jwk).map_err(|error| {
                        StoreError::Corrupt(format!("key {}: {error}", row.kid))
                    })?,
                    set_id: row.set_id,
                    kid: row.kid,
                    alg: row.alg,
                    private_key: row.private_key,
                    created_at: from_micros(row.created_at)?,
                })
            })
            .collect()
    }

    async fn add_key(&self, key: &StoredKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth2_keys (set_id, kid, alg, private_key, public_jwk, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.set_id)
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_key)
        .bind(json_text(&key.public_jwk))
        .bind(to_micros(key.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_keys(&self, set_id: &str, kid: Option<&str>) -> StoreResult<u64> {
        let deleted = match kid {
            Some(kid) => {
                sqlx::query("DELETE FROM oauth2_keys WHERE set_id = $1 AND kid = $2")
                    .bind(set_id)
                    .bind(kid)
                    .execute(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM oauth2_keys WHERE set_id = $1")
                    .bind(set_id)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(deleted.rows_affected())
    }

    async fn create_grant(&self, grant: &Grant, tokens: &[StoredToken]) -> StoreResult<()> {
        self.token_writer()
            .write(Write::Create {
                grant: grant.clone(),
                tokens: tokens.to_vec(),
            })
            .await
            .map(|_| ())
    }

    async fn find_token(&self, signature: &str) -> StoreResult<Option<(StoredToken, Grant)>> {
        let row: Option<TokenGrantRow> = sqlx::query_as(
            "SELECT t.signature, t.grant_id, t.kind, t.expires_at, t.used_at, \
                    t.created_at AS token_created_at, g.client_id, g.subject, g.session_id, \
                    g.scope, g.details, g.created_at, g.revoked_at \
             FROM oauth2_tokens t JOIN oauth2_grants g ON g.id = t.grant_id \
             WHERE t.signature = $1",
        )
        .bind(signature)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let grant_id = uuid(&row.grant_id)?;
        let token = StoredToken {
            signature: row.signature,
            grant_id,
            kind: TokenKind::parse(&row.kind)?,
            expires_at: from_micros(row.expires_at)?,
            used_at: row.used_at.map(from_micros).transpose()?,
            created_at: from_micros(row.token_created_at)?,
        };
        let grant = Grant {
            id: grant_id,
            client_id: row.client_id,
            subject: row.subject,
            session_id: row.session_id.as_deref().map(uuid).transpose()?,
            scope: row.scope,
            details: serde_json::from_str(&row.details)
                .map_err(|error| StoreError::Corrupt(format!("grant {grant_id}: {error}")))?,
            created_at: from_micros(row.created_at)?,
            revoked_at: row.revoked_at.map(from_micros).transpose()?,
        };
        Ok(Some((token, grant)))
    }

    async fn spend_token(
        &self,
        spend: &str,
        rotate: bool,
        tokens: &[StoredToken],
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.token_writer()
            .write(Write::Spend {
                spend: spend.to_string(),
                rotate,
                tokens: tokens.to_vec(),
                now,
            })
            .await
    }

    async fn add_tokens(&self, tokens: &[StoredToken]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_tokens(&mut tx, &tokens.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_grant(&self, grant_id: Uuid, now: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE oauth2_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(grant_id.to_string())
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revoke_grants_of(
        &self,
        subject: &str,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let revoked = sqlx::query(
            "UPDATE oauth2_grants SET revoked_at = $3 \
             WHERE subject = $1 AND ($2 = '' OR client_id = $2) AND revoked_at IS NULL",
        )
        .bind(subject)
        .bind(client_id.unwrap_or_default())
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected())
    }

    async fn revoke_grants_of_session(
        &self,
        session_id: Uuid,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let revoked = sqlx::query(
            "UPDATE oauth2_grants SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
        )
        .bind(session_id.to_string())
        .bind(to_micros(now))
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected())
    }

    async fn use_assertion(
        &self,
        signature: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO oauth2_assertions (signature, expires_at) VALUES ($1, $2) \
             ON CONFLICT (signature) DO NOTHING",
        )
        .bind(signature)
        .bind(to_micros(expires_at))
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<()> {
        for table in ["oauth2_tokens", "oauth2_assertions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE expires_at <= $1"))
                .bind(to_micros(now))
                .execute(&self.pool)
                .await?;
        }
        // Revoked a day ago, or a day old with no token left; tokens go with their grant (ON
        // DELETE CASCADE).
        sqlx::query(
            "DELETE FROM oauth2_grants WHERE revoked_at <= $1 OR (created_at <= $1 AND NOT EXISTS \
             (SELECT 1 FROM oauth2_tokens t WHERE t.grant_id = oauth2_grants.id))",
        )
        .bind(to_micros(now - time::Duration::DAY))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn consent(&self, subject: &str, client_id: &str) -> StoreResult<Option<Consent>> {
        let row: Option<ConsentRow> = sqlx::query_as(
            "SELECT subject, client_id, scope, created_at FROM oauth2_consents \
             WHERE subject = $1 AND client_id = $2",
        )
        .bind(subject)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Consent::try_from).transpose()
    }

    async fn remember_consent(&self, consent: &Consent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth2_consents (subject, client_id, scope, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subject, client_id) DO UPDATE SET scope = $3, created_at = $4",
        )
        .bind(&consent.subject)
        .bind(&consent.client_id)
        .bind(&consent.scope)
        .bind(to_micros(consent.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn consents_of(&self, subject: &str) -> StoreResult<Vec<Consent>> {
        let rows: Vec<ConsentRow> = sqlx::query_as(
            "SELECT subject, client_id, scope, created_at FROM oauth2_consents \
             WHERE subject = $1 ORDER BY created_at, client_id",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Consent::try_from).collect()
    }

    async fn forget_consents(&self, subject: &str, client_id: Option<&str>) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM oauth2_consents WHERE subject = $1 AND ($2 = '' OR client_id = $2)",
        )
        .bind(subject)
        .bind(client_id.unwrap_or_default())
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}
