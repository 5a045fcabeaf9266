//! The `ward` binary: migrate, refusing to start misconfigured, argon2 calibration, version.

use std::process::Command;

fn ward() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ward"));
    // The tests' own environment must not configure the binary.
    for (key, _) in std::env::vars() {
        if key == "DSN"
            || key.starts_with("SERVE_")
            || key.starts_with("SECRETS_")
            || key.starts_with("IDENTITY_")
        {
            command.env_remove(key);
        }
    }
    command
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn version_prints_the_package_version() {
    let (ok, text) = run(ward().arg("version"));
    assert!(ok, "{text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
}

#[test]
fn help_explains_the_flags() {
    let (ok, text) = run(ward().args(["serve", "--help"]));
    assert!(ok, "{text}");
    assert!(
        text.contains("--dev") && text.contains("--config"),
        "{text}"
    );
    let (ok, text) = run(ward().args(["migrate", "sql", "--help"]));
    assert!(ok, "{text}");
    assert!(
        text.contains("--read-from-env") && text.contains("--yes"),
        "{text}"
    );
}

#[test]
fn migrate_then_serve_refuses_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let dsn = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("ward.sqlite").display()
    );

    // Without --yes and without a terminal, nothing is applied.
    let (ok, text) = run(ward()
        .args(["migrate", "sql", &dsn])
        .stdin(std::process::Stdio::null()));
    assert!(!ok, "{text}");
    assert!(text.contains("--yes"), "{text}");

    let (ok, text) = run(ward().args(["migrate", "sql", "--yes", &dsn]));
    assert!(ok, "{text}");
    assert!(text.contains("Applied 8 migration(s)"), "{text}");
    let (ok, text) = run(ward()
        .args(["migrate", "sql", "-e", "--yes"])
        .env("DSN", &dsn));
    assert!(ok, "{text}");
    assert!(text.contains("up to date"), "{text}");

    // A schema that does not compile stops Ward before it listens.
    let schema = dir.path().join("broken.schema.json");
    std::fs::write(&schema, r#"{"type": 12}"#).unwrap();
    let config = dir.path().join("ward.yml");
    std::fs::write(
        &config,
        format!(
            "dsn: {dsn}\nidentity:\n  schemas:\n    - id: default\n      url: file://{}\nselfservice:\n  default_browser_return_url: http://127.0.0.1/\n",
            schema.display()
        ),
    )
    .unwrap();
    let (ok, text) = run(ward().args(["serve", "-c"]).arg(&config));
    assert!(!ok, "{text}");
    assert!(
        text.contains("identity schema `default`") && text.contains("compile"),
        "{text}"
    );

    // A value of the wrong type names its key.
    let (ok, text) = run(ward()
        .args(["serve", "-c"])
        .arg(&config)
        .env("SERVE_ADMIN_PORT", "many"));
    assert!(!ok, "{text}");
    assert!(text.contains("serve.admin.port"), "{text}");

    // A default schema id that names no schema.
    std::fs::write(&schema, ward::identity::schema::DEV_SCHEMA).unwrap();
    let (ok, text) = run(ward()
        .args(["serve", "-c"])
        .arg(&config)
        .env("IDENTITY_DEFAULT_SCHEMA_ID", "other"));
    assert!(!ok, "{text}");
    assert!(text.contains("other"), "{text}");
}

#[test]
fn serve_refuses_an_unmigrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let dsn = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("fresh.sqlite").display()
    );
    let schema = base64_schema();
    let (ok, text) = run(ward()
        .arg("serve")
        .env("DSN", &dsn)
        .env(
            "IDENTITY_SCHEMAS",
            format!(r#"[{{"id":"default","url":"base64://{schema}"}}]"#),
        )
        .env(
            "SELFSERVICE_DEFAULT_BROWSER_RETURN_URL",
            "http://127.0.0.1/",
        ));
    assert!(!ok, "{text}");
    assert!(text.contains("migrate sql"), "{text}");
}

fn base64_schema() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(ward::identity::schema::DEV_SCHEMA)
}

#[test]
fn argon2_calibration_prints_config() {
    let (ok, text) = run(ward().args([
        "hashers",
        "argon2",
        "calibrate",
        "20ms",
        "--memory",
        "64KB",
        "--runs",
        "1",
    ]));
    assert!(ok, "{text}");
    assert!(
        text.contains("hashers:\n  algorithm: argon2\n  argon2:\n    memory: 64KB\n"),
        "{text}"
    );
    let iterations: u32 = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("iterations: "))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no iterations in {text}"));
    assert!(iterations >= 1);

    let (ok, text) = run(ward().args(["hashers", "argon2", "calibrate", "soon"]));
    assert!(!ok);
    assert!(text.contains("not a duration"), "{text}");
}

#[test]
fn migrate_takes_kratos_dsns_and_names_bad_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kratos.sqlite");
    let dsn = format!("sqlite://{}?_fk=true", file.display());
    let (ok, text) = run(ward().args(["migrate", "sql", "--yes", &dsn]));
    assert!(ok, "{text}");
    assert!(
        file.is_file(),
        "go-sqlite3 creates the file by default: {text}"
    );

    let (ok, text) = run(ward().args(["migrate", "sql", "--yes", "memory"]));
    assert!(ok, "{text}");
    assert!(text.contains("in-memory"), "{text}");

    let (ok, text) = run(ward().args([
        "migrate",
        "sql",
        "--yes",
        "sqlite://x.db?_fk=true&_loc=auto",
    ]));
    assert!(!ok, "{text}");
    assert!(
        text.contains("`_loc`") && text.contains("_busy_timeout"),
        "{text}"
    );

    // Nothing answers on port 1: the error names the database without its password.
    let (ok, text) = run(ward().args([
        "migrate",
        "sql",
        "--yes",
        "postgres://ward:hunter22@127.0.0.1:1/ward?sslmode=disable&max_conns=2",
    ]));
    assert!(!ok, "{text}");
    assert!(!text.contains("hunter22"), "{text}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
}
