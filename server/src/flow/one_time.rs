//! The steps recovery and verification share: send a secret to an address, then check what
//! comes back. Which address book is searched, which templates are used and what success
//! means stay with each flow.

use app::model::UiText;
use serde_json::json;

use super::{Flow, FlowError, FlowKind, FlowResult, STATE_SENT_EMAIL};
use crate::config::OneTimeMethod;
use crate::courier::TemplateType;
use crate::identity::Identity;
use crate::state::AppState;
use crate::store::{Changes, OneTimeCode};
use crate::strategy::one_time::{ADDRESS, ATTEMPTS, OneTimeStrategy, flow_link};

/// Queues the message for `address` (a valid one when `identity` owns it, an invalid one when
/// configured to tell strangers) and moves the flow to `sent_email`. The visible answer is the
/// same either way, so nobody learns which addresses have accounts.
pub fn send(
    state: &AppState,
    strategy: &OneTimeStrategy,
    flow: &mut Flow,
    address: &str,
    identity: Option<&Identity>,
    changes: &mut Changes,
) -> FlowResult<()> {
    let now = state.clock.now();
    let recovery = flow.kind == FlowKind::Recovery;
    let flows = &state.config.selfservice.flows;
    let notify_unknown = if recovery {
        flows.recovery.notify_unknown_recipients
    } else {
        flows.verification.notify_unknown_recipients
    };
    changes.clear_codes_of.push(flow.id);
    let message = match identity {
        Some(identity) => {
            let secret = strategy.generate();
            changes
                .create_codes
                .push(strategy.record(state, flow, identity.id, address, &secret));
            let minutes = strategy.lifespan(state).whole_minutes();
            let mut vars = json!({
                "Identity": identity.to_json(&state.schema_url(&identity.schema_id), Default::default()),
                "RequestURL": flow.request_url,
                "ExpiresInMinutes": minutes,
            });
            let kind = match (recovery, strategy.method) {
                (true, OneTimeMethod::Code) => {
                    vars["RecoveryCode"] = json!(secret);
                    TemplateType::RecoveryCodeValid
                }
                (true, OneTimeMethod::Link) => {
                    vars["RecoveryURL"] = json!(flow_link(state, flow, "token", &secret));
                    TemplateType::RecoveryValid
                }
                (false, OneTimeMethod::Code) => {
                    vars["VerificationCode"] = json!(secret);
                    vars["VerificationURL"] = json!(flow_link(state, flow, "code", &secret));
                    TemplateType::VerificationCodeValid
                }
                (false, OneTimeMethod::Link) => {
                    vars["VerificationURL"] = json!(flow_link(state, flow, "token", &secret));
                    TemplateType::VerificationValid
                }
            };
            Some(state.courier.email(kind, address, vars, now))
        }
        None if notify_unknown => {
            let kind = match (recovery, strategy.method) {
                (true, OneTimeMethod::Code) => TemplateType::RecoveryCodeInvalid,
                (true, OneTimeMethod::Link) => TemplateType::RecoveryInvalid,
                (false, OneTimeMethod::Code) => TemplateType::VerificationCodeInvalid,
                (false, OneTimeMethod::Link) => TemplateType::VerificationInvalid,
            };
            let vars = json!({"RequestURL": flow.request_url});
            Some(state.courier.email(kind, address, vars, now))
        }
        None => None,
    };
    if let Some(message) = message {
        let message = message.map_err(|error| {
            FlowError::Api(crate::error::ApiError::internal(format_args!(
                "could not render a message: {error}"
            )))
        })?;
        changes.messages.push(message);
    }
    flow.state = STATE_SENT_EMAIL.into();
    flow.internal.insert(ADDRESS.into(), json!(address));
    flow.internal.insert(ATTEMPTS.into(), json!(0));
    flow.active = Some(strategy.method.as_str().into());
    strategy.populate_sent(flow, address);
    flow.ui.clear_messages();
    flow.ui
        .messages
        .push(UiText::plain(sent_message(flow.kind, strategy.method)));
    flow.updated_at = now;
    Ok(())
}

fn sent_message(kind: FlowKind, method: OneTimeMethod) -> u32 {
    match (kind, method) {
        (FlowKind::Recovery, OneTimeMethod::Code) => 1060003,
        (FlowKind::Recovery, OneTimeMethod::Link) => 1060002,
        (_, OneTimeMethod::Code) => 1080003,
        (_, OneTimeMethod::Link) => 1080001,
    }
}

/// The stored secret `submitted` matches; otherwise the flow is refused with the "invalid or
/// used" message, and after `max_submissions` wrong codes with no further tries.
pub async fn check(
    state: &AppState,
    strategy: &OneTimeStrategy,
    flow: &mut Flow,
    submitted: &str,
    is_link: bool,
) -> FlowResult<OneTimeCode> {
    let now = state.clock.now();
    let attempts = flow.counter(ATTEMPTS);
    let spent = attempts >= strategy.max_submissions(state);
    let found = if spent || submitted.trim().is_empty() {
        None
    } else {
        strategy.find(state, flow, submitted, now).await?
    };
    if let Some(code) = found {
        return Ok(code);
    }
    flow.ui.clear_messages();
    if spent {
        flow.ui.messages.push(UiText::new(
            4000001,
            json!({"reason": "The request was submitted too often. Please request another code."}),
        ));
    } else {
        flow.internal.insert(ATTEMPTS.into(), json!(attempts + 1));
        let message = match (flow.kind, is_link) {
            (FlowKind::Recovery, true) => 4060004,
            (FlowKind::Recovery, false) => 4060006,
            (_, true) => 4070001,
            (_, false) => 4070006,
        };
        let target = (!is_link).then_some("code");
        flow.ui.add_message(target, UiText::plain(message));
    }
    Err(FlowError::Rejected(Box::new(flow.clone())))
}

/// The address a submission names: `email` from the form (trimmed, lower-cased), else the one
/// the flow last sent to (a resend).
pub fn submitted_address(form: &serde_json::Value, flow: &Flow) -> Option<String> {
    super::request::field(form, "email")
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty())
        .or_else(|| flow.note(ADDRESS).map(str::to_string))
}

/// Whether the submission asks for a (new) message rather than checking a code.
pub fn wants_send(form: &serde_json::Value) -> bool {
    let code = super::request::field(form, "code").unwrap_or_default();
    code.trim().is_empty() && super::request::field(form, "email").is_some()
}

/// A flow opened from a link in a message: it must exist and be unexpired and unfinished. No
/// CSRF token comes with it: the link may be opened in another browser than the one that
/// asked for it; the secret in the link is the proof.
pub async fn load_clicked(state: &AppState, kind: FlowKind, id: uuid::Uuid) -> FlowResult<Flow> {
    let mut flow = state
        .flows
        .get_flow(kind, id)
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound => FlowError::Api(super::flow_not_found()),
            other => other.into(),
        })?;
    if flow.is_expired(state.clock.now()) {
        return Err(FlowError::Expired(Box::new(flow)));
    }
    if let Some(message) = kind.completed_message().filter(|_| flow.is_completed()) {
        flow.ui.clear_messages();
        flow.ui.messages.push(UiText::plain(message));
        return Err(FlowError::Rejected(Box::new(flow)));
    }
    Ok(flow)
}

/// The address a send step names, or the flow refused with "email is missing".
pub fn address_or_reject(form: &serde_json::Value, flow: &mut Flow) -> FlowResult<String> {
    match submitted_address(form, flow) {
        Some(address) => Ok(address),
        None => {
            flow.ui.add_message(
                Some("email"),
                UiText::new(4000002, json!({"property": "email"})),
            );
            Err(FlowError::Rejected(Box::new(flow.clone())))
        }
    }
}

/// A submission that neither names an address nor carries a code or method.
pub fn no_method(form: &serde_json::Value, flow: &mut Flow) -> FlowResult<()> {
    let code = super::request::field(form, "code").unwrap_or_default();
    if code.is_empty() && super::request::field(form, "method").is_none() {
        flow.ui
            .messages
            .push(UiText::plain(flow.kind.no_strategy_message()));
        return Err(FlowError::Rejected(Box::new(flow.clone())));
    }
    Ok(())
}
