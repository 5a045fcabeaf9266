//! Typed configuration with Kratos's key names.
//!
//! Layers, later wins: built-in defaults <- YAML files (`-c`, in order) <- environment variables
//! named as Kratos names them (`serve.public.port` -> `SERVE_PUBLIC_PORT`). Keys Ward does not
//! know are warnings that name them; a wrong type or value is an error naming the key path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid YAML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub dsn: Option<String>,
    pub dev: bool,
    pub serve: Serve,
    pub identity: IdentityConfig,
    pub selfservice: SelfService,
    pub hashers: Hashers,
    pub secrets: Secrets,
    pub session: SessionConfig,
    pub cookies: Cookies,
    pub log: Log,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Serve {
    pub public: Listener,
    pub admin: Listener,
    pub ui: Listener,
}

impl Default for Serve {
    fn default() -> Self {
        Self {
            public: Listener::on(4433),
            admin: Listener::on(4434),
            ui: Listener::on(4455),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Listener {
    pub base_url: Option<Url>,
    pub host: String,
    pub port: u16,
    /// Cross-origin requests from SPAs on other origins (public listener only).
    pub cors: Cors,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Cors {
    pub enabled: bool,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub exposed_headers: Vec<String>,
    pub allow_credentials: bool,
    #[serde(with = "optional_duration")]
    pub max_age: Option<Duration>,
}

impl Default for Cors {
    fn default() -> Self {
        Self {
            enabled: false,
            allowed_origins: vec!["*".into()],
            allowed_methods: ["POST", "GET", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec(),
            allowed_headers: [
                "Authorization",
                "Content-Type",
                "Max-Age",
                "X-Session-Token",
                "X-XSRF-TOKEN",
                "X-CSRF-TOKEN",
            ]
            .map(String::from)
            .to_vec(),
            exposed_headers: ["Content-Type", "Set-Cookie"].map(String::from).to_vec(),
            allow_credentials: true,
            max_age: None,
        }
    }
}

impl Default for Listener {
    fn default() -> Self {
        Self::on(0)
    }
}

impl Listener {
    fn on(port: u16) -> Self {
        Self {
            base_url: None,
            host: "0.0.0.0".into(),
            port,
            cors: Cors::default(),
        }
    }

    /// The address to bind, `host:port`.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `base_url` when configured, else derived from where the listener binds.
    fn resolve_base_url(&self, key: &str) -> Result<Url, ConfigError> {
        if let Some(url) = &self.base_url {
            return Ok(url.clone());
        }
        let host = match self.host.as_str() {
            "" | "0.0.0.0" | "::" => "127.0.0.1",
            host => host,
        };
        let text = if host.contains(':') {
            format!("http://[{host}]:{}/", self.port)
        } else {
            format!("http://{host}:{}/", self.port)
        };
        Url::parse(&text)
            .map_err(|error| ConfigError::invalid(&format!("{key}.host"), error.to_string()))
    }
}

/// The base URL of each listener, resolved once at load.
#[derive(Debug, Clone)]
pub struct BaseUrls {
    pub public: Url,
    pub admin: Url,
    pub ui: Url,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityConfig {
    pub default_schema_id: String,
    pub schemas: Vec<SchemaRef>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            default_schema_id: "default".into(),
            schemas: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaRef {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub selfservice_selectable: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelfService {
    pub default_browser_return_url: Option<Url>,
    pub allowed_return_urls: Vec<Url>,
    pub flows: Flows,
    pub methods: Methods,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Flows {
    pub login: FlowConfig,
    pub registration: RegistrationFlowConfig,
    pub logout: LogoutFlowConfig,
    pub error: UiUrl,
}

/// `ui_url`, `lifespan` and the hooks of one flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowConfig {
    /// Where browsers are sent to render the flow; default: Ward's own page on the UI listener.
    pub ui_url: Option<Url>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    pub before: HookList,
    pub after: AfterHooks,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            before: HookList::default(),
            after: AfterHooks::default(),
        }
    }
}

/// The registration flow's settings: a flow's, and whether sign-up is open. (Spelled out
/// rather than flattened, so errors name the full key path.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationFlowConfig {
    pub enabled: bool,
    pub ui_url: Option<Url>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    pub before: HookList,
    pub after: AfterHooks,
}

impl Default for RegistrationFlowConfig {
    fn default() -> Self {
        let flow = FlowConfig::default();
        Self {
            enabled: true,
            ui_url: flow.ui_url,
            lifespan: flow.lifespan,
            before: flow.before,
            after: flow.after,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogoutFlowConfig {
    pub after: ReturnUrl,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReturnUrl {
    pub default_browser_return_url: Option<Url>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UiUrl {
    pub ui_url: Option<Url>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HookList {
    pub hooks: Vec<HookConfig>,
}

/// `after` hooks: global, and per method (a non-empty method list replaces the global one).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AfterHooks {
    pub default_browser_return_url: Option<Url>,
    pub hooks: Vec<HookConfig>,
    pub password: MethodAfter,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodAfter {
    pub default_browser_return_url: Option<Url>,
    pub hooks: Vec<HookConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookConfig {
    pub hook: HookName,
}

/// The hooks Ward runs; a name Ward does not know is a configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookName {
    Session,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Methods {
    pub password: PasswordMethod,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordMethod {
    pub enabled: bool,
    pub config: PasswordPolicy,
}

impl Default for PasswordMethod {
    fn default() -> Self {
        Self {
            enabled: true,
            config: PasswordPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordPolicy {
    pub min_password_length: usize,
    pub identifier_similarity_check_enabled: bool,
    /// Accepted for compatibility; Ward does not query breach databases (no outbound calls).
    pub haveibeenpwned_enabled: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_password_length: 8,
            identifier_similarity_check_enabled: true,
            haveibeenpwned_enabled: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Hashers {
    pub algorithm: HashAlgorithm,
    pub argon2: Argon2Config,
    pub bcrypt: BcryptConfig,
}

impl Default for Hashers {
    fn default() -> Self {
        Self {
            algorithm: HashAlgorithm::Argon2,
            argon2: Argon2Config::default(),
            bcrypt: BcryptConfig { cost: 12 },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    Argon2,
    Bcrypt,
}

/// Ward's defaults are OWASP's argon2id minimum (19 MiB, t=2, p=1), not Kratos's 128 MB / p=2×CPU:
/// a login then costs one core and a bounded amount of memory, which keeps overload predictable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Argon2Config {
    #[serde(with = "byte_size")]
    pub memory: u64,
    pub iterations: u32,
    pub parallelism: u32,
    pub salt_length: u32,
    pub key_length: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory: 19 * 1024 * 1024,
            iterations: 2,
            parallelism: 1,
            salt_length: 16,
            key_length: 32,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BcryptConfig {
    pub cost: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionConfig {
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// A session can be extended only once less than this much of its life is left; unset,
    /// always (Kratos's default: the lifespan).
    #[serde(with = "optional_duration")]
    pub earliest_possible_extend: Option<Duration>,
    pub cookie: SessionCookie,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifespan: Duration::from_secs(24 * 3600),
            earliest_possible_extend: None,
            cookie: SessionCookie::default(),
        }
    }
}

mod optional_duration {
    use super::Duration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::duration::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "super::duration")] Duration);
        Option::<Wrapper>::deserialize(deserializer)
            .map(|value| value.map(|Wrapper(duration)| duration))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionCookie {
    pub name: String,
    /// Unset values fall back to `cookies.*`.
    pub domain: Option<String>,
    pub path: Option<String>,
    pub same_site: Option<SameSite>,
    pub secure: Option<bool>,
    /// Persistent cookies carry Max-Age (the session's remaining life); others end with the
    /// browser session.
    pub persistent: bool,
}

impl Default for SessionCookie {
    fn default() -> Self {
        Self {
            name: "ory_kratos_session".into(),
            domain: None,
            path: None,
            same_site: None,
            secure: None,
            persistent: true,
        }
    }
}

/// Defaults for every cookie Ward sets (session and CSRF).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Cookies {
    pub domain: Option<String>,
    pub path: String,
    pub same_site: SameSite,
    /// Unset: secure outside `--dev`.
    pub secure: Option<bool>,
}

impl Default for Cookies {
    fn default() -> Self {
        Self {
            domain: None,
            path: "/".into(),
            same_site: SameSite::Lax,
            secure: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Secrets {
    pub default: Vec<String>,
    pub cookie: Vec<String>,
    pub cipher: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets([redacted])")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Log {
    pub level: String,
    pub format: LogFormat,
    pub leak_sensitive_values: bool,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
            leak_sensitive_values: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Go-style byte sizes as Kratos writes them ("128MB", "1GB", "64KB"); units are powers of 1024
/// as in the Go library Kratos uses. No maintained crate parses this dialect with those units.
mod byte_size {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}KB", bytes / 1024))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bytes(bytes) => Ok(bytes),
            Raw::Text(text) => parse(&text).ok_or_else(|| {
                D::Error::custom(format!(
                    "expected a byte size such as \"19MB\" or \"64KB\", got {text:?}"
                ))
            }),
        }
    }

    pub fn parse(text: &str) -> Option<u64> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().ok()?;
        let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            _ => return None,
        };
        number.checked_mul(factor)
    }
}

/// Go-style durations ("1h", "30m", "1h30m", "500ms").
pub mod duration {
    use super::Duration;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|error| {
            D::Error::custom(format!(
                "expected a duration such as \"1h\" or \"30m\", got {text:?} ({error})"
            ))
        })
    }
}

/// What loading produced besides the config: keys that were ignored.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub unknown_keys: Vec<String>,
}

impl Config {
    /// Loads defaults, then each YAML file, then the process environment.
    pub fn load(files: &[PathBuf], dev: bool) -> Result<Loaded, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(files, &env, dev)
    }

    pub fn load_from(
        files: &[PathBuf],
        env: &[(String, String)],
        dev: bool,
    ) -> Result<Loaded, ConfigError> {
        let defaults = serde_json::to_value(Config::default())
            .map_err(|error| ConfigError::invalid("", error.to_string()))?;
        let mut merged = defaults.clone();
        for path in files {
            merge(&mut merged, read_yaml(path)?);
        }
        apply_env(&mut merged, &defaults, env)?;
        if dev {
            merged["dev"] = Value::Bool(true);
        }

        let mut unknown_keys = Vec::new();
        let mut note_unknown = |path: serde_ignored::Path<'_>| unknown_keys.push(path.to_string());
        let deserializer = serde_ignored::Deserializer::new(&merged, &mut note_unknown);
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            ConfigError::invalid(&error.path().to_string(), error.inner().to_string())
        })?;
        let mut config = config;
        config.apply_dev_defaults();
        config.validate()?;
        Ok(Loaded {
            config,
            unknown_keys,
        })
    }

    fn apply_dev_defaults(&mut self) {
        if !self.dev {
            return;
        }
        if self.dsn.is_none() {
            self.dsn = Some("sqlite://ward.sqlite?mode=rwc".into());
        }
        for listener in [
            &mut self.serve.public,
            &mut self.serve.admin,
            &mut self.serve.ui,
        ] {
            if listener.host == "0.0.0.0" {
                listener.host = "127.0.0.1".into();
            }
        }
        let registration_hooks = &mut self.selfservice.flows.registration.after;
        if registration_hooks.hooks.is_empty() && registration_hooks.password.hooks.is_empty() {
            // A trial signs people in right after they sign up.
            registration_hooks.password.hooks = vec![HookConfig {
                hook: HookName::Session,
            }];
        }
        if self.selfservice.default_browser_return_url.is_none() {
            let ui = self.serve.ui.resolve_base_url("serve.ui").ok();
            self.selfservice.default_browser_return_url = ui.and_then(|ui| ui.join("welcome").ok());
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.dsn.as_deref().is_none_or(str::is_empty) {
            return Err(ConfigError::invalid(
                "dsn",
                "is required (sqlite://path or postgres://...), or start with --dev",
            ));
        }
        if self.identity.schemas.is_empty() && !self.dev {
            return Err(ConfigError::invalid(
                "identity.schemas",
                "at least one identity schema is required, or start with --dev",
            ));
        }
        if self.selfservice.default_browser_return_url.is_none() {
            return Err(ConfigError::invalid(
                "selfservice.default_browser_return_url",
                "is required",
            ));
        }
        for (index, secret) in self.secrets.default.iter().enumerate() {
            if secret.len() < 16 {
                return Err(ConfigError::invalid(
                    &format!("secrets.default.{index}"),
                    "must be at least 16 characters long",
                ));
            }
        }
        self.base_urls()?;
        self.validate_hooks()?;
        for (key, listener) in [
            ("serve.admin.cors", &self.serve.admin),
            ("serve.ui.cors", &self.serve.ui),
        ] {
            if listener.cors.enabled {
                return Err(ConfigError::invalid(
                    key,
                    "CORS applies to the public listener only",
                ));
            }
        }
        if self.selfservice.methods.password.config.min_password_length < 6 {
            return Err(ConfigError::invalid(
                "selfservice.methods.password.config.min_password_length",
                "must be at least 6",
            ));
        }
        let argon = &self.hashers.argon2;
        if argon.memory < 8 * 1024 * u64::from(argon.parallelism.max(1)) {
            return Err(ConfigError::invalid(
                "hashers.argon2.memory",
                "must be at least 8 KB per lane of parallelism",
            ));
        }
        if argon.iterations == 0 || argon.parallelism == 0 {
            return Err(ConfigError::invalid(
                "hashers.argon2",
                "iterations and parallelism must be at least 1",
            ));
        }
        if argon.salt_length < 8 || argon.key_length < 16 {
            return Err(ConfigError::invalid(
                "hashers.argon2",
                "salt_length must be at least 8 and key_length at least 16",
            ));
        }
        let min_cost = if self.dev { 4 } else { 12 };
        if !(min_cost..=31).contains(&self.hashers.bcrypt.cost) {
            return Err(ConfigError::invalid(
                "hashers.bcrypt.cost",
                format!("must be between {min_cost} and 31"),
            ));
        }
        Ok(())
    }

    /// The configured DSN; `validate` guarantees it is present.
    pub fn dsn(&self) -> &str {
        self.dsn.as_deref().unwrap_or_default()
    }

    /// Each hook only where it can run: `session` signs people in after registration.
    fn validate_hooks(&self) -> Result<(), ConfigError> {
        let flows = &self.selfservice.flows;
        let misplaced = [
            (
                "selfservice.flows.login.before.hooks",
                &flows.login.before.hooks,
            ),
            (
                "selfservice.flows.login.after.hooks",
                &flows.login.after.hooks,
            ),
            (
                "selfservice.flows.login.after.password.hooks",
                &flows.login.after.password.hooks,
            ),
            (
                "selfservice.flows.registration.before.hooks",
                &flows.registration.before.hooks,
            ),
        ];
        for (key, hooks) in misplaced {
            if let Some(hook) = hooks.first() {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "the {:?} hook cannot run here; it runs after registration",
                        hook.hook
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn base_urls(&self) -> Result<BaseUrls, ConfigError> {
        Ok(BaseUrls {
            public: self.serve.public.resolve_base_url("serve.public")?,
            admin: self.serve.admin.resolve_base_url("serve.admin")?,
            ui: self.serve.ui.resolve_base_url("serve.ui")?,
        })
    }
}

fn read_yaml(path: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_norway::from_str(&text).map_err(|error| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// Deep-merges `overlay` into `base`; objects merge key by key, everything else replaces.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Environment variables override known keys: the key path upper-cased with `_` between
/// segments. The default's JSON type decides how a value is read (number, boolean, list).
fn apply_env(
    merged: &mut Value,
    defaults: &Value,
    env: &[(String, String)],
) -> Result<(), ConfigError> {
    let mut leaves = Vec::new();
    collect_leaves(defaults, &mut Vec::new(), &mut leaves);
    for (path, default) in leaves {
        let name = path.join("_").to_ascii_uppercase();
        let Some((_, raw)) = env.iter().find(|(key, _)| *key == name) else {
            continue;
        };
        let value = parse_env_value(&path.join("."), &name, raw, default)?;
        set_path(merged, &path, value);
    }
    Ok(())
}

fn collect_leaves<'a>(
    value: &'a Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, &'a Value)>,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(key.clone());
                collect_leaves(child, path, out);
                path.pop();
            }
        }
        leaf => out.push((path.clone(), leaf)),
    }
}

fn parse_env_value(
    key: &str,
    name: &str,
    raw: &str,
    default: &Value,
) -> Result<Value, ConfigError> {
    let trimmed = raw.trim();
    let invalid = |expected: &str| {
        ConfigError::invalid(
            key,
            format!("environment variable {name}: expected {expected}, got {raw:?}"),
        )
    };
    Ok(match default {
        Value::Number(_) => serde_json::from_str::<serde_json::Number>(trimmed)
            .map(Value::Number)
            .map_err(|_| invalid("a number"))?,
        Value::Bool(_) => match trimmed {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return Err(invalid("true or false")),
        },
        Value::Array(_) if trimmed.starts_with('[') => {
            serde_json::from_str(trimmed).map_err(|_| invalid("a JSON array"))?
        }
        Value::Array(_) => Value::Array(
            trimmed
                .split(',')
                .map(|item| Value::String(item.trim().to_string()))
                .filter(|item| item.as_str() != Some(""))
                .collect(),
        ),
        Value::Null if trimmed.starts_with('{') || trimmed.starts_with('[') => {
            serde_json::from_str(trimmed).map_err(|_| invalid("valid JSON"))?
        }
        _ => Value::String(raw.to_string()),
    })
}

fn set_path(root: &mut Value, path: &[String], value: Value) {
    let mut slot = root;
    for segment in path {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(map) = slot else { return };
        slot = map.entry(segment.clone()).or_insert(Value::Null);
    }
    *slot = value;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn yaml(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const MINIMAL: &str = "dsn: sqlite://x.db\nidentity:\n  schemas:\n    - id: default\n      url: file://x.json\nselfservice:\n  default_browser_return_url: http://127.0.0.1:4455/\n";

    #[test]
    fn defaults_match_kratos_ports() {
        let file = yaml(MINIMAL);
        let loaded = Config::load_from(&[file.path().into()], &[], false).unwrap();
        assert_eq!(loaded.config.serve.public.port, 4433);
        assert_eq!(loaded.config.serve.admin.port, 4434);
        assert_eq!(loaded.config.serve.ui.port, 4455);
        assert_eq!(loaded.config.hashers.algorithm, HashAlgorithm::Argon2);
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
    }

    #[test]
    fn environment_overrides_file() {
        let file = yaml(MINIMAL);
        let loaded = Config::load_from(
            &[file.path().into()],
            &env(&[
                ("SERVE_PUBLIC_PORT", "5000"),
                ("DSN", "postgres://x"),
                (
                    "SECRETS_DEFAULT",
                    "0123456789abcdef0123,fedcba98765432100000",
                ),
                (
                    "SELFSERVICE_DEFAULT_BROWSER_RETURN_URL",
                    "https://example.com/home",
                ),
                ("HASHERS_ARGON2_MEMORY", "64KB"),
            ]),
            false,
        )
        .unwrap();
        let config = loaded.config;
        assert_eq!(config.serve.public.port, 5000);
        assert_eq!(config.dsn(), "postgres://x");
        assert_eq!(config.secrets.default.len(), 2);
        assert_eq!(config.hashers.argon2.memory, 64 * 1024);
        assert_eq!(
            config
                .selfservice
                .default_browser_return_url
                .unwrap()
                .as_str(),
            "https://example.com/home"
        );
    }

    #[test]
    fn unknown_keys_are_reported_by_path() {
        let file = yaml(&format!(
            "{MINIMAL}courier:\n  smtp:\n    connection_uri: smtp://x\nserve:\n  public:\n    tls:\n      enabled: true\n"
        ));
        let loaded = Config::load_from(&[file.path().into()], &[], false).unwrap();
        assert!(
            loaded.unknown_keys.contains(&"courier".to_string()),
            "{:?}",
            loaded.unknown_keys
        );
        assert!(
            loaded
                .unknown_keys
                .contains(&"serve.public.tls".to_string()),
            "{:?}",
            loaded.unknown_keys
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let file = yaml(&format!("{MINIMAL}serve:\n  admin:\n    port: lots\n"));
        let error = Config::load_from(&[file.path().into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("serve.admin.port"), "{error}");

        let error = Config::load_from(
            &[yaml(MINIMAL).path().into()],
            &env(&[("SERVE_PUBLIC_PORT", "x")]),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("serve.public.port") && error.contains("SERVE_PUBLIC_PORT"),
            "{error}"
        );

        let file = yaml(&format!("{MINIMAL}hashers:\n  algorithm: md5\n"));
        let error = Config::load_from(&[file.path().into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("hashers.algorithm"), "{error}");
    }

    #[test]
    fn missing_required_keys_refuse_to_start() {
        let file = yaml("identity:\n  schemas: []\n");
        let error = Config::load_from(&[file.path().into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("dsn"), "{error}");
        let error = Config::load_from(&[], &env(&[("DSN", "sqlite://a")]), false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("identity.schemas"), "{error}");
    }

    #[test]
    fn short_secrets_are_rejected() {
        let error = Config::load_from(
            &[yaml(MINIMAL).path().into()],
            &env(&[("SECRETS_DEFAULT", "short")]),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("secrets.default.0"), "{error}");
    }

    #[test]
    fn dev_needs_nothing() {
        let loaded = Config::load_from(&[], &[], true).unwrap();
        assert!(loaded.config.dsn().starts_with("sqlite://"));
        assert_eq!(loaded.config.serve.public.host, "127.0.0.1");
        assert_eq!(
            loaded
                .config
                .selfservice
                .default_browser_return_url
                .unwrap()
                .as_str(),
            "http://127.0.0.1:4455/welcome"
        );
    }

    #[test]
    fn hooks_are_checked_for_their_place() {
        let file = yaml(&format!(
            "{MINIMAL}  flows:\n    registration:\n      after:\n        password:\n          hooks:\n            - hook: session\n"
        ));
        let loaded = Config::load_from(&[file.path().into()], &[], false).unwrap();
        assert_eq!(
            loaded
                .config
                .selfservice
                .flows
                .registration
                .after
                .password
                .hooks
                .len(),
            1
        );
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);

        let file = yaml(&format!(
            "{MINIMAL}  flows:\n    login:\n      after:\n        hooks:\n          - hook: session\n"
        ));
        let error = Config::load_from(&[file.path().into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("selfservice.flows.login.after.hooks"),
            "{error}"
        );

        let file = yaml(&format!(
            "{MINIMAL}  flows:\n    registration:\n      after:\n        hooks:\n          - hook: web_hook\n"
        ));
        let error = Config::load_from(&[file.path().into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("hooks") && error.contains("web_hook"),
            "{error}"
        );
    }

    #[test]
    fn byte_sizes_use_binary_units() {
        assert_eq!(byte_size::parse("128MB"), Some(128 << 20));
        assert_eq!(byte_size::parse("64KB"), Some(64 << 10));
        assert_eq!(byte_size::parse("1024"), Some(1024));
        assert_eq!(byte_size::parse("12 parsecs"), None);
    }
}
