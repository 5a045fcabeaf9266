//! `ward-bench`: what the benchmark harness (`scripts/bench.sh`) needs besides Ward and wrk.
//!
//! - `baseline`: a bare axum handler returning a small JSON body, on the same listener setup as
//!   Ward, so every figure can be a ratio against it measured in the same run.
//! - `seed`: identities with sessions, written straight through Ward's store.
//! - `hash-rate`: raw argon2id hashes per second with Ward's parameters and worker count.
//! - `flows`: completed API-flow logins or registrations per second. wrk cannot chain the two
//!   requests a flow needs (create, then submit with the returned id), so this small driver
//!   does, with a fixed number of concurrent clients for a fixed time.
//! - `throttle`: the brute-force counter's statement (what a failed sign-in adds) in µs,
//!   against a `SELECT 1` round trip on the same pool.
//! - `oauth2-seed`: refresh tokens of an OAuth2 client, written through Ward's store.
//! - `oauth2-statements`: the SQL statements of one authorization code + PKCE flow of a
//!   signed-in user (authorization request, then code exchange), counted from sqlx's query log
//!   in a Ward run inside this process.
//! - `courier`: sign-in codes' way to an SMTP server while older mail is queued, and mails/s
//!   against lettre alone (see `courier.rs`).
//! - `refresh`: completed refresh-token grants per second against any OAuth2 token endpoint.
//!   Each token works once, so every client chains its own: refresh, then refresh with the
//!   new token, which wrk cannot do.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

mod courier;
mod oauth2;

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
    /// Microseconds per brute-force count of a sign-in (one upsert of three counters), on new
    /// counters and on existing ones, and per `SELECT 1` on the same pool: "ping insert update".
    Throttle {
        #[arg(long)]
        dsn: String,
        #[arg(long, default_value_t = 2000)]
        count: usize,
    },
    /// Grants for CLIENT (scope `offline_access`) with one refresh token each; writes the
    /// tokens, one per line, to OUT.
    Oauth2Seed {
        #[arg(long)]
        dsn: String,
        #[arg(long)]
        client: String,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Statements of one code + PKCE flow (sign-in already done) in a Ward on a fresh SQLite
    /// file in this process; prints "authorize token".
    Oauth2Statements,
    /// With QUEUED mails nobody waits for in the queue of a Ward on DSN (in this process), the
    /// time from asking for each of CODES sign-in codes to a capturing SMTP server accepting it,
    /// and mails/s; prints "p50_ms p95_ms ward_mails_per_s lettre_mails_per_s".
    Courier {
        #[arg(long)]
        dsn: String,
        #[arg(long, default_value_t = 1000)]
        queued: usize,
        #[arg(long, default_value_t = 50)]
        codes: usize,
    },
    /// Completed refresh grants per second at TOKEN_URL for CONCURRENCY clients, each starting
    /// from its own token of TOKENS and chaining the rotated ones; prints "rate failed".
    Refresh {
        #[arg(long)]
        token_url: String,
        #[arg(long)]
        client: String,
        #[arg(long)]
        secret: String,
        #[arg(long)]
        tokens: std::path::PathBuf,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        seconds: u64,
    },
    /// Starts RATE API-flow logins per second for SECONDS whether or not earlier ones have
    /// finished, while probing whoami with the session tokens in TOKENS. Prints completed
    /// logins, refusals with and without `Retry-After`, other failures, the most logins in
    /// flight at once, and the probe's whoami p50 and p99 in ms.
    Flood {
        #[arg(long)]
        public: String,
        #[arg(long)]
        rate: f64,
        #[arg(long)]
        seconds: u64,
        #[arg(long)]
        identities: usize,
        #[arg(long)]
        tokens: std::path::PathBuf,
    },
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

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
            Command::Throttle { dsn, count } => throttle(&dsn, count).await,
            Command::Flows {
                public,
                kind,
                concurrency,
                seconds,
                identities,
            } => flows(&public, &kind, concurrency, seconds, identities).await,
            Command::Oauth2Seed {
                dsn,
                client,
                count,
                out,
            } => oauth2::seed(&dsn, &client, count, &out).await,
            Command::Oauth2Statements => oauth2::statements().await,
            Command::Courier { dsn, queued, codes } => courier::run(&dsn, queued, codes).await,
            Command::Refresh {
                token_url,
                client,
                secret,
                tokens,
                concurrency,
                seconds,
            } => oauth2::refresh(&token_url, &client, &secret, &tokens, concurrency, seconds).await,
            Command::Flood {
                public,
                rate,
                seconds,
                identities,
                tokens,
            } => flood(&public, rate, seconds, identities, &tokens).await,
        }
    })
}

/// A Ward inside this process, in `--dev` mode, on loopback ports of its own.
pub(crate) struct InProcessWard {
    pub public: String,
    pub admin: String,
    dir: std::path::PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcessWard {
    /// Starts one with `vars` (Kratos-style names) besides a secret and port-0 listeners.
    pub(crate) async fn start(name: &str, vars: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("ward-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let defaults = [
            ("SECRETS_DEFAULT", "benchmark-secret-0123456789"),
            ("SERVE_PUBLIC_PORT", "0"),
            ("SERVE_ADMIN_PORT", "0"),
            ("SERVE_UI_PORT", "0"),
        ];
        let vars: Vec<(String, String)> = defaults
            .iter()
            .chain(vars)
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let config = ward::config::Config::load_from(&[], &vars, true)?.config;
        let state = ward::serve::build_state(config).await?;
        let server = ward::serve::Server::bind(
            state,
            ward::serve::ServeOptions {
                site: ward::http::site::Site::Directory { root: dir.clone() },
            },
        )
        .await?;
        let (public, admin, _) = server.addresses()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(server.run(stopped));
        Ok(Self {
            public: format!("http://{public}"),
            admin: format!("http://{admin}"),
            dir,
            stop,
            running,
        })
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.running.await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

async fn throttle(dsn: &str, count: usize) -> anyhow::Result<()> {
    use ward::store::{SqlStore, ThrottleKey, ThrottleStore};
    let store = SqlStore::connect(dsn).await?;
    store.migrate().await?;
    let now = ward::clock::Clock::default().now();
    let window = Duration::from_secs(900);
    // A failed sign-in counts its network, its identifier from that network, and its identifier.
    let hits = |subject: &str| -> Vec<(ThrottleKey, Duration)> {
        let key = |scope, subject: String, origin: &str| ThrottleKey {
            scope,
            subject,
            origin: origin.to_string(),
        };
        vec![
            (key("ip", "bench-network".into(), ""), window),
            (
                key("password", subject.to_string(), "bench-network"),
                window,
            ),
            (key("identifier", subject.to_string(), ""), window),
        ]
    };
    let per_call = |started: Instant| started.elapsed().as_secs_f64() * 1e6 / count as f64;
    let started = Instant::now();
    for _ in 0..count {
        store.ping().await?;
    }
    let ping = per_call(started);
    let started = Instant::now();
    for index in 0..count {
        store.hit(&hits(&format!("new-{index}")), now).await?;
    }
    let insert = per_call(started);
    let started = Instant::now();
    for index in 0..count {
        store.hit(&hits(&format!("new-{index}")), now).await?;
    }
    let update = per_call(started);
    println!("{ping:.0} {insert:.0} {update:.0}");
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
                    Ok(Outcome::Completed) => completed.fetch_add(1, Ordering::Relaxed),
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

enum Outcome {
    Completed,
    /// 429 or 503; whether `Retry-After` came with it.
    Refused {
        retry_after: bool,
    },
    Failed,
}

/// One flow: create it, submit it.
async fn run_flow(
    client: &reqwest::Client,
    public: &str,
    kind: &str,
    body: &Value,
) -> anyhow::Result<Outcome> {
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
    let status = response.status();
    Ok(if status.is_success() {
        Outcome::Completed
    } else if status.as_u16() == 429 || status.as_u16() == 503 {
        Outcome::Refused {
            retry_after: response.headers().contains_key("retry-after"),
        }
    } else {
        Outcome::Failed
    })
}

async fn flood(
    public: &str,
    rate: f64,
    seconds: u64,
    identities: usize,
    tokens: &std::path::Path,
) -> anyhow::Result<()> {
    let tokens: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(tokens)?
            .lines()
            .map(str::to_string)
            .collect(),
    );
    anyhow::ensure!(!tokens.is_empty(), "no session tokens to probe whoami with");
    anyhow::ensure!(rate > 0.0, "--rate must be positive");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(seconds);

    // The whoami probe: two clients, one request every 5 ms each, timed one by one.
    let probes: Vec<_> = (0..2u64)
        .map(|seed| {
            let (client, public, tokens) = (client.clone(), public.to_string(), tokens.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut next = seed as usize;
                while Instant::now() < deadline {
                    next = (next * 7919 + 104_729) % tokens.len();
                    let started = Instant::now();
                    let answer = client
                        .get(format!("{public}/sessions/whoami"))
                        .header("X-Session-Token", &tokens[next])
                        .send()
                        .await;
                    if matches!(answer, Ok(ref response) if response.status().is_success()) {
                        latencies.push(started.elapsed());
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                latencies
            })
        })
        .collect();

    let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let in_flight = Arc::new(AtomicU64::new(0));
    let most_in_flight = Arc::new(AtomicU64::new(0));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut started = 0usize;
    let mut logins = Vec::new();
    while Instant::now() < deadline {
        ticker.tick().await;
        let body = json!({"method": "password", "password": PASSWORD,
            "identifier": format!("user{}@bench.example", started % identities.max(1))});
        started += 1;
        let (client, public) = (client.clone(), public.to_string());
        let (counts, in_flight, most) = (counts.clone(), in_flight.clone(), most_in_flight.clone());
        logins.push(tokio::spawn(async move {
            most.fetch_max(
                in_flight.fetch_add(1, Ordering::Relaxed) + 1,
                Ordering::Relaxed,
            );
            let slot = match run_flow(&client, &public, "login", &body).await {
                Ok(Outcome::Completed) => 0,
                Ok(Outcome::Refused { retry_after: true }) => 1,
                Ok(Outcome::Refused { retry_after: false }) => 2,
                Ok(Outcome::Failed) | Err(_) => 3,
            };
            counts[slot].fetch_add(1, Ordering::Relaxed);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        }));
    }
    for login in logins {
        login.await.context("a login task failed")?;
    }
    let mut latencies = Vec::new();
    for probe in probes {
        latencies.extend(probe.await.context("a whoami probe failed")?);
    }
    latencies.sort();
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .map_or(f64::NAN, |latency| latency.as_secs_f64() * 1000.0)
    };
    let [completed, refused, refused_bare, failed] =
        [0, 1, 2, 3].map(|slot| counts[slot].load(Ordering::Relaxed));
    println!(
        "{completed} {refused} {refused_bare} {failed} {} {:.2} {:.2}",
        most_in_flight.load(Ordering::Relaxed),
        quantile(0.5),
        quantile(0.99)
    );
    Ok(())
}
