//! The anonymous browser sessions (tower-sessions) that tie a parked OAuth2 authorization
//! request to the browser that made it.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqlStore, StoreResult, from_micros, to_micros};

/// tower-sessions' store on Ward's own database. The `tower-sessions-sqlx-store` crate wants a
/// typed SQLite or PostgreSQL pool; Ward speaks both through one `Any` pool, so this short
/// implementation stands in for it.
#[derive(Debug, Clone)]
pub struct BrowserSessions {
    store: SqlStoreHandle,
}

/// `SqlStore` without `Debug`, which tower-sessions asks of its stores.
#[derive(Clone)]
struct SqlStoreHandle(SqlStore);

impl std::fmt::Debug for SqlStoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlStore")
    }
}

impl BrowserSessions {
    pub fn new(store: SqlStore) -> Self {
        Self {
            store: SqlStoreHandle(store),
        }
    }

    /// Deletes sessions that expired; how many.
    pub async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM browser_sessions WHERE expires_at <= $1")
            .bind(to_micros(now))
            .execute(&self.store.0.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}

fn backend(error: impl std::fmt::Display) -> tower_sessions::session_store::Error {
    tower_sessions::session_store::Error::Backend(error.to_string())
}

#[async_trait]
impl tower_sessions::SessionStore for BrowserSessions {
    async fn create(
        &self,
        record: &mut tower_sessions::session::Record,
    ) -> tower_sessions::session_store::Result<()> {
        // A new id until one is free (a collision of 128 random bits is not expected).
        loop {
            let data = serde_json::to_string(&record.data).map_err(backend)?;
            let inserted = sqlx::query(
                "INSERT INTO browser_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(record.id.to_string())
            .bind(data)
            .bind(to_micros(record.expiry_date))
            .execute(&self.store.0.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = tower_sessions::session::Id::default();
        }
    }

    async fn save(
        &self,
        record: &tower_sessions::session::Record,
    ) -> tower_sessions::session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(backend)?;
        sqlx::query(
            "INSERT INTO browser_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET data = $2, expires_at = $3",
        )
        .bind(record.id.to_string())
        .bind(data)
        .bind(to_micros(record.expiry_date))
        .execute(&self.store.0.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(
        &self,
        id: &tower_sessions::session::Id,
    ) -> tower_sessions::session_store::Result<Option<tower_sessions::session::Record>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT data, expires_at FROM browser_sessions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id.to_string())
        .bind(to_micros(OffsetDateTime::now_utc()))
        .fetch_optional(&self.store.0.pool)
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(tower_sessions::session::Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(backend)?,
            expiry_date: from_micros(expires_at).map_err(backend)?,
        }))
    }

    async fn delete(
        &self,
        id: &tower_sessions::session::Id,
    ) -> tower_sessions::session_store::Result<()> {
        sqlx::query("DELETE FROM browser_sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.store.0.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
