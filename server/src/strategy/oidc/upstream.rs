//! One configured upstream: the authorization request, the code exchange and the claims about
//! the user. OpenID Connect upstreams go through the `openidconnect` crate (discovery, nonce,
//! PKCE, id_token verification against the upstream's keys); GitHub and Discord, which speak
//! OAuth 2.0 only, through the `oauth2` crate and their user APIs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreGenderClaim, CoreGrantType, CoreIdTokenVerifier,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, EmptyAdditionalClaims, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use super::preset::{ClaimsFrom, Preset};
use crate::config::{Pkce, ProviderConfig};
use crate::jsonnet::Mapper;

/// How long a discovery document and its keys are trusted before they are read again.
const METADATA_TTL: Duration = Duration::from_secs(600);

/// Discovery metadata plus the PKCE methods (which the crate's core type leaves out).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PkceMethods {
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}
impl AdditionalProviderMetadata for PkceMethods {}

type Metadata = ProviderMetadata<
    PkceMethods,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// An upstream failure, told to the user as a flow message (the details go to the log).
#[derive(Debug)]
pub struct UpstreamError(pub String);

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn failed(what: &str, error: impl std::fmt::Display) -> UpstreamError {
    UpstreamError(format!("{what}: {error}"))
}

/// What the authorization request left to check at the callback; kept in the flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Started {
    pub nonce: String,
    pub pkce_verifier: Option<String>,
}

/// What the upstream sent back with the browser.
pub struct Answer<'a> {
    pub code: &'a str,
    /// The `iss` parameter (RFC 9207), where the upstream sends it.
    pub iss: Option<&'a str>,
    /// Apple's `user` field: the name, sent once.
    pub apple_user: Option<&'a str>,
}

/// The upstream's tokens, for the credential when the provider keeps them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tokens {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

pub struct Upstream {
    pub config: ProviderConfig,
    pub preset: &'static Preset,
    pub mapper: Mapper,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, Arc<Metadata>)>>,
}

impl Upstream {
    pub fn new(config: ProviderConfig, preset: &'static Preset, mapper: Mapper) -> Self {
        // The crate's advice: never follow redirects from an upstream (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("Ward")
            .build()
            .unwrap_or_default();
        Self {
            config,
            preset,
            mapper,
            http,
            metadata: Mutex::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The name on buttons and in messages.
    pub fn label(&self) -> &str {
        match (&self.config.label, self.preset.label) {
            (Some(label), _) => label,
            (None, "") => &self.config.id,
            (None, preset) => preset,
        }
    }

    /// The issuer as configured (exactly: issuers compare as strings), else the preset's.
    fn issuer(&self) -> Option<String> {
        let tenant = self.config.microsoft_tenant.as_deref().unwrap_or("common");
        self.config.issuer_url.clone().or_else(|| {
            self.preset
                .issuer
                .map(|issuer| issuer.replace("{tenant}", tenant))
        })
    }

    /// The discovery document and keys of `issuer`, cached for a while.
    async fn discover(&self, issuer: &str, fresh: bool) -> Result<Arc<Metadata>, UpstreamError> {
        if !fresh
            && let Ok(cached) = self.metadata.lock()
            && let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
            && metadata.issuer().as_str() == issuer
        {
            return Ok(metadata.clone());
        }
        let issuer_url =
            IssuerUrl::new(issuer.to_string()).map_err(|error| failed("issuer", error))?;
        let metadata = Metadata::discover_async(issuer_url, &self.http)
            .await
            .map_err(|error| {
                failed(
                    &format!("the discovery of {issuer} failed"),
                    error_chain(&error),
                )
            })?;
        let metadata = Arc::new(metadata);
        if let Ok(mut cached) = self.metadata.lock() {
            *cached = Some((Instant::now(), metadata.clone()));
        }
        Ok(metadata)
    }

    /// Microsoft's multi-tenant endpoints name no single issuer: the metadata is read for the
    /// tenant the id_token names (see `microsoft_issuer`).
    fn is_microsoft(&self) -> bool {
        self.preset.name == "microsoft"
    }

    /// The metadata the authorization request and the exchange use.
    async fn endpoints(&self) -> Result<Arc<Metadata>, UpstreamError> {
        if self.is_microsoft() {
            let tenant = self.config.microsoft_tenant.as_deref().unwrap_or("common");
            let base = format!("https://login.microsoftonline.com/{tenant}");
            return synthetic(
                &format!("{base}/v2.0"),
                &format!("{base}/oauth2/v2.0/authorize"),
                &format!("{base}/oauth2/v2.0/token"),
            );
        }
        if self.preset.claims == ClaimsFrom::IdToken {
            let issuer = self
                .issuer()
                .ok_or_else(|| UpstreamError("the provider has no issuer_url".into()))?;
            return self.discover(&issuer, false).await;
        }
        let auth = self
            .config
            .auth_url
            .as_ref()
            .map(Url::as_str)
            .or(self.preset.auth_url)
            .unwrap_or_default();
        let token = self
            .config
            .token_url
            .as_ref()
            .map(Url::as_str)
            .or(self.preset.token_url)
            .unwrap_or_default();
        synthetic(auth, auth, token)
    }

    fn client(&self, metadata: &Metadata, redirect_uri: &Url) -> Result<Client, UpstreamError> {
        let secret = self.client_secret()?;
        let redirect = RedirectUrl::from_url(redirect_uri.clone());
        let mut client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(redirect);
        let in_body = self.preset.secret_in_body
            || metadata
                .token_endpoint_auth_methods_supported()
                .is_some_and(|methods| {
                    !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                        && methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                });
        if in_body {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(client)
    }

    /// Apple's client secret is a short-lived ES256 JWT signed with the team's key.
    fn client_secret(&self) -> Result<String, UpstreamError> {
        if self.preset.name != "apple" {
            return Ok(self.config.client_secret.clone());
        }
        apple_client_secret(&self.config)
    }

    /// The URL that sends the browser to the upstream, and what the callback must check.
    pub async fn authorization_url(
        &self,
        redirect_uri: &Url,
        state: String,
        refresh: bool,
        upstream_parameters: &Map<String, Value>,
    ) -> Result<(Url, Started), UpstreamError> {
        let metadata = self.endpoints().await?;
        let client = self.client(&metadata, redirect_uri)?;
        let nonce = crate::oauth2::grant::random_token("");
        let nonce_value = nonce.clone();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce_value),
        );
        for scope in self.preset.scopes.iter().copied().map(str::to_string) {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope));
            }
        }
        for scope in &self.config.scope {
            if scope != "openid" && !self.preset.scopes.contains(&scope.as_str()) {
                request = request.add_scope(Scope::new(scope.clone()));
            }
        }
        let pkce = match self.config.pkce {
            Pkce::Never => false,
            Pkce::Force => true,
            Pkce::Auto => metadata
                .additional_metadata()
                .code_challenge_methods_supported
                .iter()
                .any(|method| method == "S256"),
        };
        let mut verifier = None;
        if pkce {
            let (challenge, code_verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            verifier = Some(code_verifier.secret().clone());
        }
        if refresh && self.preset.claims == ClaimsFrom::IdToken {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        if let Some(claims) = &self.config.requested_claims {
            let text = match claims {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            request = request.add_extra_param("claims", text);
        }
        if self.preset.name == "apple"
            && self
                .config
                .scope
                .iter()
                .any(|scope| scope == "email" || scope == "name")
        {
            request = request.add_extra_param("response_mode", "form_post");
        }
        // What a client may pass through (Kratos's list; `login_hint` is left out on purpose,
        // as Kratos does: it lets one user's request name another's account).
        for name in ["hd", "prompt", "auth_type", "acr_values"] {
            if let Some(value) = upstream_parameters.get(name).and_then(Value::as_str) {
                request = request.add_extra_param(name, value.to_string());
            }
        }
        let (mut url, _, _) = request.url();
        if self.preset.claims != ClaimsFrom::IdToken {
            // OAuth 2.0 upstreams know nothing of `openid` or nonces.
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(name, _)| name != "nonce")
                .map(|(name, value)| {
                    let value = if name == "scope" {
                        value
                            .split(' ')
                            .filter(|scope| *scope != "openid")
                            .collect::<Vec<_>>()
                            .join(" ")
                    } else {
                        value.into_owned()
                    };
                    (name.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        Ok((
            url,
            Started {
                nonce,
                pkce_verifier: verifier,
            },
        ))
    }

    /// Exchanges the code and returns the claims about the user (Kratos's claim set, with
    /// `raw_claims`) and the tokens.
    pub async fn finish(
        &self,
        answer: &Answer<'_>,
        started: &Started,
        redirect_uri: &Url,
        now: i64,
    ) -> Result<(Value, Tokens), UpstreamError> {
        let metadata = self.endpoints().await?;
        // RFC 9207: an upstream that names itself in its answer must name itself, or the
        // answer came from another upstream (a mix-up attack).
        if let Some(iss) = answer.iss
            && !self.is_microsoft()
            && iss != metadata.issuer().as_str()
        {
            return Err(UpstreamError(format!(
                "the answer names issuer {iss:?}, not {:?}",
                metadata.issuer().as_str()
            )));
        }
        let code = answer.code;
        let client = self.client(&metadata, redirect_uri)?;
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|error| failed("the token endpoint", error))?;
        if let Some(verifier) = &started.pkce_verifier {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.clone()));
        }
        let response = exchange
            .request_async(&self.http)
            .await
            .map_err(|error| failed("the code exchange failed", error_chain(&error)))?;
        let mut tokens = Tokens {
            id_token: response.id_token().map(ToString::to_string),
            access_token: Some(response.access_token().secret().clone()),
            refresh_token: response.refresh_token().map(|token| token.secret().clone()),
        };
        let mut claims = match self.preset.claims {
            ClaimsFrom::IdToken => {
                let Some(id_token) = response.id_token() else {
                    return Err(UpstreamError(
                        "no id_token came back: the \"openid\" permission must be granted".into(),
                    ));
                };
                let rule = NonceRule::Expect(started.nonce.clone());
                self.verify(&id_token.to_string(), &[], now, &rule).await?
            }
            ClaimsFrom::GitHub => self.github(response.access_token().secret()).await?,
            ClaimsFrom::Discord => self.discord(response.access_token().secret()).await?,
        };
        if self.config.claims_source.as_deref() == Some("userinfo")
            && self.preset.claims == ClaimsFrom::IdToken
        {
            claims = self
                .userinfo(&metadata, response.access_token().secret(), claims)
                .await?;
        }
        if let Some(user) = answer.apple_user {
            apple_name(&mut claims, user);
        }
        if !self.config.store_tokens {
            tokens = Tokens::default();
        }
        Ok((claims, tokens))
    }

    /// Verifies an id_token (from the token endpoint, or a native app's `id_token`) and
    /// returns its claims. `audiences`: more accepted audiences besides the client id.
    pub async fn verify(
        &self,
        id_token: &str,
        audiences: &[String],
        now: i64,
        nonce: &NonceRule,
    ) -> Result<Value, UpstreamError> {
        let token: openidconnect::core::CoreIdToken = id_token
            .parse()
            .map_err(|error| failed("the id_token is not a JWT", error))?;
        let payload = payload(id_token)?;
        let issuer = if self.is_microsoft() {
            microsoft_issuer(&payload, self.config.microsoft_tenant.as_deref())?
        } else {
            self.issuer()
                .ok_or_else(|| UpstreamError("the provider has no issuer".into()))?
        };
        // The audience: this client, or one of the other clients named (a native app's own
        // client id at the upstream). The crate insists on the client id, so Ward checks it.
        let named = |audience: &str| {
            audience == self.config.client_id || audiences.iter().any(|known| known == audience)
        };
        let audience_ok = match payload.get("aud") {
            Some(Value::String(audience)) => named(audience),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(named),
            _ => false,
        };
        if !audience_ok {
            return Err(UpstreamError(
                "the id_token was issued to another client".into(),
            ));
        }
        let check = |metadata: &Metadata| {
            // The algorithms the upstream says it signs with (the crate's default: RS256).
            let algorithms: Vec<_> = metadata
                .id_token_signing_alg_values_supported()
                .iter()
                .filter(|alg| **alg != openidconnect::core::CoreJwsSigningAlgorithm::None)
                .cloned()
                .collect();
            let mut verifier = CoreIdTokenVerifier::new_confidential_client(
                ClientId::new(self.config.client_id.clone()),
                ClientSecret::new(self.config.client_secret.clone()),
                metadata.issuer().clone(),
                metadata.jwks().clone(),
            )
            .require_audience_match(false)
            .set_time_fn(move || chrono::DateTime::from_timestamp(now, 0).unwrap_or_default());
            if !algorithms.is_empty() {
                verifier = verifier.set_allowed_algs(algorithms);
            }
            token
                .claims(&verifier, |claimed: Option<&Nonce>| nonce.check(claimed))
                .map(|_| ())
        };
        let metadata = self.discover(&issuer, false).await?;
        match check(&metadata) {
            Ok(()) => {}
            // A key the cached set lacks: the upstream may have rotated its keys.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let fresh = self.discover(&issuer, true).await?;
                check(&fresh).map_err(|error| failed("the id_token did not verify", error))?;
            }
            Err(error) => return Err(failed("the id_token did not verify", error)),
        }
        Ok(kratos_claims(
            &payload,
            self.config.subject_source.as_deref(),
        ))
    }

    /// Claims from the userinfo endpoint (`claims_source: userinfo`); its subject must be
    /// the id_token's.
    async fn userinfo(
        &self,
        metadata: &Metadata,
        access_token: &str,
        from_id_token: Value,
    ) -> Result<Value, UpstreamError> {
        let Some(endpoint) = metadata.userinfo_endpoint() else {
            return Err(UpstreamError(
                "the upstream has no userinfo endpoint".into(),
            ));
        };
        let info = self.get_json(endpoint.url().as_str(), access_token).await?;
        if info.get("sub") != from_id_token.get("sub") {
            return Err(UpstreamError(
                "the userinfo endpoint named another subject than the id_token".into(),
            ));
        }
        let mut claims = kratos_claims(&info, None);
        if claims.get("iss").is_none() {
            claims["iss"] = from_id_token["iss"].clone();
        }
        Ok(claims)
    }

    async fn get_json(&self, url: &str, access_token: &str) -> Result<Value, UpstreamError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|error| failed(url, error))?;
        if !response.status().is_success() {
            return Err(UpstreamError(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        let body = response.bytes().await.map_err(|error| failed(url, error))?;
        serde_json::from_slice(&body).map_err(|error| failed(url, error))
    }

    /// GitHub: the profile, and the primary address with whether GitHub verified it.
    async fn github(&self, access_token: &str) -> Result<Value, UpstreamError> {
        let user = self
            .get_json("https://api.github.com/user", access_token)
            .await?;
        let mut claims = json!({
            "iss": "https://github.com/login/oauth/access_token",
            "sub": user.get("id").map(id_text).unwrap_or_default(),
            "name": user.get("name"),
            "nickname": user.get("login"),
            "preferred_username": user.get("login"),
            "website": user.get("blog"),
            "picture": user.get("avatar_url"),
            "profile": user.get("html_url"),
        });
        let emails = self
            .get_json("https://api.github.com/user/emails", access_token)
            .await
            .unwrap_or_default();
        if let Some(primary) = emails
            .as_array()
            .and_then(|emails| emails.iter().find(|email| email["primary"] == json!(true)))
        {
            claims["email"] = primary["email"].clone();
            claims["email_verified"] = json!(primary["verified"] == json!(true));
        }
        claims["raw_claims"] = user;
        Ok(strip_nulls(claims))
    }

    /// Discord: `/users/@me`.
    async fn discord(&self, access_token: &str) -> Result<Value, UpstreamError> {
        let user = self
            .get_json("https://discord.com/api/users/@me", access_token)
            .await?;
        let id = user.get("id").map(id_text).unwrap_or_default();
        let picture = user
            .get("avatar")
            .and_then(Value::as_str)
            .map(|avatar| format!("https://cdn.discordapp.com/avatars/{id}/{avatar}.png"));
        let claims = json!({
            "iss": "https://discord.com/api/oauth2/",
            "sub": id,
            "name": user.get("global_name").filter(|name| !name.is_null()).or(user.get("username")),
            "nickname": user.get("username"),
            "preferred_username": user.get("username"),
            "picture": picture,
            "email": user.get("email"),
            "email_verified": user.get("verified"),
            "locale": user.get("locale"),
            "raw_claims": user,
        });
        Ok(strip_nulls(claims))
    }
}

type Client = openidconnect::Client<
    EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Metadata for an upstream without discovery: its two endpoints.
fn synthetic(issuer: &str, auth: &str, token: &str) -> Result<Arc<Metadata>, UpstreamError> {
    let parse = |what: &str, url: &str| Url::parse(url).map_err(|error| failed(what, error));
    let jwks = openidconnect::JsonWebKeySetUrl::from_url(parse("jwks", auth)?);
    let metadata = Metadata::new(
        IssuerUrl::from_url(parse("issuer", issuer)?),
        AuthUrl::from_url(parse("auth_url", auth)?),
        jwks,
        vec![openidconnect::ResponseTypes::new(vec![
            CoreResponseType::Code,
        ])],
        vec![CoreSubjectIdentifierType::Public],
        Vec::new(),
        PkceMethods::default(),
    )
    .set_token_endpoint(Some(TokenUrl::from_url(parse("token_url", token)?)));
    Ok(Arc::new(metadata))
}

/// What an id_token's `nonce` must be.
pub enum NonceRule {
    /// The one Ward sent with the authorization request.
    Expect(String),
    /// A native app's `id_token_nonce`: the token's nonce must equal it. Only where the
    /// upstream cannot carry one (`required: false`, Apple) may both be absent; elsewhere a
    /// token without a nonce could be replayed by whoever got hold of it.
    Native {
        submitted: Option<String>,
        required: bool,
    },
}

impl NonceRule {
    fn check(&self, claimed: Option<&Nonce>) -> Result<(), String> {
        use subtle::ConstantTimeEq;
        let (expected, required) = match self {
            Self::Expect(nonce) => (Some(nonce), true),
            Self::Native {
                submitted,
                required,
            } => (submitted.as_ref(), *required),
        };
        match (claimed, expected) {
            (Some(claimed), Some(expected))
                if bool::from(claimed.secret().as_bytes().ct_eq(expected.as_bytes())) =>
            {
                Ok(())
            }
            (Some(_), Some(_)) => Err("the nonce does not match".into()),
            (None, Some(_)) => Err("the id_token carries no nonce".into()),
            (Some(_), None) => Err("the id_token carries a nonce, but none was submitted".into()),
            (None, None) if !required => Ok(()),
            (None, None) => Err("a nonce is required: submit id_token_nonce".into()),
        }
    }
}

/// The JSON payload of a JWT (read after, or for, verification by the crate).
fn payload(jwt: &str) -> Result<Value, UpstreamError> {
    let part = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| UpstreamError("the id_token is not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|error| failed("the id_token is not a JWT", error))?;
    serde_json::from_slice(&bytes).map_err(|error| failed("the id_token is not a JWT", error))
}

/// Microsoft's issuer is per tenant: `https://login.microsoftonline.com/<tid>/v2.0`, with the
/// tenant the token names (a UUID, or the token is refused).
fn microsoft_issuer(payload: &Value, configured: Option<&str>) -> Result<String, UpstreamError> {
    let tid = payload
        .get("tid")
        .and_then(Value::as_str)
        .and_then(|tid| uuid::Uuid::parse_str(tid).ok())
        .ok_or_else(|| UpstreamError("the Microsoft id_token names no tenant".into()))?;
    // A tenant named by id admits its own tokens only (`common`, `organizations` and
    // `consumers` admit any tenant's, as Microsoft intends).
    if let Some(tenant) = configured.and_then(|tenant| uuid::Uuid::parse_str(tenant).ok())
        && tenant != tid
    {
        return Err(UpstreamError(
            "the id_token comes from another Microsoft tenant".into(),
        ));
    }
    Ok(format!("https://login.microsoftonline.com/{tid}/v2.0"))
}

/// Kratos's claim set: the standard claims at the top, everything in `raw_claims`.
fn kratos_claims(raw: &Value, subject_source: Option<&str>) -> Value {
    const KEYS: [&str; 27] = [
        "iss",
        "sub",
        "oid",
        "name",
        "given_name",
        "family_name",
        "last_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "email_verified",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
        "phone_number_verified",
        "updated_at",
        "hd",
        "team",
        "nonce",
        "acr",
        "amr",
    ];
    let mut claims = Map::new();
    for key in KEYS {
        if let Some(value) = raw.get(key).filter(|value| !value.is_null()) {
            claims.insert(key.to_string(), value.clone());
        }
    }
    // Apple (and others) send booleans as strings.
    for key in ["email_verified", "phone_number_verified"] {
        if let Some(Value::String(text)) = claims.get(key) {
            let verified = text == "true";
            claims.insert(key.to_string(), json!(verified));
        }
    }
    if subject_source == Some("oid")
        && let Some(oid) = raw.get("oid").filter(|oid| oid.is_string())
    {
        claims.insert("sub".into(), oid.clone());
    }
    claims.insert("raw_claims".into(), raw.clone());
    Value::Object(claims)
}

/// Apple sends the user's name once, beside the code, as JSON in the `user` field.
fn apple_name(claims: &mut Value, user: &str) {
    let Ok(user) = serde_json::from_str::<Value>(user) else {
        return;
    };
    for (claim, field) in [
        ("given_name", "firstName"),
        ("family_name", "lastName"),
        ("last_name", "lastName"),
    ] {
        if claims.get(claim).is_none()
            && let Some(name) = user["name"][field].as_str()
        {
            claims[claim] = json!(name);
        }
    }
}

fn id_text(id: &Value) -> String {
    match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, value)| !value.is_null())
                .collect(),
        ),
        other => other,
    }
}

/// Apple's client secret: an ES256 JWT from the team's private key, valid five minutes.
fn apple_client_secret(config: &ProviderConfig) -> Result<String, UpstreamError> {
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let missing = || {
        UpstreamError(
            "apple_team_id, apple_private_key_id and apple_private_key are required".into(),
        )
    };
    let team = config.apple_team_id.as_deref().ok_or_else(missing)?;
    let kid = config.apple_private_key_id.as_deref().ok_or_else(missing)?;
    let pem = config.apple_private_key.as_deref().ok_or_else(missing)?;
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
        .map_err(|error| failed("apple_private_key", error))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let encode =
        |value: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let header = encode(&json!({"alg": "ES256", "kid": kid}));
    let claims = encode(&json!({
        "iss": team,
        "sub": config.client_id,
        "aud": "https://appleid.apple.com",
        "iat": now,
        "exp": now + 300,
    }));
    let message = format!("{header}.{claims}");
    let signature: p256::ecdsa::Signature = key.sign(message.as_bytes());
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_bytes());
    Ok(format!("{message}.{signature}"))
}

/// An error with its causes, for the log and the flow message.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::oidc::preset;

    fn upstream(kind: &str, config: ProviderConfig) -> Upstream {
        let mapper = Mapper::load(&Url::parse("base64://e30K").unwrap()).unwrap();
        let config = ProviderConfig {
            id: kind.into(),
            provider: kind.into(),
            client_id: "client".into(),
            client_secret: "secret".into(),
            ..config
        };
        Upstream::new(config, preset::find(kind).unwrap(), mapper)
    }

    async fn request(upstream: &Upstream) -> (Url, Started) {
        let redirect =
            Url::parse("https://ward.example/self-service/methods/oidc/callback/x").unwrap();
        upstream
            .authorization_url(&redirect, "the-state".into(), false, &Map::new())
            .await
            .unwrap()
    }

    fn query(url: &Url) -> std::collections::HashMap<String, String> {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[tokio::test]
    async fn oauth2_presets_ask_for_their_scopes_without_openid_or_nonce() {
        let github = upstream("github", ProviderConfig::default());
        let (url, started) = request(&github).await;
        assert!(
            url.as_str()
                .starts_with("https://github.com/login/oauth/authorize?")
        );
        let query = query(&url);
        assert_eq!(query["scope"], "read:user user:email");
        assert_eq!(query["state"], "the-state");
        assert!(!query.contains_key("nonce"));
        // `auto` PKCE: GitHub publishes no discovery document saying it supports S256.
        assert!(!query.contains_key("code_challenge") && started.pkce_verifier.is_none());

        let discord = upstream(
            "discord",
            ProviderConfig {
                pkce: Pkce::Force,
                ..Default::default()
            },
        );
        let (url, started) = request(&discord).await;
        let query = self::query(&url);
        assert!(
            url.as_str()
                .starts_with("https://discord.com/oauth2/authorize?")
        );
        assert_eq!(query["scope"], "identify email");
        assert_eq!(query["code_challenge_method"], "S256");
        assert!(started.pkce_verifier.is_some());
    }

    #[tokio::test]
    async fn microsoft_uses_its_tenant_endpoints() {
        let microsoft = upstream(
            "microsoft",
            ProviderConfig {
                microsoft_tenant: Some("organizations".into()),
                scope: vec!["email".into()],
                ..Default::default()
            },
        );
        let (url, _) = request(&microsoft).await;
        assert!(
            url.as_str().starts_with(
                "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?"
            )
        );
        let query = query(&url);
        assert_eq!(query["scope"], "openid email");
        assert!(query.contains_key("nonce"));
        let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
        assert_eq!(
            microsoft_issuer(&json!({"tid": tenant}), Some("organizations")).unwrap(),
            format!("https://login.microsoftonline.com/{tenant}/v2.0")
        );
        assert!(microsoft_issuer(&json!({"tid": "not-a-tenant"}), None).is_err());
        let other = "0b1ed8bb-3f59-4a44-9fd6-c0e5bca2b19a";
        assert!(microsoft_issuer(&json!({"tid": tenant}), Some(other)).is_err());
    }

    #[test]
    fn claims_follow_kratos() {
        let raw =
            json!({"sub": "1", "oid": "o-1", "email": "a@b.co", "email_verified": "true", "x": 1});
        let claims = kratos_claims(&raw, Some("oid"));
        assert_eq!(claims["sub"], "o-1");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["raw_claims"]["x"], 1);
        let mut claims = json!({"sub": "1"});
        apple_name(
            &mut claims,
            r#"{"name":{"firstName":"Ann","lastName":"Lee"}}"#,
        );
        assert_eq!(claims["given_name"], "Ann");
        assert_eq!(claims["family_name"], "Lee");
    }

    #[test]
    fn native_nonces_must_match_or_be_absent_on_both_sides() {
        let nonce = Nonce::new("n-1".into());
        let native = |submitted: Option<&str>, required| NonceRule::Native {
            submitted: submitted.map(str::to_string),
            required,
        };
        assert!(native(None, true).check(None).is_err());
        assert!(native(None, false).check(None).is_ok());
        assert!(native(Some("n-1"), true).check(Some(&nonce)).is_ok());
        assert!(native(Some("n-2"), false).check(Some(&nonce)).is_err());
        assert!(native(None, false).check(Some(&nonce)).is_err());
        assert!(NonceRule::Expect("n-1".into()).check(None).is_err());
    }

    #[test]
    fn apple_client_secrets_are_es256_jwts() {
        use p256::pkcs8::EncodePrivateKey as _;
        let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let pem = key.to_pkcs8_pem(Default::default()).unwrap().to_string();
        let config = ProviderConfig {
            client_id: "com.example.web".into(),
            apple_team_id: Some("TEAM".into()),
            apple_private_key_id: Some("KEY".into()),
            apple_private_key: Some(pem),
            ..Default::default()
        };
        let jwt = apple_client_secret(&config).unwrap();
        let claims = payload(&jwt).unwrap();
        assert_eq!(claims["iss"], "TEAM");
        assert_eq!(claims["sub"], "com.example.web");
        assert_eq!(claims["aud"], "https://appleid.apple.com");
    }
}
