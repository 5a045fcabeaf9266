//! The cookies Ward sets: the session cookie and the CSRF cookie. Attributes come from
//! `session.cookie.*` (session cookie) and `cookies.*` (both): HttpOnly always, Secure unless
//! `--dev`, SameSite=Lax and Path=/ by default.

use axum::http::HeaderValue;
use base64::Engine;
use cookie::Cookie;
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::config::SameSite;
use crate::state::AppState;

struct Attributes {
    name: String,
    domain: Option<String>,
    path: String,
    same_site: SameSite,
    secure: Option<bool>,
}

/// `Set-Cookie` for the session token, valid until the session expires (or, when
/// `session.cookie.persistent` is off, until the browser closes).
pub fn session_cookie(
    state: &AppState,
    token: &str,
    expires_at: OffsetDateTime,
) -> Option<HeaderValue> {
    let persistent = state.config.session.cookie.persistent;
    let max_age = persistent.then(|| (expires_at - state.clock.now()).max(time::Duration::ZERO));
    build(state, session_attributes(state), token.to_string(), max_age)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(state: &AppState) -> Option<HeaderValue> {
    build(
        state,
        session_attributes(state),
        String::new(),
        Some(time::Duration::ZERO),
    )
}

/// The session cookie's attributes: `session.cookie.*`, else `cookies.*`.
fn session_attributes(state: &AppState) -> Attributes {
    let session = &state.config.session.cookie;
    let defaults = &state.config.cookies;
    Attributes {
        name: session.name.clone(),
        domain: session.domain.clone().or_else(|| defaults.domain.clone()),
        path: session
            .path
            .clone()
            .unwrap_or_else(|| defaults.path.clone()),
        same_site: session.same_site.unwrap_or(defaults.same_site),
        secure: session.secure.or(defaults.secure),
    }
}

/// The CSRF cookie's name: bound to the public URL, as Kratos names it.
pub fn csrf_cookie_name(state: &AppState) -> String {
    let digest = Sha256::digest(state.urls.public.as_str().as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("csrf_token_{hex}")
}

/// A fresh CSRF token: 32 random bytes, base64url.
pub fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `Set-Cookie` for a CSRF token (a year; it rotates on sign-in and sign-out).
pub fn csrf_cookie(state: &AppState, token: &str) -> Option<HeaderValue> {
    let defaults = &state.config.cookies;
    let attributes = Attributes {
        name: csrf_cookie_name(state),
        domain: defaults.domain.clone(),
        path: defaults.path.clone(),
        same_site: defaults.same_site,
        secure: defaults.secure,
    };
    build(
        state,
        attributes,
        token.to_string(),
        Some(time::Duration::days(365)),
    )
}

fn build(
    state: &AppState,
    attributes: Attributes,
    value: String,
    max_age: Option<time::Duration>,
) -> Option<HeaderValue> {
    let same_site = match attributes.same_site {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::None => cookie::SameSite::None,
    };
    let mut cookie = Cookie::build((attributes.name, value))
        .path(attributes.path)
        .http_only(true)
        .same_site(same_site)
        // Plain http is allowed only in development, unless configured otherwise.
        .secure(attributes.secure.unwrap_or(!state.config.dev))
        .build();
    if let Some(domain) = attributes.domain {
        cookie.set_domain(domain);
    }
    if let Some(max_age) = max_age {
        cookie.set_max_age(max_age);
    }
    HeaderValue::from_str(&cookie.to_string()).ok()
}
