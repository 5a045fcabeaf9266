//! Second factors: `selfservice.methods.{totp,lookup_secret}` and the assurance levels sessions
//! must reach (`session.whoami.required_aal`, `selfservice.flows.settings.required_aal`).

use serde::{Deserialize, Serialize};

/// `selfservice.methods.totp`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TotpMethod {
    pub enabled: bool,
    pub config: TotpConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TotpConfig {
    /// The issuer authenticator apps show; the public base URL's host when unset.
    pub issuer: Option<String>,
}

/// `selfservice.methods.lookup_secret`: backup codes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LookupSecretMethod {
    pub enabled: bool,
}

/// The assurance level a session must have: `aal1`, or `highest_available` (aal2 once the
/// identity has a second factor).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequiredAal {
    Aal1,
    #[default]
    HighestAvailable,
}

/// `session.whoami`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WhoamiConfig {
    pub required_aal: RequiredAal,
    /// Ward only: identities must set a second factor up before their sessions are accepted.
    pub enforce_mfa_enrolment: MfaEnrolment,
}

/// `session.whoami.enforce_mfa_enrolment`: `true` for every identity, or the identity schema
/// ids whose identities must enrol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MfaEnrolment {
    All(bool),
    Schemas(Vec<String>),
}

impl Default for MfaEnrolment {
    fn default() -> Self {
        Self::All(false)
    }
}

impl MfaEnrolment {
    pub fn is_on(&self) -> bool {
        match self {
            Self::All(on) => *on,
            Self::Schemas(schemas) => !schemas.is_empty(),
        }
    }

    /// Whether identities of `schema_id` must enrol.
    pub fn applies_to(&self, schema_id: &str) -> bool {
        match self {
            Self::All(on) => *on,
            Self::Schemas(schemas) => schemas.iter().any(|schema| schema == schema_id),
        }
    }
}

/// `selfservice.methods.webauthn`: security keys (a second factor).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WebauthnMethod {
    pub enabled: bool,
    pub config: WebauthnConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WebauthnConfig {
    /// Kratos's security keys as a first factor; Ward offers passkeys for that instead.
    pub passwordless: bool,
    pub rp: RelyingParty,
}

/// `selfservice.methods.passkey`: discoverable credentials (a first factor).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PasskeyMethod {
    pub enabled: bool,
    pub config: PasskeyConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PasskeyConfig {
    pub rp: RelyingParty,
}

/// `config.rp` of `webauthn` and `passkey`: the site credentials are bound to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RelyingParty {
    /// The domain credentials belong to (`example.com`, `localhost`); the UI's host when unset.
    pub id: Option<String>,
    /// The site's name as authenticators show it; "Ward" when unset.
    pub display_name: Option<String>,
    /// Deprecated in Kratos in favour of `origins`; still read.
    pub origin: Option<url::Url>,
    /// Every origin the ceremonies may run on; the UI's and the public listener's when unset.
    pub origins: Vec<url::Url>,
}
