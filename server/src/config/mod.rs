//! Typed configuration with Kratos's key names.
//!
//! Layers, later wins: built-in defaults <- YAML files (`-c`, in order) <- environment variables
//! named as Kratos names them (`serve.public.port` -> `SERVE_PUBLIC_PORT`). Keys Ward does not
//! know are warnings that name them; a wrong type or value is an error naming the key path.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

mod account;
mod load;
mod mfa;
mod oauth2;
mod oidc;
mod security;
mod ui;
mod units;

pub use account::{
    AddressFlowConfig, CodeMethod, Courier, DeliveryStrategy, EmailTemplateConfig, LinkMethod,
    OneTimeMethod, ProfileMethod, SettingsFlowConfig, Smtp, TemplateConfig, TemplatePair,
};
pub use load::Loaded;
pub(crate) use load::merge as merge_json;
pub use mfa::{
    LookupSecretMethod, MfaEnrolment, PasskeyMethod, RelyingParty, RequiredAal, TotpConfig,
    TotpMethod, WebauthnMethod, WhoamiConfig,
};
pub use oauth2::{AccessTokenStrategy, OAuth2Server};
pub use oidc::{OidcConfig, OidcMethod, Pkce, ProviderConfig};
pub use security::{BruteForce, Budget, Security};
pub use ui::{ThemeConfig, UiConfig, read_local_url};
use units::{byte_size, duration, optional_duration};

/// Parses a byte size as config does ("19MB", "64KB"; units of 1024).
pub fn parse_byte_size(text: &str) -> Option<u64> {
    byte_size::parse(text)
}

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
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
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
    pub courier: Courier,
    pub log: Log,
    /// Ward only: see [`Security`].
    pub security: Security,
    /// Ward only: the OpenID Connect provider (see [`OAuth2Server`]).
    pub oauth2_server: OAuth2Server,
    /// Outbound HTTP clients: web hooks.
    pub clients: Clients,
    /// Ward only: the pages' branding, theme and framing (see [`UiConfig`]).
    pub ui: UiConfig,
}

/// `clients`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Clients {
    pub web_hook: WebHookClient,
}

/// `clients.web_hook`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebHookClient {
    /// The request headers a web hook's Jsonnet sees (`ctx.request_headers`); Kratos's list.
    pub header_allowlist: Vec<String>,
    /// Ward only: the hosts web hooks may call (`crm.example.com`, `*.example.com`, an IP);
    /// empty: any, which Ward warns about at start, as private addresses are reachable then.
    pub allowed_hosts: Vec<String>,
    /// Ward only: how long a web hook may take to answer.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

impl Default for WebHookClient {
    fn default() -> Self {
        Self {
            header_allowlist: [
                "Accept",
                "Accept-Encoding",
                "Accept-Language",
                "Content-Length",
                "Content-Type",
                "Origin",
                "Priority",
                "Referer",
                "Sec-Ch-Ua",
                "Sec-Ch-Ua-Mobile",
                "Sec-Ch-Ua-Platform",
                "Sec-Fetch-Dest",
                "Sec-Fetch-Mode",
                "Sec-Fetch-Site",
                "Sec-Fetch-User",
                "True-Client-Ip",
                "User-Agent",
            ]
            .map(String::from)
            .to_vec(),
            allowed_hosts: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
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
    /// Ward only (public listener): proxies whose `X-Forwarded-For` / `True-Client-IP` name the
    /// client. Requests from other peers are attributed to the peer itself.
    pub trusted_proxies: Vec<ipnet::IpNet>,
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
            trusted_proxies: Vec::new(),
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
    pub login: LoginFlowConfig,
    pub registration: RegistrationFlowConfig,
    pub settings: SettingsFlowConfig,
    pub recovery: AddressFlowConfig,
    pub verification: AddressFlowConfig,
    pub logout: LogoutFlowConfig,
    pub error: UiUrl,
}

/// The login flow's `ui_url`, `lifespan`, hooks and style.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginFlowConfig {
    /// Where browsers are sent to render the flow; default: Ward's own page on the UI listener.
    pub ui_url: Option<Url>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    pub before: HookList,
    pub after: AfterHooks,
    pub style: LoginStyle,
}

impl Default for LoginFlowConfig {
    fn default() -> Self {
        Self {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            before: HookList::default(),
            after: AfterHooks::default(),
            style: LoginStyle::Unified,
        }
    }
}

/// `selfservice.flows.login.style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginStyle {
    /// Every method's fields on one form.
    #[default]
    Unified,
    /// The identifier first, then the methods that identity can sign in with.
    IdentifierFirst,
}

/// `selfservice.flows.registration.style`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStyle {
    /// The traits first (`method=profile`), then a credential.
    #[default]
    ProfileFirst,
    /// Traits and every method's credential fields on one form.
    Unified,
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
    pub style: RegistrationStyle,
    /// Kratos's older key for `style: unified` (it wins when true, as in Kratos).
    pub enable_legacy_one_step: bool,
}

impl RegistrationFlowConfig {
    /// Whether sign-up asks for the traits on a screen of their own first.
    pub fn two_steps(&self) -> bool {
        self.style == RegistrationStyle::ProfileFirst && !self.enable_legacy_one_step
    }
}

impl Default for RegistrationFlowConfig {
    fn default() -> Self {
        let flow = LoginFlowConfig::default();
        Self {
            enabled: true,
            ui_url: flow.ui_url,
            lifespan: flow.lifespan,
            before: flow.before,
            after: flow.after,
            style: RegistrationStyle::ProfileFirst,
            enable_legacy_one_step: false,
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
    pub passkey: MethodAfter,
    pub webauthn: MethodAfter,
    pub oidc: MethodAfter,
    pub code: MethodAfter,
}

impl AfterHooks {
    /// The hooks that run after `method`: its own list when it has one, else the flow's.
    pub fn for_method(&self, method: &str) -> &[HookConfig] {
        let own: &[HookConfig] = match method {
            "password" => &self.password.hooks,
            "passkey" => &self.passkey.hooks,
            "webauthn" => &self.webauthn.hooks,
            "oidc" => &self.oidc.hooks,
            "code" => &self.code.hooks,
            _ => &[],
        };
        if own.is_empty() { &self.hooks } else { own }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodAfter {
    pub default_browser_return_url: Option<Url>,
    pub hooks: Vec<HookConfig>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HookConfig {
    pub hook: HookName,
    /// The `web_hook`'s settings, with Kratos's keys (see `hook::web_hook`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

impl HookConfig {
    pub fn named(hook: HookName) -> Self {
        Self { hook, config: None }
    }
}

/// A web hook's settings hold credentials: never printed.
impl std::fmt::Debug for HookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookConfig")
            .field("hook", &self.hook)
            .field("config", &self.config.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The hooks Ward runs; a name Ward does not know is a configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookName {
    /// Sign the new identity in (after registration).
    Session,
    /// Send the browser on to the verification flow (after registration).
    ShowVerificationUi,
    /// Send a verification message (after registration; implied there when verification is on).
    Verification,
    /// Refuse sign-in until an address is verified (after login).
    RequireVerifiedAddress,
    /// End the identity's other sessions (after login, settings or recovery).
    RevokeActiveSessions,
    /// Call an HTTP endpoint (anywhere).
    WebHook,
    /// Keep a changed address out of the traits until the new one is verified (after
    /// settings).
    VerifyNewAddress,
    /// Tell an address the identity stopped using that it was changed (after settings).
    NotifyPreviousAddresses,
}

/// Where a hook is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPlace {
    Before,
    AfterLogin,
    AfterRegistration,
    AfterSettings,
    AfterRecovery,
    AfterVerification,
}

impl HookName {
    pub fn allowed_in(self, place: HookPlace) -> bool {
        use HookPlace::*;
        match self {
            Self::Session => place == AfterRegistration,
            // Kratos also runs these two after login; Ward does not yet, so they are refused
            // there rather than silently ignored.
            Self::ShowVerificationUi | Self::Verification => place == AfterRegistration,
            Self::RequireVerifiedAddress => place == AfterLogin,
            Self::RevokeActiveSessions => {
                matches!(place, AfterLogin | AfterSettings | AfterRecovery)
            }
            Self::WebHook => true,
            Self::VerifyNewAddress | Self::NotifyPreviousAddresses => place == AfterSettings,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Methods {
    pub password: PasswordMethod,
    pub code: CodeMethod,
    pub link: LinkMethod,
    pub profile: ProfileMethod,
    pub totp: TotpMethod,
    pub lookup_secret: LookupSecretMethod,
    pub webauthn: WebauthnMethod,
    pub passkey: PasskeyMethod,
    pub oidc: OidcMethod,
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
    /// Also ask the Have I Been Pwned range API (off by default: Ward checks its built-in list
    /// offline, and makes no outbound calls unless told to).
    pub haveibeenpwned_enabled: bool,
    /// The range API's host; `http://` or `https://` in front picks the scheme (https if none).
    pub haveibeenpwned_host: String,
    /// Passwords HIBP has seen more often than this are refused.
    pub max_breaches: u64,
    /// Accept the password when HIBP does not answer (else refuse it).
    pub ignore_network_errors: bool,
    /// Ward only: a further list of breached passwords, built by `ward hashers breached build`.
    pub breached_list_file: Option<PathBuf>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_password_length: 8,
            identifier_similarity_check_enabled: true,
            haveibeenpwned_enabled: false,
            haveibeenpwned_host: "api.pwnedpasswords.com".into(),
            max_breaches: 0,
            ignore_network_errors: true,
            breached_list_file: None,
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
    pub whoami: WhoamiConfig,
    /// Ward only: whoami answers kept in memory by `/sessions/whoami`.
    pub cache: SessionCacheConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            lifespan: Duration::from_secs(24 * 3600),
            earliest_possible_extend: None,
            cookie: SessionCookie::default(),
            whoami: WhoamiConfig::default(),
            cache: SessionCacheConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionCacheConfig {
    /// Memory for cached whoami answers (about 1.5 KB each); `0` turns the
    /// cache off. Every change to a session or identity drops its entries at once, in every
    /// replica (PostgreSQL LISTEN/NOTIFY); CockroachDB runs without the cache.
    #[serde(with = "byte_size")]
    pub max_size: u64,
}

impl Default for SessionCacheConfig {
    fn default() -> Self {
        Self {
            max_size: 16 * 1024 * 1024,
        }
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
