//! Kratos's `dsn` forms, read into what sqlx needs: a connection URL, SQLite pragmas and pool
//! settings.
//!
//! Kratos passes SQLite DSNs to mattn's go-sqlite3 driver, whose query parameters (`_fk`,
//! `_journal_mode`, ...) sqlx does not know, and it takes its pool settings (`max_conns`, ...)
//! off every DSN before connecting. Ward accepts the same strings, so a Kratos configuration
//! works unchanged.

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

use super::Dialect;

/// A parsed `dsn`. Holds the password of a PostgreSQL DSN: print it only through
/// [`DatabaseUrl::redacted`].
pub struct DatabaseUrl {
    pub dialect: Dialect,
    /// What sqlx connects to, without the parameters only Kratos knows.
    pub(super) connect_url: String,
    /// PostgreSQL's LISTEN/NOTIFY is available (not on CockroachDB).
    pub notifies: bool,
    /// An in-memory SQLite database: gone when Ward stops.
    pub in_memory: bool,
    /// SQLite only: run on every new connection.
    pub(super) pragmas: Option<String>,
    pub pool: PoolSettings,
    redacted: String,
}

/// Kratos's pool parameters (`max_conns`, `max_idle_conns`, `max_conn_lifetime`,
/// `max_conn_idle_time`, also spelt `max_idle_conn_time`); `None` keeps Ward's default.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub max_connections: Option<u32>,
    /// sqlx has no cap on idle connections; it keeps this many open (its `min_connections`)
    /// and closes the others once they idle for `idle_timeout`.
    pub min_idle: Option<u32>,
    pub max_lifetime: Option<Duration>,
    pub idle_timeout: Option<Duration>,
}

const POOL_PARAMETERS: [&str; 5] = [
    "max_conns",
    "max_idle_conns",
    "max_conn_lifetime",
    "max_conn_idle_time",
    "max_idle_conn_time",
];

/// go-sqlite3's parameters that Ward translates, with their aliases.
const SQLITE_PARAMETERS: [&str; 11] = [
    "_fk",
    "_foreign_keys",
    "_journal_mode",
    "_journal",
    "_busy_timeout",
    "_timeout",
    "_synchronous",
    "_sync",
    "mode",
    "cache",
    "immutable",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsnError {
    #[error(
        "unsupported database in dsn {0:?}: use memory, sqlite://<path>, postgres://... or cockroach://..."
    )]
    Scheme(String),
    #[error("unknown query parameter `{name}` in the SQLite dsn; known parameters: {known}")]
    UnknownParameter { name: String, known: String },
    #[error("query parameter `{name}` in the dsn: {problem}")]
    BadValue { name: String, problem: String },
    #[error("the dsn is not a valid URL: {0}")]
    Url(String),
}

impl DatabaseUrl {
    pub fn parse(dsn: &str) -> Result<Self, DsnError> {
        let dsn = dsn.trim();
        if dsn == "memory" {
            return parse_sqlite("file::memory:", "");
        }
        let scheme = dsn.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => {
                let rest = dsn
                    .strip_prefix(scheme)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .unwrap_or_default();
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                parse_sqlite(path, query)
            }
            "postgres" | "postgresql" | "cockroach" | "cockroachdb" => parse_postgres(dsn, scheme),
            _ => Err(DsnError::Scheme(redact_userinfo(dsn))),
        }
    }

    /// The DSN with its password replaced, for log lines and errors.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("DatabaseUrl")
            .field("dsn", &self.redacted)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

fn parse_sqlite(path: &str, query: &str) -> Result<DatabaseUrl, DsnError> {
    let mut journal_mode = "WAL".to_string();
    let mut busy_timeout_ms: u64 = 5000;
    let mut synchronous = "NORMAL".to_string();
    // go-sqlite3 opens read-write and creates the file unless `mode` says otherwise.
    let mut mode = "rwc".to_string();
    let mut shared_cache = false;
    let mut immutable = false;
    let mut pool = PoolSettings::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let bad = |problem: &str| DsnError::BadValue {
            name: name.to_string(),
            problem: problem.to_string(),
        };
        match name.as_ref() {
            // Always on: Ward's schema relies on cascading deletes.
            "_fk" | "_foreign_keys" => {
                if !parse_bool(&value).ok_or_else(|| bad("expected true or false"))? {
                    return Err(bad(
                        "Ward's schema relies on foreign keys; remove the parameter or set it to true",
                    ));
                }
            }
            "_journal_mode" | "_journal" => {
                let upper = value.to_ascii_uppercase();
                if !["DELETE", "TRUNCATE", "PERSIST", "MEMORY", "WAL", "OFF"].contains(&&*upper) {
                    return Err(bad(
                        "expected DELETE, TRUNCATE, PERSIST, MEMORY, WAL or OFF",
                    ));
                }
                journal_mode = upper;
            }
            "_busy_timeout" | "_timeout" => {
                busy_timeout_ms = value
                    .parse()
                    .map_err(|_| bad("expected milliseconds as a whole number"))?;
            }
            "_synchronous" | "_sync" => {
                synchronous = match value.to_ascii_uppercase().as_str() {
                    "0" | "OFF" => "OFF",
                    "1" | "NORMAL" => "NORMAL",
                    "2" | "FULL" => "FULL",
                    "3" | "EXTRA" => "EXTRA",
                    _ => return Err(bad("expected OFF, NORMAL, FULL or EXTRA")),
                }
                .to_string();
            }
            "mode" => {
                if !["ro", "rw", "rwc", "memory"].contains(&value.as_ref()) {
                    return Err(bad("expected ro, rw, rwc or memory"));
                }
                mode = value.to_string();
            }
            "cache" => {
                shared_cache = match value.as_ref() {
                    "shared" => true,
                    "private" => false,
                    _ => return Err(bad("expected shared or private")),
                };
            }
            "immutable" => {
                immutable = parse_bool(&value).ok_or_else(|| bad("expected true or false"))?;
            }
            other if POOL_PARAMETERS.contains(&other) => {
                read_pool_parameter(&mut pool, other, &value)?
            }
            other => {
                return Err(DsnError::UnknownParameter {
                    name: other.to_string(),
                    known: SQLITE_PARAMETERS
                        .iter()
                        .chain(POOL_PARAMETERS.iter())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }

    // `file:` URIs name the file after the prefix; `:memory:` (in either spelling) or
    // `mode=memory` is an in-memory database.
    let file = path.strip_prefix("file:").unwrap_or(path);
    let in_memory = file == ":memory:" || file.is_empty() || mode == "memory";
    let connect_url = if in_memory {
        // Every pooled connection must see the same database: a shared cache under a name
        // unique to this process. sqlx's own `:memory:` would give each connection its own.
        journal_mode = "MEMORY".to_string();
        format!(
            "sqlite:file:ward-memory-{}?mode=memory&cache=shared",
            Uuid::new_v4().simple()
        )
    } else {
        let mut url = format!("sqlite://{}?mode={mode}", escape_path(file));
        if shared_cache {
            url.push_str("&cache=shared");
        }
        if immutable {
            url.push_str("&immutable=true");
        }
        url
    };
    if in_memory {
        // The database lives as long as one connection does: keep one, forever.
        pool.min_idle = Some(pool.min_idle.unwrap_or(1).max(1));
        pool.max_lifetime = None;
        pool.idle_timeout = None;
    }
    let pragmas = format!(
        "PRAGMA journal_mode = {journal_mode}; PRAGMA synchronous = {synchronous}; \
         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_timeout_ms};"
    );
    let redacted = if in_memory {
        "memory".to_string()
    } else {
        format!("sqlite://{file}")
    };
    Ok(DatabaseUrl {
        dialect: Dialect::Sqlite,
        connect_url,
        notifies: false,
        in_memory,
        pragmas: Some(pragmas),
        pool,
        redacted,
    })
}

fn parse_postgres(dsn: &str, scheme: &str) -> Result<DatabaseUrl, DsnError> {
    let mut url = url::Url::parse(dsn).map_err(|error| DsnError::Url(error.to_string()))?;
    let mut pool = PoolSettings::default();
    let mut kept = Vec::new();
    for (name, value) in url.query_pairs() {
        if POOL_PARAMETERS.contains(&name.as_ref()) {
            read_pool_parameter(&mut pool, &name, &value)?;
        } else {
            kept.push((name.into_owned(), value.into_owned()));
        }
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let cockroach = scheme.starts_with("cockroach");
    // CockroachDB speaks PostgreSQL's protocol; only the scheme differs.
    let connect_url = format!("postgres{}", &url.as_str()[url.scheme().len()..]);
    let mut redacted = url.clone();
    if redacted.password().is_some() {
        let _ = redacted.set_password(Some("xxxxx"));
    }
    Ok(DatabaseUrl {
        dialect: Dialect::Postgres,
        connect_url,
        notifies: !cockroach,
        in_memory: false,
        pragmas: None,
        pool,
        redacted: redacted.to_string(),
    })
}

fn read_pool_parameter(pool: &mut PoolSettings, name: &str, value: &str) -> Result<(), DsnError> {
    let bad = |problem: &str| DsnError::BadValue {
        name: name.to_string(),
        problem: problem.to_string(),
    };
    let count = || {
        value
            .parse::<u32>()
            .map_err(|_| bad("expected a whole number"))
    };
    let duration = || {
        humantime::parse_duration(value)
            .map_err(|_| bad("expected a duration such as 30s, 5m or 1h"))
    };
    match name {
        "max_conns" => {
            let max = count()?;
            if max == 0 {
                return Err(bad("must be at least 1"));
            }
            pool.max_connections = Some(max);
        }
        "max_idle_conns" => pool.min_idle = Some(count()?),
        "max_conn_lifetime" => pool.max_lifetime = Some(duration()?),
        "max_conn_idle_time" | "max_idle_conn_time" => pool.idle_timeout = Some(duration()?),
        _ => {}
    }
    Ok(())
}

/// go-sqlite3's booleans.
fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// sqlx percent-decodes the path of a SQLite URL; keep `%`, `?` and `#` in file names literal.
fn escape_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23")
}

/// A DSN of an unknown scheme may still carry a password: drop what sits before `@`.
fn redact_userinfo(dsn: &str) -> String {
    match (dsn.find("://"), dsn.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            format!("{}://xxxxx@{}", &dsn[..start], &dsn[at + 1..])
        }
        _ => dsn.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(dsn: &str) -> DatabaseUrl {
        DatabaseUrl::parse(dsn).unwrap_or_else(|error| panic!("{dsn}: {error}"))
    }

    #[test]
    fn kratos_sqlite_forms() {
        let file = parse("sqlite:///var/lib/sqlite/db.sqlite?_fk=true");
        assert_eq!(
            file.connect_url,
            "sqlite:///var/lib/sqlite/db.sqlite?mode=rwc"
        );
        assert!(!file.in_memory);
        let file = parse(
            "sqlite://ward.sqlite?_fk=true&mode=rwc&_journal_mode=delete&_busy_timeout=100&_synchronous=FULL",
        );
        assert_eq!(file.connect_url, "sqlite://ward.sqlite?mode=rwc");
        let pragmas = file.pragmas.unwrap_or_default();
        assert!(pragmas.contains("journal_mode = DELETE"), "{pragmas}");
        assert!(pragmas.contains("busy_timeout = 100"), "{pragmas}");
        assert!(pragmas.contains("synchronous = FULL"), "{pragmas}");
        assert!(pragmas.contains("foreign_keys = ON"), "{pragmas}");
    }

    #[test]
    fn memory_forms_share_one_database_per_parse() {
        for dsn in [
            "memory",
            "sqlite://file::memory:?_fk=true&cache=shared",
            "sqlite::memory:",
            "sqlite://file:test?mode=memory&cache=shared",
        ] {
            let parsed = parse(dsn);
            assert!(parsed.in_memory, "{dsn}");
            assert!(
                parsed.connect_url.contains("mode=memory&cache=shared"),
                "{dsn}"
            );
            assert_eq!(parsed.pool.min_idle, Some(1), "{dsn}");
            assert_eq!(parsed.redacted(), "memory");
        }
        assert_ne!(parse("memory").connect_url, parse("memory").connect_url);
    }

    #[test]
    fn unknown_sqlite_parameter_names_itself_and_the_known_ones() {
        let error = DatabaseUrl::parse("sqlite://x.db?_fk=true&_loc=auto").err();
        let Some(DsnError::UnknownParameter { name, known }) = error else {
            panic!("expected an unknown-parameter error, got {error:?}");
        };
        assert_eq!(name, "_loc");
        assert!(
            known.contains("_journal_mode") && known.contains("max_conns"),
            "{known}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for dsn in [
            "sqlite://x.db?_fk=maybe",
            "sqlite://x.db?_fk=false",
            "sqlite://x.db?_journal_mode=fast",
            "sqlite://x.db?_busy_timeout=soon",
            "sqlite://x.db?mode=rx",
            "postgres://u@h/db?max_conns=0",
            "postgres://u@h/db?max_conn_lifetime=forever",
        ] {
            assert!(
                matches!(DatabaseUrl::parse(dsn), Err(DsnError::BadValue { .. })),
                "{dsn}"
            );
        }
    }

    #[test]
    fn postgres_pool_parameters_apply_and_leave_the_url() {
        let parsed = parse(
            "postgres://ward:hunter22@db:5432/ward?sslmode=disable&max_conns=20&max_idle_conns=4&max_conn_lifetime=1h&max_idle_conn_time=30s",
        );
        assert_eq!(
            parsed.pool,
            PoolSettings {
                max_connections: Some(20),
                min_idle: Some(4),
                max_lifetime: Some(Duration::from_secs(3600)),
                idle_timeout: Some(Duration::from_secs(30)),
            }
        );
        assert_eq!(
            parsed.connect_url,
            "postgres://ward:hunter22@db:5432/ward?sslmode=disable"
        );
        assert!(parsed.notifies);
        assert!(
            !parsed.redacted().contains("hunter22"),
            "{}",
            parsed.redacted()
        );
        assert!(!format!("{parsed:?}").contains("hunter22"));
    }

    #[test]
    fn cockroach_connects_as_postgres_without_notifications() {
        let parsed =
            parse("cockroach://root@localhost:26257/defaultdb?sslmode=disable&max_conns=8");
        assert_eq!(parsed.dialect, Dialect::Postgres);
        assert!(!parsed.notifies);
        assert!(
            parsed
                .connect_url
                .starts_with("postgres://root@localhost:26257/")
        );
        assert_eq!(parsed.pool.max_connections, Some(8));
    }

    #[test]
    fn unknown_scheme_hides_the_password() {
        let error = DatabaseUrl::parse("mysql://root:hunter22@db/x").err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.contains("mysql://xxxxx@db/x"), "{message}");
    }
}
