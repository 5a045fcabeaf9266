//! Configuration of the account flows (settings, recovery, verification), their methods
//! (`code`, `link`, `profile`) and the courier that delivers their messages.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::units::duration;
use super::{AfterHooks, HookList, MethodAfter};

/// How recovery and verification prove that someone reads an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OneTimeMethod {
    /// A six-digit code typed into the flow.
    Code,
    /// A link carrying a long token.
    Link,
}

impl OneTimeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Link => "link",
        }
    }
}

/// `selfservice.flows.recovery` and `selfservice.flows.verification`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AddressFlowConfig {
    pub enabled: bool,
    pub ui_url: Option<Url>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    #[serde(rename = "use")]
    pub method: OneTimeMethod,
    /// Send a `*_invalid` message to addresses that belong to no account.
    pub notify_unknown_recipients: bool,
    pub before: HookList,
    pub after: AfterHooks,
}

impl Default for AddressFlowConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            method: OneTimeMethod::Code,
            notify_unknown_recipients: false,
            before: HookList::default(),
            after: AfterHooks::default(),
        }
    }
}

/// `selfservice.flows.settings`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SettingsFlowConfig {
    pub ui_url: Option<Url>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// Changing credentials or addresses needs a sign-in at most this long ago.
    #[serde(with = "duration")]
    pub privileged_session_max_age: Duration,
    pub required_aal: super::RequiredAal,
    pub before: HookList,
    pub after: SettingsAfterHooks,
}

impl Default for SettingsFlowConfig {
    fn default() -> Self {
        Self {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            privileged_session_max_age: Duration::from_secs(3600),
            required_aal: super::RequiredAal::HighestAvailable,
            before: HookList::default(),
            after: SettingsAfterHooks::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SettingsAfterHooks {
    pub default_browser_return_url: Option<Url>,
    pub hooks: Vec<super::HookConfig>,
    pub password: MethodAfter,
    pub profile: MethodAfter,
}

/// `selfservice.methods.code`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CodeMethod {
    /// Codes for recovery and verification.
    pub enabled: bool,
    /// Sign-up and sign-in with a code mailed to the identifier, instead of a password.
    pub passwordless_enabled: bool,
    /// A code mailed to one of the identity's addresses as the second factor.
    pub mfa_enabled: bool,
    /// Identities whose schema marks no code identifier may still receive codes at their
    /// verifiable addresses (identities made before the schema had one).
    pub missing_credential_fallback_enabled: bool,
    pub config: OneTimeConfig,
}

impl Default for CodeMethod {
    fn default() -> Self {
        Self {
            enabled: true,
            passwordless_enabled: false,
            mfa_enabled: false,
            missing_credential_fallback_enabled: false,
            config: OneTimeConfig::default(),
        }
    }
}

/// `selfservice.methods.link`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkMethod {
    pub enabled: bool,
    pub config: LinkConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OneTimeConfig {
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// Wrong codes a flow accepts before it is spent.
    pub max_submissions: u32,
    /// Ward only: sign-in and sign-up codes go to one address at most once per this interval,
    /// so a form cannot be used to flood a mailbox.
    #[serde(with = "duration")]
    pub resend_interval: Duration,
}

impl Default for OneTimeConfig {
    fn default() -> Self {
        Self {
            lifespan: Duration::from_secs(3600),
            max_submissions: 5,
            resend_interval: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkConfig {
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// Base of the links in messages; default: the public URL.
    pub base_url: Option<Url>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            lifespan: Duration::from_secs(3600),
            base_url: None,
        }
    }
}

/// `selfservice.methods.profile`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileMethod {
    pub enabled: bool,
}

impl Default for ProfileMethod {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// `courier`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Courier {
    pub delivery_strategy: DeliveryStrategy,
    pub smtp: Smtp,
    /// Failed deliveries retried before a message is abandoned.
    pub message_retries: u32,
    pub worker: CourierWorker,
    /// A folder of template files (`<template>/email.subject.gotmpl`, ...) that replace the
    /// built-in ones file by file.
    pub template_override_path: Option<PathBuf>,
    /// Templates set in config, by name (`recovery_code`, `verification`, ...).
    pub templates: BTreeMap<String, TemplatePair>,
    /// Further delivery channels, as Kratos has them: `{id: sms, type: http, request_config}`
    /// sends text messages through an operator's HTTP gateway.
    pub channels: Vec<ChannelConfig>,
}

/// `courier.channels[]`: a channel (`sms`) delivered by an HTTP request.
#[derive(Clone, Serialize, Deserialize)]
pub struct ChannelConfig {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Kratos's request config: `url`, `method`, `body` (a Jsonnet program's URL), `headers`,
    /// `auth`. It may hold credentials: never printed.
    #[serde(default)]
    pub request_config: serde_json::Value,
}

impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("id", &self.id)
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Courier {
    /// The configured channel called `id`.
    pub fn channel(&self, id: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|channel| channel.id == id)
    }
}

impl Default for Courier {
    fn default() -> Self {
        Self {
            delivery_strategy: DeliveryStrategy::Smtp,
            smtp: Smtp::default(),
            message_retries: 5,
            worker: CourierWorker::default(),
            template_override_path: None,
            templates: BTreeMap::new(),
            channels: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStrategy {
    Smtp,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Smtp {
    /// `smtp://user:pass@host:port/` (STARTTLS) or `smtps://...` (TLS), with the query flags
    /// `disable_starttls=true` and `skip_ssl_verify=true`. Holds a password: never printed.
    pub connection_uri: Option<String>,
    pub from_address: String,
    pub from_name: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub local_name: Option<String>,
}

impl Default for Smtp {
    fn default() -> Self {
        Self {
            connection_uri: None,
            from_address: "no-reply@ward.localhost".into(),
            from_name: None,
            headers: BTreeMap::new(),
            local_name: None,
        }
    }
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field(
                "connection_uri",
                &self.connection_uri.as_ref().map(|_| "[redacted]"),
            )
            .field("from_address", &self.from_address)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CourierWorker {
    /// Messages claimed per batch.
    pub pull_count: u32,
    /// Pause between polls when the queue is empty.
    #[serde(with = "duration")]
    pub pull_wait: Duration,
}

impl Default for CourierWorker {
    fn default() -> Self {
        Self {
            pull_count: 10,
            pull_wait: Duration::from_secs(1),
        }
    }
}

/// `courier.templates.<name>`: the `valid` and `invalid` variants, or, for a template without
/// variants (`verifiable_address_changed`), its `email` directly.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplatePair {
    pub valid: Option<TemplateConfig>,
    pub invalid: Option<TemplateConfig>,
    pub email: Option<EmailTemplateConfig>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateConfig {
    pub email: EmailTemplateConfig,
}

/// Each part is template text, or a `file://` / `base64://` URL holding it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailTemplateConfig {
    pub subject: Option<String>,
    pub body: EmailBodyConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailBodyConfig {
    pub html: Option<String>,
    pub plaintext: Option<String>,
}
