//! Persistence: narrow store traits per aggregate, one SQL implementation for both dialects.
//!
//! Ward talks to SQLite and PostgreSQL through sqlx's `Any` driver with portable column types
//! (UUIDs as text, times as Unix microseconds, JSON as text). One set of runtime-checked
//! queries then serves both dialects (and CockroachDB), instead of two copies that drift apart;
//! the few statements that must differ branch on `Dialect`. The contract suite in
//! `server/tests/api/store_contract.rs` runs the same expectations against each dialect.

mod browser_session;
mod changes;
mod courier;
mod dsn;
mod flow;
mod identity;
mod oauth2;
mod session;
mod session_cache;
mod throttle;
mod token_writes;
mod web_hook;

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions, Executor};
use time::OffsetDateTime;
use uuid::Uuid;

pub use browser_session::BrowserSessions;
pub use changes::{ChangeStore, Changes, OneTimeCode};
pub use courier::{Attempt, CourierStore, MessageQuery};
pub use dsn::{DatabaseUrl, DsnError, PoolSettings};
pub use flow::FlowStore;
pub use identity::{IdentityPage, IdentityQuery, IdentityStore};
pub use oauth2::{Consent, Grant, OAuth2Store, StoredClient, StoredKey, StoredToken, TokenKind};
pub use session::{SessionQuery, SessionStore};
pub use session_cache::{CachedWhoami, SessionCache};
pub use throttle::{Counter, ThrottleKey, ThrottleStore};
pub use web_hook::{Delivery, DeliveryStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflicts with an existing record")]
    Conflict,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Database(error),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// `items` in runs of a few fixed lengths (32, 8, 2, 1), so statements over many rows come in a
/// handful of shapes: each shape is prepared once per connection and stays in sqlx's statement
/// cache, where one statement per length would crowd it out.
fn fixed_chunks<T>(mut items: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    for size in [32, 8, 2, 1] {
        while items.len() >= size {
            let (chunk, rest) = items.split_at(size);
            chunks.push(chunk);
            items = rest;
        }
    }
    chunks
}

/// `$first, $first+1, ...`: `count` numbered placeholders.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The SQL store: a connection pool, the dialect it speaks and the whoami cache.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The connection URL, for the change listener.
    url: String,
    /// Whether the database has LISTEN/NOTIFY (PostgreSQL, not CockroachDB).
    notifies: bool,
    session_cache: Arc<SessionCache>,
    /// Woken when mail is queued: by this process's writes, and on PostgreSQL by every
    /// replica's (see [`Self::listen_for_mail`]).
    courier_wake: Arc<tokio::sync::Notify>,
    /// Token writes, committed in groups (started with the first one).
    token_writer: Arc<std::sync::OnceLock<token_writes::TokenWriter>>,
}

/// The PostgreSQL channel on which a transaction that queued mail wakes every courier worker.
const MAIL_CHANNEL: &str = "ward_courier";

impl SqlStore {
    /// Connects without migrating, to a database named by a `dsn` in any of Kratos's forms
    /// (see [`DatabaseUrl`]). SQLite runs in WAL mode with a busy timeout and foreign keys
    /// unless the DSN says otherwise.
    pub async fn connect(dsn: &str) -> Result<Self, anyhow::Error> {
        Self::connect_to(&DatabaseUrl::parse(dsn)?).await
    }

    pub async fn connect_to(database: &DatabaseUrl) -> Result<Self, anyhow::Error> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(&database.connect_url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let settings = &database.pool;
        let mut pool = match database.dialect {
            Dialect::Sqlite => {
                let pragmas = database.pragmas.clone().unwrap_or_default();
                AnyPoolOptions::new()
                    .max_connections(4)
                    // An embedded database does not drop connections, and sqlx's check costs a
                    // round trip to the connection's thread before every query.
                    .test_before_acquire(false)
                    .after_connect(move |connection, _| {
                        let pragmas = pragmas.clone();
                        Box::pin(async move { connection.execute(&*pragmas).await.map(|_| ()) })
                    })
            }
            Dialect::Postgres => AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5)),
        };
        if let Some(max) = settings.max_connections {
            pool = pool.max_connections(max);
        }
        if let Some(min) = settings.min_idle {
            let max = pool.get_max_connections();
            pool = pool.min_connections(min.min(max));
        }
        if settings.max_lifetime.is_some() || database.in_memory {
            pool = pool.max_lifetime(settings.max_lifetime);
        }
        if settings.idle_timeout.is_some() || database.in_memory {
            pool = pool.idle_timeout(settings.idle_timeout);
        }
        let pool = pool.connect_with(options).await?;
        Ok(Self {
            pool,
            dialect: database.dialect,
            notifies: database.notifies,
            url: database.connect_url.clone(),
            session_cache: Arc::new(SessionCache::disabled()),
            courier_wake: Arc::default(),
            token_writer: Arc::default(),
        })
    }

    /// Keeps up to `max_bytes` of whoami answers in memory (see [`SessionCache`]). On
    /// PostgreSQL the cache is trusted only while [`Self::listen_for_changes`] runs; on
    /// CockroachDB, which cannot notify, it stays off.
    pub fn with_session_cache(mut self, max_bytes: u64) -> Self {
        if max_bytes == 0 || (self.dialect == Dialect::Postgres && !self.notifies) {
            return self;
        }
        let cache = SessionCache::new(max_bytes);
        if self.notifies {
            cache.set_trusted(false);
        }
        self.session_cache = Arc::new(cache);
        self
    }

    pub fn session_cache(&self) -> &SessionCache {
        &self.session_cache
    }

    /// Commits `tx`, which changed these identities or their sessions, and drops their cached
    /// whoami answers: this process's once the commit is done, and on PostgreSQL every other
    /// replica's through a notification sent in the same transaction.
    async fn commit_changed(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        identities: &[Uuid],
    ) -> StoreResult<()> {
        if self.notifies {
            for id in identities {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(session_cache::CHANNEL)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        for id in identities {
            self.session_cache.invalidate(*id);
        }
        Ok(())
    }

    /// Commits `tx`, which queued mail, and wakes the courier workers: this process's at once,
    /// and on PostgreSQL every replica's through a notification sent with the transaction.
    async fn commit_mail(&self, mut tx: sqlx::Transaction<'_, sqlx::Any>) -> StoreResult<()> {
        self.announce_mail(&mut tx).await?;
        tx.commit().await?;
        self.courier_wake.notify_one();
        Ok(())
    }

    /// On PostgreSQL, makes `tx` wake every replica's courier worker when it commits.
    async fn announce_mail(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> StoreResult<()> {
        if self.notifies {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(MAIL_CHANNEL)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// What a courier worker waits on between polls.
    pub fn courier_wake(&self) -> Arc<tokio::sync::Notify> {
        self.courier_wake.clone()
    }

    /// Runs until the pool closes, waking this process's courier worker whenever any replica
    /// queues mail; reconnects after errors. Returns at once without LISTEN/NOTIFY (the worker
    /// then finds other replicas' mail when it polls).
    pub async fn listen_for_mail(&self) {
        if !self.notifies {
            return;
        }
        while !self.pool.is_closed() {
            let followed = async {
                let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
                listener.listen(MAIL_CHANNEL).await?;
                while listener.try_recv().await?.is_some() {
                    self.courier_wake.notify_one();
                }
                Ok::<(), sqlx::Error>(())
            };
            if let Err(error) = followed.await {
                tracing::warn!(%error, "mail notifications stopped; the courier polls until they resume");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Runs until the pool closes, applying other replicas' change notifications to the
    /// session cache and reconnecting after errors. Returns at once without a cache or
    /// without LISTEN/NOTIFY.
    pub async fn listen_for_changes(&self) {
        if !self.notifies || !self.session_cache.enabled() {
            return;
        }
        while !self.pool.is_closed() {
            if let Err(error) = self.follow_changes().await {
                tracing::warn!(%error, "session change notifications stopped; the session cache is off until they resume");
            }
            self.session_cache.set_trusted(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn follow_changes(&self) -> Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.url).await?;
        listener.listen(session_cache::CHANNEL).await?;
        // Changes made while nobody listened are unknown: start from an empty cache.
        self.session_cache.set_trusted(true);
        // `try_recv` reports a lost connection (`None`) rather than reconnecting silently, as
        // notifications sent meanwhile are gone; the caller reconnects and starts afresh.
        while let Some(notification) = listener.try_recv().await? {
            match Uuid::parse_str(notification.payload()) {
                Ok(id) => self.session_cache.invalidate(id),
                Err(_) => tracing::warn!(
                    payload = notification.payload(),
                    "ignored a malformed session change notification"
                ),
            }
        }
        Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the listening connection was lost",
        )))
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations of this dialect; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, sqlx::migrate::MigrateError> {
        let migrator = migrator(self.dialect);
        let mut connection = self.pool.acquire().await?;
        let applied: Vec<i64> = sqlx::migrate::Migrate::list_applied_migrations(&mut *connection)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|migration| migration.version)
            .collect();
        drop(connection);
        migrator.run(&self.pool).await?;
        Ok(migrator
            .iter()
            .map(|migration| migration.version)
            .filter(|version| !applied.contains(version))
            .collect())
    }

    /// Versions and descriptions of the migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let mut connection = self.pool.acquire().await?;
        sqlx::migrate::Migrate::ensure_migrations_table(&mut *connection).await?;
        let applied = sqlx::migrate::Migrate::list_applied_migrations(&mut *connection)
            .await?
            .into_iter()
            .map(|migration| migration.version)
            .collect::<Vec<_>>();
        Ok(migrator(self.dialect)
            .iter()
            .filter(|migration| !applied.contains(&migration.version))
            .map(|migration| (migration.version, migration.description.to_string()))
            .collect())
    }

    /// A cheap round trip for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The migrations, embedded in the binary so `ward` is one file.
fn migrator(dialect: Dialect) -> Migrator {
    let files: &[(i64, &str, &str)] = match dialect {
        Dialect::Sqlite => &[
            (
                1,
                "identities",
                include_str!("../../../migrations/sqlite/0001_identities.sql"),
            ),
            (
                2,
                "sessions",
                include_str!("../../../migrations/sqlite/0002_sessions_and_flows.sql"),
            ),
            (
                3,
                "courier and codes",
                include_str!("../../../migrations/sqlite/0003_courier_and_codes.sql"),
            ),
            (
                4,
                "throttles",
                include_str!("../../../migrations/sqlite/0004_throttles.sql"),
            ),
            (
                5,
                "oauth2",
                include_str!("../../../migrations/sqlite/0005_oauth2.sql"),
            ),
            (
                6,
                "web hook deliveries",
                include_str!("../../../migrations/sqlite/0006_web_hook_deliveries.sql"),
            ),
            (
                7,
                "courier priority",
                include_str!("../../../migrations/sqlite/0007_courier_priority.sql"),
            ),
            (
                8,
                "oauth2 assertions and token index",
                include_str!("../../../migrations/sqlite/0008_oauth2_assertions.sql"),
            ),
        ],
        Dialect::Postgres => &[
            (
                1,
                "identities",
                include_str!("../../../migrations/postgres/0001_identities.sql"),
            ),
            (
                2,
                "sessions",
                include_str!("../../../migrations/postgres/0002_sessions_and_flows.sql"),
            ),
            (
                3,
                "courier and codes",
                include_str!("../../../migrations/postgres/0003_courier_and_codes.sql"),
            ),
            (
                4,
                "throttles",
                include_str!("../../../migrations/postgres/0004_throttles.sql"),
            ),
            (
                5,
                "oauth2",
                include_str!("../../../migrations/postgres/0005_oauth2.sql"),
            ),
            (
                6,
                "web hook deliveries",
                include_str!("../../../migrations/postgres/0006_web_hook_deliveries.sql"),
            ),
            (
                7,
                "courier priority",
                include_str!("../../../migrations/postgres/0007_courier_priority.sql"),
            ),
            (
                8,
                "oauth2 assertions and token index",
                include_str!("../../../migrations/postgres/0008_oauth2_assertions.sql"),
            ),
        ],
    };
    let migrations = files
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Times are stored as Unix microseconds.
pub(crate) fn to_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_micros(micros: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|error| StoreError::Corrupt(format!("timestamp {micros}: {error}")))
}
