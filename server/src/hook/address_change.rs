//! Safe address changes, Kratos's two settings hooks after `profile`:
//! - `verify_new_address`: a changed address trait keeps its old value until the new address
//!   is verified; the new value waits in the verification flow sent to it.
//! - `notify_previous_addresses`: once a change is applied, each address the identity no
//!   longer uses is told (template `verifiable_address_changed`), so a taken-over account
//!   does not go unnoticed.

use serde_json::{Map, Value, json};

use crate::config::{HookConfig, HookName};
use crate::courier::TemplateType;
use crate::flow::Flow;
use crate::identity::{Identity, IdentitySchema, Via};
use crate::state::AppState;
use crate::store::Changes;

/// The verification flow's internal context: address traits waiting for their verification.
const PENDING: &str = "pending_traits";
/// The session that asked for the change.
const SESSION: &str = "pending_for_session";

/// Holds back address traits of `identity` that now name another address than in `original`:
/// they get their old value back. Returns the new values by JSON pointer, if any.
pub fn hold_back(
    schema: &IdentitySchema,
    original: &Identity,
    identity: &mut Identity,
) -> Option<Map<String, Value>> {
    let mut pending = Map::new();
    for extension in schema
        .extensions
        .iter()
        .filter(|extension| extension.verification_via.is_some())
    {
        let old = original.traits.pointer(&extension.pointer).cloned();
        let new = identity.traits.pointer(&extension.pointer).cloned();
        // A removed address needs no verification: only a new value waits.
        let (Some(new), Some(old)) = (new, old) else {
            continue;
        };
        if new != old {
            if let Some(slot) = identity.traits.pointer_mut(&extension.pointer) {
                *slot = old;
            }
            pending.insert(extension.pointer.clone(), new);
        }
    }
    (!pending.is_empty()).then_some(pending)
}

/// The new addresses among held-back values.
pub fn addresses(pending: &Map<String, Value>) -> Vec<String> {
    pending
        .values()
        .flat_map(|value| match value {
            Value::String(text) => vec![text.trim().to_lowercase()],
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|text| text.trim().to_lowercase())
                .collect(),
            _ => Vec::new(),
        })
        .filter(|address| !address.is_empty())
        .collect()
}

/// Keeps held-back values in the verification flow sent to the new addresses.
pub fn keep(flow: &mut Flow, pending: Map<String, Value>, session: uuid::Uuid) {
    flow.internal.insert(PENDING.into(), Value::Object(pending));
    flow.internal.insert(SESSION.into(), json!(session));
}

/// Whether the session that asked for the change held back in `flow` is still valid (Kratos
/// drops the change once it is revoked or expired); `true` when nothing waits.
pub async fn still_wanted(state: &AppState, flow: &Flow) -> crate::store::StoreResult<bool> {
    if !flow.internal.contains_key(PENDING) {
        return Ok(true);
    }
    let Some(id) = flow
        .internal
        .get(SESSION)
        .and_then(Value::as_str)
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    else {
        return Ok(false);
    };
    match state.sessions.get_session(id).await {
        Ok(session) => Ok(session.is_valid_at(state.clock.now())),
        Err(crate::store::StoreError::NotFound) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Applies the values a verification flow held back to `identity`, once `verified` (the
/// address whose code was entered) is one of the new addresses; whether it did.
pub fn apply(flow: &Flow, identity: &mut Identity, verified: &str) -> bool {
    let Some(Value::Object(pending)) = flow.internal.get(PENDING) else {
        return false;
    };
    if !addresses(pending).iter().any(|address| address == verified) {
        return false;
    }
    for (pointer, value) in pending {
        if let Some(slot) = identity.traits.pointer_mut(pointer) {
            *slot = value.clone();
        }
    }
    true
}

/// Who `notify_previous_addresses` tells, as Kratos's `config.recipients` says: the addresses
/// the identity stopped using (`removed`, the default), every earlier verified one
/// (`all_verified`), or every earlier one (`all`). `None`: the hook is not configured.
pub fn recipients(hooks: &[HookConfig]) -> Option<&str> {
    let hook = hooks
        .iter()
        .find(|hook| hook.hook == HookName::NotifyPreviousAddresses)?;
    Some(
        hook.config
            .as_ref()
            .and_then(|config| config.get("recipients"))
            .and_then(Value::as_str)
            .unwrap_or("removed"),
    )
}

/// With `notify_previous_addresses` among `hooks`, queues a `verifiable_address_changed` mail
/// to the e-mail addresses of `before` its `recipients` name, when `identity`'s addresses
/// differ from them.
pub fn notify_previous(
    state: &AppState,
    lang: app::i18n::Lang,
    hooks: &[HookConfig],
    before: &Identity,
    identity: &Identity,
    changes: &mut Changes,
) {
    let Some(mode) = recipients(hooks) else {
        return;
    };
    let kept = |value: &str| {
        identity
            .verifiable_addresses
            .iter()
            .any(|address| address.value == value)
    };
    let changed = before.verifiable_addresses.len() != identity.verifiable_addresses.len()
        || before
            .verifiable_addresses
            .iter()
            .any(|old| !kept(&old.value));
    if !changed {
        return;
    }
    let new_address = identity
        .verifiable_addresses
        .iter()
        .find(|address| {
            !before
                .verifiable_addresses
                .iter()
                .any(|old| old.value == address.value)
        })
        .map(|address| address.value.clone())
        .unwrap_or_default();
    let now = state.clock.now();
    for old in before.verifiable_addresses.iter().filter(|old| {
        old.via == Via::Email
            && match mode {
                "all" => true,
                "all_verified" => old.verified(),
                _ => !kept(&old.value),
            }
    }) {
        let vars = json!({
            "NewAddress": new_address,
            "ChangedAt": crate::identity::timestamp(now),
            "Identity": identity.to_json(&state.schema_url(&identity.schema_id), Default::default()),
        });
        match state.courier.email(
            TemplateType::VerifiableAddressChanged,
            lang,
            &old.value,
            vars,
            now,
        ) {
            Ok(message) => changes.messages.push(message),
            Err(error) => tracing::error!(%error, "could not render verifiable_address_changed"),
        }
    }
}
