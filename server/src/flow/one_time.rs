//! What recovery and verification share: the submit handler, sending a secret to an address,
//! and checking what comes back. What success means stays with each flow.

use app::model::UiText;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::respond::{init_url, respond_flow, respond_flow_error};
use super::{
    Flow, FlowError, FlowId, FlowKind, FlowResult, STATE_SENT_EMAIL, load_for_submit, recovery,
    see_other, verification,
};
use crate::config::OneTimeMethod;
use crate::courier::TemplateType;
use crate::error::ApiError;
use crate::http::request::{Client, field};
use crate::identity::Identity;
use crate::state::AppState;
use crate::store::{Changes, OneTimeCode};
use crate::strategy::one_time::{ADDRESS, ATTEMPTS, OneTimeStrategy, flow_link};

/// The flow's method, or 400 `self_service_flow_disabled` when the flow is off.
pub fn strategy(state: &AppState, kind: FlowKind) -> Result<&OneTimeStrategy, ApiError> {
    let (strategy, name) = match kind {
        FlowKind::Recovery => (state.strategies.recovery.as_ref(), "Recovery"),
        _ => (state.strategies.verification.as_ref(), "Verification"),
    };
    strategy.ok_or_else(|| {
        ApiError::bad_request(format!("{name} is not allowed because it was disabled."))
            .with_id("self_service_flow_disabled")
    })
}

/// `?flow=` plus, for a click on a link in a message, `code=` or `token=`.
#[derive(Debug, Deserialize)]
pub struct SubmitQuery {
    pub flow: Option<String>,
    pub code: Option<String>,
    pub token: Option<String>,
}

/// `POST /self-service/<recovery|verification>?flow=`, and `GET` from a link in a message
/// (`&token=`; verification also `&code=`): send a message, or check a secret.
pub async fn submit(
    state: &AppState,
    client: &Client,
    method: &Method,
    query: &SubmitQuery,
    form: &Value,
    kind: FlowKind,
) -> Response {
    let id = match (FlowId {
        id: None,
        flow: query.flow.clone(),
    })
    .parse("flow")
    {
        Ok(id) => id,
        Err(_) if !client.wants_json => return see_other(&init_url(state, kind)),
        Err(error) => return error.into_response(),
    };
    let result = async {
        let strategy = strategy(state, kind)?;
        let in_link = match (&query.token, &query.code) {
            (Some(token), _) => Some((token.as_str(), true)),
            (None, Some(code)) if kind == FlowKind::Verification => Some((code.as_str(), false)),
            _ => None,
        };
        // A link opened from a message carries its secret instead of a CSRF token: it may be
        // opened in another browser than the one that asked for it.
        if let Some((secret, is_link)) = in_link.filter(|_| *method == Method::GET) {
            let flow = load_clicked(state, kind, id).await?;
            return finish(state, client, strategy, flow, secret, is_link).await;
        }
        let mut flow = load_for_submit(state, client, kind, id, field(form, "csrf_token")).await?;
        flow.ui.clear_messages();
        if wants_send(form) {
            let address = address_or_reject(form, &mut flow)?;
            let verifying = kind == FlowKind::Verification;
            let mut identity = state
                .identities
                .find_by_address(verifying, &address)
                .await?;
            if let Err(refused) = crate::throttle::mail_request(state, client.ip).await? {
                return Err(refused.reject(&flow));
            }
            let mut changes = Changes::default();
            send(
                state,
                strategy,
                &mut flow,
                &address,
                identity.as_ref(),
                &mut changes,
            )
            .await?;
            if let Some(identity) = identity.as_mut().filter(|_| verifying)
                && verification::mark_sent(identity, &[address], state.clock.now())
            {
                changes.update_identity = Some(identity.clone());
            }
            changes.update_flows.push(flow.clone());
            state.changes.commit(changes, state.clock.now()).await?;
            return Ok(respond_flow(state, client, &flow, StatusCode::OK));
        }
        no_method(form, &mut flow)?;
        let code = field(form, "code").unwrap_or_default();
        finish(state, client, strategy, flow, code, false).await
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => respond_flow_error(state, client, error).await,
    }
}

async fn finish(
    state: &AppState,
    client: &Client,
    strategy: &OneTimeStrategy,
    flow: Flow,
    secret: &str,
    is_link: bool,
) -> FlowResult<Response> {
    match flow.kind {
        FlowKind::Recovery => {
            recovery::finish(state, client, strategy, flow, secret, is_link).await
        }
        _ => verification::finish(state, client, strategy, flow, secret, is_link).await,
    }
}

/// Queues the message for `address` (a valid one when `identity` owns it, an invalid one when
/// configured to tell strangers) and moves the flow to `sent_email`. The visible answer is the
/// same either way, so nobody learns which addresses have accounts; nor whether the address
/// received so many mails lately that this one was not sent.
pub async fn send(
    state: &AppState,
    strategy: &OneTimeStrategy,
    flow: &mut Flow,
    address: &str,
    identity: Option<&Identity>,
    changes: &mut Changes,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let recovery = flow.kind == FlowKind::Recovery;
    let flows = &state.config.selfservice.flows;
    let notify_unknown = if recovery {
        flows.recovery.notify_unknown_recipients
    } else {
        flows.verification.notify_unknown_recipients
    };
    changes.clear_codes_of.push(flow.id);
    let would_send = identity.is_some() || notify_unknown;
    let allowed = would_send && crate::throttle::mail_to(state, address).await?;
    let message = match identity.filter(|_| allowed) {
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
            Some(
                state
                    .courier
                    .email(kind, flow.language(), address, vars, now),
            )
        }
        None if allowed && notify_unknown => {
            let kind = match (recovery, strategy.method) {
                (true, OneTimeMethod::Code) => TemplateType::RecoveryCodeInvalid,
                (true, OneTimeMethod::Link) => TemplateType::RecoveryInvalid,
                (false, OneTimeMethod::Code) => TemplateType::VerificationCodeInvalid,
                (false, OneTimeMethod::Link) => TemplateType::VerificationInvalid,
            };
            let vars = json!({"RequestURL": flow.request_url});
            Some(
                state
                    .courier
                    .email(kind, flow.language(), address, vars, now),
            )
        }
        None => None,
    };
    if let Some(message) = message {
        let message = message.map_err(|error| {
            ApiError::internal(format_args!("could not render a message: {error}"))
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
    let spent = !tries_left(state, flow);
    let found = if spent || submitted.trim().is_empty() {
        None
    } else {
        strategy
            .find(state, flow, submitted, state.clock.now())
            .await?
    };
    if let Some(code) = found {
        return Ok(code);
    }
    let (message, target) = match (flow.kind, is_link) {
        (FlowKind::Recovery, true) => (4060004, None),
        (FlowKind::Recovery, false) => (4060006, Some("code")),
        (FlowKind::Login, _) => (4010008, None),
        (FlowKind::Registration, _) => (4040003, None),
        (_, true) => (4070001, None),
        (_, false) => (4070006, Some("code")),
    };
    Err(refuse_secret(flow, spent, message, target))
}

/// Whether the flow may still check a submitted code (fewer than `max_submissions` were wrong).
pub fn tries_left(state: &AppState, flow: &Flow) -> bool {
    flow.counter(ATTEMPTS) < u64::from(state.config.selfservice.methods.code.config.max_submissions)
}

/// Refuses a wrong secret with `message` (on the field `target`, or the whole form) and counts
/// the try; a flow with no tries left says so instead.
pub fn refuse_secret(
    flow: &mut Flow,
    spent: bool,
    message: u32,
    target: Option<&str>,
) -> FlowError {
    flow.ui.clear_messages();
    if spent {
        flow.ui.messages.push(UiText::new(
            4000001,
            json!({"reason": "The request was submitted too often. Please request another code."}),
        ));
    } else {
        flow.internal
            .insert(ATTEMPTS.into(), json!(flow.counter(ATTEMPTS) + 1));
        flow.ui.add_message(target, UiText::plain(message));
    }
    FlowError::Rejected(Box::new(flow.clone()))
}

/// The address a submission names: `email` from the form (trimmed, lower-cased), else the one
/// the flow last sent to (a resend).
fn submitted_address(form: &Value, flow: &Flow) -> Option<String> {
    field(form, "email")
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty())
        .or_else(|| flow.note(ADDRESS).map(str::to_string))
}

/// Whether the submission asks for a (new) message rather than checking a code.
fn wants_send(form: &Value) -> bool {
    let code = field(form, "code").unwrap_or_default();
    code.trim().is_empty() && field(form, "email").is_some()
}

/// A flow opened from a link in a message: it must exist and be unexpired and unfinished. No
/// CSRF token comes with it: the link may be opened in another browser than the one that
/// asked for it; the secret in the link is the proof.
async fn load_clicked(state: &AppState, kind: FlowKind, id: uuid::Uuid) -> FlowResult<Flow> {
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
fn address_or_reject(form: &Value, flow: &mut Flow) -> FlowResult<String> {
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
fn no_method(form: &Value, flow: &mut Flow) -> FlowResult<()> {
    let code = field(form, "code").unwrap_or_default();
    if code.is_empty() && field(form, "method").is_none() {
        flow.ui
            .messages
            .push(UiText::plain(flow.kind.no_strategy_message()));
        return Err(FlowError::Rejected(Box::new(flow.clone())));
    }
    Ok(())
}
