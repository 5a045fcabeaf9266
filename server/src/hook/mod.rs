//! Hooks that run after a flow succeeded, as configured per flow and per method.

use crate::config::{HookConfig, HookName};
use crate::http::request::Client;
use crate::identity::Identity;
use crate::session::issue::issue;
use crate::session::{Session, SessionToken};
use crate::state::AppState;
use crate::store::StoreResult;

/// Runs the after-registration hooks; the `session` hook signs the new identity in.
pub async fn after_registration(
    state: &AppState,
    client: &Client,
    identity: &Identity,
    method: &str,
) -> StoreResult<Option<(Session, SessionToken)>> {
    let mut signed_in = None;
    if configured(registration_hooks(state, method), HookName::Session) {
        signed_in = Some(issue(state, identity, method, client).await?);
    }
    Ok(signed_in)
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
