//! `TestApp`: the real server on port 0 with its own database, and a client that keeps no
//! cookies and follows no redirects.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use reqwest::{Method, Response};
use serde_json::Value;
use tokio::sync::watch;
use ward::config::Config;
use ward::http::site::Site;
use ward::serve::{ServeOptions, Server, build_state};
use ward::state::AppState;
use ward::store::{Dialect, SqlStore};

/// Runs an async test body once per dialect: `dialect_tests!(name);` expands to `sqlite::name`
/// and `postgres::name`, each calling `name(TestApp)`.
#[macro_export]
macro_rules! dialect_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::harness::TestApp::spawn(ward::store::Dialect::Sqlite).await;
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::harness::TestApp::spawn_postgres().await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

/// A database of one dialect for one test: a fresh SQLite file, or a fresh PostgreSQL schema.
pub struct TestDatabase {
    pub dsn: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(dialect: Dialect) -> Option<Self> {
        match dialect {
            Dialect::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let dsn = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("ward.sqlite").display()
                );
                Some(Self {
                    dsn,
                    _dir: Some(dir),
                })
            }
            Dialect::Postgres => {
                let Some(base) = postgres_url() else {
                    eprintln!("skipped: WARD_TEST_POSTGRES_URL is not set (make test sets it)");
                    return None;
                };
                // One schema per test keeps tests apart without the cost of CREATE DATABASE.
                let schema = format!("t{}", uuid::Uuid::new_v4().simple());
                let admin = SqlStore::connect(&base).await.unwrap_or_else(|error| {
                    panic!("WARD_TEST_POSTGRES_URL is set but PostgreSQL does not answer: {error}")
                });
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(admin.pool())
                    .await
                    .unwrap();
                admin.close().await;
                let separator = if base.contains('?') { '&' } else { '?' };
                let dsn = format!("{base}{separator}options=-c%20search_path%3D{schema}");
                Some(Self { dsn, _dir: None })
            }
        }
    }
}

fn postgres_url() -> Option<String> {
    std::env::var("WARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// No request or shutdown in a test may take longer: a hang fails with a location instead.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where browsers go after a flow unless `return_to` says otherwise.
pub const RETURN_URL: &str = "http://127.0.0.1:4455/welcome";

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub ui: String,
    pub client: reqwest::Client,
    pub state: AppState,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// Shared with replicas: the SQLite file must outlive every server that opens it.
    _database: Option<Arc<TestDatabase>>,
}

impl TestApp {
    pub async fn spawn(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Sqlite => Self::spawn_with(dialect, &[]).await.unwrap(),
            Dialect::Postgres => Self::spawn_postgres().await.unwrap(),
        }
    }

    pub async fn spawn_postgres() -> Option<Self> {
        Self::spawn_with(Dialect::Postgres, &[]).await
    }

    /// Starts Ward with test defaults, overridden by `env` (Kratos-style variable names).
    pub async fn spawn_with(dialect: Dialect, env: &[(&str, &str)]) -> Option<Self> {
        let database = TestDatabase::new(dialect).await?;
        let schema =
            base64::engine::general_purpose::STANDARD.encode(ward::identity::schema::DEV_SCHEMA);
        let schema_url = format!("base64://{schema}");
        let schemas = format!(r#"[{{"id":"default","url":"{schema_url}"}}]"#);
        let mut vars: Vec<(String, String)> = [
            ("DSN", database.dsn.as_str()),
            ("IDENTITY_SCHEMAS", schemas.as_str()),
            (
                "SELFSERVICE_DEFAULT_BROWSER_RETURN_URL",
                "http://127.0.0.1:4455/welcome",
            ),
            ("SECRETS_DEFAULT", "test-secret-0123456789abcdef"),
            ("SERVE_PUBLIC_HOST", "127.0.0.1"),
            ("SERVE_PUBLIC_PORT", "0"),
            ("SERVE_ADMIN_HOST", "127.0.0.1"),
            ("SERVE_ADMIN_PORT", "0"),
            ("SERVE_UI_HOST", "127.0.0.1"),
            ("SERVE_UI_PORT", "0"),
            // Cheap hashes keep the suite fast; the algorithm is the production one.
            ("HASHERS_ARGON2_MEMORY", "64KB"),
            ("HASHERS_ARGON2_ITERATIONS", "1"),
            ("HASHERS_BCRYPT_COST", "4"),
            ("DEV", "true"),
            // The OpenID Connect provider (on in --dev) only where a test asks for it: its
            // signing keys take a moment to make.
            ("OAUTH2_SERVER_ENABLED", "false"),
        ]
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        for (key, value) in env {
            vars.retain(|(existing, _)| existing != key);
            vars.push((key.to_string(), value.to_string()));
        }
        let config = Config::load_from(&[], &vars, false).unwrap().config;
        Some(Self::start(config, Some(Arc::new(database))).await)
    }

    /// Another Ward on this one's database, as a second replica behind a load balancer.
    pub async fn replica(&self) -> Self {
        Self::start((*self.state.config).clone(), self._database.clone()).await
    }

    /// Stops this Ward and starts it again on the same database, as an operator's restart.
    pub async fn restart(self) -> Self {
        let config = (*self.state.config).clone();
        let database = self._database.clone();
        self.stop().await;
        Self::start(config, database).await
    }

    async fn start(config: Config, database: Option<Arc<TestDatabase>>) -> Self {
        let state = build_state(config).await.unwrap();
        let server = Server::bind(
            state,
            ServeOptions {
                site: Site::Directory { root: site_root() },
            },
        )
        .await
        .unwrap();
        let (public, admin, ui) = server.addresses().unwrap();
        let state = server.state().clone();
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(server.run(stopped));
        Self {
            public: format!("http://{public}"),
            admin: format!("http://{admin}"),
            ui: format!("http://{ui}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap(),
            state,
            stop,
            server,
            _database: database,
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(REQUEST_TIMEOUT, self.server)
            .await
            .expect("the server did not stop within 30 s")
            .unwrap()
            .unwrap();
    }

    pub async fn admin_request(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.admin));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Signs an identity in directly through the store (the flows that do it come later);
    /// returns the session token.
    pub async fn sign_in(&self, identity_id: &str, lifespan: time::Duration) -> String {
        let token = ward::session::SessionToken::generate();
        let now = self.state.clock.now();
        let session = ward::session::Session::new(
            identity_id.parse().unwrap(),
            &token,
            "password",
            now,
            lifespan,
        );
        self.state.sessions.create_session(&session).await.unwrap();
        token.expose().to_string()
    }

    /// A client whose requests come from `ip` (any address of 127/8 reaches the loopback
    /// listeners), as a client on another network would.
    pub fn client_from(&self, ip: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap()
    }

    /// A client that keeps cookies and asks for HTML, like a browser without JavaScript.
    pub fn browser(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("text/html"),
        );
        reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap()
    }

    pub async fn create_identity(&self, body: Value) -> Value {
        let response = self
            .admin_request(Method::POST, "/admin/identities", Some(body))
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }
}

fn site_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/site")
}

/// The JSON body of a response after asserting its status.
pub async fn json_with_status(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}
