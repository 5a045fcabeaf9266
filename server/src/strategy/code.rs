//! The `code` method of sign-in and sign-up (`selfservice.methods.code` with
//! `passwordless_enabled` or `mfa_enabled`): six digits mailed to an address prove that whoever
//! types them reads it.
//!
//! - Sign-in: the identifier, then (state `sent_email`) the code.
//! - Sign-up: the traits, then the code, with the traits unchanged; the address that received
//!   the code counts as verified.
//! - Second factor: one button per address of the signed-in identity, then the code.
//!
//! `resend=code` sends a new code, and the earlier ones of the flow stop working. Sign-in codes
//! are rows of `selfservice_codes`, spent atomically. A sign-up has no identity yet to bind a
//! row to, so its codes' keyed hashes stay in the flow; the new identity's unique identifiers
//! make each one good for a single account.

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde_json::{Value, json};
use uuid::Uuid;

use super::one_time::{ATTEMPTS, OneTimeStrategy, matches_hash, six_digits, submitted_hashes};
use super::traits::{registering_identity, shared_trait_nodes, submitted_value};
use super::{LoginOutcome, LoginStrategy, RegistrationOutcome, RegistrationStrategy};
use crate::config::OneTimeMethod;
use crate::courier::TemplateType;
use crate::error::ApiError;
use crate::flow::model::STATE_SENT_EMAIL;
use crate::flow::one_time::{check, refuse_secret, tries_left};
use crate::flow::{Flow, FlowError, FlowKind, FlowResult};
use crate::http::request::field;
use crate::identity::{CredentialType, Identity, IdentityState, VerificationStatus, timestamp};
use crate::session::Aal;
use crate::state::AppState;
use crate::store::{Changes, StoreError};

const METHOD: &str = "code";

/// Sign-in: the identifier (or, as a second factor, the address) the code went to.
const IDENTIFIER: &str = "code_identifier";
/// Sign-in: the identity the code went to; absent when no account uses the identifier.
const IDENTITY: &str = "code_identity";
/// Sign-up: the traits the codes were sent for, and the codes' addresses and keyed hashes.
const SENT: &str = "code_registration";

/// Sign-in and sign-up by code (`aal1`), or the code as a second factor (`aal2`).
pub struct CodeStrategy {
    second_factor: bool,
}

impl CodeStrategy {
    pub fn passwordless() -> Self {
        Self {
            second_factor: false,
        }
    }

    pub fn second_factor() -> Self {
        Self {
            second_factor: true,
        }
    }
}

/// Sign-in codes share the recovery and verification codes' store and lifespan.
fn codes() -> OneTimeStrategy {
    OneTimeStrategy {
        method: OneTimeMethod::Code,
    }
}

fn resend(form: &Value) -> bool {
    field(form, "resend") == Some(METHOD)
}

/// An identifier as codes' addresses are stored: an e-mail address in lower case (phones
/// capitalise a first letter), a phone number in E.164.
fn normalize(identifier: &str) -> String {
    let identifier = identifier.trim();
    if identifier.contains('@') {
        identifier.to_lowercase()
    } else {
        crate::identity::schema::normalize_phone(identifier)
    }
}

/// How a code reaches `address`: `email`, or `sms` for a phone number.
fn channel_of(address: &str) -> &'static str {
    if address.contains('@') {
        "email"
    } else {
        "sms"
    }
}

/// The addresses `identity` receives codes at: those of its code credential (the traits the
/// schema marks `credentials.code.identifier`), else, with the fallback on, its verifiable
/// e-mail addresses. Phone numbers count where text messages can go out (an sms channel, or
/// the dev mailbox).
pub fn code_addresses(state: &AppState, identity: &Identity) -> Vec<String> {
    let sms = state.config.dev || state.config.courier.channel("sms").is_some();
    let own: Vec<String> = identity
        .credentials
        .get(&CredentialType::Code)
        .and_then(|credential| credential.config.get("addresses"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|address| address["address"].as_str().map(str::to_string))
        .filter(|address| sms || channel_of(address) == "email")
        .collect();
    if !own.is_empty()
        || !state
            .config
            .selfservice
            .methods
            .code
            .missing_credential_fallback_enabled
    {
        return own;
    }
    identity
        .verifiable_addresses
        .iter()
        .filter(|address| address.via.as_str() == "email")
        .map(|address| address.value.clone())
        .collect()
}

/// Marks `address` of `identity` verified; whether it changed anything.
fn verify_address(identity: &mut Identity, address: &str, now: time::OffsetDateTime) -> bool {
    let mut changed = false;
    for verifiable in &mut identity.verifiable_addresses {
        if verifiable.value == address && !verifiable.verified() {
            verifiable.status = VerificationStatus::Completed;
            verifiable.verified_at = Some(now);
            verifiable.updated_at = now;
            changed = true;
        }
    }
    changed
}

fn submit(name: &str, label: UiText) -> UiNode {
    let mut attributes = InputAttributes::new(name, "submit");
    attributes.value = Some(json!(METHOD));
    UiNode::input(NodeGroup::Code, attributes, Some(label))
}

fn hidden(group: NodeGroup, name: &str, value: Value) -> UiNode {
    let mut attributes = InputAttributes::new(name, "hidden");
    attributes.value = Some(value);
    UiNode::input(group, attributes, None)
}

/// The "code sent" step's own nodes: the code, "continue" and "resend".
fn code_step_nodes(label: u32) -> [UiNode; 4] {
    let mut code = InputAttributes::new("code", "text");
    code.required = true;
    code.autocomplete = Some("one-time-code".into());
    [
        hidden(NodeGroup::Code, "method", json!(METHOD)),
        UiNode::input(NodeGroup::Code, code, Some(UiText::plain(label))),
        submit("method", UiText::plain(1070009)),
        {
            let mut resend = InputAttributes::new("resend", "submit");
            resend.value = Some(json!(METHOD));
            UiNode::input(NodeGroup::Code, resend, Some(UiText::plain(1070008)))
        },
    ]
}

fn missing(flow: &mut Flow, name: &str) {
    flow.ui
        .add_message(Some(name), UiText::new(4000002, json!({"property": name})));
}

/// Queues the message `kind` to `address` (a mail, or a text message to a phone number) in
/// the flow's language, with `changes`.
fn queue_mail(
    state: &AppState,
    flow: &Flow,
    changes: &mut Changes,
    kind: TemplateType,
    address: &str,
    vars: Value,
) -> FlowResult<()> {
    let (lang, now) = (flow.language(), state.clock.now());
    let message = match channel_of(address) {
        "sms" => state.courier.sms(kind, lang, address, vars, now),
        _ => state.courier.email(kind, lang, address, vars, now),
    };
    let message = message.map_err(|error| {
        FlowError::from(ApiError::internal(format_args!(
            "could not render a message: {error}"
        )))
    })?;
    changes.messages.push(message);
    Ok(())
}

#[async_trait]
impl LoginStrategy for CodeStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn aal(&self) -> Aal {
        if self.second_factor {
            Aal::Aal2
        } else {
            Aal::Aal1
        }
    }

    /// The second factor's address buttons post `address` without a `method`.
    fn claims(&self, form: &Value) -> bool {
        field(form, "method") == Some(METHOD)
            || resend(form)
            || (self.second_factor && field(form, "address").is_some_and(|a| !a.is_empty()))
    }

    fn populate_login(&self, state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
        if self.second_factor {
            for address in identity
                .map(|i| code_addresses(state, i))
                .unwrap_or_default()
            {
                let mut button = InputAttributes::new("address", "submit");
                button.value = Some(json!(address));
                let channel = channel_of(&address);
                let label = UiText::new(1010023, json!({"address": address, "channel": channel}));
                flow.ui
                    .nodes
                    .push(UiNode::input(NodeGroup::Code, button, Some(label)));
            }
            return;
        }
        if flow.ui.input_mut("identifier").is_none() {
            let mut identifier = InputAttributes::new("identifier", "text");
            identifier.required = true;
            identifier.autocomplete = Some("username".into());
            flow.ui.nodes.push(UiNode::input(
                NodeGroup::Default,
                identifier,
                Some(UiText::plain(1070004)),
            ));
        }
        flow.ui.nodes.push(submit("method", UiText::plain(1010015)));
    }

    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        identity: Option<&Identity>,
        client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        if !self.claims(form) {
            return Ok(LoginOutcome::NotMine);
        }
        if flow.state == STATE_SENT_EMAIL && !resend(form) {
            return self.check_login_code(state, flow, form, identity).await;
        }
        self.send_login_code(state, flow, form, identity, client_ip)
            .await
    }
}

impl CodeStrategy {
    /// Mails a code to the identity the identifier (or chosen address) names. An identifier no
    /// account uses gets the same next step, without a mail, unless enumeration mitigation is
    /// off (then 4000035, as in Kratos).
    async fn send_login_code(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        step_up: Option<&Identity>,
        client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        let field_name = if self.second_factor {
            "address"
        } else {
            "identifier"
        };
        let typed = if resend(form) {
            flow.note(IDENTIFIER).map(str::to_string)
        } else {
            field(form, field_name).map(str::to_string)
        };
        let target = normalize(typed.as_deref().unwrap_or_default());
        if target.is_empty() {
            missing(flow, field_name);
            return Ok(LoginOutcome::Rejected);
        }
        // Counted before anything is looked up, the same way for every identifier.
        if let Err(refused) = crate::throttle::mail_request(state, client_ip).await? {
            return Err(refused.reject(flow));
        }
        if let Err(refused) = crate::throttle::code_mail(state, flow.kind, &target).await? {
            return Err(refused.reject(flow));
        }
        let found = match step_up {
            _ if !self.second_factor => find_for_sign_in(state, &target).await?,
            Some(identity) => code_addresses(state, identity)
                .contains(&target)
                .then(|| identity.clone()),
            None => None,
        };
        let mitigate = state.config.security.account_enumeration.mitigate;
        if found.is_none() && (self.second_factor || !mitigate) {
            if let Some(node) = flow.ui.input_mut(field_name)
                && let app::model::NodeAttributes::Input(input) = &mut node.attributes
                && field_name == "identifier"
            {
                input.value = Some(json!(target));
            }
            flow.ui.messages.push(UiText::plain(4000035));
            return Ok(LoginOutcome::Rejected);
        }

        let now = state.clock.now();
        let strategy = codes();
        let mut changes = Changes {
            clear_codes_of: vec![flow.id],
            ..Changes::default()
        };
        if let Some(identity) = &found {
            // The identifier is itself an address, or names the identity whose addresses get it.
            let addresses = code_addresses(state, identity);
            let addresses = if addresses.contains(&target) {
                vec![target.clone()]
            } else {
                addresses
            };
            for address in addresses {
                if !crate::throttle::mail_to(state, &address).await? {
                    continue;
                }
                let secret = six_digits();
                changes.create_codes.push(strategy.record(
                    state,
                    flow,
                    identity.id,
                    &address,
                    &secret,
                ));
                let vars = json!({
                    "LoginCode": secret,
                    "Identity": identity.to_json(&state.schema_url(&identity.schema_id), Default::default()),
                    "RequestURL": flow.request_url,
                    "ExpiresInMinutes": strategy.lifespan(state).whole_minutes(),
                });
                queue_mail(
                    state,
                    flow,
                    &mut changes,
                    TemplateType::LoginCodeValid,
                    &address,
                    vars,
                )?;
            }
        }

        flow.state = STATE_SENT_EMAIL.into();
        flow.active = Some(METHOD.into());
        flow.internal.insert(IDENTIFIER.into(), json!(target));
        match &found {
            Some(identity) => flow.internal.insert(IDENTITY.into(), json!(identity.id)),
            None => flow.internal.remove(IDENTITY),
        };
        flow.internal.insert(ATTEMPTS.into(), json!(0));
        flow.ui
            .nodes
            .retain(|node| node.name() == Some("csrf_token"));
        flow.ui
            .nodes
            .push(hidden(NodeGroup::Default, "identifier", json!(target)));
        flow.ui.nodes.extend(code_step_nodes(1070013));
        flow.ui.clear_messages();
        let sent = if self.second_factor || flow.refresh {
            1010025
        } else {
            1010014
        };
        flow.ui.messages.push(UiText::plain(sent));
        flow.updated_at = now;
        changes.update_flows.push(flow.clone());
        state.changes.commit(changes, now).await?;
        Ok(LoginOutcome::NextStep)
    }

    /// Checks the code of the `sent_email` step and spends it.
    async fn check_login_code(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        step_up: Option<&Identity>,
    ) -> FlowResult<LoginOutcome> {
        let submitted = field(form, "code").map(str::trim).unwrap_or_default();
        if submitted.is_empty() {
            missing(flow, "code");
            return Ok(LoginOutcome::Rejected);
        }
        // Guesses are bounded without a sign-in budget: `max_submissions` per code, and codes
        // come by mail, at most one per `resend_interval` and `security.brute_force.mail`.
        let identity_id = if self.second_factor {
            step_up.map(|identity| identity.id)
        } else {
            flow.note(IDENTITY).and_then(|id| Uuid::parse_str(id).ok())
        };
        // No account uses the identifier: every code is wrong, as a wrong code would be.
        let Some(identity_id) = identity_id else {
            return Err(refuse_secret(flow, !tries_left(state, flow), 4010008, None));
        };
        let code = check(state, &codes(), flow, submitted, false).await?;
        let now = state.clock.now();
        let spend = Changes {
            use_codes: vec![code.id],
            ..Changes::default()
        };
        match state.changes.commit(spend, now).await {
            Ok(()) => {}
            // Another request spent it first.
            Err(StoreError::Conflict) => {
                return Err(refuse_secret(flow, false, 4010008, None));
            }
            Err(error) => return Err(error.into()),
        }
        let mut identity = match step_up {
            Some(identity) => identity.clone(),
            None => state.identities.get_identity(identity_id).await?,
        };
        if identity.id != code.identity_id {
            return Err(refuse_secret(flow, false, 4010008, None));
        }
        if identity.state != IdentityState::Active {
            flow.ui.messages.push(UiText::plain(4010011));
            return Ok(LoginOutcome::Rejected);
        }
        // Receiving the code proves the address.
        let changed = verify_address(&mut identity, &code.address, now);
        Ok(LoginOutcome::Authenticated {
            identity: Box::new(identity),
            method: METHOD,
            changed,
        })
    }
}

/// The active identity that signs in by code with `identifier`: one whose code credential
/// names it, else (with the fallback on) one whose password identifier it is and that has it as
/// a verifiable e-mail address.
async fn find_for_sign_in(state: &AppState, identifier: &str) -> FlowResult<Option<Identity>> {
    let mut found = state
        .identities
        .find_by_identifier(CredentialType::Code, identifier)
        .await?;
    if found.is_none()
        && state
            .config
            .selfservice
            .methods
            .code
            .missing_credential_fallback_enabled
    {
        found = state
            .identities
            .find_by_identifier(CredentialType::Password, identifier)
            .await?
            .filter(|identity| {
                code_addresses(state, identity)
                    .iter()
                    .any(|a| a == identifier)
            });
    }
    Ok(found.filter(|identity| identity.state == IdentityState::Active))
}

#[async_trait]
impl RegistrationStrategy for CodeStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_registration(&self, state: &AppState, flow: &mut Flow) {
        let Some(schema) = state.schemas.get(state.schemas.default_id()) else {
            return;
        };
        shared_trait_nodes(schema, flow);
        flow.ui.nodes.push(submit("method", UiText::plain(1040006)));
    }

    async fn register(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
    ) -> FlowResult<RegistrationOutcome> {
        if field(form, "method") != Some(METHOD) && !resend(form) {
            return Ok(RegistrationOutcome::NotMine);
        }
        if flow.state == STATE_SENT_EMAIL && !resend(form) {
            return check_registration_code(state, flow, form);
        }
        send_registration_code(state, flow, form).await
    }
}

/// Validates the traits and mails a code to each address the schema marks as a code
/// identifier; the traits are kept for the next step.
async fn send_registration_code(
    state: &AppState,
    flow: &mut Flow,
    form: &Value,
) -> FlowResult<RegistrationOutcome> {
    // A resend sends for the traits of the first step.
    let kept = flow
        .internal
        .get(SENT)
        .map(|sent| json!({"traits": sent["traits"]}));
    let form = match (&kept, resend(form)) {
        (Some(kept), true) => kept,
        _ => form,
    };
    flow.ui.keep_values(|name| submitted_value(form, name));
    let (identity, valid) = registering_identity(state, flow, form)?;
    if !valid {
        return Ok(RegistrationOutcome::Rejected);
    }
    let addresses = code_addresses(state, &identity);
    if addresses.is_empty() {
        tracing::error!(
            "sign-up by code needs a trait marked credentials.code.identifier (via email) in the identity schema"
        );
        flow.ui.messages.push(UiText::new(
            4000001,
            json!({"reason": "This sign-up has no address to send a code to."}),
        ));
        return Ok(RegistrationOutcome::Rejected);
    }
    for address in &addresses {
        if let Err(refused) = crate::throttle::code_mail(state, flow.kind, address).await? {
            return Err(refused.reject(flow));
        }
    }
    let now = state.clock.now();
    let lifespan = codes().lifespan(state);
    let expires_at = (now + lifespan).min(flow.expires_at);
    let mut changes = Changes::default();
    let mut sent = Vec::new();
    for address in addresses {
        if !crate::throttle::mail_to(state, &address).await? {
            continue;
        }
        let secret = six_digits();
        sent.push(json!({
            "address": address,
            "hash": crate::secrets::keyed_hash(state.secrets.current(), &secret),
        }));
        let vars = json!({
            "RegistrationCode": secret,
            "Traits": identity.traits,
            "RequestURL": flow.request_url,
            "ExpiresInMinutes": lifespan.whole_minutes(),
        });
        queue_mail(
            state,
            flow,
            &mut changes,
            TemplateType::RegistrationCodeValid,
            &address,
            vars,
        )?;
    }
    flow.internal.insert(
        SENT.into(),
        json!({"traits": identity.traits, "codes": sent, "expires_at": timestamp(expires_at)}),
    );
    flow.internal.insert(ATTEMPTS.into(), json!(0));
    flow.state = STATE_SENT_EMAIL.into();
    flow.active = Some(METHOD.into());
    // The traits stay, hidden, so the code step submits them again unchanged.
    flow.ui.nodes.retain_mut(|node| {
        if node.name() == Some("csrf_token") {
            return true;
        }
        let app::model::NodeAttributes::Input(input) = &mut node.attributes else {
            return false;
        };
        if node.group != NodeGroup::Default || input.input_type == "submit" {
            return false;
        }
        if node.messages.is_empty() {
            input.input_type = "hidden".into();
        }
        true
    });
    flow.ui.nodes.extend(code_step_nodes(1070012));
    flow.ui.clear_messages();
    flow.ui.messages.push(UiText::plain(1040005));
    flow.updated_at = now;
    changes.update_flows.push(flow.clone());
    state.changes.commit(changes, now).await?;
    Ok(RegistrationOutcome::Rejected)
}

/// Checks the code of the `sent_email` step against the kept codes, with the traits unchanged.
fn check_registration_code(
    state: &AppState,
    flow: &mut Flow,
    form: &Value,
) -> FlowResult<RegistrationOutcome> {
    let Some(sent) = flow.internal.get(SENT).cloned() else {
        flow.ui
            .messages
            .push(UiText::plain(FlowKind::Registration.no_strategy_message()));
        return Ok(RegistrationOutcome::Rejected);
    };
    let kept = json!({"traits": sent["traits"]});
    // Clients send the traits again (Kratos's SDKs do); they must not have changed.
    if form.get("traits").is_some() {
        let (submitted, _) = registering_identity(state, &mut flow.clone(), form)?;
        if submitted.traits != sent["traits"] {
            flow.ui.messages.push(UiText::plain(4000036));
            return Ok(RegistrationOutcome::Rejected);
        }
    }
    let submitted = field(form, "code").map(str::trim).unwrap_or_default();
    if submitted.is_empty() {
        missing(flow, "code");
        return Ok(RegistrationOutcome::Rejected);
    }
    if !tries_left(state, flow) {
        return Err(refuse_secret(flow, true, 4040003, None));
    }
    let now = state.clock.now();
    let unexpired = sent["expires_at"]
        .as_str()
        .and_then(|at| {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
        })
        .is_some_and(|expires_at| expires_at > now);
    let hashes = submitted_hashes(state, submitted);
    let matched = sent["codes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|code| matches_hash(&hashes, code["hash"].as_str().unwrap_or_default()))
        .find_map(|code| code["address"].as_str().map(str::to_string))
        .filter(|_| unexpired);
    let Some(address) = matched else {
        return Err(refuse_secret(flow, false, 4040003, None));
    };
    let (mut identity, valid) = registering_identity(state, flow, &kept)?;
    if !valid {
        return Ok(RegistrationOutcome::Rejected);
    }
    verify_address(&mut identity, &address, now);
    Ok(RegistrationOutcome::Registered {
        identity: Box::new(identity),
        method: METHOD,
    })
}
