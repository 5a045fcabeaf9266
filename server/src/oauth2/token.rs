//! `/oauth2/token` (authorization_code with PKCE, refresh_token with rotation and reuse
//! detection, client_credentials), `/oauth2/revoke`, `/userinfo`, and the admin
//! `/admin/oauth2/introspect`, as Hydra answers them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::assertion;
use super::claims;
use super::client::{self, Client};
use super::error::{OAuthError, OAuthResult, no_store};
use super::grant::{self, Details, has_scope};
use crate::state::AppState;
use crate::store::{Grant, StoredToken, TokenKind};

/// A form body as pairs; a repeated key keeps its first value.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> OAuthResult<Self> {
        serde_urlencoded::from_bytes(body).map(Self).map_err(|_| {
            OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")
        })
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// Percent-decoding of one part of HTTP Basic credentials (RFC 6749 §2.3.1 form-encodes them).
fn form_decoded(part: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={part}")).ok()?;
    pairs.into_iter().next().map(|(_, value)| value)
}

/// The client that sent this request to `endpoint` (a path), authenticated the one way it is
/// registered for.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
    endpoint: &str,
) -> OAuthResult<client::Found> {
    if let Some(kind) = form.get("client_assertion_type") {
        return authenticate_assertion(state, form, kind, endpoint).await;
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .map(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| {
                    let (id, secret) = text.split_once(':')?;
                    Some((form_decoded(id)?, form_decoded(secret)?))
                })
                .ok_or_else(|| OAuthError::invalid_client("the Basic credentials are malformed"))
        })
        .transpose()?;
    let (id, secret, method) = match basic {
        Some((id, secret)) => (id, Some(secret), "client_secret_basic"),
        None => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("the client did not authenticate"))?
                .to_string();
            match form.get("client_secret") {
                Some(secret) => (id, Some(secret.to_string()), "client_secret_post"),
                None => (id, None, "none"),
            }
        }
    };
    let unknown =
        || OAuthError::invalid_client("the client is unknown, or its credentials are wrong");
    let Some(found) = client::find_shared(state, &id).await? else {
        return Err(unknown());
    };
    let (client, secret_hash) = &*found;
    if client.token_endpoint_auth_method == "private_key_jwt" {
        return Err(OAuthError::invalid_client(
            "the client must authenticate with private_key_jwt: a client_assertion",
        ));
    }
    if client.token_endpoint_auth_method != method {
        return Err(OAuthError::invalid_client(format!(
            "the client must authenticate with {}, not {method}",
            client.token_endpoint_auth_method
        )));
    }
    if let (Some(secret), Some(stored)) = (secret.as_deref(), secret_hash.as_deref()) {
        if !client::verify_secret(state, secret, stored).await {
            return Err(unknown());
        }
        let expires = client.client_secret_expires_at;
        if expires > 0 && expires < state.clock.now().unix_timestamp() {
            return Err(OAuthError::invalid_client(
                "the client's secret has expired",
            ));
        }
    } else if method != "none" {
        return Err(unknown());
    }
    Ok(found)
}

/// `private_key_jwt`: a `client_assertion` signed by the client's key.
async fn authenticate_assertion(
    state: &AppState,
    form: &Form,
    kind: &str,
    endpoint: &str,
) -> OAuthResult<client::Found> {
    if kind != assertion::ASSERTION_TYPE {
        return Err(OAuthError::invalid_client(format!(
            "client_assertion_type must be {}",
            assertion::ASSERTION_TYPE
        )));
    }
    let jwt = form
        .get("client_assertion")
        .ok_or_else(|| OAuthError::invalid_client("client_assertion is missing"))?;
    let assertion = assertion::Assertion::parse(jwt)?;
    let id = assertion.client_id()?;
    if form.get("client_id").is_some_and(|sent| sent != id) {
        return Err(OAuthError::invalid_client(
            "client_id is not the client the assertion names",
        ));
    }
    let unknown =
        || OAuthError::invalid_client("the client is unknown, or its credentials are wrong");
    let found = client::find_shared(state, id).await?.ok_or_else(unknown)?;
    let client = &found.0;
    if client.token_endpoint_auth_method != "private_key_jwt" {
        return Err(OAuthError::invalid_client(format!(
            "the client must authenticate with {}, not private_key_jwt",
            client.token_endpoint_auth_method
        )));
    }
    let endpoint = super::endpoint(state, endpoint);
    assertion.verify(state, client, endpoint.as_str()).await?;
    Ok(found)
}

fn token_answer(body: Value) -> Response {
    let mut response = Json(body).into_response();
    no_store(&mut response);
    response
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let form = Form::parse(&body)?;
        let found = authenticate(&state, &headers, &form, "oauth2/token").await?;
        let client = &found.0;
        match form.get("grant_type") {
            Some("authorization_code") => exchange_code(&state, client, &form).await,
            Some("refresh_token") => refresh(&state, client, &form).await,
            Some("client_credentials") => client_credentials(&state, client, &form).await,
            // Hydra answers an unknown grant type with invalid_request.
            Some(other) => Err(OAuthError::invalid_request(format!(
                "grant_type {other} is not supported: use authorization_code, refresh_token or \
             client_credentials"
            ))),
            None => Err(OAuthError::invalid_request("grant_type is missing")),
        }
    }
    .await;
    result.map_or_else(IntoResponse::into_response, token_answer)
}

fn require_grant_type(client: &Client, grant_type: &str) -> OAuthResult<()> {
    if client.allows_grant(grant_type) {
        Ok(())
    } else {
        Err(OAuthError::unauthorized_client(format!(
            "the client may not use the {grant_type} grant"
        )))
    }
}

/// Tokens for a grant: an access token, a refresh token where `offline` was granted to a client
/// allowed to refresh, and an id_token where `openid` was. `fresh`: the grant was just
/// authorized (a code exchange), so the claims it keeps are current.
async fn mint(
    state: &AppState,
    client: &Client,
    grant: &Grant,
    fresh: bool,
) -> OAuthResult<(Vec<StoredToken>, Value)> {
    let now = state.clock.now();
    let ttl = &state.config.oauth2_server.ttl;
    let access = grant::access_token(state, client, grant, now).await?;
    let mut tokens = vec![grant::stored(
        &access,
        grant,
        TokenKind::Access,
        now,
        ttl.access_token,
    )];
    let offline = has_scope(&grant.scope, "offline") || has_scope(&grant.scope, "offline_access");
    let refresh =
        (offline && client.allows_grant("refresh_token")).then(|| grant::random_token("ory_rt_"));
    if let Some(refresh) = &refresh {
        tokens.push(grant::stored(
            refresh,
            grant,
            TokenKind::Refresh,
            now,
            ttl.refresh_token,
        ));
    }
    let id_token = if has_scope(&grant.scope, "openid") {
        let mut details = Details::of(grant);
        // The code exchange signs what the user authorized; a refresh reads the user afresh.
        let user = match details.claims.take().filter(|_| fresh) {
            Some(user) => user,
            None => {
                let identity = claims::identity_of(state, grant).await?.ok_or_else(|| {
                    OAuthError::invalid_grant("the user of this grant no longer exists")
                })?;
                claims::user_claims(state, &identity, &grant.client_id, &grant.scope).await?
            }
        };
        Some(claims::id_token(state, grant, &details, user, &access).await?)
    } else {
        None
    };
    let body = grant::token_response(
        state,
        grant,
        &access,
        refresh.as_deref(),
        id_token.as_deref(),
    );
    Ok((tokens, body))
}

/// A token of `kind` the client sent, with its grant; `invalid_grant` for anything unusable.
async fn presented(
    state: &AppState,
    client: &Client,
    text: Option<&str>,
    kind: TokenKind,
    name: &str,
) -> OAuthResult<(StoredToken, Grant)> {
    let text = text.ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))?;
    let invalid =
        || OAuthError::invalid_grant(format!("the {name} is invalid, expired or revoked"));
    let (token, grant) = state
        .oauth2
        .find_token(&grant::signature(text))
        .await?
        .filter(|(token, grant)| token.kind == kind && grant.revoked_at.is_none())
        .ok_or_else(invalid)?;
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(format!(
            "the {name} was issued to another client"
        )));
    }
    Ok((token, grant))
}

async fn exchange_code(state: &AppState, client: &Client, form: &Form) -> OAuthResult<Value> {
    require_grant_type(client, "authorization_code")?;
    let (code, grant) = presented(state, client, form.get("code"), TokenKind::Code, "code").await?;
    let now = state.clock.now();
    // A second use of a code ends what the first one gave (RFC 6749 §4.1.2).
    if code.used_at.is_some() {
        state.oauth2.revoke_grant(grant.id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the code was used before: the tokens it gave are revoked",
        ));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    let details = Details::of(&grant);
    if details.redirect_uri.as_deref() != form.get("redirect_uri") && details.redirect_uri.is_some()
    {
        return Err(OAuthError::invalid_grant(
            "redirect_uri must be the one of the authorization request",
        ));
    }
    match (&details.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            let valid = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte));
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if !valid || !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(OAuthError::invalid_grant(
                    "the code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant("code_verifier is missing"));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier was sent, but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let (tokens, body) = mint(state, client, &grant, true).await?;
    if !state
        .oauth2
        .spend_token(&code.signature, false, &tokens, now)
        .await?
    {
        // Another request spent the code first: this one is the replay.
        state.oauth2.revoke_grant(grant.id, now).await?;
        return Err(OAuthError::invalid_grant(
            "the code was used before: the tokens it gave are revoked",
        ));
    }
    Ok(body)
}

async fn refresh(state: &AppState, client: &Client, form: &Form) -> OAuthResult<Value> {
    require_grant_type(client, "refresh_token")?;
    let (token, grant) = presented(
        state,
        client,
        form.get("refresh_token"),
        TokenKind::Refresh,
        "refresh_token",
    )
    .await?;
    let now = state.clock.now();
    let grace = state
        .config
        .oauth2_server
        .oauth2
        .refresh_token_rotation
        .grace_period;
    let reused = token
        .used_at
        .is_some_and(|used_at| grace.is_zero() || used_at + grace <= now);
    // A refresh token works once: a replay means it leaked, so the whole grant ends, the
    // newest tokens included (Hydra's reuse detection).
    if reused {
        state.oauth2.revoke_grant(grant.id, now).await?;
        tracing::warn!(grant = %grant.id, client = %client.client_id, "a used refresh token came back: its grant is revoked");
        return Err(OAuthError::invalid_grant(
            "the refresh token was used before: every token of its grant is revoked",
        ));
    }
    if token.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let (tokens, body) = mint(state, client, &grant, false).await?;
    let spent = if token.used_at.is_some() {
        // Inside the grace period: the old token stays spent, new tokens join the grant.
        state.oauth2.add_tokens(&tokens).await?;
        true
    } else {
        state
            .oauth2
            .spend_token(&token.signature, true, &tokens, now)
            .await?
    };
    if !spent {
        return Err(OAuthError::invalid_request(
            "the refresh token is being used by another request; try again",
        ));
    }
    Ok(body)
}

async fn client_credentials(state: &AppState, client: &Client, form: &Form) -> OAuthResult<Value> {
    if client.is_public() {
        return Err(OAuthError::invalid_grant(
            "a public client cannot use client_credentials",
        ));
    }
    require_grant_type(client, "client_credentials")?;
    let scope = form.get("scope").unwrap_or_default().to_string();
    if !client.allows_scopes(&scope) {
        return Err(OAuthError::invalid_scope(
            "the client may not ask for one of the requested scopes",
        ));
    }
    let audience: Vec<String> = form
        .get("audience")
        .map(|audience| audience.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(denied) = audience
        .iter()
        .find(|wanted| !client.audience.contains(wanted))
    {
        return Err(OAuthError::invalid_request(format!(
            "audience {denied} is not allowed for this client"
        )));
    }
    let now = state.clock.now();
    let grant = Grant {
        id: uuid::Uuid::new_v4(),
        client_id: client.client_id.clone(),
        subject: client.client_id.clone(),
        session_id: None,
        scope,
        details: serde_json::to_value(Details {
            audience,
            ..Details::default()
        })
        .unwrap_or_default(),
        created_at: now,
        revoked_at: None,
    };
    let access = grant::access_token(state, client, &grant, now).await?;
    let ttl = state.config.oauth2_server.ttl.access_token;
    let token = grant::stored(&access, &grant, TokenKind::Access, now, ttl);
    state.oauth2.create_grant(&grant, &[token]).await?;
    Ok(grant::token_response(state, &grant, &access, None, None))
}

/// `POST /oauth2/revoke` (RFC 7009): ends every token of the token's grant. Unknown tokens and
/// other clients' tokens get the same empty 200.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> OAuthResult<Response> {
    let form = Form::parse(&body)?;
    let found = authenticate(&state, &headers, &form, "oauth2/revoke").await?;
    let client = &found.0;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    if let Some((_, grant)) = state.oauth2.find_token(&grant::signature(token)).await?
        && grant.client_id == client.client_id
    {
        state
            .oauth2
            .revoke_grant(grant.id, state.clock.now())
            .await?;
    }
    Ok(StatusCode::OK.into_response())
}

/// A live access or refresh token and its grant.
async fn live(state: &AppState, text: &str) -> OAuthResult<Option<(StoredToken, Grant)>> {
    let now = state.clock.now();
    Ok(state
        .oauth2
        .find_token(&grant::signature(text))
        .await?
        .filter(|(token, grant)| {
            token.kind != TokenKind::Code
                && token.used_at.is_none()
                && token.expires_at > now
                && grant.revoked_at.is_none()
        }))
}

/// `POST /admin/oauth2/introspect` (RFC 7662): `{"active": false}` for anything not live.
pub async fn introspect(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let result = async {
        let form = Form::parse(&body)?;
        let text = form
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        let Some((token, grant)) = live(&state, text).await? else {
            return Ok(json!({"active": false}));
        };
        if let Some(wanted) = form.get("scope")
            && !wanted
                .split_whitespace()
                .all(|scope| has_scope(&grant.scope, scope))
        {
            return Ok(json!({"active": false}));
        }
        Ok::<_, OAuthError>(json!({
            "active": true,
            "client_id": grant.client_id,
            "scope": grant.scope,
            "sub": grant.subject,
            "exp": token.expires_at.unix_timestamp(),
            "iat": token.created_at.unix_timestamp(),
            "nbf": token.created_at.unix_timestamp(),
            "aud": Details::of(&grant).audience,
            "iss": super::issuer(&state).as_str(),
            "token_type": "Bearer",
            "token_use": match token.kind {
                TokenKind::Refresh => "refresh_token",
                _ => "access_token",
            },
        }))
    }
    .await;
    result.map_or_else(IntoResponse::into_response, token_answer)
}

/// A 401 for userinfo, with the Bearer challenge (RFC 6750 §3).
fn bearer_error(error: &'static str, description: &str) -> Response {
    let mut response =
        OAuthError::new(StatusCode::UNAUTHORIZED, error, description).into_response();
    let challenge = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `GET|POST /userinfo`: the claims of the access token's grant.
pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_string);
    let from_body = Form::parse(&body)
        .ok()
        .and_then(|form| form.get("access_token").map(str::to_string));
    let Some(text) = from_header.or(from_body) else {
        return bearer_error("request_unauthorized", "no access token was sent");
    };
    let result = async {
        let Some((token, grant)) = live(&state, &text).await? else {
            return Ok(None);
        };
        if token.kind != TokenKind::Access {
            return Ok(None);
        }
        let Some(identity) = claims::identity_of(&state, &grant).await? else {
            return Ok(None);
        };
        Ok::<_, OAuthError>(Some(claims::userinfo(&state, &identity, &grant).await?))
    }
    .await;
    match result {
        Ok(Some(claims)) => token_answer(claims),
        Ok(None) => bearer_error(
            "invalid_token",
            "the access token is invalid, expired or revoked",
        ),
        Err(error) => error.into_response(),
    }
}
