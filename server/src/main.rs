//! The `ward` command line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio::sync::watch;

use ward::config::{Config, LogFormat};
use ward::serve::{ServeOptions, Server, build_state};
use ward::store::SqlStore;

#[derive(Parser)]
#[command(
    name = "ward",
    version,
    about = "Ward: a self-hosted identity server with Kratos-compatible APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the public (4433), admin (4434) and UI (4455) listeners in one process.
    Serve(ServeArgs),
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// The courier that delivers queued e-mail.
    Courier {
        #[command(subcommand)]
        command: CourierCommand,
    },
    /// Password hasher tools.
    Hashers {
        #[command(subcommand)]
        command: HashersCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum HashersCommand {
    /// argon2id tools.
    Argon2 {
        #[command(subcommand)]
        command: Argon2Command,
    },
    /// Lists of breached passwords.
    Breached {
        #[command(subcommand)]
        command: BreachedCommand,
    },
}

#[derive(Subcommand)]
enum BreachedCommand {
    /// Build a list for `selfservice.methods.password.config.breached_list_file` from a file of
    /// passwords, one per line (lines that are a SHA-1 in hex, as in HIBP's downloads with or
    /// without `:count`, are taken as that password's digest).
    Build {
        /// The newline-separated passwords; `-` reads standard input.
        input: PathBuf,
        /// Where to write the list.
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum Argon2Command {
    /// Find argon2id parameters that take about DURATION per hash on this machine, and print
    /// them as `hashers.argon2` config. Memory and parallelism stay as given; iterations grow
    /// to the target. Run it on the machine (or machine type) that will serve sign-ins.
    Calibrate(CalibrateArgs),
}

#[derive(Args)]
struct CalibrateArgs {
    /// Target time of one hash, e.g. 500ms or 1s.
    #[arg(default_value = "500ms")]
    duration: String,
    /// Memory per hash, e.g. 19MB or 64MB (units of 1024). With `--workers` concurrent
    /// sign-ins, Ward needs about workers × memory for hashing.
    #[arg(long, default_value = "19MB")]
    memory: String,
    /// Lanes per hash. Ward runs one hash per core, so 1 uses the cores best under load.
    #[arg(long, default_value_t = 1)]
    parallelism: u32,
    /// Hashes timed per candidate; the median counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

#[derive(Subcommand)]
enum CourierCommand {
    /// Deliver queued messages until stopped, without serving HTTP. Run it beside `ward serve`
    /// processes (any number of them: replicas on one PostgreSQL never send a message twice at
    /// the same time).
    Watch(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Config file (YAML, Kratos key names). Repeat to layer several; later files win.
    /// Environment variables (DSN, SERVE_PUBLIC_PORT, ...) override every file.
    #[arg(short = 'c', long = "config")]
    config: Vec<PathBuf>,
    /// Development mode: SQLite file ward.sqlite in the working directory (created and
    /// migrated at start), the built-in identity schema, generated secrets kept in
    /// ward.secrets, listeners on 127.0.0.1 and cookies allowed over plain http.
    #[arg(long)]
    dev: bool,
}

#[derive(Subcommand)]
enum MigrateCommand {
    /// Apply the SQL migrations to the database.
    Sql(MigrateSqlArgs),
}

#[derive(Args)]
struct MigrateSqlArgs {
    /// Database to migrate, e.g. postgres://user@host/db or sqlite://ward.sqlite?mode=rwc.
    /// Omit it with -e to read DSN from the environment or the config files.
    dsn: Option<String>,
    /// Read the DSN from the environment variable DSN (or the config files given with -c).
    #[arg(short = 'e', long = "read-from-env")]
    read_from_env: bool,
    /// Apply without asking for confirmation.
    #[arg(long)]
    yes: bool,
    /// Config file to read `dsn` from (with -e).
    #[arg(short = 'c', long = "config")]
    config: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// glibc serves blocks of 128 KiB and more with their own mappings, but raises that threshold
/// each time such a block is freed, up to 32 MiB, and then keeps freed memory in its heaps.
/// Argon2's 19 MiB buffers would then stay resident after every burst of sign-ins. A fixed
/// threshold keeps large blocks mapped on their own, so freeing one unmaps it.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tunable; it takes the allocator's own locks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!("ward {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Serve(args) => serve(args).await,
        Command::Hashers {
            command:
                HashersCommand::Argon2 {
                    command: Argon2Command::Calibrate(args),
                },
        } => calibrate(args),
        Command::Hashers {
            command:
                HashersCommand::Breached {
                    command: BreachedCommand::Build { input, output },
                },
        } => build_breached_list(&input, &output),
        Command::Courier {
            command: CourierCommand::Watch(args),
        } => courier_watch(args).await,
        Command::Migrate {
            command: MigrateCommand::Sql(args),
        } => migrate(args).await,
    }
}

fn build_breached_list(input: &Path, output: &Path) -> anyhow::Result<()> {
    use ward::strategy::password::breach::build;
    let (bytes, count) = if input == Path::new("-") {
        build(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(input)
            .with_context(|| format!("cannot read {}", input.display()))?;
        build(std::io::BufReader::new(file))
    }
    .with_context(|| format!("cannot read {}", input.display()))?;
    std::fs::write(output, bytes).with_context(|| format!("cannot write {}", output.display()))?;
    println!("{count} distinct passwords written to {}", output.display());
    Ok(())
}

fn calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    use ward::hash::calibrate::{measure_argon2, search};
    let target = humantime::parse_duration(&args.duration)
        .with_context(|| format!("{:?} is not a duration such as 500ms or 1s", args.duration))?;
    let memory = ward::config::parse_byte_size(&args.memory)
        .with_context(|| format!("{:?} is not a size such as 19MB or 64MB", args.memory))?;
    let memory_kib = u32::try_from(memory / 1024).context("--memory is too large")?;
    if args.parallelism == 0 {
        anyhow::bail!("--parallelism must be at least 1");
    }
    let found = search(
        target,
        memory_kib,
        args.parallelism,
        |memory_kib, iterations| {
            measure_argon2(memory_kib, iterations, args.parallelism, args.runs)
        },
    );
    println!(
        "# One argon2id hash takes {:?} (median of {} runs) on this machine.",
        found.duration, args.runs
    );
    println!("hashers:");
    println!("  algorithm: argon2");
    println!("  argon2:");
    println!("    memory: {}KB", found.memory_kib);
    println!("    iterations: {}", found.iterations);
    println!("    parallelism: {}", found.parallelism);
    Ok(())
}

async fn courier_watch(args: ServeArgs) -> anyhow::Result<()> {
    let loaded = Config::load(&args.config, args.dev)?;
    init_tracing(&loaded.config);
    let state = build_state(loaded.config).await?;
    let delivery = ward::courier::Delivery::from_config(&state.config)
        .await?
        .context(
            "courier.smtp.connection_uri is not set: there is nothing to deliver messages to",
        )?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    tracing::info!("the courier is delivering queued messages");
    ward::courier::worker::Worker::new(state.clone(), delivery)
        .run(stopped)
        .await;
    state.database.close().await;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let loaded = Config::load(&args.config, args.dev)?;
    init_tracing(&loaded.config);
    for key in &loaded.unknown_keys {
        tracing::warn!(key = %key, "config key is not supported by Ward and is ignored");
    }
    if loaded
        .config
        .selfservice
        .methods
        .password
        .config
        .haveibeenpwned_enabled
    {
        tracing::warn!(
            "selfservice.methods.password.config.haveibeenpwned_enabled is set, but Ward makes no \
             outbound calls and does not check passwords against breach databases"
        );
    }
    if loaded.config.dev {
        tracing::warn!("running in development mode: never use --dev in production");
    }
    let state = build_state(loaded.config).await?;
    let server = Server::bind(
        state,
        ServeOptions {
            site: ward::http::site::Site::from_env(),
        },
    )
    .await?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    server.run(stopped).await
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn migrate(args: MigrateSqlArgs) -> anyhow::Result<()> {
    let dsn = match (args.dsn, args.read_from_env) {
        (Some(dsn), false) => dsn,
        (None, true) => {
            let loaded = Config::load(&args.config, false);
            match loaded {
                Ok(loaded) => loaded.config.dsn().to_string(),
                Err(_) => std::env::var("DSN").context("-e was given but DSN is not set")?,
            }
        }
        (Some(_), true) => anyhow::bail!("give either a DSN argument or -e, not both"),
        (None, false) => anyhow::bail!("give the DSN as an argument, or -e to read it from DSN"),
    };
    let database = ward::store::DatabaseUrl::parse(&dsn)?;
    if database.in_memory {
        println!(
            "The dsn names an in-memory database: these migrations last only as long as this command."
        );
    }
    let store = SqlStore::connect_to(&database)
        .await
        .with_context(|| format!("could not connect to {}", database.redacted()))?;
    let pending = store.pending_migrations().await?;
    if pending.is_empty() {
        println!("The database is up to date.");
        return Ok(());
    }
    println!("Migrations to apply:");
    for (version, description) in &pending {
        println!("  {version:04} {description}");
    }
    if !args.yes && !confirm()? {
        println!("Nothing was applied.");
        return Ok(());
    }
    let applied = store.migrate().await?;
    println!("Applied {} migration(s).", applied.len());
    store.close().await;
    Ok(())
}

fn confirm() -> anyhow::Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!("refusing to migrate without confirmation: pass --yes");
    }
    print!("Apply these migrations? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
