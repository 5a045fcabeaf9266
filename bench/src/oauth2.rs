//! The OpenID Connect provider's benchmark helpers: refresh tokens seeded through Ward's store,
//! chained refresh grants against any token endpoint, and the statement count of one code flow.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::PASSWORD;

pub async fn seed(
    dsn: &str,
    client: &str,
    count: usize,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    use ward::oauth2::grant::{random_token, stored};
    use ward::store::{Grant, OAuth2Store, SqlStore, TokenKind};

    let store = SqlStore::connect(dsn).await?;
    let now = ward::clock::Clock::default().now();
    let mut tokens = std::io::BufWriter::new(std::fs::File::create(out)?);
    for _ in 0..count {
        let grant = Grant {
            id: uuid::Uuid::new_v4(),
            client_id: client.to_string(),
            subject: uuid::Uuid::new_v4().to_string(),
            session_id: None,
            scope: "offline_access".into(),
            details: json!({}),
            created_at: now,
            revoked_at: None,
        };
        let token = random_token("ory_rt_");
        let refresh = stored(
            &token,
            &grant,
            TokenKind::Refresh,
            now,
            Duration::from_secs(720 * 3600),
        );
        store.create_grant(&grant, &[refresh]).await?;
        writeln!(tokens, "{token}")?;
    }
    tokens.flush()?;
    store.close().await;
    Ok(())
}

/// Counts sqlx's statement events (target `sqlx::query`).
struct StatementCounter(Arc<AtomicU64>);

/// The SQL text of sqlx's query log event.
struct Statement(String);

impl tracing::field::Visit for Statement {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "db.statement" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut statement = Statement(String::new());
        event.record(&mut statement);
        // The courier sending the sign-up's verification mail runs beside the flow, and a
        // connection the pool opens meanwhile sets its pragmas: neither is the flow's.
        let setup = statement
            .0
            .trim_start_matches(['"', ' ', '\\', 'n'])
            .starts_with("PRAGMA");
        if !statement.0.contains("courier_") && !setup {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub async fn statements() -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;

    let count = Arc::new(AtomicU64::new(0));
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(StatementCounter(count.clone())),
    )?;
    let data = std::env::temp_dir().join(format!("ward-statements-db-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;
    let dsn = format!("sqlite://{}?mode=rwc", data.join("ward.sqlite").display());
    let ward = crate::InProcessWard::start(
        "statements",
        &[
            ("DSN", dsn.as_str()),
            ("HASHERS_ARGON2_MEMORY", "64KB"),
            ("HASHERS_ARGON2_ITERATIONS", "1"),
        ],
    )
    .await?;
    let (public, admin) = (ward.public.clone(), ward.admin.clone());

    let redirect = "http://127.0.0.1/callback";
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    plain
        .post(format!("{admin}/admin/clients"))
        .json(&json!({"client_id": "app", "client_secret": "app-secret-0123456789abcdef0123456789",
            "redirect_uris": [redirect], "scope": "openid email offline_access", "skip_consent": true,
            "grant_types": ["authorization_code", "refresh_token"]}))
        .send()
        .await?
        .error_for_status()?;
    // Sign up in a browser-like client, which keeps the session cookie.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let started = browser
        .get(format!("{public}/self-service/registration/browser"))
        .header("accept", "text/html")
        .send()
        .await?;
    let location = started.headers()["location"].to_str()?.to_string();
    let id = location
        .rsplit("flow=")
        .next()
        .unwrap_or_default()
        .to_string();
    let flow: Value = browser
        .get(format!("{public}/self-service/registration/flows?id={id}"))
        .send()
        .await?
        .json()
        .await?;
    let csrf = flow["ui"]["nodes"]
        .as_array()
        .and_then(|nodes| {
            nodes
                .iter()
                .find(|node| node["attributes"]["name"] == "csrf_token")
        })
        .and_then(|node| node["attributes"]["value"].as_str())
        .unwrap_or_default()
        .to_string();
    browser
        .post(flow["ui"]["action"].as_str().unwrap_or_default())
        .header("accept", "text/html")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("traits.email", "statements@bench.example"),
            ("password", PASSWORD),
            ("method", "password"),
        ])
        .send()
        .await?;

    // The flow: the authorization request comes straight back with a code (skip_consent)...
    let verifier = "a-code-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = {
        use sha2::Digest;
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sha2::Sha256::digest(verifier.as_bytes()),
        )
    };
    count.store(0, Ordering::Relaxed);
    let authorized = browser
        .get(format!("{public}/oauth2/auth"))
        .query(&[
            ("client_id", "app"),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", "openid email offline_access"),
            ("state", "bench-state"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await?;
    let authorize_statements = count.swap(0, Ordering::Relaxed);
    let callback = url::Url::parse(authorized.headers()["location"].to_str()?)?;
    let code = callback
        .query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, code)| code.to_string())
        .ok_or_else(|| anyhow::anyhow!("no code in {callback}"))?;
    // ... and the code becomes tokens.
    let tokens = plain
        .post(format!("{public}/oauth2/token"))
        .basic_auth("app", Some("app-secret-0123456789abcdef0123456789"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await?
        .error_for_status()?;
    anyhow::ensure!(
        tokens.json::<Value>().await?["id_token"].is_string(),
        "no id_token"
    );
    let token_statements = count.load(Ordering::Relaxed);
    println!("{authorize_statements} {token_statements}");
    ward.stop().await;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

pub async fn refresh(
    token_url: &str,
    client: &str,
    secret: &str,
    tokens: &std::path::Path,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let tokens: Vec<String> = std::fs::read_to_string(tokens)?
        .lines()
        .map(str::to_string)
        .collect();
    anyhow::ensure!(
        tokens.len() >= concurrency,
        "{concurrency} clients need as many refresh tokens"
    );
    let http = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for mut token in tokens.into_iter().take(concurrency) {
        let (http, done, failed) = (http.clone(), done.clone(), failed.clone());
        let (url, client, secret) = (
            token_url.to_string(),
            client.to_string(),
            secret.to_string(),
        );
        workers.push(tokio::spawn(async move {
            while Instant::now() < until {
                let answer = http
                    .post(&url)
                    .basic_auth(&client, Some(&secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ])
                    .send()
                    .await;
                let next = match answer {
                    Ok(response) if response.status().is_success() => response
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|body| body["refresh_token"].as_str().map(str::to_string)),
                    _ => None,
                };
                match next {
                    Some(next) => {
                        token = next;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    // A client whose chain broke stops: its token is spent.
                    None => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / seconds as f64;
    println!("{rate:.1} {}", failed.load(Ordering::Relaxed));
    Ok(())
}
