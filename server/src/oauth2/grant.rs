//! Grants and their tokens. A grant is what one authorization allowed; its code, access and
//! refresh tokens share it, so revoking it (a replayed code or refresh token, a revocation, a
//! sign-out) ends them all. Tokens are random text with Hydra's prefixes, stored only as their
//! SHA-256; JWT access tokens are stored the same way, so they can be revoked too.

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::client::Client;
use super::error::OAuthResult;
use super::keys::{self, ACCESS_TOKEN_SET};
use crate::config::AccessTokenStrategy;
use crate::state::AppState;
use crate::store::{Grant, StoredToken, TokenKind};

/// What a grant's tokens need later, kept with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Details {
    /// The `redirect_uri` of the authorization request, which the code exchange must repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The PKCE challenge (S256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// When the user signed in (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The session's assurance level (`aal1`, `aal2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The session's authentication methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    /// The user's claims as they were when the user authorized: the code exchange signs them
    /// without reading the identity again (a refresh reads it afresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<super::claims::UserClaims>,
}

impl Details {
    pub fn of(grant: &Grant) -> Self {
        serde_json::from_value(grant.details.clone()).unwrap_or_default()
    }
}

/// The SHA-256 of a token's (or a long client secret's) text, in hex: how it is stored and
/// found.
pub fn signature(token: &str) -> String {
    use std::fmt::Write;
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(token.as_bytes()) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A new random token with `prefix` (`ory_ac_`, `ory_at_`, `ory_rt_`).
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn stored(
    token: &str,
    grant: &Grant,
    kind: TokenKind,
    now: OffsetDateTime,
    ttl: std::time::Duration,
) -> StoredToken {
    StoredToken {
        signature: signature(token),
        grant_id: grant.id,
        kind,
        expires_at: now + ttl,
        used_at: None,
        created_at: now,
    }
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|granted| granted == wanted)
}

/// An access token for `grant`: opaque, or a JWT where the client or the configuration asks.
pub async fn access_token(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    now: OffsetDateTime,
) -> OAuthResult<String> {
    let strategy = match client.access_token_strategy.as_str() {
        "jwt" => AccessTokenStrategy::Jwt,
        "opaque" => AccessTokenStrategy::Opaque,
        _ => state.config.oauth2_server.strategies.access_token,
    };
    if strategy == AccessTokenStrategy::Opaque {
        return Ok(random_token("ory_at_"));
    }
    let ttl = state.config.oauth2_server.ttl.access_token;
    let issued = now.unix_timestamp();
    let claims = json!({
        "iss": super::issuer(state).as_str(),
        "sub": grant.subject,
        "aud": Details::of(grant).audience,
        "exp": issued + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        "iat": issued,
        "nbf": issued,
        "jti": uuid::Uuid::new_v4().to_string(),
        "client_id": grant.client_id,
        "scp": grant.scope.split_whitespace().collect::<Vec<_>>(),
    });
    keys::signer(state, ACCESS_TOKEN_SET)
        .await?
        .sign_jwt(&claims)
}

/// The token endpoint's answer for a new access token (and refresh and id tokens).
pub fn token_response(
    state: &AppState,
    grant: &Grant,
    access: &str,
    refresh: Option<&str>,
    id_token: Option<&str>,
) -> Value {
    let mut body = json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": state.config.oauth2_server.ttl.access_token.as_secs(),
        "scope": grant.scope,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    body
}
