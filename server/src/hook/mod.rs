//! Hooks that run after a flow succeeded, as configured per flow and per method.

use crate::config::{HookConfig, HookName};
use crate::http::request::Client;
use crate::identity::Identity;
use crate::session::{Session, SessionToken};
use crate::state::AppState;
use crate::store::StoreResult;

/// Runs the after-registration hooks; the `session` hook signs the new identity in.
pub async fn after_registration(
    state: &AppState,
    client: &Client,
    identity: &Identity,
    method: &str,
    provider: Option<String>,
) -> StoreResult<Option<(Session, SessionToken)>> {
    if !configured(registration_hooks(state, method), HookName::Session) {
        return Ok(None);
    }
    let (mut session, token) = crate::session::issue::new_session(state, identity, method, client);
    if let Some(first) = session.authentication_methods.first_mut() {
        first.provider = provider;
    }
    state.sessions.create_session(&session).await?;
    Ok(Some((session, token)))
}

/// Whether `hook` is among `hooks`.
pub fn configured(hooks: &[HookConfig], hook: HookName) -> bool {
    hooks.iter().any(|configured| configured.hook == hook)
}

/// The after-registration hooks for `method`.
pub fn registration_hooks<'a>(state: &'a AppState, method: &str) -> &'a [HookConfig] {
    state
        .config
        .selfservice
        .flows
        .registration
        .after
        .for_method(method)
}

/// The after-login hooks for `method`.
pub fn login_hooks<'a>(state: &'a AppState, method: &str) -> &'a [HookConfig] {
    state
        .config
        .selfservice
        .flows
        .login
        .after
        .for_method(method)
}
