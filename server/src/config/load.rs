//! Loading: defaults <- YAML files <- environment, then checks.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{BaseUrls, Config, ConfigError, HookConfig, HookName};

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
        if dev {
            // A trial can recover and verify accounts (through the dev mailbox) out of the box;
            // files and the environment can still switch either off.
            for flow in ["recovery", "verification"] {
                merged["selfservice"]["flows"][flow]["enabled"] = Value::Bool(true);
            }
            // And it can try the OpenID Connect provider.
            merged["oauth2_server"]["enabled"] = Value::Bool(true);
        }
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
        if registration_hooks.hooks.is_empty() {
            // A trial signs people in right after they sign up.
            for method in [
                &mut registration_hooks.password,
                &mut registration_hooks.passkey,
                &mut registration_hooks.webauthn,
                &mut registration_hooks.oidc,
                &mut registration_hooks.code,
            ] {
                if method.hooks.is_empty() {
                    method.hooks = vec![HookConfig::named(HookName::Session)];
                }
            }
        }
        if self.selfservice.default_browser_return_url.is_none() {
            let ui = self.serve.ui.resolve_base_url("serve.ui").ok();
            self.selfservice.default_browser_return_url = ui.and_then(|ui| ui.join("welcome").ok());
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for (index, channel) in self.courier.channels.iter().enumerate() {
            let key = format!("courier.channels[{index}]");
            if channel.id != "sms" {
                return Err(ConfigError::invalid(
                    &format!("{key}.id"),
                    "Ward delivers e-mail through courier.smtp; `sms` is the channel to configure here",
                ));
            }
            if channel.kind != "http" {
                return Err(ConfigError::invalid(
                    &format!("{key}.type"),
                    "an sms channel is an HTTP gateway: type http",
                ));
            }
            if channel
                .request_config
                .get("url")
                .and_then(serde_json::Value::as_str)
                .is_none()
            {
                return Err(ConfigError::invalid(
                    &format!("{key}.request_config.url"),
                    "is required",
                ));
            }
        }
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
        let methods = &self.selfservice.methods;
        if self.session.whoami.enforce_mfa_enrolment.is_on()
            && !(methods.totp.enabled
                || methods.lookup_secret.enabled
                || (methods.webauthn.enabled && !methods.webauthn.config.passwordless))
        {
            return Err(ConfigError::invalid(
                "session.whoami.enforce_mfa_enrolment",
                "needs a second factor to enrol in: enable selfservice.methods.totp, lookup_secret or webauthn (without passwordless)",
            ));
        }
        let ui = self.serve.ui.resolve_base_url("serve.ui")?;
        for (method, enabled, rp) in [
            (
                "webauthn",
                methods.webauthn.enabled,
                &methods.webauthn.config.rp,
            ),
            (
                "passkey",
                methods.passkey.enabled,
                &methods.passkey.config.rp,
            ),
        ] {
            if enabled && let Err(message) = rp.check_id(&ui) {
                let key = format!("selfservice.methods.{method}.config.rp.id");
                return Err(ConfigError::invalid(&key, message));
            }
        }
        if let super::MfaEnrolment::Schemas(ids) = &self.session.whoami.enforce_mfa_enrolment {
            let known = |id: &String| {
                self.identity.schemas.iter().any(|schema| &schema.id == id)
                    || (self.identity.schemas.is_empty() && id == &self.identity.default_schema_id)
            };
            if let Some(unknown) = ids.iter().find(|id| !known(id)) {
                return Err(ConfigError::invalid(
                    "session.whoami.enforce_mfa_enrolment",
                    format!(
                        "names identity schema {unknown:?}, which identity.schemas does not have"
                    ),
                ));
            }
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

    /// Each hook only where it can run (see `HookName::allowed_in`).
    /// Every hook list with its key and where it runs.
    pub fn hook_lists(&self) -> Vec<(String, &[HookConfig], super::HookPlace)> {
        use super::HookPlace::*;
        let flows = &self.selfservice.flows;
        let key = |flow: &str, rest: &str| format!("selfservice.flows.{flow}.{rest}.hooks");
        let mut lists: Vec<(String, &[HookConfig], super::HookPlace)> = vec![
            (key("login", "before"), &flows.login.before.hooks, Before),
            (
                key("registration", "before"),
                &flows.registration.before.hooks,
                Before,
            ),
            (
                key("settings", "before"),
                &flows.settings.before.hooks,
                Before,
            ),
            (
                key("recovery", "before"),
                &flows.recovery.before.hooks,
                Before,
            ),
            (
                key("verification", "before"),
                &flows.verification.before.hooks,
                Before,
            ),
            (
                key("settings", "after"),
                &flows.settings.after.hooks,
                AfterSettings,
            ),
            (
                key("settings", "after.password"),
                &flows.settings.after.password.hooks,
                AfterSettings,
            ),
            (
                key("settings", "after.profile"),
                &flows.settings.after.profile.hooks,
                AfterSettings,
            ),
            (
                key("recovery", "after"),
                &flows.recovery.after.hooks,
                AfterRecovery,
            ),
            (
                key("verification", "after"),
                &flows.verification.after.hooks,
                AfterVerification,
            ),
        ];
        for (flow, after, place) in [
            ("login", &flows.login.after, AfterLogin),
            ("registration", &flows.registration.after, AfterRegistration),
        ] {
            lists.push((key(flow, "after"), &after.hooks, place));
            for (method, hooks) in [
                ("password", &after.password.hooks),
                ("passkey", &after.passkey.hooks),
                ("webauthn", &after.webauthn.hooks),
                ("oidc", &after.oidc.hooks),
                ("code", &after.code.hooks),
            ] {
                lists.push((key(flow, &format!("after.{method}")), hooks, place));
            }
        }
        lists
    }

    fn validate_hooks(&self) -> Result<(), ConfigError> {
        let flows = &self.selfservice.flows;
        for (key, hooks, place) in self.hook_lists() {
            if let Some(hook) = hooks.iter().find(|hook| !hook.hook.allowed_in(place)) {
                return Err(ConfigError::invalid(
                    &key,
                    format!("the {:?} hook cannot run here", hook.hook),
                ));
            }
            if let Some(mode) = crate::hook::address_change::recipients(hooks)
                && !["removed", "all_verified", "all"].contains(&mode)
            {
                return Err(ConfigError::invalid(
                    &key,
                    format!(
                        "notify_previous_addresses: recipients {mode:?} is not removed, all_verified or all"
                    ),
                ));
            }
            // The rest of a web hook's settings is checked when it is built (`WebHooks`).
            if let Some(index) = hooks.iter().position(|hook| {
                hook.hook == HookName::WebHook
                    && hook
                        .config
                        .as_ref()
                        .and_then(|config| config.get("url"))
                        .and_then(Value::as_str)
                        .is_none()
            }) {
                return Err(ConfigError::invalid(
                    &format!("{key}.{index}.config.url"),
                    "a web_hook needs the URL to call",
                ));
            }
        }
        // A queued web hook request is leased for a minute: a slower receiver would get it twice.
        if self.clients.web_hook.timeout > std::time::Duration::from_secs(50) {
            return Err(ConfigError::invalid(
                "clients.web_hook.timeout",
                "must be at most 50s",
            ));
        }
        // A held-back address change is applied by the verification of the new address.
        let holds_back = [
            &flows.settings.after.hooks,
            &flows.settings.after.profile.hooks,
        ]
        .iter()
        .any(|hooks| {
            hooks
                .iter()
                .any(|hook| hook.hook == HookName::VerifyNewAddress)
        });
        if holds_back && !flows.verification.enabled {
            return Err(ConfigError::invalid(
                "selfservice.flows.settings.after",
                "verify_new_address needs selfservice.flows.verification.enabled",
            ));
        }
        for (flow, config) in [
            ("recovery", &flows.recovery),
            ("verification", &flows.verification),
        ] {
            let methods = &self.selfservice.methods;
            let method_enabled = match config.method {
                super::OneTimeMethod::Code => methods.code.enabled,
                super::OneTimeMethod::Link => methods.link.enabled,
            };
            if config.enabled && !method_enabled {
                return Err(ConfigError::invalid(
                    &format!("selfservice.flows.{flow}.use"),
                    format!(
                        "uses the {0} method, but selfservice.methods.{0}.enabled is false",
                        config.method.as_str()
                    ),
                ));
            }
        }
        if let Some(uri) = &self.courier.smtp.connection_uri
            && !uri.is_empty()
        {
            let scheme = url::Url::parse(uri).map(|url| url.scheme().to_string());
            if !matches!(scheme.as_deref(), Ok("smtp" | "smtps")) {
                return Err(ConfigError::invalid(
                    "courier.smtp.connection_uri",
                    "must be an smtp:// or smtps:// URL",
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
pub(crate) fn merge(base: &mut Value, overlay: Value) {
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
    use super::super::*;
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
            "{MINIMAL}courier:\n  sms:\n    enabled: true\nserve:\n  public:\n    tls:\n      enabled: true\n"
        ));
        let loaded = Config::load_from(&[file.path().into()], &[], false).unwrap();
        assert!(
            loaded.unknown_keys.contains(&"courier.sms".to_string()),
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
    fn mfa_enrolment_needs_a_factor_and_known_schemas() {
        let load = |policy: &str, totp: &str| {
            let file = yaml(&format!(
                "{MINIMAL}session:\n  whoami:\n    enforce_mfa_enrolment: {policy}\n"
            ));
            let env = env(&[("SELFSERVICE_METHODS_TOTP_ENABLED", totp)]);
            Config::load_from(&[file.path().into()], &env, false).map_err(|error| error.to_string())
        };
        let error = load("true", "false").unwrap_err();
        assert!(error.contains("selfservice.methods.totp"), "{error}");
        let error = load("[staff]", "true").unwrap_err();
        assert!(error.contains("\"staff\""), "{error}");
        let config = load("[default]", "true").unwrap();
        let policy = &config.config.session.whoami.enforce_mfa_enrolment;
        assert!(policy.applies_to("default") && !policy.applies_to("other"));
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
    fn courier_channels_are_sms_gateways() {
        let refused = |channels: &str| {
            Config::load_from(
                &[yaml(MINIMAL).path().into()],
                &env(&[("COURIER_CHANNELS", channels)]),
                false,
            )
            .unwrap_err()
            .to_string()
        };
        let error =
            refused(r#"[{"id": "fax", "type": "http", "request_config": {"url": "http://x/"}}]"#);
        assert!(error.contains("courier.channels[0].id"), "{error}");
        let error = refused(r#"[{"id": "sms", "type": "smtp"}]"#);
        assert!(error.contains("courier.channels[0].type"), "{error}");
        let error = refused(r#"[{"id": "sms", "type": "http", "request_config": {}}]"#);
        assert!(
            error.contains("courier.channels[0].request_config.url"),
            "{error}"
        );
        let channels =
            r#"[{"id": "sms", "type": "http", "request_config": {"url": "http://gw/"}}]"#;
        let loaded = Config::load_from(
            &[yaml(MINIMAL).path().into()],
            &env(&[("COURIER_CHANNELS", channels)]),
            false,
        )
        .unwrap();
        assert!(loaded.config.courier.channel("sms").is_some());
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
            error.contains("selfservice.flows.registration.after.hooks.0.config.url"),
            "{error}"
        );
    }

    #[test]
    fn account_flows_are_on_in_dev_and_checked() {
        let loaded = Config::load_from(&[], &[], true).unwrap().config;
        assert!(loaded.selfservice.flows.recovery.enabled);
        assert!(loaded.selfservice.flows.verification.enabled);
        let off = env(&[("SELFSERVICE_FLOWS_RECOVERY_ENABLED", "false")]);
        let loaded = Config::load_from(&[], &off, true).unwrap().config;
        assert!(!loaded.selfservice.flows.recovery.enabled);

        let link = env(&[
            ("SELFSERVICE_FLOWS_RECOVERY_ENABLED", "true"),
            ("SELFSERVICE_FLOWS_RECOVERY_USE", "link"),
        ]);
        let error = Config::load_from(&[yaml(MINIMAL).path().into()], &link, false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("selfservice.flows.recovery.use"), "{error}");

        let bad_smtp = env(&[("COURIER_SMTP_CONNECTION_URI", "http://mail")]);
        let error = Config::load_from(&[yaml(MINIMAL).path().into()], &bad_smtp, false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("courier.smtp.connection_uri"), "{error}");

        let misplaced = env(&[(
            "SELFSERVICE_FLOWS_SETTINGS_AFTER_HOOKS",
            r#"[{"hook":"session"}]"#,
        )]);
        let error = Config::load_from(&[yaml(MINIMAL).path().into()], &misplaced, false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("selfservice.flows.settings.after.hooks"),
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
