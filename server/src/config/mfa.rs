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

impl RelyingParty {
    /// The relying party id: `id`, else the host of the UI's base URL.
    pub fn id_or_host_of(&self, ui: &url::Url) -> String {
        self.id
            .clone()
            .or_else(|| ui.host_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// An id browsers accept: a domain name, never an IP address.
    pub fn check_id(&self, ui: &url::Url) -> Result<(), String> {
        let id = self.id_or_host_of(ui);
        if id.is_empty() || id.parse::<std::net::IpAddr>().is_ok() || id.starts_with('[') {
            return Err(format!(
                "must be a domain name such as example.com or localhost, not {id:?} (unset, it is the UI's host)"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relying_party_ids_are_domains() {
        let ui = |text: &str| url::Url::parse(text).unwrap();
        let unset = RelyingParty::default();
        assert!(unset.check_id(&ui("http://127.0.0.1:4455/")).is_err());
        assert!(unset.check_id(&ui("http://[::1]:4455/")).is_err());
        assert!(unset.check_id(&ui("http://localhost:4455/")).is_ok());
        let set = RelyingParty {
            id: Some("example.com".into()),
            ..RelyingParty::default()
        };
        assert_eq!(set.id_or_host_of(&ui("http://127.0.0.1/")), "example.com");
        assert!(set.check_id(&ui("http://127.0.0.1/")).is_ok());
    }
}
