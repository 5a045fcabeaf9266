//! `/oauth2/auth`: the authorization code flow with PKCE, through Ward's own sign-in and
//! consent pages. A valid request is parked in an anonymous browser session (tower-sessions);
//! the browser signs in if it must (Ward's login flow, which comes back to
//! `/oauth2/auth/resume`), consents on `/consent` unless the client skips it or the consent was
//! remembered, and returns to the client with a code. An unknown client or an unregistered
//! `redirect_uri` is never redirected to: that error shows on Ward's error page.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use tower_sessions::Session as BrowserSession;
use url::Url;

use super::client::{self, Client};
use super::error::OAuthError;
use super::grant::{self, Details, has_scope};
use super::token::Form;
use crate::flow::see_other;
use crate::http::request::Client as HttpClient;
use crate::session::Aal;
use crate::state::AppState;
use crate::store::{Consent, Grant, TokenKind};

/// The browser session key of a parked request.
fn key(challenge: &str) -> String {
    format!("oauth2_request:{challenge}")
}

/// An authorization request that passed its checks, waiting for sign-in and consent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parked {
    pub client_id: String,
    /// As sent (the code exchange must repeat it), or the client's only registered URI.
    pub sent_redirect_uri: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    /// `acr_values` asked for a second factor.
    pub wants_aal2: bool,
    pub audience: Vec<String>,
    /// Unix microseconds: a sign-in a moment after the request must count as after it.
    pub created_at: i64,
    /// Ties the consent form to this request.
    pub csrf_token: String,
    /// The identity that was asked for consent.
    #[serde(default)]
    pub subject: Option<String>,
    /// The request as a URL with its parameters in the query (a POSTed request too): Hydra's
    /// `request_url`, which also carries the OpenID Connect context (`login_hint`, ...).
    #[serde(default)]
    pub request_url: String,
}

fn micros(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

impl Parked {
    /// Whether the request outlived `ttl.login_consent_request`.
    fn expired(&self, state: &AppState) -> bool {
        let ttl = state
            .config
            .oauth2_server
            .ttl
            .login_consent_request
            .as_secs();
        let until =
            self.created_at + i64::try_from(ttl.saturating_mul(1_000_000)).unwrap_or(i64::MAX / 2);
        until < micros(state.clock.now())
    }
}

/// Where an error goes: the client (its redirect URI is known to be its own), or Ward's error
/// page when it is not.
enum Failure {
    Page(OAuthError),
    Client {
        redirect_uri: String,
        state: String,
        error: OAuthError,
    },
}

impl Failure {
    async fn respond(self, state: &AppState) -> Response {
        match self {
            Failure::Page(error) => show_error(state, &error).await,
            Failure::Client {
                redirect_uri,
                state: client_state,
                error,
            } => {
                let Ok(mut url) = Url::parse(&redirect_uri) else {
                    return show_error(state, &error).await;
                };
                url.query_pairs_mut()
                    .append_pair("error", error.error)
                    .append_pair("error_description", &error.description);
                if !client_state.is_empty() {
                    url.query_pairs_mut().append_pair("state", &client_state);
                }
                see_other(url.as_str())
            }
        }
    }
}

/// Stores the error for Ward's error page and sends the browser there.
pub async fn show_error(state: &AppState, error: &OAuthError) -> Response {
    let body = json!({
        "code": error.status.as_u16(),
        "status": error.status.canonical_reason().unwrap_or("Bad Request"),
        "id": error.error,
        "reason": error.description,
        "message": "The application's sign-in request could not be handled.",
    });
    match state.flows.create_error(&body, state.clock.now()).await {
        Ok(id) => {
            let mut url = crate::flow::respond::error_ui_url(state);
            url.query_pairs_mut().append_pair("id", &id.to_string());
            see_other(url.as_str())
        }
        Err(store_error) => OAuthError::from(store_error).into_response(),
    }
}

fn pairs(query: Option<&str>, body: &[u8]) -> Result<Form, OAuthError> {
    if body.is_empty() {
        Form::parse(query.unwrap_or_default().as_bytes())
    } else {
        Form::parse(body)
    }
}

/// Whether `given` is the registered `uri`: exactly, or a loopback IP address with any port
/// (RFC 8252 §7.3, as Hydra allows for native apps).
fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(registered), Ok(given)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    let loopback = matches!(given.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(given.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    loopback
        && given.scheme() == "http"
        && registered.scheme() == given.scheme()
        && registered.host() == given.host()
        && registered.path() == given.path()
        && registered.query() == given.query()
}

/// Checks an authorization request (Hydra's rules) and parks it.
async fn validate(state: &AppState, form: &Form) -> Result<(Client, Parked), Failure> {
    let page = |error: OAuthError| Failure::Page(error);
    let client_id = form
        .get("client_id")
        .ok_or_else(|| page(OAuthError::invalid_request("client_id is missing")))?;
    let (client, _) = client::find(state, client_id)
        .await
        .map_err(page)?
        .ok_or_else(|| {
            page(OAuthError::invalid_client(format!(
                "there is no client {client_id}"
            )))
        })?;
    let scope = form.get("scope").unwrap_or_default().to_string();
    let sent_redirect_uri = form.get("redirect_uri").map(str::to_string);
    let redirect_uri = match &sent_redirect_uri {
        Some(given) => client
            .redirect_uris
            .iter()
            .any(|registered| redirect_matches(registered, given))
            .then(|| given.clone()),
        None if !has_scope(&scope, "openid") && client.redirect_uris.len() == 1 => {
            client.redirect_uris.first().cloned()
        }
        None => None,
    }
    .ok_or_else(|| {
        page(OAuthError::invalid_request(
            "redirect_uri is missing or not one the client registered",
        ))
    })?;
    let client_state = form.get("state").unwrap_or_default().to_string();
    let to_client = |error: OAuthError| Failure::Client {
        redirect_uri: redirect_uri.clone(),
        state: client_state.clone(),
        error,
    };
    match form.get("response_type") {
        Some("code") if client.response_types.iter().any(|kind| kind == "code") => {}
        Some("code") => {
            return Err(to_client(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                "the client may not use response_type code",
            )));
        }
        _ => {
            return Err(to_client(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                "response_type must be code",
            )));
        }
    }
    if !client.allows_grant("authorization_code") {
        return Err(to_client(OAuthError::unauthorized_client(
            "the client may not use the authorization_code grant",
        )));
    }
    if let Some(mode) = form.get("response_mode")
        && mode != "query"
    {
        return Err(to_client(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_response_mode",
            "response_mode must be query",
        )));
    }
    if client_state.len() < 8 {
        return Err(to_client(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_state",
            "state must be at least 8 characters long",
        )));
    }
    if !client.allows_scopes(&scope) {
        return Err(to_client(OAuthError::invalid_scope(
            "the client may not ask for one of the requested scopes",
        )));
    }
    let nonce = form.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|nonce| nonce.len() < 8) {
        return Err(to_client(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "insufficient_entropy",
            "nonce must be at least 8 characters long",
        )));
    }
    let pkce = &state.config.oauth2_server.oauth2.pkce;
    let code_challenge = match (
        form.get("code_challenge"),
        form.get("code_challenge_method"),
    ) {
        (Some(challenge), Some("S256")) if challenge.len() >= 43 => Some(challenge.to_string()),
        (Some(_), Some("S256")) => {
            return Err(to_client(OAuthError::invalid_request(
                "code_challenge is too short for S256",
            )));
        }
        (Some(_), _) => {
            return Err(to_client(OAuthError::invalid_request(
                "code_challenge_method must be S256 (plain is not accepted)",
            )));
        }
        (None, _) if pkce.enforced || (pkce.enforced_for_public_clients && client.is_public()) => {
            return Err(to_client(OAuthError::invalid_request(
                "this client must use PKCE: code_challenge and code_challenge_method=S256",
            )));
        }
        (None, _) => None,
    };
    let prompt: Vec<String> = form
        .get("prompt")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if prompt.iter().any(|value| {
        !matches!(
            value.as_str(),
            "none" | "login" | "consent" | "select_account"
        )
    }) || (prompt.iter().any(|value| value == "none") && prompt.len() > 1)
    {
        return Err(to_client(OAuthError::invalid_request(
            "prompt must be none, or any of login, consent and select_account",
        )));
    }
    let max_age = match form.get("max_age") {
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|age| *age >= 0)
                .ok_or_else(|| {
                    to_client(OAuthError::invalid_request(
                        "max_age must be a number of seconds",
                    ))
                })?,
        ),
        None => None,
    };
    let audience: Vec<String> = form
        .get("audience")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if let Some(denied) = audience
        .iter()
        .find(|wanted| !client.audience.contains(wanted))
    {
        return Err(to_client(OAuthError::invalid_request(format!(
            "audience {denied} is not allowed for this client"
        ))));
    }
    let wants_aal2 = form
        .get("acr_values")
        .unwrap_or_default()
        .split_whitespace()
        .any(|acr| acr == "aal2");
    let parked = Parked {
        client_id: client.client_id.clone(),
        sent_redirect_uri,
        redirect_uri,
        scope,
        state: client_state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        wants_aal2,
        audience,
        created_at: micros(state.clock.now()),
        csrf_token: grant::random_token(""),
        subject: None,
        request_url: {
            let mut url = super::endpoint(state, "oauth2/auth");
            url.query_pairs_mut().extend_pairs(form.pairs());
            url.to_string()
        },
    };
    Ok((client, parked))
}

/// `GET|POST /oauth2/auth`.
pub async fn authorize(
    State(state): State<AppState>,
    browser: BrowserSession,
    http: HttpClient,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let form = match pairs(query.as_deref(), &body) {
        Ok(form) => form,
        Err(error) => return show_error(&state, &error).await,
    };
    let (client, parked) = match validate(&state, &form).await {
        Ok(valid) => valid,
        Err(failure) => return failure.respond(&state).await,
    };
    let challenge = grant::random_token("");
    if let Err(error) = browser.insert(&key(&challenge), &parked).await {
        tracing::error!(%error, "could not park an authorization request");
        return show_error(&state, &OAuthError::server_error()).await;
    }
    proceed(&state, &browser, &http, &client, &challenge, parked).await
}

#[derive(Deserialize)]
pub struct Resume {
    challenge: String,
}

/// `GET /oauth2/auth/resume?challenge=`: back from signing in.
pub async fn resume(
    State(state): State<AppState>,
    browser: BrowserSession,
    http: HttpClient,
    crate::http::Query(resume): crate::http::Query<Resume>,
) -> Response {
    let (client, parked) = match parked(&state, &browser, &resume.challenge).await {
        Ok(found) => found,
        Err(failure) => return failure.respond(&state).await,
    };
    proceed(&state, &browser, &http, &client, &resume.challenge, parked).await
}

/// The parked request `challenge` of this browser, with its client, if it has not expired.
async fn parked(
    state: &AppState,
    browser: &BrowserSession,
    challenge: &str,
) -> Result<(Client, Parked), Failure> {
    let gone = || {
        Failure::Page(OAuthError::invalid_request(
            "this sign-in request expired, was completed, or was started in another browser; \
             go back to the application and start again",
        ))
    };
    let parked: Parked = browser
        .get(&key(challenge))
        .await
        .ok()
        .flatten()
        .ok_or_else(gone)?;
    if parked.expired(state) {
        let _ = browser.remove_value(&key(challenge)).await;
        return Err(gone());
    }
    let (client, _) = client::find(state, &parked.client_id)
        .await
        .map_err(Failure::Page)?
        .ok_or_else(gone)?;
    Ok((client, parked))
}

/// Sign-in, then consent, then the code: whichever step is next for this request.
async fn proceed(
    state: &AppState,
    browser: &BrowserSession,
    http: &HttpClient,
    client: &Client,
    challenge: &str,
    mut parked: Parked,
) -> Response {
    let to_client = |error: OAuthError| Failure::Client {
        redirect_uri: parked.redirect_uri.clone(),
        state: parked.state.clone(),
        error,
    };
    let signed_in = match crate::session::handlers::current_session(state, http).await {
        Ok(signed_in) => signed_in,
        Err(_) => return to_client(OAuthError::server_error()).respond(state).await,
    };
    let now = state.clock.now().unix_timestamp();
    let needs = |session: &crate::session::Session| {
        let signed_in_after = micros(session.authenticated_at) >= parked.created_at;
        let authenticated = session.authenticated_at.unix_timestamp();
        let fresh_login = parked
            .prompt
            .iter()
            .any(|p| p == "login" || p == "select_account")
            && !signed_in_after;
        // A sign-in since the request began is fresh enough, whatever `max_age` says (0 would
        // otherwise send the user round in circles).
        let too_old = parked
            .max_age
            .is_some_and(|age| now - authenticated > age && !signed_in_after);
        let weak = parked.wants_aal2 && session.aal < Aal::Aal2;
        (fresh_login || too_old, weak)
    };
    let (session, identity) = match signed_in {
        Some((session, identity)) if needs(&session) == (false, false) => (session, identity),
        other => {
            if parked.prompt.iter().any(|p| p == "none") {
                return to_client(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "login_required",
                    "the user must sign in, and prompt=none forbids asking",
                ))
                .respond(state)
                .await;
            }
            let (refresh, aal2) = other
                .as_ref()
                .map_or((false, parked.wants_aal2), |(session, _)| needs(session));
            return send_to_login(state, challenge, refresh, aal2);
        }
    };
    let subject = identity.id.to_string();
    let remembered = if client.skip_consent {
        None
    } else {
        match state.oauth2.consent(&subject, &client.client_id).await {
            Ok(consent) => consent,
            Err(error) => return to_client(error.into()).respond(state).await,
        }
    };
    let covered = remembered.is_some_and(|consent| {
        parked
            .scope
            .split_whitespace()
            .all(|scope| has_scope(&consent.scope, scope))
    });
    let asks_consent = parked.prompt.iter().any(|p| p == "consent");
    if client.skip_consent || (covered && !asks_consent) {
        return issue_code(state, browser, challenge, &parked, &session, &identity).await;
    }
    if parked.prompt.iter().any(|p| p == "none") {
        return to_client(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "consent_required",
            "the user must consent, and prompt=none forbids asking",
        ))
        .respond(state)
        .await;
    }
    parked.subject = Some(subject);
    if browser.insert(&key(challenge), &parked).await.is_err() {
        return to_client(OAuthError::server_error()).respond(state).await;
    }
    let mut consent = state
        .urls
        .ui
        .join("consent")
        .unwrap_or_else(|_| state.urls.ui.clone());
    consent
        .query_pairs_mut()
        .append_pair("consent_challenge", challenge);
    see_other(consent.as_str())
}

/// Where a login or registration flow started for the parked request `challenge` returns.
pub(super) fn resume_url(state: &AppState, challenge: &str) -> Url {
    let mut resume = super::endpoint(state, "oauth2/auth/resume");
    resume.query_pairs_mut().append_pair("challenge", challenge);
    resume
}

/// Ward's login flow, coming back to `/oauth2/auth/resume`.
fn send_to_login(state: &AppState, challenge: &str, refresh: bool, aal2: bool) -> Response {
    let resume = resume_url(state, challenge);
    let mut login = state
        .urls
        .public
        .join("self-service/login/browser")
        .unwrap_or_else(|_| state.urls.public.clone());
    login
        .query_pairs_mut()
        .append_pair("return_to", resume.as_str())
        .append_pair("login_challenge", challenge);
    if refresh {
        login.query_pairs_mut().append_pair("refresh", "true");
    }
    if aal2 {
        login.query_pairs_mut().append_pair("aal", "aal2");
    }
    see_other(login.as_str())
}

/// The grant and its code; the browser goes back to the client with it.
async fn issue_code(
    state: &AppState,
    browser: &BrowserSession,
    challenge: &str,
    parked: &Parked,
    session: &crate::session::Session,
    identity: &crate::identity::Identity,
) -> Response {
    let now = state.clock.now();
    let claims = if has_scope(&parked.scope, "openid") {
        match super::claims::user_claims(state, identity, &parked.client_id, &parked.scope).await {
            Ok(claims) => Some(claims),
            Err(error) => {
                return Failure::Client {
                    redirect_uri: parked.redirect_uri.clone(),
                    state: parked.state.clone(),
                    error,
                }
                .respond(state)
                .await;
            }
        }
    } else {
        None
    };
    let details = Details {
        redirect_uri: parked.sent_redirect_uri.clone(),
        code_challenge: parked.code_challenge.clone(),
        nonce: parked.nonce.clone(),
        auth_time: Some(session.authenticated_at.unix_timestamp()),
        acr: Some(session.aal.as_str().to_string()),
        amr: session
            .authentication_methods
            .iter()
            .map(|method| method.method.clone())
            .collect(),
        audience: parked.audience.clone(),
        claims,
    };
    let grant = Grant {
        id: uuid::Uuid::new_v4(),
        client_id: parked.client_id.clone(),
        subject: session.identity_id.to_string(),
        session_id: Some(session.id),
        scope: parked.scope.clone(),
        details: serde_json::to_value(&details).unwrap_or_default(),
        created_at: now,
        revoked_at: None,
    };
    let code = grant::random_token("ory_ac_");
    let ttl = state.config.oauth2_server.ttl.auth_code;
    let stored = grant::stored(&code, &grant, TokenKind::Code, now, ttl);
    if let Err(error) = state.oauth2.create_grant(&grant, &[stored]).await {
        return Failure::Client {
            redirect_uri: parked.redirect_uri.clone(),
            state: parked.state.clone(),
            error: error.into(),
        }
        .respond(state)
        .await;
    }
    let _ = browser.remove_value(&key(challenge)).await;
    let Ok(mut url) = Url::parse(&parked.redirect_uri) else {
        return show_error(state, &OAuthError::server_error()).await;
    };
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scope", &parked.scope)
        .append_pair("state", &parked.state);
    see_other(url.as_str())
}

/// `POST /oauth2/auth/consent`: the consent page's answer.
pub async fn consent(
    State(state): State<AppState>,
    browser: BrowserSession,
    http: HttpClient,
    body: axum::body::Bytes,
) -> Response {
    let form = match Form::parse(&body) {
        Ok(form) => form,
        Err(error) => return show_error(&state, &error).await,
    };
    let challenge = form
        .get("consent_challenge")
        .unwrap_or_default()
        .to_string();
    let (_, parked) = match parked(&state, &browser, &challenge).await {
        Ok(found) => found,
        Err(failure) => return failure.respond(&state).await,
    };
    let forged = OAuthError::new(
        StatusCode::FORBIDDEN,
        "request_forbidden",
        "the consent form does not belong to this sign-in; go back to the application and start \
         again",
    );
    let csrf = form.get("csrf_token").unwrap_or_default();
    if !bool::from(csrf.as_bytes().ct_eq(parked.csrf_token.as_bytes())) {
        return show_error(&state, &forged).await;
    }
    let (session, identity) = match crate::session::handlers::current_session(&state, &http).await {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return send_to_login(&state, &challenge, false, parked.wants_aal2),
        Err(_) => return show_error(&state, &OAuthError::server_error()).await,
    };
    if parked.subject.as_deref() != Some(session.identity_id.to_string().as_str()) {
        return show_error(&state, &forged).await;
    }
    if form.get("consent_action") != Some("accept") {
        let _ = browser.remove_value(&key(&challenge)).await;
        return Failure::Client {
            redirect_uri: parked.redirect_uri.clone(),
            state: parked.state.clone(),
            error: OAuthError::new(
                StatusCode::FORBIDDEN,
                "access_denied",
                "the user did not allow the application's request",
            ),
        }
        .respond(&state)
        .await;
    }
    if form.get("remember") == Some("true") {
        let consent = Consent {
            subject: session.identity_id.to_string(),
            client_id: parked.client_id.clone(),
            scope: parked.scope.clone(),
            created_at: state.clock.now(),
        };
        if let Err(error) = state.oauth2.remember_consent(&consent).await {
            return show_error(&state, &error.into()).await;
        }
    }
    issue_code(&state, &browser, &challenge, &parked, &session, &identity).await
}

/// The parked request `challenge` of the browser session `session_id`, with its client (what
/// the consent page shows, and a login flow's `oauth2_login_request`).
pub async fn find_parked(
    state: &AppState,
    sessions: &crate::store::BrowserSessions,
    session_id: &str,
    challenge: &str,
) -> Option<(Client, Parked)> {
    use tower_sessions::SessionStore;
    let id: tower_sessions::session::Id = session_id.parse().ok()?;
    let record = sessions.load(&id).await.ok()??;
    let parked: Parked = serde_json::from_value(record.data.get(&key(challenge))?.clone()).ok()?;
    if parked.expired(state) {
        return None;
    }
    let (client, _) = client::find(state, &parked.client_id).await.ok()??;
    Some((client, parked))
}
