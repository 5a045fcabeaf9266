//! OAuth2 clients as Hydra's admin API has them (`/admin/clients`): Hydra's JSON, a secret
//! shown once at creation and stored hashed, and the checks Hydra makes on the metadata.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::error::{OAuthError, OAuthResult};
use crate::hash::Password;
use crate::identity::timestamp;
use crate::state::AppState;
use crate::store::{StoreError, StoredClient};
use openidconnect::core::CoreJsonWebKey;

/// Scopes a client may ask for when its registration names none (Hydra's default).
const DEFAULT_SCOPE: &str = "offline_access offline openid";
/// Secrets at least this long are random enough for a fast hash; shorter ones (an operator's
/// choice, Hydra allows 6 characters) get a password hash.
const LONG_SECRET: usize = 32;

/// A client's registration, in Hydra's field names. Fields Ward does not act on (URIs shown to
/// users, contacts, metadata) are kept and returned as given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scope: String,
    pub audience: Vec<String>,
    pub owner: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub client_uri: String,
    pub logo_uri: String,
    pub contacts: Vec<String>,
    pub allowed_cors_origins: Vec<String>,
    pub client_secret_expires_at: i64,
    pub subject_type: String,
    pub token_endpoint_auth_method: String,
    pub userinfo_signed_response_alg: String,
    pub post_logout_redirect_uris: Vec<String>,
    pub metadata: Value,
    /// `private_key_jwt`: the client's public keys (a JWK set), or where it publishes them.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub jwks: Value,
    pub jwks_uri: String,
    /// `private_key_jwt`: the algorithm its assertions are signed with (RS256 by default).
    pub token_endpoint_auth_signing_alg: String,
    pub skip_consent: bool,
    pub access_token_strategy: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == "none"
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|allowed| allowed == grant)
    }

    /// Whether every scope in `requested` (space-separated) is one the client may ask for.
    pub fn allows_scopes(&self, requested: &str) -> bool {
        requested.split_whitespace().all(|scope| {
            self.scope
                .split_whitespace()
                .any(|allowed| allowed == scope)
        })
    }

    /// Whether the client authenticates with a secret (not with `none` or `private_key_jwt`).
    pub fn uses_secret(&self) -> bool {
        !matches!(
            self.token_endpoint_auth_method.as_str(),
            "none" | "private_key_jwt"
        )
    }

    /// `jwks`, `jwks_uri` and `token_endpoint_auth_signing_alg` as Hydra checks them.
    fn check_keys(&mut self) -> Result<(), String> {
        if !self.jwks.is_null() && !self.jwks_uri.is_empty() {
            return Err("jwks and jwks_uri cannot both be set".into());
        }
        let private = |key: &Value| {
            ["d", "p", "q", "k"]
                .iter()
                .any(|part| key.get(part).is_some())
        };
        if self.jwks["keys"]
            .as_array()
            .is_some_and(|keys| keys.iter().any(private))
        {
            return Err("jwks must hold public keys only: a private key was sent".into());
        }
        if !self.jwks.is_null()
            && serde_json::from_value::<openidconnect::core::CoreJsonWebKeySet>(self.jwks.clone())
                .is_err()
        {
            return Err("jwks must be a JWK set ({\"keys\": [...]}) of public keys".into());
        }
        if !self.jwks_uri.is_empty() && url::Url::parse(&self.jwks_uri).is_err() {
            return Err(format!("jwks_uri {} is not an absolute URL", self.jwks_uri));
        }
        if self.token_endpoint_auth_method != "private_key_jwt" {
            return Ok(());
        }
        if self.jwks.is_null() && self.jwks_uri.is_empty() {
            return Err("private_key_jwt needs the client's public keys: jwks or jwks_uri".into());
        }
        if self.token_endpoint_auth_signing_alg.is_empty() {
            self.token_endpoint_auth_signing_alg = "RS256".into();
        }
        if !super::assertion::ALGORITHMS.contains(&self.token_endpoint_auth_signing_alg.as_str()) {
            return Err(format!(
                "token_endpoint_auth_signing_alg must be one of {}",
                super::assertion::ALGORITHMS.join(", ")
            ));
        }
        Ok(())
    }

    fn from_stored(stored: &StoredClient) -> OAuthResult<Self> {
        serde_json::from_value(stored.document.clone()).map_err(|error| {
            tracing::error!(client = %stored.id, %error, "unreadable OAuth2 client");
            OAuthError::server_error()
        })
    }

    /// Fills Hydra's defaults and checks the registration; the error names the problem.
    fn normalise(&mut self) -> OAuthResult<()> {
        let invalid = |description: String| {
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                description,
            )
        };
        if self.grant_types.is_empty() {
            self.grant_types = vec!["authorization_code".into()];
        }
        if self.response_types.is_empty() {
            self.response_types = vec!["code".into()];
        }
        if self.scope.trim().is_empty() {
            self.scope = DEFAULT_SCOPE.into();
        }
        if self.token_endpoint_auth_method.is_empty() {
            self.token_endpoint_auth_method = "client_secret_basic".into();
        }
        if self.subject_type.is_empty() {
            self.subject_type = "public".into();
        }
        if self.userinfo_signed_response_alg.is_empty() {
            self.userinfo_signed_response_alg = "none".into();
        }
        if self.metadata.is_null() {
            self.metadata = json!({});
        }
        for grant in &self.grant_types {
            match grant.as_str() {
                "authorization_code" | "refresh_token" | "client_credentials" => {}
                "implicit" | "password" => {
                    return Err(invalid(format!(
                        "grant type {grant} is not offered: it exposes tokens (implicit) or \
                         passwords (password) to the client; use authorization_code with PKCE"
                    )));
                }
                other => return Err(invalid(format!("grant type {other} is not supported"))),
            }
        }
        if let Some(other) = self.response_types.iter().find(|kind| *kind != "code") {
            return Err(invalid(format!(
                "response type {other} is not supported: use code (with PKCE)"
            )));
        }
        match self.token_endpoint_auth_method.as_str() {
            "client_secret_basic" | "client_secret_post" | "none" | "private_key_jwt" => {}
            other => {
                return Err(invalid(format!(
                    "token_endpoint_auth_method {other} is not supported: use \
                     client_secret_basic, client_secret_post, private_key_jwt or none"
                )));
            }
        }
        self.check_keys().map_err(invalid)?;
        if self.subject_type != "public" {
            return Err(invalid("subject_type must be public".into()));
        }
        if !matches!(self.userinfo_signed_response_alg.as_str(), "none") {
            return Err(invalid(
                "userinfo_signed_response_alg must be none: userinfo is plain JSON".into(),
            ));
        }
        if !matches!(self.access_token_strategy.as_str(), "" | "opaque" | "jwt") {
            return Err(invalid(
                "access_token_strategy must be opaque or jwt".into(),
            ));
        }
        for uri in &self.redirect_uris {
            let parsed = url::Url::parse(uri).map_err(|_| {
                OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_redirect_uri",
                    format!("redirect URI {uri} is not an absolute URL"),
                )
            })?;
            if parsed.fragment().is_some() {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_redirect_uri",
                    format!("redirect URI {uri} must not have a fragment"),
                ));
            }
        }
        for uri in &self.post_logout_redirect_uris {
            let same_origin = url::Url::parse(uri).ok().is_some_and(|logout| {
                self.redirect_uris.iter().any(|redirect| {
                    url::Url::parse(redirect)
                        .is_ok_and(|redirect| redirect.origin() == logout.origin())
                })
            });
            if !same_origin {
                return Err(invalid(format!(
                    "post_logout_redirect_uri {uri} must share scheme, host and port with a \
                     redirect_uri"
                )));
            }
        }
        Ok(())
    }
}

/// A client secret's stored form: SHA-256 for long random secrets, a password hash otherwise.
async fn hash_secret(state: &AppState, secret: &str) -> OAuthResult<String> {
    if secret.len() >= LONG_SECRET {
        return Ok(format!("sha256:{}", super::grant::signature(secret)));
    }
    state
        .hasher
        .hash(Password::new(secret.to_string()))
        .await
        .map_err(|error| {
            tracing::error!(%error, "could not hash a client secret");
            OAuthError::server_error()
        })
}

/// Whether `secret` is the client's; compared in constant time.
pub async fn verify_secret(state: &AppState, secret: &str, stored: &str) -> bool {
    match stored.strip_prefix("sha256:") {
        Some(expected) => {
            let given = super::grant::signature(secret);
            bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
        }
        None => state
            .hasher
            .verify(Password::new(secret.to_string()), stored.to_string())
            .await
            .unwrap_or(false),
    }
}

fn generate_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How long a replica trusts the registration it read: changes made through this replica apply
/// at once, those made through another one within this time.
const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// A client with its stored secret hash.
pub type Found = std::sync::Arc<(Client, Option<String>)>;

/// Clients as last read (every token request authenticates its client, and registrations
/// rarely change), and the keys of the `jwks_uri`s of clients that sign assertions.
pub struct ClientCache {
    clients: quick_cache::sync::Cache<String, (std::time::Instant, Option<Found>)>,
    /// The keys of `jwks_uri`s, as last fetched.
    keys: quick_cache::sync::Cache<String, (std::time::Instant, Vec<CoreJsonWebKey>)>,
    /// For `jwks_uri`s: short timeouts, no redirects; built by the first fetch.
    http: std::sync::OnceLock<Option<reqwest::Client>>,
}

impl Default for ClientCache {
    fn default() -> Self {
        Self {
            clients: quick_cache::sync::Cache::new(10_000),
            keys: quick_cache::sync::Cache::new(1_000),
            http: std::sync::OnceLock::new(),
        }
    }
}

impl ClientCache {
    pub fn fetched_keys(&self, uri: &str) -> Option<(std::time::Instant, Vec<CoreJsonWebKey>)> {
        self.keys.get(uri)
    }

    pub fn keep_keys(&self, uri: &str, at: std::time::Instant, keys: Vec<CoreJsonWebKey>) {
        self.keys.insert(uri.to_string(), (at, keys));
    }

    pub fn http(&self) -> OAuthResult<&reqwest::Client> {
        self.http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(5))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .ok()
            })
            .as_ref()
            .ok_or_else(OAuthError::server_error)
    }

    fn forget(&self, id: &str) {
        self.clients.remove(id);
    }
}

/// The client `id` with its stored secret hash.
pub async fn find(state: &AppState, id: &str) -> OAuthResult<Option<(Client, Option<String>)>> {
    Ok(find_shared(state, id)
        .await?
        .map(|found| (found.0.clone(), found.1.clone())))
}

/// [`find`] without a copy: the token endpoint's every request looks its client up.
pub async fn find_shared(state: &AppState, id: &str) -> OAuthResult<Option<Found>> {
    if let Some((read_at, found)) = state.oauth2_clients.clients.get(id)
        && read_at.elapsed() < CACHE_FOR
    {
        return Ok(found);
    }
    let found = match state.oauth2.get_client(id).await? {
        Some(stored) => Some(std::sync::Arc::new((
            Client::from_stored(&stored)?,
            stored.secret_hash,
        ))),
        None => None,
    };
    state
        .oauth2_clients
        .clients
        .insert(id.to_string(), (std::time::Instant::now(), found.clone()));
    Ok(found)
}

pub fn admin_routes() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route("/clients", get(list_clients).post(create_client))
        .route(
            "/clients/{id}",
            get(get_client)
                .put(replace_client)
                .patch(patch_client)
                .delete(delete_client),
        )
}

/// The body of a create or replace: the client and the secret it sets, if any.
fn parse_body(body: Value) -> OAuthResult<(Client, Option<String>)> {
    let secret = body
        .get("client_secret")
        .and_then(Value::as_str)
        .filter(|secret| !secret.is_empty())
        .map(str::to_string);
    let client: Client = serde_json::from_value(body).map_err(|error| {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            format!("the client is malformed: {error}"),
        )
    })?;
    if let Some(secret) = &secret
        && secret.len() < 6
    {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "client_secret must be at least 6 characters long",
        ));
    }
    Ok((client, secret))
}

fn client_json(client: &Client, secret: Option<&str>) -> Value {
    let mut value = serde_json::to_value(client).unwrap_or_else(|_| json!({}));
    if let (Some(secret), Value::Object(map)) = (secret, &mut value) {
        map.insert("client_secret".into(), json!(secret));
    }
    value
}

async fn store(
    state: &AppState,
    mut client: Client,
    secret: Option<String>,
    existing: Option<&StoredClient>,
) -> OAuthResult<(Client, Option<String>)> {
    client.normalise()?;
    let now = state.clock.now();
    let created = existing.map_or(now, |stored| stored.created_at);
    client.created_at = timestamp(created);
    client.updated_at = timestamp(now);
    // A public client, or one signing assertions, has no secret; one that uses a secret keeps
    // its old one on replace, or gets a new one, shown once.
    let (secret_hash, shown) = if !client.uses_secret() {
        (None, None)
    } else {
        match (
            secret,
            existing.and_then(|stored| stored.secret_hash.clone()),
        ) {
            (Some(secret), _) => (Some(hash_secret(state, &secret).await?), Some(secret)),
            (None, Some(kept)) => (Some(kept), None),
            (None, None) => {
                let secret = generate_secret();
                (Some(hash_secret(state, &secret).await?), Some(secret))
            }
        }
    };
    let stored = StoredClient {
        id: client.client_id.clone(),
        secret_hash,
        document: serde_json::to_value(&client).map_err(|_| OAuthError::server_error())?,
        created_at: created,
        updated_at: now,
    };
    match existing {
        None => state
            .oauth2
            .create_client(&stored)
            .await
            .map_err(|error| match error {
                StoreError::Conflict => OAuthError::new(
                    StatusCode::CONFLICT,
                    "invalid_request",
                    format!("a client with id {} exists already", client.client_id),
                ),
                other => other.into(),
            })?,
        Some(_) => state.oauth2.update_client(&stored).await?,
    }
    state.oauth2_clients.forget(&client.client_id);
    Ok((client, shown))
}

fn json_body(body: &[u8]) -> OAuthResult<Value> {
    serde_json::from_slice(body)
        .map_err(|error| OAuthError::invalid_request(format!("the body is not JSON: {error}")))
}

async fn create_client(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> OAuthResult<Response> {
    let (mut client, secret) = parse_body(json_body(&body)?)?;
    if client.client_id.is_empty() {
        client.client_id = uuid::Uuid::new_v4().to_string();
    }
    let (client, secret) = store(&state, client, secret, None).await?;
    let location = format!("/admin/clients/{}", client.client_id);
    let mut response = (
        StatusCode::CREATED,
        Json(client_json(&client, secret.as_deref())),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn loaded(state: &AppState, id: &str) -> OAuthResult<StoredClient> {
    state
        .oauth2
        .get_client(id)
        .await?
        .ok_or_else(|| OAuthError::not_found(format!("there is no OAuth2 client {id}")))
}

async fn get_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> OAuthResult<Response> {
    let stored = loaded(&state, &id).await?;
    Ok(Json(client_json(&Client::from_stored(&stored)?, None)).into_response())
}

async fn replace_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> OAuthResult<Response> {
    let existing = loaded(&state, &id).await?;
    let (mut client, secret) = parse_body(json_body(&body)?)?;
    client.client_id = id;
    let (client, secret) = store(&state, client, secret, Some(&existing)).await?;
    Ok(Json(client_json(&client, secret.as_deref())).into_response())
}

/// RFC 6902 patch of the client's JSON; the id cannot change.
async fn patch_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> OAuthResult<Response> {
    let existing = loaded(&state, &id).await?;
    let patch: json_patch::Patch = serde_json::from_slice(&body).map_err(|error| {
        OAuthError::invalid_request(format!("the body is not a JSON patch: {error}"))
    })?;
    if patch.iter().any(|operation| match operation {
        json_patch::PatchOperation::Add(op) => op.path.as_str() == "/client_id",
        json_patch::PatchOperation::Remove(op) => op.path.as_str() == "/client_id",
        json_patch::PatchOperation::Replace(op) => op.path.as_str() == "/client_id",
        json_patch::PatchOperation::Move(op) => {
            op.path.as_str() == "/client_id" || op.from.as_str() == "/client_id"
        }
        json_patch::PatchOperation::Copy(op) => op.path.as_str() == "/client_id",
        json_patch::PatchOperation::Test(_) => false,
    }) {
        return Err(OAuthError::invalid_request(
            "the client_id cannot be changed",
        ));
    }
    let mut document = existing.document.clone();
    json_patch::patch(&mut document, &patch).map_err(|error| {
        OAuthError::invalid_request(format!("the patch does not apply: {error}"))
    })?;
    let (mut client, secret) = parse_body(document)?;
    client.client_id = id;
    let (client, secret) = store(&state, client, secret, Some(&existing)).await?;
    Ok(Json(client_json(&client, secret.as_deref())).into_response())
}

async fn delete_client(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let deleted = state.oauth2.delete_client(&id).await;
    state.oauth2_clients.forget(&id);
    match deleted {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => {
            OAuthError::not_found(format!("there is no OAuth2 client {id}")).into_response()
        }
        Err(error) => OAuthError::from(error).into_response(),
    }
}

/// `GET /admin/clients?page_size&page_token&client_name&owner`: by id, with a `Link` header to
/// the next page (its token is the last id, encoded).
async fn list_clients(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> OAuthResult<Response> {
    let params: Map<String, Value> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""))
            .map_err(|error| OAuthError::invalid_request(error.to_string()))?
            .into_iter()
            .map(|(key, value)| (key, Value::String(value)))
            .collect();
    let text = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let page_size = match text("page_size") {
        Some(size) => size
            .parse::<u32>()
            .ok()
            .filter(|size| (1..=1000).contains(size))
            .ok_or_else(|| {
                OAuthError::invalid_request("page_size must be a number from 1 to 1000")
            })?,
        None => 250,
    };
    let after = match text("page_token") {
        Some(token) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| OAuthError::invalid_request("page_token is not one Ward made"))?,
        ),
        None => None,
    };
    // One more than asked, to know whether there is a next page.
    let mut clients = state
        .oauth2
        .list_clients(
            after.as_deref(),
            page_size + 1,
            text("client_name"),
            text("owner"),
        )
        .await?;
    let more = clients.len() > page_size as usize;
    clients.truncate(page_size as usize);
    let body: Vec<Value> = clients
        .iter()
        .map(|stored| Client::from_stored(stored).map(|client| client_json(&client, None)))
        .collect::<OAuthResult<_>>()?;
    let mut response = Json(body).into_response();
    let link = |token: Option<&str>, rel: &str| {
        let token = token
            .map(|token| format!("&page_token={token}"))
            .unwrap_or_default();
        format!("</admin/clients?page_size={page_size}{token}>; rel=\"{rel}\"")
    };
    let mut links = vec![link(None, "first")];
    if more && let Some(last) = clients.last() {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.id);
        links.push(link(Some(&token), "next"));
    }
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}
