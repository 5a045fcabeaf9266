//! The cookies Ward sets: the session cookie and the CSRF cookie.

use axum::http::HeaderValue;
use base64::Engine;
use cookie::{Cookie, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::state::AppState;

/// `Set-Cookie` for the session token, valid until the session expires.
pub fn session_cookie(
    state: &AppState,
    token: &str,
    expires_at: OffsetDateTime,
) -> Option<HeaderValue> {
    let max_age = (expires_at - state.clock.now()).max(time::Duration::ZERO);
    build(
        state,
        state.config.session.cookie.name.clone(),
        token.to_string(),
        max_age,
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_session_cookie(state: &AppState) -> Option<HeaderValue> {
    build(
        state,
        state.config.session.cookie.name.clone(),
        String::new(),
        time::Duration::ZERO,
    )
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
    build(
        state,
        csrf_cookie_name(state),
        token.to_string(),
        time::Duration::days(365),
    )
}

fn build(
    state: &AppState,
    name: String,
    value: String,
    max_age: time::Duration,
) -> Option<HeaderValue> {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        // Plain http is allowed only in development.
        .secure(!state.config.dev)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}
