//! Social sign-in: `selfservice.methods.oidc`, with Kratos's provider keys unchanged.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

/// `selfservice.methods.oidc`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcMethod {
    pub enabled: bool,
    pub config: OidcConfig,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OidcConfig {
    /// Where upstreams send the browser back: `<this>/self-service/methods/oidc/callback/<id>`.
    /// The public base URL when unset.
    pub base_redirect_uri: Option<Url>,
    pub providers: Vec<ProviderConfig>,
}

/// One upstream, as Kratos configures it.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    /// Ward's name for the upstream: the callback path's last segment and the first half of
    /// the credential identifier `<id>:<subject>`. Never change it once users signed in.
    pub id: String,
    /// The preset: `generic`, `google`, `github`, `gitlab`, `microsoft`, `apple`, `discord`,
    /// `slack`, `auth0`, `twitch`.
    pub provider: String,
    /// The name on the buttons; the preset's name (or the id) when unset.
    pub label: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// The issuer, for discovery (`generic`, `auth0`, `gitlab` on its own host). Kept as
    /// written: issuers compare as strings, and a URL type would add a trailing slash.
    pub issuer_url: Option<String>,
    /// Endpoints, for upstreams without discovery.
    pub auth_url: Option<Url>,
    pub token_url: Option<Url>,
    /// Microsoft's tenant: `common`, `organizations`, `consumers` or a tenant id.
    pub microsoft_tenant: Option<String>,
    /// Microsoft: which claim is the subject: `userinfo` (the id_token's `sub`, the default)
    /// or `oid` (stable across a tenant's applications). `me` (Graph) is not supported.
    pub subject_source: Option<String>,
    pub apple_team_id: Option<String>,
    pub apple_private_key_id: Option<String>,
    pub apple_private_key: Option<String>,
    pub scope: Vec<String>,
    /// The Jsonnet mapper from the upstream's claims to traits (`file://` or `base64://`).
    pub mapper_url: Option<Url>,
    /// The OpenID Connect `claims` request parameter, passed on as given.
    pub requested_claims: Option<Value>,
    pub pkce: Pkce,
    /// Other audiences accepted in id_tokens a native app submits (its own client id).
    pub additional_id_token_audiences: Vec<String>,
    /// `id_token` (the default) or `userinfo`: where the claims come from.
    pub claims_source: Option<String>,
    /// Ward only: keep the upstream's tokens (encrypted with `secrets.cipher`) in the
    /// credential, for integrators that call the upstream's APIs later. Off by default: a
    /// token Ward does not keep cannot leak.
    pub store_tokens: bool,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("issuer_url", &self.issuer_url)
            .finish_non_exhaustive()
    }
}

/// `pkce`: `auto` uses PKCE when the upstream's discovery document offers S256, `force` always,
/// `never` never.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pkce {
    #[default]
    Auto,
    Force,
    Never,
}
