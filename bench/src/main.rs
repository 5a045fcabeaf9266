//! `ward-bench`: what the benchmark harness (`scripts/bench.sh`) needs besides Ward and wrk.
//!
//! - `baseline`: a bare axum handler returning a small JSON body, on the same listener setup as
//!   Ward, so every figure can be a ratio against it measured in the same run.
//! - `seed`: identities with sessions, written straight through Ward's store.
//! - `hash-rate`: raw argon2id hashes per second with Ward's parameters and worker count.
//! - `flows`: completed API-flow logins or registrations per second. wrk cannot chain the two
//!   requests a flow needs (create, then submit with the returned id), so this small driver
//!   does, with a fixed number of concurrent clients for a fixed time.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve `{"status":"ok"}` on 127.0.0.1:PORT until killed.
    Baseline {
        #[arg(long)]
        port: u16,
    },
    /// Create N identities (password "correct horse battery staple") with one session each;
    /// write the session tokens, one per line, to OUT.
    Seed {
        #[arg(long)]
        dsn: String,
        #[arg(long)]
        identities: usize,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Raw argon2id hashes per second (19 MiB, t=2, p=1, as Ward) on THREADS threads.
    HashRate {
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        seconds: u64,
    },
    /// Completed API-flow logins or registrations per second against PUBLIC.
    Flows {
        #[arg(long)]
        public: String,
        #[arg(long, value_parser = ["login", "registration"])]
        kind: String,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        seconds: u64,
        /// How many seeded identities exist to sign in as (user0..userN-1@bench.example).
        #[arg(long, default_value_t = 1)]
        identities: usize,
    },
}

const PASSWORD: &str = "correct horse battery staple";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Baseline { port } => baseline(port).await,
            Command::Seed {
                dsn,
                identities,
                out,
            } => seed(&dsn, identities, &out).await,
            Command::HashRate { threads, seconds } => hash_rate(threads, seconds),
            Command::Flows {
                public,
                kind,
                concurrency,
                seconds,
                identities,
            } => flows(&public, &kind, concurrency, seconds, identities).await,
        }
    })
}

async fn baseline(port: u16) -> anyhow::Result<()> {
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { axum::Json(json!({"status": "ok"})) }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, router).await?;
    Ok(())
}

async fn seed(dsn: &str, identities: usize, out: &std::path::Path) -> anyhow::Result<()> {
    use ward::identity::{
        CredentialType, Identity, IdentitySchema, apply_schema, credential_entry,
        schema::DEV_SCHEMA,
    };
    use ward::session::{Session, SessionToken};
    use ward::store::{IdentityStore, SessionStore, SqlStore};

    let store = SqlStore::connect(dsn).await?;
    store.migrate().await?;
    let schema = IdentitySchema::compile("default", serde_json::from_str(DEV_SCHEMA)?)?;
    // One hash for every seeded identity: seeding measures nothing, so it need not be slow.
    let hasher = ward::hash::Hasher::new(ward::config::Hashers::default(), 2, 2);
    let hash = hasher
        .hash(ward::hash::Password::new(PASSWORD.into()))
        .await?;
    let clock = ward::clock::Clock::default();
    let mut tokens = std::io::BufWriter::new(std::fs::File::create(out)?);
    for index in 0..identities {
        let now = clock.now();
        let mut identity = Identity::new(
            "default".into(),
            json!({"email": format!("user{index}@bench.example")}),
            now,
        );
        credential_entry(&mut identity, CredentialType::Password, now).config =
            json!({"hashed_password": hash});
        apply_schema(&mut identity, &schema, now)
            .map_err(|violations| anyhow::anyhow!("{violations:?}"))?;
        store.create_identity(&identity).await?;
        let token = SessionToken::generate();
        let session = Session::new(
            identity.id,
            &token,
            "password",
            now,
            time::Duration::days(7),
        );
        store.create_session(&session).await?;
        writeln!(tokens, "{}", token.expose())?;
    }
    tokens.flush()?;
    store.close().await;
    Ok(())
}

fn hash_rate(threads: usize, seconds: u64) -> anyhow::Result<()> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(19 * 1024, 2, 1, Some(32))
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let done = done.clone();
            let params = params.clone();
            std::thread::spawn(move || {
                let argon = argon2::Argon2::new(
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    params,
                );
                let salt = SaltString::encode_b64(b"benchmark-salt16")
                    .map_err(|error| anyhow::anyhow!("{error}"))?;
                while Instant::now() < deadline {
                    argon
                        .hash_password(PASSWORD.as_bytes(), &salt)
                        .map_err(|error| anyhow::anyhow!("{error}"))?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("a hashing thread failed"))??;
    }
    println!(
        "{:.2}",
        done.load(Ordering::Relaxed) as f64 / seconds as f64
    );
    Ok(())
}

async fn flows(
    public: &str,
    kind: &str,
    concurrency: usize,
    seconds: u64,
    identities: usize,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let completed = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, public, kind) = (client.clone(), public.to_string(), kind.to_string());
        let (completed, refused, counter) = (completed.clone(), refused.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = if kind == "login" {
                    let email = format!("user{}@bench.example", n as usize % identities.max(1));
                    json!({"method": "password", "identifier": email, "password": PASSWORD})
                } else {
                    json!({"method": "password", "traits": {"email": format!("new{n}-{}@bench.example", uuid::Uuid::new_v4())}, "password": PASSWORD})
                };
                match run_flow(&client, &public, &kind, &body).await {
                    Ok(true) => completed.fetch_add(1, Ordering::Relaxed),
                    _ => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for task in tasks {
        task.await.context("a flow driver task failed")?;
    }
    println!(
        "{:.2} {}",
        completed.load(Ordering::Relaxed) as f64 / seconds as f64,
        refused.load(Ordering::Relaxed)
    );
    Ok(())
}

/// One flow: create it, submit it; true when the submission succeeded.
async fn run_flow(
    client: &reqwest::Client,
    public: &str,
    kind: &str,
    body: &Value,
) -> anyhow::Result<bool> {
    let flow: Value = client
        .get(format!("{public}/self-service/{kind}/api"))
        .send()
        .await?
        .json()
        .await?;
    let action = flow["ui"]["action"]
        .as_str()
        .context("flow without action")?;
    let response = client.post(action).json(body).send().await?;
    Ok(response.status().is_success())
}
