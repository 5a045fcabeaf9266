//! The OpenID Connect provider, in the same binary (`oauth2_server`): Ory Hydra's paths, JSON
//! and errors, with Ward's own sign-in and consent pages in front of it. Authorization code with
//! PKCE, refresh tokens that rotate (a replay revokes the grant), client credentials; no
//! implicit and no password grant.

pub mod assertion;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod error;
pub mod grant;
pub mod keys;
pub mod login_request;
pub mod logout;
pub mod token;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, IssuerUrl, JsonWebKeySetUrl, ProviderMetadata,
    ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use url::Url;

use crate::state::AppState;
use crate::store::BrowserSessions;

/// The issuer: `oauth2_server.urls.self.issuer` verbatim, else the public base URL.
pub fn issuer(state: &AppState) -> Url {
    state
        .config
        .oauth2_server
        .urls
        .self_
        .issuer
        .clone()
        .unwrap_or_else(|| state.urls.public.clone())
}

/// A provider endpoint on the public listener.
pub fn endpoint(state: &AppState, path: &str) -> Url {
    state
        .urls
        .public
        .join(path.trim_start_matches('/'))
        .unwrap_or_else(|_| state.urls.public.clone())
}

/// The anonymous browser session that parks authorization requests.
pub fn browser_sessions(state: &AppState) -> SessionManagerLayer<BrowserSessions> {
    let cookies = &state.config.cookies;
    let secure = cookies
        .secure
        .unwrap_or(state.urls.public.scheme() == "https" && !state.config.dev);
    let ttl = state.config.oauth2_server.ttl.login_consent_request;
    let mut layer = SessionManagerLayer::new(BrowserSessions::new(state.database.clone()))
        .with_name(BROWSER_COOKIE)
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_expiry(Expiry::OnInactivity(
            time::Duration::try_from(ttl).unwrap_or(time::Duration::minutes(30)),
        ));
    if let Some(domain) = cookies.domain.clone().filter(|domain| !domain.is_empty()) {
        layer = layer.with_domain(domain);
    }
    layer
}

/// The browser session cookie's name.
pub const BROWSER_COOKIE: &str = "ward_oauth2_session";

/// The public endpoints; none when the provider is off.
pub fn public_routes(state: &AppState) -> Router<AppState> {
    if !state.config.oauth2_server.enabled {
        return Router::new();
    }
    let browser = Router::new()
        .route(
            "/oauth2/auth",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route("/oauth2/auth/resume", get(authorize::resume))
        .route("/oauth2/auth/consent", post(authorize::consent))
        .layer(browser_sessions(state));
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/oauth-authorization-server", get(discovery))
        .route("/.well-known/jwks.json", get(keys::jwks))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/revoke", post(token::revoke))
        .route("/userinfo", get(token::userinfo).post(token::userinfo))
        .route(
            "/oauth2/sessions/logout",
            get(logout::logout).post(logout::logout),
        )
        .merge(browser)
}

/// The admin endpoints (served under `/admin` and without it); none when the provider is off.
pub fn admin_routes(state: &AppState) -> Router<AppState> {
    if !state.config.oauth2_server.enabled {
        return Router::new();
    }
    Router::new()
        .merge(client::admin_routes())
        .merge(keys::admin_routes())
        .route("/oauth2/introspect", post(token::introspect))
        .merge(logout::admin_routes())
}

/// Discovery fields the `openidconnect` crate has no setter for.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProviderExtras {
    end_session_endpoint: Url,
    revocation_endpoint: Url,
    code_challenge_methods_supported: Vec<String>,
    frontchannel_logout_supported: bool,
    backchannel_logout_supported: bool,
}

impl AdditionalProviderMetadata for ProviderExtras {}

type Metadata = ProviderMetadata<
    ProviderExtras,
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

/// `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`).
async fn discovery(State(state): State<AppState>) -> Response {
    let url = |path: &str| endpoint(&state, path).to_string();
    // The algorithm of the key that signs id_tokens now (Hydra lists just that one).
    let id_token_alg = match keys::signer(&state, keys::ID_TOKEN_SET).await {
        Ok(signer) => signer.algorithm(),
        Err(error) => return error.into_response(),
    };
    let parsed = (|| {
        let issuer = issuer(&state);
        let metadata = Metadata::new(
            IssuerUrl::new(issuer.to_string()).ok()?,
            AuthUrl::new(url("oauth2/auth")).ok()?,
            JsonWebKeySetUrl::new(url(".well-known/jwks.json")).ok()?,
            vec![ResponseTypes::new(vec![CoreResponseType::Code])],
            vec![CoreSubjectIdentifierType::Public],
            vec![id_token_alg],
            ProviderExtras {
                end_session_endpoint: endpoint(&state, "oauth2/sessions/logout"),
                revocation_endpoint: endpoint(&state, "oauth2/revoke"),
                code_challenge_methods_supported: vec!["S256".into()],
                frontchannel_logout_supported: false,
                backchannel_logout_supported: false,
            },
        )
        .set_token_endpoint(Some(TokenUrl::new(url("oauth2/token")).ok()?))
        .set_userinfo_endpoint(Some(UserInfoUrl::new(url("userinfo")).ok()?))
        .set_scopes_supported(Some(
            [
                "openid",
                "offline_access",
                "offline",
                "email",
                "profile",
                "phone",
            ]
            .into_iter()
            .map(|scope| Scope::new(scope.into()))
            .collect(),
        ))
        .set_response_modes_supported(Some(vec![CoreResponseMode::Query]))
        .set_grant_types_supported(Some(vec![
            CoreGrantType::AuthorizationCode,
            CoreGrantType::RefreshToken,
            CoreGrantType::ClientCredentials,
        ]))
        .set_token_endpoint_auth_methods_supported(Some(vec![
            CoreClientAuthMethod::ClientSecretBasic,
            CoreClientAuthMethod::ClientSecretPost,
            CoreClientAuthMethod::PrivateKeyJwt,
            CoreClientAuthMethod::None,
        ]))
        .set_token_endpoint_auth_signing_alg_values_supported(Some(
            assertion::ALGORITHMS
                .iter()
                .filter_map(|alg| serde_json::from_value(serde_json::json!(alg)).ok())
                .collect(),
        ))
        .set_claims_supported(Some(
            [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "sid",
                "at_hash",
                "email",
                "email_verified",
                "name",
                "given_name",
                "family_name",
                "preferred_username",
                "phone_number",
            ]
            .into_iter()
            .map(|claim| CoreClaimName::new(claim.into()))
            .collect(),
        ))
        .set_claims_parameter_supported(Some(false))
        .set_request_parameter_supported(Some(false))
        .set_request_uri_parameter_supported(Some(false));
        serde_json::to_value(metadata).ok()
    })();
    match parsed {
        Some(document) => axum::Json(document).into_response(),
        None => error::OAuthError::server_error().into_response(),
    }
}

/// Every few minutes: deletes expired tokens, grants revoked a day ago or more, and expired
/// browser sessions.
pub async fn clean_up(state: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(300));
    let browsers = BrowserSessions::new(state.database.clone());
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let now = state.clock.now();
        if let Err(error) = state.oauth2.purge_expired(now).await {
            tracing::warn!(%error, "could not delete expired OAuth2 tokens");
        }
        if let Err(error) = browsers.purge_expired(now).await {
            tracing::warn!(%error, "could not delete expired browser sessions");
        }
    }
}
