//! RP-initiated logout (`/oauth2/sessions/logout`) and the admin endpoints that end consents
//! and sign-ins (`/admin/oauth2/auth/sessions/{consent,login}`).

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use serde_json::{Value, json};
use uuid::Uuid;

use super::claims::WardIdToken;
use super::client;
use super::error::{OAuthError, OAuthResult};
use super::token::Form;
use crate::flow::see_other;
use crate::http::request::Client as HttpClient;
use crate::state::AppState;

/// Who an `id_token_hint` names: its client, user and Ward session.
struct Hint {
    client_id: String,
    subject: String,
    session_id: Option<Uuid>,
}

/// Checks an `id_token_hint` Ward signed; expired hints are fine (as in Hydra).
async fn read_hint(state: &AppState, hint: &str) -> OAuthResult<Hint> {
    let invalid = || OAuthError::invalid_request("id_token_hint is not an id_token Ward issued");
    let payload = hint.split('.').nth(1).ok_or_else(invalid)?;
    let unverified: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(invalid)?;
    let audience = match &unverified["aud"] {
        Value::String(audience) => audience.clone(),
        Value::Array(audiences) => audiences
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => return Err(invalid()),
    };
    let issued_at = unverified["iat"]
        .as_i64()
        .and_then(|iat| DateTime::<Utc>::from_timestamp(iat, 0))
        .ok_or_else(invalid)?;
    let jwks: CoreJsonWebKeySet =
        serde_json::from_value(json!({ "keys": super::keys::published(state).await? }))
            .map_err(|_| OAuthError::server_error())?;
    let issuer = IssuerUrl::new(super::issuer(state).to_string()).map_err(|_| invalid())?;
    // Checked as of its issue time: the signature, issuer and audience must hold, the expiry
    // need not.
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(audience.clone()), issuer, jwks)
            .set_time_fn(move || issued_at)
            .set_allowed_algs(vec![
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::EdDsa,
            ]);
    let token: WardIdToken = hint.parse().map_err(|_| invalid())?;
    let claims = token
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .map_err(|_| invalid())?;
    Ok(Hint {
        client_id: audience,
        subject: claims.subject().to_string(),
        session_id: claims
            .additional_claims()
            .sid
            .as_deref()
            .and_then(|sid| Uuid::parse_str(sid).ok()),
    })
}

/// `GET|POST /oauth2/sessions/logout`: with a valid `id_token_hint`, ends the Ward session and
/// returns to the client's registered `post_logout_redirect_uri` (with `state`). Without one,
/// nothing proves the client asked, so the browser goes to Ward's page to sign out there.
pub async fn logout(
    State(state): State<AppState>,
    http: HttpClient,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let result = async {
        let form = if body.is_empty() {
            Form::parse(query.unwrap_or_default().as_bytes())?
        } else {
            Form::parse(&body)?
        };
        let Some(hint) = form.get("id_token_hint") else {
            if form.get("post_logout_redirect_uri").is_some() || form.get("state").is_some() {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri and state need an id_token_hint",
                ));
            }
            let welcome = state
                .urls
                .ui
                .join("welcome")
                .unwrap_or_else(|_| state.urls.ui.clone());
            return Ok(see_other(welcome.as_str()));
        };
        let hint = read_hint(&state, hint).await?;
        let (client, _) = client::find(&state, &hint.client_id)
            .await?
            .ok_or_else(|| {
                OAuthError::invalid_request("the id_token_hint names an unknown client")
            })?;
        let destination = match form.get("post_logout_redirect_uri") {
            Some(uri)
                if client
                    .post_logout_redirect_uris
                    .iter()
                    .any(|allowed| allowed == uri) =>
            {
                let mut url = url::Url::parse(uri).map_err(|_| {
                    OAuthError::invalid_request("post_logout_redirect_uri is not a URL")
                })?;
                if let Some(client_state) = form.get("state") {
                    url.query_pairs_mut().append_pair("state", client_state);
                }
                url.to_string()
            }
            Some(_) => {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri is not one the client registered",
                ));
            }
            None => logged_out_url(&state),
        };
        // The browser's session, if it is the hint's; and the session the hint names.
        let mut ended = Vec::new();
        if let Ok(Some((session, _))) =
            crate::session::handlers::current_session(&state, &http).await
            && session.identity_id.to_string() == hint.subject
        {
            ended.push(session.id);
        }
        ended.extend(hint.session_id);
        ended.dedup();
        for id in ended {
            if let Ok(mut session) = state.sessions.get_session(id).await
                && session.active
                && session.identity_id.to_string() == hint.subject
            {
                session.active = false;
                state.sessions.update_session(&session).await?;
            }
        }
        let mut response = see_other(&destination);
        if let Some(cookie) = crate::session::cookie::clear_session_cookie(&state) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => super::authorize::show_error(&state, &error).await,
    }
}

/// Where a browser goes after signing out, when the client named no page.
fn logged_out_url(state: &AppState) -> String {
    let selfservice = &state.config.selfservice;
    selfservice
        .flows
        .logout
        .after
        .default_browser_return_url
        .as_ref()
        .or(selfservice.default_browser_return_url.as_ref())
        .map_or_else(|| state.urls.ui.to_string(), url::Url::to_string)
}

pub fn admin_routes() -> Router<AppState> {
    use axum::routing::{delete, get};
    Router::new()
        .route(
            "/oauth2/auth/sessions/consent",
            get(list_consents).delete(revoke_consents),
        )
        .route("/oauth2/auth/sessions/login", delete(revoke_logins))
}

fn query_form(query: Option<String>) -> OAuthResult<Form> {
    Form::parse(query.unwrap_or_default().as_bytes())
}

/// `GET /admin/oauth2/auth/sessions/consent?subject=`: the subject's remembered consents.
async fn list_consents(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> OAuthResult<Response> {
    let form = query_form(query)?;
    let subject = form
        .get("subject")
        .ok_or_else(|| OAuthError::invalid_request("subject is missing"))?;
    let mut sessions = Vec::new();
    for consent in state.oauth2.consents_of(subject).await? {
        let client = client::find(&state, &consent.client_id)
            .await?
            .map(|(client, _)| serde_json::to_value(client).unwrap_or(Value::Null));
        let scopes: Vec<&str> = consent.scope.split_whitespace().collect();
        sessions.push(json!({
            "consent_request_id": format!("{}:{}", consent.subject, consent.client_id),
            "grant_scope": scopes,
            "grant_access_token_audience": [],
            "remember": true,
            "remember_for": 0,
            "handled_at": crate::identity::timestamp(consent.created_at),
            "session": {"access_token": {}, "id_token": {}},
            "consent_request": {
                "subject": consent.subject,
                "client": client,
                "requested_scope": scopes,
            },
        }));
    }
    Ok(Json(sessions).into_response())
}

/// `DELETE /admin/oauth2/auth/sessions/consent?subject=&client=` (or `&all=true`): forgets the
/// consents and revokes the tokens given under them.
async fn revoke_consents(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> OAuthResult<Response> {
    let form = query_form(query)?;
    let subject = form
        .get("subject")
        .ok_or_else(|| OAuthError::invalid_request("subject is missing"))?;
    let client = match (form.get("client"), form.get("all")) {
        (Some(client), _) => Some(client),
        (None, Some("true")) => None,
        _ => {
            return Err(OAuthError::invalid_request(
                "name the client, or set all=true for every client",
            ));
        }
    };
    state.oauth2.forget_consents(subject, client).await?;
    state
        .oauth2
        .revoke_grants_of(subject, client, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /admin/oauth2/auth/sessions/login?subject=` (or `?sid=`): ends the subject's Ward
/// sessions (or that one), so the next authorization asks to sign in again.
async fn revoke_logins(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> OAuthResult<Response> {
    let form = query_form(query)?;
    match (form.get("subject"), form.get("sid")) {
        (Some(subject), _) => {
            let identity = Uuid::parse_str(subject)
                .map_err(|_| OAuthError::invalid_request("subject must be an identity id"))?;
            state.sessions.revoke_other_sessions(identity, None).await?;
        }
        (None, Some(sid)) => {
            let id = Uuid::parse_str(sid)
                .map_err(|_| OAuthError::invalid_request("sid must be a session id"))?;
            if let Ok(mut session) = state.sessions.get_session(id).await {
                session.active = false;
                state.sessions.update_session(&session).await?;
            }
        }
        (None, None) => return Err(OAuthError::invalid_request("subject or sid is missing")),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
