//! The `webauthn` method: security keys as a second factor. Settings adds them (with a name)
//! and removes them; an aal2 login flow offers the identity's keys, and one of them raises the
//! session to aal2. With `passwordless: true` (Kratos's first-factor mode) the keys sign in
//! after the identifier instead (`passwordless`), and settings adds keys that verify the user.

pub mod ceremony;
pub mod passwordless;

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    PasskeyRegistration, PublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration, WebauthnError,
};

use self::ceremony::{Answer, KeyRing, StoredKey};
use super::{LoginOutcome, LoginStrategy, SettingsOutcome, SettingsStrategy};
use crate::flow::{Flow, FlowResult};
use crate::http::request::field;
use crate::identity::{CredentialType, Identity};
use crate::session::Aal;
use crate::state::AppState;

pub struct WebauthnStrategy {
    /// Kratos's `webauthn.config.passwordless`: keys are a first factor, not a second.
    pub passwordless: bool,
}

const METHOD: &str = "webauthn";
const KIND: CredentialType = CredentialType::Webauthn;
/// Where the flow keeps a ceremony's state between the page and the submission.
const REGISTRATION: &str = "webauthn_registration";
const AUTHENTICATION: &str = "webauthn_authentication";

fn rp(state: &AppState) -> &crate::config::RelyingParty {
    &state.config.selfservice.methods.webauthn.config.rp
}

/// Adds a key registration's nodes: the key's name, the trigger carrying `options` (labelled
/// `label`) and the field the browser's answer goes into.
fn add_registration_nodes(state: &AppState, flow: &mut Flow, options: &Value, label: u32) {
    ceremony::add_script(state, flow);
    let mut display_name = InputAttributes::new("webauthn_register_displayname", "text");
    display_name.value = Some(json!(""));
    flow.ui.nodes.push(UiNode::input(
        NodeGroup::Webauthn,
        display_name,
        Some(UiText::plain(1050013)),
    ));
    flow.ui.nodes.push(ceremony::trigger_button(
        flow,
        NodeGroup::Webauthn,
        "webauthn_register_trigger",
        "oryWebAuthnRegistration",
        Some(options),
        label,
    ));
    flow.ui.nodes.push(ceremony::hidden(
        NodeGroup::Webauthn,
        "webauthn_register",
        Some(json!("")),
    ));
}

/// Adds a key sign-in's nodes: the trigger carrying `options` (labelled `label`) and the field
/// the browser's answer goes into, replacing an earlier try's.
fn add_login_nodes(state: &AppState, flow: &mut Flow, options: &Value, label: u32) {
    flow.ui.nodes.retain(|node| {
        !matches!(
            node.name(),
            Some("webauthn_login_trigger" | "webauthn_login")
        )
    });
    ceremony::add_script(state, flow);
    flow.ui.nodes.push(ceremony::trigger_button(
        flow,
        NodeGroup::Webauthn,
        "webauthn_login_trigger",
        "oryWebAuthnLogin",
        Some(options),
        label,
    ));
    flow.ui.nodes.push(ceremony::hidden(
        NodeGroup::Webauthn,
        "webauthn_login",
        Some(json!("")),
    ));
}

/// A key registration in progress: a security key proves presence, a passwordless one must
/// also verify its user.
#[derive(Serialize, Deserialize)]
enum Registration {
    SecondFactor(SecurityKeyRegistration),
    Passwordless(PasskeyRegistration),
}

/// The identifiers that find an identity's keys in passwordless sign-in: the traits the schema
/// marks (`credentials.webauthn.identifier`).
fn schema_identifiers(state: &AppState, identity: &Identity) -> Vec<String> {
    state
        .schemas
        .get(&identity.schema_id)
        .map(|schema| {
            schema
                .values_where(&identity.traits, |extension| extension.webauthn_identifier)
                .into_iter()
                .map(|(value, _)| value)
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl SettingsStrategy for WebauthnStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_settings(&self, state: &AppState, flow: &mut Flow, identity: &Identity) {
        let mut ring = KeyRing::<SecurityKey>::of(identity, KIND);
        let last = identity.first_factors() < 2;
        for stored in &ring.credentials {
            flow.ui.nodes.push(ceremony::remove_button(
                NodeGroup::Webauthn,
                "webauthn_remove",
                stored,
                1050018,
                stored.is_passwordless && last,
            ));
        }
        let webauthn = match ceremony::relying_party(state, rp(state)) {
            Ok(webauthn) => webauthn,
            Err(_) => return,
        };
        let exclude = ring
            .credentials
            .iter()
            .map(|stored| stored.key.cred_id().clone())
            .collect();
        let name = ceremony::account_name(identity);
        let user = ring.user_handle();
        let started = if self.passwordless {
            webauthn
                .start_passkey_registration(user, &name, &name, Some(exclude))
                .map(|(options, started)| (options, Registration::Passwordless(started)))
        } else {
            webauthn
                .start_securitykey_registration(user, &name, &name, Some(exclude), None, None)
                .map(|(options, started)| (options, Registration::SecondFactor(started)))
        };
        let (options, registration) = match started {
            Ok(started) => started,
            Err(error) => {
                tracing::error!(%error, "could not start a security key registration");
                return;
            }
        };
        ceremony::keep_state(
            flow,
            REGISTRATION,
            &(registration, ring.user_handle.clone()),
        );
        let mut options = serde_json::to_value(&options).unwrap_or_default();
        // webauthn-rs asks security keys to protect the credential behind user verification
        // while only preferring verification; Chromium refuses that pair outright. A second
        // factor needs the key's presence, not its PIN (Kratos asks for no verification).
        if let Some(extensions) = options
            .pointer_mut("/publicKey/extensions")
            .and_then(Value::as_object_mut)
        {
            extensions.remove("credentialProtectionPolicy");
            extensions.remove("enforceCredentialProtectionPolicy");
        }
        add_registration_nodes(state, flow, &options, 1050012);
    }

    async fn update_settings(
        &self,
        state: &AppState,
        flow: &mut Flow,
        identity: &mut Identity,
        form: &Value,
    ) -> FlowResult<SettingsOutcome> {
        let now = state.clock.now();
        let mut ring = KeyRing::<SecurityKey>::of(identity, KIND);
        if let Some(hex) = field(form, "webauthn_remove").filter(|hex| !hex.is_empty()) {
            let passwordless = ring
                .credentials
                .iter()
                .any(|stored| stored.is_passwordless && ceremony::hex_id(&stored.id) == hex);
            if !ring.remove_hex(hex) {
                ceremony::refused(
                    flow,
                    "webauthn_remove",
                    "this security key is not registered with your account",
                );
                return Ok(SettingsOutcome::Rejected);
            }
            if passwordless && identity.first_factors() < 2 {
                ceremony::lockout(flow, "webauthn_remove", "security key");
                return Ok(SettingsOutcome::Rejected);
            }
            ring.store(identity, KIND, schema_identifiers(state, identity), now);
            return Ok(changed(false));
        }
        let credential =
            match ceremony::registration_answer(flow, form, "webauthn_register", "security key") {
                Answer::Absent => return Ok(SettingsOutcome::NotMine),
                Answer::Unreadable => return Ok(SettingsOutcome::Rejected),
                Answer::Read(credential) => credential,
            };
        let display_name = field(form, "webauthn_register_displayname")
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if display_name.is_empty() {
            flow.ui.add_message(
                Some("webauthn_register_displayname"),
                UiText::new(
                    4000002,
                    json!({"property": "webauthn_register_displayname"}),
                ),
            );
            return Ok(SettingsOutcome::Rejected);
        }
        let started: Option<(Registration, Option<String>)> =
            ceremony::read_state(flow, REGISTRATION);
        let webauthn = ceremony::relying_party(state, rp(state))?;
        let registered =
            started
                .ok_or(WebauthnError::ChallengeNotFound)
                .and_then(|(registration, handle)| {
                    ring.user_handle = handle;
                    match registration {
                        Registration::SecondFactor(started) => {
                            webauthn.finish_securitykey_registration(&credential, &started)
                        }
                        Registration::Passwordless(started) => webauthn
                            .finish_passkey_registration(&credential, &started)
                            .and_then(|key| {
                                ceremony::as_security_key(&key)
                                    .ok_or(WebauthnError::CredentialPersistenceError)
                            }),
                    }
                });
        let key = match registered {
            Ok(key) => key,
            Err(error) => {
                tracing::info!(%error, "a security key registration did not verify");
                ceremony::refused(
                    flow,
                    "webauthn_register",
                    &format!("the security key could not be registered ({error})"),
                );
                return Ok(SettingsOutcome::Rejected);
            }
        };
        let id = ceremony::encode(key.cred_id());
        if ring.credentials.iter().any(|stored| stored.id == id) {
            ceremony::refused(
                flow,
                "webauthn_register",
                "this security key is already registered with your account",
            );
            return Ok(SettingsOutcome::Rejected);
        }
        ring.credentials.push(StoredKey {
            id,
            display_name,
            added_at: ceremony::now_text(now),
            is_passwordless: self.passwordless,
            key,
        });
        ring.store(identity, KIND, schema_identifiers(state, identity), now);
        // The ceremony proved a second factor is at hand: the session reaches aal2, as with
        // TOTP. A passwordless key is another first factor.
        Ok(changed(!self.passwordless))
    }
}

fn changed(second_factor: bool) -> SettingsOutcome {
    SettingsOutcome::Changed {
        method: METHOD,
        privileged: true,
        second_factor,
    }
}

#[async_trait]
impl LoginStrategy for WebauthnStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn aal(&self) -> Aal {
        Aal::Aal2
    }

    /// Kratos's script submits the assertion without a `method` field.
    fn claims(&self, form: &Value) -> bool {
        form.get("method").and_then(Value::as_str) == Some(METHOD)
            || form.get("webauthn_login").is_some()
    }

    fn populate_login(&self, state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
        let Some(identity) = identity else {
            return;
        };
        let ring = KeyRing::<SecurityKey>::of(identity, KIND);
        if ring.credentials.is_empty() {
            return;
        }
        let keys: Vec<SecurityKey> = ring
            .credentials
            .iter()
            .map(|stored| stored.key.clone())
            .collect();
        let started = ceremony::relying_party(state, rp(state))
            .ok()
            .and_then(|webauthn| webauthn.start_securitykey_authentication(&keys).ok());
        let Some((options, authentication)) = started else {
            tracing::error!("could not start a security key authentication");
            return;
        };
        ceremony::keep_state(flow, AUTHENTICATION, &authentication);
        let options = serde_json::to_value(&options).unwrap_or_default();
        add_login_nodes(state, flow, &options, 1010008);
    }

    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        identity: Option<&Identity>,
        _client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        let submitted = ceremony::parse_submitted::<PublicKeyCredential>(form, "webauthn_login");
        let (Some(submitted), Some(identity)) = (submitted, identity) else {
            return Ok(LoginOutcome::NotMine);
        };
        let mut ring = KeyRing::<SecurityKey>::of(identity, KIND);
        if ring.credentials.is_empty() {
            flow.ui.messages.push(UiText::plain(4000013));
            return Ok(LoginOutcome::Rejected);
        }
        let Ok(credential) = submitted else {
            ceremony::invalid(flow);
            return Ok(LoginOutcome::Rejected);
        };
        let started: Option<SecurityKeyAuthentication> = ceremony::take_state(flow, AUTHENTICATION);
        let webauthn = ceremony::relying_party(state, rp(state))?;
        let verified = started
            .ok_or(WebauthnError::ChallengeNotFound)
            .and_then(|authentication| {
                webauthn.finish_securitykey_authentication(&credential, &authentication)
            });
        let result = match verified {
            Ok(result) => result,
            Err(error) => {
                ceremony::log_refused(identity.id, "security key", &error);
                // A new challenge for the next try.
                self.populate_login(state, flow, Some(identity));
                ceremony::invalid(flow);
                return Ok(LoginOutcome::Rejected);
            }
        };
        for stored in &mut ring.credentials {
            stored.key.update_credential(&result);
        }
        let mut identity = identity.clone();
        let identifiers = schema_identifiers(state, &identity);
        ring.store(&mut identity, KIND, identifiers, state.clock.now());
        Ok(LoginOutcome::Authenticated {
            identity: Box::new(identity),
            method: METHOD,
            changed: true,
        })
    }
}
