//! `oauth2_server` (Ward only): the OpenID Connect provider, configured with Ory Hydra's key
//! names beneath it. Off by default; on in `--dev`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::units::duration;

/// `oauth2_server`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Server {
    pub enabled: bool,
    pub urls: OAuth2Urls,
    pub ttl: OAuth2Ttl,
    pub strategies: OAuth2Strategies,
    pub oauth2: OAuth2Options,
    /// A Jsonnet program that adds custom claims (`file://` or `base64://`).
    pub claims_mapper_url: Option<Url>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Urls {
    #[serde(rename = "self")]
    pub self_: SelfUrls,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SelfUrls {
    /// The `iss` of every token, verbatim; default: the public listener's base URL.
    pub issuer: Option<Url>,
}

/// `oauth2_server.ttl`: how long each kind of token lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Ttl {
    #[serde(with = "duration")]
    pub access_token: Duration,
    #[serde(with = "duration")]
    pub refresh_token: Duration,
    #[serde(with = "duration")]
    pub id_token: Duration,
    #[serde(with = "duration")]
    pub auth_code: Duration,
    /// How long a browser may take from the authorization request to its consent.
    #[serde(with = "duration")]
    pub login_consent_request: Duration,
}

impl Default for OAuth2Ttl {
    fn default() -> Self {
        Self {
            access_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(720 * 3600),
            id_token: Duration::from_secs(3600),
            auth_code: Duration::from_secs(600),
            login_consent_request: Duration::from_secs(1800),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Strategies {
    pub access_token: AccessTokenStrategy,
}

/// Opaque access tokens (`ory_at_…`, looked up on use) or signed JWTs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenStrategy {
    #[default]
    Opaque,
    Jwt,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuth2Options {
    pub pkce: Pkce,
    pub refresh_token_rotation: RefreshRotation,
}

/// `oauth2_server.oauth2.pkce`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Pkce {
    /// Every authorization request needs a code challenge.
    pub enforced: bool,
    /// Requests of public clients (`token_endpoint_auth_method: none`) need one.
    pub enforced_for_public_clients: bool,
}

impl Default for Pkce {
    fn default() -> Self {
        Self {
            enforced: false,
            enforced_for_public_clients: true,
        }
    }
}

/// `oauth2_server.oauth2.refresh_token_rotation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshRotation {
    /// How long a used refresh token still works (for clients that race themselves); 0: it
    /// never does, and its reuse revokes the whole grant.
    #[serde(with = "duration")]
    pub grace_period: Duration,
}
