//! Signing keys in Hydra's key sets: made at first start, kept encrypted with `secrets.cipher`,
//! rotated through `/admin/keys/{set}`. The newest key of a set signs; every key is published
//! in the JWKS, so tokens signed before a rotation still verify.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use openidconnect::core::{
    CoreEdDsaPrivateSigningKey, CoreJsonCurveType, CoreJsonWebKey, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{JsonWebKeyId, PrivateSigningKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{OAuthError, OAuthResult};
use crate::state::AppState;
use crate::store::StoredKey;

/// The set whose newest key signs id_tokens (Hydra's name).
pub const ID_TOKEN_SET: &str = "hydra.openid.id-token";
/// The set whose newest key signs JWT access tokens.
pub const ACCESS_TOKEN_SET: &str = "hydra.jwt.access-token";
const SETS: [&str; 2] = [ID_TOKEN_SET, ACCESS_TOKEN_SET];
const RSA_BITS: usize = 2048;
/// How long a replica signs with the key it read before it looks for a newer one.
const CACHE_FOR: Duration = Duration::from_secs(30);

/// The signing algorithms keys can have: RS256 (the default), ES256 and EdDSA (Ed25519).
pub const ALGORITHMS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// A private key of any of the [`ALGORITHMS`].
pub enum SigningKey {
    Rsa(CoreRsaPrivateSigningKey),
    Ec(EcKey),
    Ed(CoreEdDsaPrivateSigningKey),
}

/// A P-256 key: the openidconnect crate verifies ES256 but has no signing key for it.
pub struct EcKey {
    key: p256::ecdsa::SigningKey,
    kid: JsonWebKeyId,
}

impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, openidconnect::SigningError> {
        match self {
            Self::Rsa(key) => key.sign(alg, message),
            Self::Ed(key) => key.sign(alg, message),
            Self::Ec(key) if *alg == CoreJwsSigningAlgorithm::EcdsaP256Sha256 => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::Signature = key.key.sign(message);
                Ok(signature.to_bytes().to_vec())
            }
            Self::Ec(_) => Err(openidconnect::SigningError::UnsupportedAlg(
                "an ES256 key signs only ES256".into(),
            )),
        }
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        match self {
            Self::Rsa(key) => key.as_verification_key(),
            Self::Ed(key) => key.as_verification_key(),
            Self::Ec(key) => {
                let point = key.key.verifying_key().to_sec1_point(false);
                let coordinate = |part: Option<&[u8]>| part.map(<[u8]>::to_vec).unwrap_or_default();
                CoreJsonWebKey::new_ec(
                    coordinate(point.x().map(|x| x.as_slice())),
                    coordinate(point.y().map(|y| y.as_slice())),
                    CoreJsonCurveType::P256,
                    Some(key.kid.clone()),
                )
            }
        }
    }
}

/// A set's newest private key, ready to sign.
pub struct Signer {
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    pub key: SigningKey,
}

impl Signer {
    pub fn algorithm(&self) -> CoreJwsSigningAlgorithm {
        algorithm(&self.alg)
    }

    /// A compact JWS of `claims` with this key and its id.
    pub fn sign_jwt(&self, claims: &Value) -> OAuthResult<String> {
        let encode = |value: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        let header = json!({"alg": self.alg, "kid": self.kid, "typ": "JWT"});
        let message = format!("{}.{}", encode(&header), encode(claims));
        let signature = self
            .key
            .sign(&self.algorithm(), message.as_bytes())
            .map_err(|error| {
                tracing::error!(?error, "could not sign a token");
                OAuthError::server_error()
            })?;
        Ok(format!(
            "{message}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

fn algorithm(alg: &str) -> CoreJwsSigningAlgorithm {
    match alg {
        "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        "EdDSA" => CoreJwsSigningAlgorithm::EdDsa,
        _ => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    }
}

/// A new private key of `alg`, as the text that is stored (encrypted): PKCS#1 PEM for RSA,
/// PKCS#8 PEM for Ed25519, the base64 scalar for P-256.
fn new_private_key(alg: &str) -> Result<String, String> {
    let mut seed = [0u8; 32];
    match alg {
        "ES256" => loop {
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
            // A random 32 bytes is a valid P-256 scalar but with negligible chance.
            if p256::ecdsa::SigningKey::from_slice(&seed).is_ok() {
                return Ok(base64::engine::general_purpose::STANDARD.encode(seed));
            }
        },
        "EdDSA" => {
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
            // PKCS#8 of an Ed25519 seed (RFC 8410): a fixed prefix, then the 32 bytes.
            let mut der = vec![
                0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
                0x04, 0x20,
            ];
            der.extend_from_slice(&seed);
            let body = base64::engine::general_purpose::STANDARD.encode(der);
            Ok(format!(
                "-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
            ))
        }
        _ => {
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
                .map_err(|error| error.to_string())?;
            key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .map(|pem| pem.to_string())
                .map_err(|error| error.to_string())
        }
    }
}

/// Reads a stored private key of `alg`.
fn read_private_key(alg: &str, text: &str, kid: &str) -> Result<SigningKey, String> {
    let kid = JsonWebKeyId::new(kid.to_string());
    match alg {
        "ES256" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|error| error.to_string())?;
            let key =
                p256::ecdsa::SigningKey::from_slice(&bytes).map_err(|error| error.to_string())?;
            Ok(SigningKey::Ec(EcKey { key, kid }))
        }
        "EdDSA" => {
            CoreEdDsaPrivateSigningKey::from_ed25519_pem(text, Some(kid)).map(SigningKey::Ed)
        }
        _ => CoreRsaPrivateSigningKey::from_pem(text, Some(kid)).map(SigningKey::Rsa),
    }
}

/// The signers each set had when last read.
#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<&'static str, (Instant, Arc<Signer>)>>);

impl KeyCache {
    fn get(&self, set: &str) -> Option<Arc<Signer>> {
        let cache = self.0.lock().ok()?;
        let (read_at, signer) = cache.get(set)?;
        (read_at.elapsed() < CACHE_FOR).then(|| signer.clone())
    }

    fn put(&self, set: &'static str, signer: Arc<Signer>) {
        if let Ok(mut cache) = self.0.lock() {
            cache.insert(set, (Instant::now(), signer));
        }
    }

    fn forget(&self, set: &str) {
        if let Ok(mut cache) = self.0.lock() {
            cache.remove(set);
        }
    }
}

/// Makes a key for each set that has none (at start).
pub async fn ensure(state: &AppState) -> OAuthResult<()> {
    for set in SETS {
        if state.oauth2.keys(set).await?.is_empty() {
            generate(state, set, "RS256", None).await?;
            tracing::info!(set, "made a signing key");
        }
    }
    Ok(())
}

/// The newest key of `set` (made if the set is empty).
pub async fn signer(state: &AppState, set: &'static str) -> OAuthResult<Arc<Signer>> {
    if let Some(signer) = state.oauth2_keys.get(set) {
        return Ok(signer);
    }
    let newest = match state.oauth2.keys(set).await?.into_iter().next() {
        Some(key) => key,
        None => generate(state, set, "RS256", None).await?,
    };
    let text = state.cipher.decrypt(&newest.private_key).ok_or_else(|| {
        tracing::error!(set, kid = %newest.kid, "a signing key does not decrypt with secrets.cipher");
        OAuthError::server_error()
    })?;
    let key = read_private_key(&newest.alg, &text, &newest.kid).map_err(|error| {
        tracing::error!(set, kid = %newest.kid, %error, "a signing key is unreadable");
        OAuthError::server_error()
    })?;
    let signer = Arc::new(Signer {
        kid: newest.kid,
        alg: newest.alg,
        key,
    });
    state.oauth2_keys.put(set, signer.clone());
    Ok(signer)
}

/// Makes and stores a new key of `alg` in `set`.
async fn generate(
    state: &AppState,
    set: &str,
    alg: &str,
    kid: Option<String>,
) -> OAuthResult<StoredKey> {
    let failed = |error: String| {
        tracing::error!(set, %error, "could not make a signing key");
        OAuthError::server_error()
    };
    let made = alg.to_string();
    let private = tokio::task::spawn_blocking(move || new_private_key(&made))
        .await
        .map_err(|error| failed(error.to_string()))?
        .map_err(failed)?;
    let kid = kid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let key = read_private_key(alg, &private, &kid).map_err(failed)?;
    let mut public_jwk =
        serde_json::to_value(key.as_verification_key()).map_err(|e| failed(e.to_string()))?;
    public_jwk["alg"] = json!(alg);
    public_jwk["use"] = json!("sig");
    let private_key = state
        .cipher
        .encrypt(&private)
        .ok_or_else(|| failed("secrets.cipher has no key".into()))?;
    let stored = StoredKey {
        set_id: set.to_string(),
        kid,
        alg: alg.to_string(),
        private_key,
        public_jwk,
        created_at: state.clock.now(),
    };
    state.oauth2.add_key(&stored).await?;
    state.oauth2_keys.forget(set);
    Ok(stored)
}

/// Every public key of the signing sets, newest first.
pub async fn published(state: &AppState) -> OAuthResult<Vec<Value>> {
    let mut keys = Vec::new();
    for set in SETS {
        keys.extend(
            state
                .oauth2
                .keys(set)
                .await?
                .into_iter()
                .map(|key| key.public_jwk),
        );
    }
    Ok(keys)
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    match published(&state).await {
        Ok(keys) => Json(json!({ "keys": keys })).into_response(),
        Err(error) => error.into_response(),
    }
}

pub fn admin_routes() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route(
            "/keys/{set}",
            get(get_set).post(create_key).delete(delete_set),
        )
        .route("/keys/{set}/{kid}", get(get_key).delete(delete_key))
}

/// Only the provider's own sets exist: others are a 404, not a new set.
fn known_set(set: &str) -> OAuthResult<&'static str> {
    SETS.into_iter()
        .find(|known| *known == set)
        .ok_or_else(|| OAuthError::not_found(format!("there is no key set {set}")))
}

/// Public keys only: private keys never leave the database (Hydra returns them; Ward does not).
async fn get_set(State(state): State<AppState>, Path(set): Path<String>) -> OAuthResult<Response> {
    let set = known_set(&set)?;
    let keys: Vec<Value> = state
        .oauth2
        .keys(set)
        .await?
        .into_iter()
        .map(|key| key.public_jwk)
        .collect();
    if keys.is_empty() {
        return Err(OAuthError::not_found(format!("key set {set} is empty")));
    }
    Ok(Json(json!({ "keys": keys })).into_response())
}

async fn get_key(
    State(state): State<AppState>,
    Path((set, kid)): Path<(String, String)>,
) -> OAuthResult<Response> {
    let set = known_set(&set)?;
    let key = state
        .oauth2
        .keys(set)
        .await?
        .into_iter()
        .find(|key| key.kid == kid)
        .ok_or_else(|| OAuthError::not_found(format!("there is no key {kid} in {set}")))?;
    Ok(Json(json!({ "keys": [key.public_jwk] })).into_response())
}

#[derive(Deserialize)]
struct NewKey {
    alg: String,
    #[serde(rename = "use", default)]
    use_: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// `POST /admin/keys/{set}`: adds a key, which signs from now on (rotation).
async fn create_key(
    State(state): State<AppState>,
    Path(set): Path<String>,
    body: axum::body::Bytes,
) -> OAuthResult<Response> {
    let set = known_set(&set)?;
    let new: NewKey = serde_json::from_slice(&body).map_err(|error| {
        OAuthError::invalid_request(format!("the body must be {{alg, use, kid}}: {error}"))
    })?;
    if !ALGORITHMS.contains(&new.alg.as_str()) {
        return Err(OAuthError::invalid_request(format!(
            "alg {} is not offered: keys are RS256, ES256 or EdDSA",
            new.alg
        )));
    }
    if new.use_.as_deref().is_some_and(|use_| use_ != "sig") {
        return Err(OAuthError::invalid_request("use must be sig"));
    }
    let kid = new.kid.filter(|kid| !kid.is_empty());
    if let Some(kid) = &kid
        && state
            .oauth2
            .keys(set)
            .await?
            .iter()
            .any(|key| &key.kid == kid)
    {
        return Err(OAuthError::new(
            StatusCode::CONFLICT,
            "invalid_request",
            format!("key {kid} exists already in {set}"),
        ));
    }
    let key = generate(&state, set, &new.alg, kid).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "keys": [key.public_jwk] })),
    )
        .into_response())
}

async fn delete_set(
    State(state): State<AppState>,
    Path(set): Path<String>,
) -> OAuthResult<Response> {
    delete(&state, &set, None).await
}

async fn delete_key(
    State(state): State<AppState>,
    Path((set, kid)): Path<(String, String)>,
) -> OAuthResult<Response> {
    delete(&state, &set, Some(&kid)).await
}

/// Deleting a set's last key makes a new one at the next signature: tokens signed with the
/// deleted key stop verifying at once.
async fn delete(state: &AppState, set: &str, kid: Option<&str>) -> OAuthResult<Response> {
    let set = known_set(set)?;
    let deleted = state.oauth2.delete_keys(set, kid).await?;
    state.oauth2_keys.forget(set);
    if deleted == 0 {
        return Err(OAuthError::not_found(format!("nothing to delete in {set}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
