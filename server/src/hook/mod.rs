//! Hooks that run after a flow succeeded, as configured per flow and per method.

use crate::config::{HookConfig, HookName};
use crate::flow::request::Client;
use crate::identity::Identity;
use crate::session::issue::issue;
use crate::session::{Session, SessionToken};
use crate::state::AppState;
use crate::store::StoreResult;

/// The hooks for `method`: the method's own list when it has one, else the flow's.
fn effective<'a>(global: &'a [HookConfig], method: &'a [HookConfig]) -> &'a [HookConfig] {
    if method.is_empty() { global } else { method }
}

/// Runs the after-registration hooks; the `session` hook signs the new identity in.
pub async fn after_registration(
    state: &AppState,
    client: &Client,
    identity: &Identity,
    method: &str,
) -> StoreResult<Option<(Session, SessionToken)>> {
    let after = &state.config.selfservice.flows.registration.after;
    let method_hooks: &[HookConfig] = match method {
        "password" => &after.password.hooks,
        _ => &[],
    };
    let mut signed_in = None;
    for hook in effective(&after.hooks, method_hooks) {
        match hook.hook {
            HookName::Session => signed_in = Some(issue(state, identity, method, client).await?),
        }
    }
    Ok(signed_in)
}
