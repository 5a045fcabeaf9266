//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): instead of
//! a secret, the client sends a short-lived JWT signed with its own private key, whose public
//! half it registered as `jwks` or `jwks_uri`. Each assertion works once: its `jti` is
//! remembered until it expires.

use std::time::{Duration, Instant};

use base64::Engine;
use openidconnect::JsonWebKey;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use serde::Deserialize;
use serde_json::Value;

use super::client::Client;
use super::error::{OAuthError, OAuthResult};
use crate::state::AppState;

/// The only `client_assertion_type` there is.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The algorithms an assertion may be signed with (what the openidconnect crate verifies).
pub const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// How long an assertion may live at most: a client makes a new one for each request.
const LONGEST: i64 = 3600;
/// How long a `jwks_uri`'s keys are trusted before they are fetched again.
const KEYS_FOR: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(one) => one == wanted,
            Audience::Many(many) => many.iter().any(|one| one == wanted),
        }
    }
}

/// A client assertion as sent, parsed but not yet verified.
pub struct Assertion {
    header: Header,
    claims: Claims,
    signed: String,
    signature: Vec<u8>,
}

fn invalid(description: &str) -> OAuthError {
    OAuthError::invalid_client(format!("the client assertion is invalid: {description}"))
}

impl Assertion {
    pub fn parse(jwt: &str) -> OAuthResult<Self> {
        let decode = |part: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| invalid("it is not a JWS in compact form"))
        };
        let mut parts = jwt.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("it is not a JWS in compact form"));
        };
        Ok(Self {
            header: serde_json::from_slice(&decode(header)?)
                .map_err(|_| invalid("its header is not a JWS header"))?,
            claims: serde_json::from_slice(&decode(claims)?)
                .map_err(|_| invalid("it needs iss, sub, aud and exp claims"))?,
            signed: format!("{header}.{claims}"),
            signature: decode(signature)?,
        })
    }

    /// The client it names (`iss`, which must equal `sub`).
    pub fn client_id(&self) -> OAuthResult<&str> {
        if self.claims.iss != self.claims.sub {
            return Err(invalid("iss and sub must both be the client id"));
        }
        Ok(&self.claims.iss)
    }

    /// Checks the signature against `client`'s keys, the audience (this provider's issuer or
    /// the URL the assertion was sent to), the times, and that its `jti` is new.
    pub async fn verify(
        &self,
        state: &AppState,
        client: &Client,
        endpoint: &str,
    ) -> OAuthResult<()> {
        let wanted = if client.token_endpoint_auth_signing_alg.is_empty() {
            "RS256"
        } else {
            client.token_endpoint_auth_signing_alg.as_str()
        };
        if self.header.alg != wanted {
            return Err(invalid(&format!(
                "the client signs with {wanted}, not {}",
                self.header.alg
            )));
        }
        let alg: CoreJwsSigningAlgorithm = serde_json::from_value(Value::from(wanted))
            .map_err(|_| invalid("its algorithm is not supported"))?;
        let keys = client_keys(state, client).await?;
        let verified = keys
            .iter()
            .filter(|key| match (&self.header.kid, key.key_id()) {
                (Some(wanted), Some(kid)) => kid.as_str() == wanted,
                _ => true,
            })
            .any(|key| {
                key.verify_signature(&alg, self.signed.as_bytes(), &self.signature)
                    .is_ok()
            });
        if !verified {
            return Err(invalid(
                "no key the client registered verifies its signature",
            ));
        }
        let issuer = super::issuer(state);
        let token_endpoint = super::endpoint(state, "oauth2/token");
        if ![
            issuer.as_str(),
            issuer.as_str().trim_end_matches('/'),
            token_endpoint.as_str(),
            endpoint,
        ]
        .iter()
        .any(|audience| self.claims.aud.contains(audience))
        {
            return Err(invalid(
                "its aud must name this provider or its token endpoint",
            ));
        }
        let now = state.clock.now().unix_timestamp();
        if self.claims.exp <= now {
            return Err(invalid("it has expired"));
        }
        if self.claims.exp > now + LONGEST {
            return Err(invalid("it must expire within an hour"));
        }
        // A few seconds of leeway: the client's clock may run a little ahead.
        if self.claims.nbf.is_some_and(|nbf| nbf > now + 5) {
            return Err(invalid("it is not valid yet"));
        }
        let jti = self
            .claims
            .jti
            .as_deref()
            .filter(|jti| !jti.is_empty())
            .ok_or_else(|| invalid("it needs a jti claim"))?;
        let signature = super::grant::signature(&format!("{}\u{0}{jti}", client.client_id));
        let expires = time::OffsetDateTime::from_unix_timestamp(self.claims.exp)
            .map_err(|_| invalid("its exp is out of range"))?;
        if !state.oauth2.use_assertion(&signature, expires).await? {
            return Err(invalid("it was used before (its jti is not new)"));
        }
        Ok(())
    }
}

/// The client's public keys: its `jwks`, or what its `jwks_uri` serves (kept for a while).
async fn client_keys(state: &AppState, client: &Client) -> OAuthResult<Vec<CoreJsonWebKey>> {
    if !client.jwks.is_null() {
        let set: CoreJsonWebKeySet = serde_json::from_value(client.jwks.clone())
            .map_err(|_| invalid("the client's jwks is not a JWK set"))?;
        return Ok(set.keys().clone());
    }
    let uri = client.jwks_uri.as_str();
    if let Some((fetched_at, keys)) = state.oauth2_clients.fetched_keys(uri)
        && fetched_at.elapsed() < KEYS_FOR
    {
        return Ok(keys);
    }
    let url = url::Url::parse(uri).map_err(|_| invalid("the client's jwks_uri is not a URL"))?;
    let http = state.oauth2_clients.http()?;
    let set = CoreJsonWebKeySet::fetch_async(&openidconnect::JsonWebKeySetUrl::from_url(url), http)
        .await
        .map_err(|error| {
            tracing::warn!(client = %client.client_id, %error, "could not fetch a client's jwks_uri");
            invalid("the client's jwks_uri could not be read")
        })?;
    let keys = set.keys().clone();
    state
        .oauth2_clients
        .keep_keys(uri, Instant::now(), keys.clone());
    Ok(keys)
}
