//! Hooks that run before a flow starts and after it succeeded, as configured per flow and per
//! method.

pub mod address_change;
pub mod deliveries;
pub mod web_hook;

use serde_json::{Map, Value, json};

use self::web_hook::{Answer, HookError};
use crate::config::{HookConfig, HookName};
use crate::flow::Flow;
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

/// The after-settings hooks for `method`: its own list when it has one, else the flow's.
pub fn settings_hooks<'a>(state: &'a AppState, method: &str) -> &'a [HookConfig] {
    let after = &state.config.selfservice.flows.settings.after;
    let own = match method {
        "password" => &after.password.hooks,
        _ => &after.profile.hooks,
    };
    if own.is_empty() { &after.hooks } else { own }
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

/// When web hooks run relative to storing the flow's result. Registration and settings run
/// the hooks that read the answer (`response.parse`) before storing, so the answer can change
/// or refuse what is stored, and the others after; elsewhere every hook runs at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    BeforeStoring,
    AfterStoring,
    Once,
}

/// What the flow's hooks see.
pub struct HookContext<'a> {
    pub client: &'a Client,
    pub flow: &'a Flow,
    pub identity: Option<&'a Identity>,
    pub session: Option<&'a Session>,
}

impl HookContext<'_> {
    /// Kratos's `ctx` for the body program.
    fn to_json(&self, state: &AppState) -> Value {
        let mut ctx = json!({
            "flow": self.flow.to_json(),
            "request_headers": self.client.allowed_headers.iter().fold(
                Map::new(),
                |mut headers, (name, value)| {
                    if let Some(values) = headers
                        .entry(name.clone())
                        .or_insert_with(|| json!([]))
                        .as_array_mut()
                    {
                        values.push(json!(value));
                    }
                    headers
                },
            ),
            "request_method": self.client.method,
            "request_url": self.client.request_url,
            "request_cookies": cookies(
                self.client.cookies.as_deref().unwrap_or_default(),
                &state.config.session.cookie.name,
            ),
        });
        if let Some(identity) = self.identity {
            let view = crate::identity::View {
                admin: true,
                include_credentials: &[],
            };
            let mut json = identity.to_json(&state.schema_url(&identity.schema_id), view);
            if let Some(object) = json.as_object_mut() {
                object.remove("credentials");
            }
            ctx["identity"] = json;
        }
        if let (Some(session), Some(identity)) = (self.session, self.identity) {
            ctx["session"] = crate::session::issue::session_json(state, session, identity);
        }
        ctx
    }
}

/// The request's cookies, but for the session cookie: a hook that needs the session has
/// `ctx.session`, and a session token sent to another system is one that can leak there.
fn cookies(header: &str, session_cookie: &str) -> Value {
    Value::Object(
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name != session_cookie)
            .map(|(name, value)| (name.to_string(), json!(value)))
            .collect(),
    )
}

/// Runs the web hooks among `hooks` that belong to `stage`. Hooks whose answer nobody waits
/// for are queued; the others are called in order. Returns the identity fields the last
/// reading hook sent back, if any.
pub async fn run_web_hooks(
    state: &AppState,
    hooks: &[HookConfig],
    stage: Stage,
    context: &HookContext<'_>,
) -> Result<Option<Value>, HookError> {
    let mut patch = None;
    let mut ctx = None;
    for hook in hooks.iter().filter(|hook| hook.hook == HookName::WebHook) {
        let Some(web_hook) = state.web_hooks.get(hook) else {
            continue;
        };
        let belongs = match stage {
            Stage::Once => true,
            Stage::BeforeStoring => web_hook.parse,
            Stage::AfterStoring => !web_hook.parse,
        };
        if !belongs {
            continue;
        }
        let ctx = ctx.get_or_insert_with(|| context.to_json(state));
        let Some(request) = web_hook.render(ctx).await? else {
            continue;
        };
        if web_hook.ignore {
            if let Err(error) = deliveries::enqueue(state, web_hook, &request).await {
                tracing::error!(%error, "could not queue a web hook delivery");
            }
            continue;
        }
        match state.web_hooks.send(web_hook, &request).await? {
            Answer::Identity(fields) => patch = Some(fields),
            Answer::Continue => {}
        }
    }
    Ok(patch)
}

/// Applies a reading hook's answer to `identity`: the fields it sent replace the identity's.
pub fn apply_patch(identity: &mut Identity, patch: &Value) {
    if let Some(traits) = patch.get("traits").filter(|traits| traits.is_object()) {
        identity.traits = traits.clone();
    }
    for (key, slot) in [
        ("metadata_public", &mut identity.metadata_public),
        ("metadata_admin", &mut identity.metadata_admin),
    ] {
        if let Some(value) = patch.get(key) {
            *slot = (!value.is_null()).then(|| value.clone());
        }
    }
    if let Some(external_id) = patch.get("external_id").and_then(Value::as_str) {
        identity.external_id = Some(external_id.to_string());
    }
}

/// A hook's refusal as the flow shows it: the receiver's messages on their fields, or why
/// the call failed.
pub fn refusal(mut flow: Flow, error: HookError) -> crate::flow::FlowError {
    match error {
        HookError::Interrupted(messages) => {
            for (field, message) in messages {
                flow.ui.add_message(field.as_deref(), message);
            }
        }
        HookError::Failed(reason) => {
            // The reason names the receiver (its address, maybe a token in it): log only.
            tracing::warn!(%reason, flow = %flow.id, "a web hook failed; the flow stops");
            flow.ui.messages.push(app::model::UiText::new(
                4000001,
                json!({"reason": "This could not be completed right now. Please try again later."}),
            ));
        }
    }
    crate::flow::FlowError::Rejected(Box::new(flow))
}

/// Runs the hooks after the flow's result is stored: a failure is logged, and the result
/// stands (a user whose account exists is not told that signing up failed).
pub async fn after_storing(state: &AppState, hooks: &[HookConfig], context: &HookContext<'_>) {
    if let Err(error) = run_web_hooks(state, hooks, Stage::AfterStoring, context).await {
        tracing::warn!(?error, flow = %context.flow.id, "a web hook after the flow failed");
    }
}

/// Runs the flow's `before` hooks on a new flow; a refusal stops the flow from starting.
pub async fn before(
    state: &AppState,
    client: &Client,
    hooks: &[HookConfig],
    flow: &Flow,
) -> Result<(), crate::error::ApiError> {
    let context = HookContext {
        client,
        flow,
        identity: None,
        session: None,
    };
    match run_web_hooks(state, hooks, Stage::Once, &context).await {
        Ok(_) => Ok(()),
        Err(HookError::Interrupted(messages)) => {
            let text: Vec<String> = messages
                .into_iter()
                .map(|(_, message)| message.text)
                .collect();
            Err(crate::error::ApiError::bad_request(text.join(" ")))
        }
        Err(HookError::Failed(reason)) => {
            tracing::warn!(%reason, "a web hook before a flow failed; the flow does not start");
            Err(
                crate::error::ApiError::new(axum::http::StatusCode::BAD_GATEWAY).with_reason(
                    "A system this flow depends on did not answer. Please try again later.",
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_stays_out_of_hooks() {
        let seen = cookies("a=1; ory_kratos_session=secret; b=2", "ory_kratos_session");
        assert_eq!(seen, json!({"a": "1", "b": "2"}));
    }
}
