//! The `passkey` method: discoverable credentials as a first factor. Sign up with traits and a
//! passkey, sign in without typing an identifier (or from the identifier field's autofill), and
//! add or remove passkeys in settings. A passkey sign-in is aal1, as in Kratos.

use app::model::{InputAttributes, NodeAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, WebauthnError,
};

use super::traits::{registering_identity, shared_trait_nodes, submitted_value};
use super::webauthn::ceremony::{self, Answer, KeyRing, StoredKey};
use super::{
    LoginOutcome, LoginStrategy, RegistrationOutcome, RegistrationStrategy, SettingsOutcome,
    SettingsStrategy,
};
use crate::flow::{Flow, FlowResult, FlowType};
use crate::http::request::field;
use crate::identity::{CredentialType, Identity};
use crate::state::AppState;

pub struct PasskeyStrategy;

const METHOD: &str = "passkey";
const KIND: CredentialType = CredentialType::Passkey;
const REGISTRATION: &str = "passkey_registration";
const AUTHENTICATION: &str = "passkey_authentication";

fn rp(state: &AppState) -> &crate::config::RelyingParty {
    &state.config.selfservice.methods.passkey.config.rp
}

/// A passkey's options: the credential must be discoverable (kept on the authenticator with
/// the user handle), so that signing in needs no identifier.
fn discoverable(options: &impl serde::Serialize) -> Value {
    let mut options = serde_json::to_value(options).unwrap_or_default();
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = json!("required");
        selection["requireResidentKey"] = json!(true);
    }
    options
}

/// Starts a passkey registration for the user handle of `ring`; keeps the state in the flow and
/// returns the options.
fn start_registration(
    state: &AppState,
    flow: &mut Flow,
    ring: &mut KeyRing<Passkey>,
    name: &str,
) -> Option<Value> {
    let webauthn = ceremony::relying_party(state, rp(state)).ok()?;
    let exclude = ring
        .credentials
        .iter()
        .map(|stored| stored.key.cred_id().clone())
        .collect();
    let user = ring.user_handle();
    match webauthn.start_passkey_registration(user, name, name, Some(exclude)) {
        Ok((options, registration)) => {
            ceremony::keep_state(
                flow,
                REGISTRATION,
                &(registration, ring.user_handle.clone()),
            );
            Some(discoverable(&options))
        }
        Err(error) => {
            tracing::error!(%error, "could not start a passkey registration");
            None
        }
    }
}

/// Finishes the registration the flow started; the flow message says why when it fails.
fn finish_registration(
    state: &AppState,
    flow: &mut Flow,
    ring: &mut KeyRing<Passkey>,
    credential: &RegisterPublicKeyCredential,
    field_name: &str,
    display_name: String,
) -> FlowResult<bool> {
    let started: Option<(PasskeyRegistration, Option<String>)> =
        ceremony::read_state(flow, REGISTRATION);
    let webauthn = ceremony::relying_party(state, rp(state))?;
    let registered =
        started
            .ok_or(WebauthnError::ChallengeNotFound)
            .and_then(|(registration, handle)| {
                ring.user_handle = handle;
                webauthn.finish_passkey_registration(credential, &registration)
            });
    let key = match registered {
        Ok(key) => key,
        Err(error) => {
            tracing::info!(%error, "a passkey registration did not verify");
            ceremony::refused(
                flow,
                field_name,
                &format!("the passkey could not be registered ({error})"),
            );
            return Ok(false);
        }
    };
    let id = ceremony::encode(key.cred_id());
    if ring.credentials.iter().any(|stored| stored.id == id) {
        ceremony::refused(
            flow,
            field_name,
            "this passkey is already registered with your account",
        );
        return Ok(false);
    }
    ring.credentials.push(StoredKey {
        id,
        display_name,
        added_at: ceremony::now_text(state.clock.now()),
        is_passwordless: true,
        key,
    });
    Ok(true)
}

/// A passkey is found by its credential id: each is an identifier of the credential.
fn identifiers(ring: &KeyRing<Passkey>) -> Vec<String> {
    ring.credentials
        .iter()
        .map(|stored| stored.id.clone())
        .collect()
}

#[async_trait]
impl LoginStrategy for PasskeyStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_login(&self, state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
        // Re-authentication signs in as the same identity: the password asks for that.
        if identity.is_some() {
            return;
        }
        let started = ceremony::relying_party(state, rp(state))
            .ok()
            .and_then(|webauthn| webauthn.start_discoverable_authentication().ok());
        let Some((options, authentication)) = started else {
            tracing::error!("could not start a passkey sign-in");
            return;
        };
        ceremony::keep_state(flow, AUTHENTICATION, &authentication);
        // The identifier field offers the passkeys in its autofill.
        match flow
            .ui
            .input_mut("identifier")
            .map(|node| &mut node.attributes)
        {
            Some(NodeAttributes::Input(input)) => {
                input.autocomplete = Some("username webauthn".into());
            }
            _ => {
                let mut input = InputAttributes::new("identifier", "text");
                input.value = Some(json!(""));
                input.required = true;
                input.autocomplete = Some("username webauthn".into());
                flow.ui.nodes.push(UiNode::input(
                    NodeGroup::Default,
                    input,
                    Some(UiText::plain(1070004)),
                ));
            }
        }
        let options = serde_json::to_value(&options).unwrap_or_default();
        flow.ui.nodes.push(ceremony::hidden(
            NodeGroup::Passkey,
            "passkey_challenge",
            Some(json!(options.to_string())),
        ));
        ceremony::add_script(state, flow);
        let mut login = InputAttributes::new("passkey_login", "hidden");
        if flow.flow_type == FlowType::Browser {
            login.onload = Some("window.oryPasskeyLoginAutocompleteInit()".into());
            login.onload_trigger = Some("oryPasskeyLoginAutocompleteInit".into());
        }
        flow.ui
            .nodes
            .push(UiNode::input(NodeGroup::Passkey, login, None));
        flow.ui.nodes.push(ceremony::trigger_button(
            flow,
            NodeGroup::Passkey,
            "passkey_login_trigger",
            "oryPasskeyLogin",
            None,
            1010021,
        ));
    }

    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        _identity: Option<&Identity>,
        _client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        let Some(submitted) =
            ceremony::parse_submitted::<PublicKeyCredential>(form, "passkey_login")
        else {
            if field(form, "method") == Some(METHOD) {
                flow.ui
                    .messages
                    .push(UiText::new(4000002, json!({"property": "passkey_login"})));
                return Ok(LoginOutcome::Rejected);
            }
            return Ok(LoginOutcome::NotMine);
        };
        let Ok(credential) = submitted else {
            ceremony::invalid(flow);
            return Ok(LoginOutcome::Rejected);
        };
        // One indexed lookup: the credential id is an identifier of the passkey credential.
        let id = ceremony::encode(credential.get_credential_id());
        let found = state.identities.find_by_identifier(KIND, &id).await?;
        let Some(mut identity) = found else {
            flow.ui.messages.push(UiText::plain(4000015));
            return Ok(LoginOutcome::Rejected);
        };
        let mut ring = KeyRing::<Passkey>::of(&identity, KIND);
        let handle = credential
            .get_user_unique_id()
            .map(ceremony::encode)
            .unwrap_or_default();
        let key = ring.credentials.iter().find(|stored| stored.id == id);
        let started: Option<DiscoverableAuthentication> =
            ceremony::take_state(flow, AUTHENTICATION);
        let webauthn = ceremony::relying_party(state, rp(state))?;
        let verified = match (key, started) {
            (Some(stored), Some(authentication))
                if ring.user_handle.as_deref() == Some(handle.as_str()) =>
            {
                webauthn.finish_discoverable_authentication_v2(
                    &credential,
                    authentication,
                    &stored.key,
                )
            }
            (_, None) => Err(WebauthnError::ChallengeNotFound),
            _ => Err(WebauthnError::InvalidUserUniqueId),
        };
        let result = match verified {
            Ok(result) => result,
            Err(error) => {
                ceremony::log_refused(identity.id, "passkey", &error);
                flow.ui
                    .nodes
                    .retain(|node| node.group != NodeGroup::Passkey);
                self.populate_login(state, flow, None);
                ceremony::invalid(flow);
                return Ok(LoginOutcome::Rejected);
            }
        };
        if identity.state != crate::identity::IdentityState::Active {
            flow.ui.messages.push(UiText::plain(4010011));
            return Ok(LoginOutcome::Rejected);
        }
        // The sign counter and backup state move on, stored with the new session.
        for stored in &mut ring.credentials {
            stored.key.update_credential(&result);
        }
        ring.store(&mut identity, KIND, identifiers(&ring), state.clock.now());
        Ok(LoginOutcome::Authenticated {
            identity: Box::new(identity),
            method: METHOD,
            changed: true,
        })
    }
}

#[async_trait]
impl RegistrationStrategy for PasskeyStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_registration(&self, state: &AppState, flow: &mut Flow) {
        let Some(schema) = state.schemas.get(state.schemas.default_id()) else {
            return;
        };
        shared_trait_nodes(schema, flow);
        // The passkey is named after the identifier the user types (the script fills it in).
        let names: Vec<String> = schema
            .extensions
            .iter()
            .filter(|extension| extension.password_identifier || extension.webauthn_identifier)
            .map(|extension| format!("traits{}", extension.pointer.replace('/', ".")))
            .collect();
        let mut ring = KeyRing::<Passkey>::default();
        // The script names the user after the identifier typed in; until then, a placeholder.
        let Some(options) = start_registration(state, flow, &mut ring, "new account") else {
            return;
        };
        let data = json!({
            "credentialOptions": options,
            "displayNameFieldName": names.first().cloned().unwrap_or_default(),
            "displayNameFieldNames": names,
        });
        flow.ui.nodes.push(ceremony::hidden(
            NodeGroup::Passkey,
            "passkey_create_data",
            Some(json!(data.to_string())),
        ));
        flow.ui.nodes.push(ceremony::trigger_button(
            flow,
            NodeGroup::Passkey,
            "passkey_register_trigger",
            "oryPasskeyRegistration",
            None,
            1040007,
        ));
        ceremony::add_script(state, flow);
        flow.ui.nodes.push(ceremony::hidden(
            NodeGroup::Passkey,
            "passkey_register",
            None,
        ));
    }

    async fn register(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
    ) -> FlowResult<RegistrationOutcome> {
        let answer = ceremony::registration_answer(flow, form, "passkey_register", "passkey");
        if matches!(answer, Answer::Absent) {
            return Ok(RegistrationOutcome::NotMine);
        }
        flow.ui.keep_values(|name| submitted_value(form, name));
        let Answer::Read(credential) = answer else {
            return Ok(RegistrationOutcome::Rejected);
        };
        let (mut identity, valid) = registering_identity(state, flow, form)?;
        if !valid {
            return Ok(RegistrationOutcome::Rejected);
        }
        let mut ring = KeyRing::<Passkey>::default();
        let name = ceremony::account_name(&identity);
        if !finish_registration(
            state,
            flow,
            &mut ring,
            &credential,
            "passkey_register",
            name,
        )? {
            return Ok(RegistrationOutcome::Rejected);
        }
        ring.store(&mut identity, KIND, identifiers(&ring), state.clock.now());
        Ok(RegistrationOutcome::Registered {
            identity: Box::new(identity),
            method: METHOD,
        })
    }
}

#[async_trait]
impl SettingsStrategy for PasskeyStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_settings(&self, state: &AppState, flow: &mut Flow, identity: &Identity) {
        let mut ring = KeyRing::<Passkey>::of(identity, KIND);
        ceremony::add_script(state, flow);
        // The last way to sign in cannot be removed.
        let last = identity.first_factors() < 2;
        for stored in &ring.credentials {
            flow.ui.nodes.push(ceremony::remove_button(
                NodeGroup::Passkey,
                "passkey_remove",
                stored,
                1050020,
                last,
            ));
        }
        let name = ceremony::account_name(identity);
        let Some(options) = start_registration(state, flow, &mut ring, &name) else {
            return;
        };
        flow.ui.nodes.push(ceremony::trigger_button(
            flow,
            NodeGroup::Passkey,
            "passkey_register_trigger",
            "oryPasskeySettingsRegistration",
            None,
            1050019,
        ));
        flow.ui.nodes.push(ceremony::hidden(
            NodeGroup::Passkey,
            "passkey_settings_register",
            None,
        ));
        flow.ui.nodes.push(ceremony::hidden(
            NodeGroup::Passkey,
            "passkey_create_data",
            Some(json!(options.to_string())),
        ));
    }

    async fn update_settings(
        &self,
        state: &AppState,
        flow: &mut Flow,
        identity: &mut Identity,
        form: &Value,
    ) -> FlowResult<SettingsOutcome> {
        let now = state.clock.now();
        let mut ring = KeyRing::<Passkey>::of(identity, KIND);
        if let Some(hex) = field(form, "passkey_remove").filter(|hex| !hex.is_empty()) {
            if !ring.remove_hex(hex) {
                ceremony::refused(
                    flow,
                    "passkey_remove",
                    "this passkey is not registered with your account",
                );
                return Ok(SettingsOutcome::Rejected);
            }
            if identity.first_factors() < 2 {
                ceremony::lockout(flow, "passkey_remove", "passkey");
                return Ok(SettingsOutcome::Rejected);
            }
            ring.store(identity, KIND, identifiers(&ring), now);
            return Ok(changed());
        }
        let credential =
            match ceremony::registration_answer(flow, form, "passkey_settings_register", "passkey")
            {
                Answer::Absent => return Ok(SettingsOutcome::NotMine),
                Answer::Unreadable => return Ok(SettingsOutcome::Rejected),
                Answer::Read(credential) => credential,
            };
        let name = ceremony::account_name(identity);
        if !finish_registration(
            state,
            flow,
            &mut ring,
            &credential,
            "passkey_settings_register",
            name,
        )? {
            return Ok(SettingsOutcome::Rejected);
        }
        ring.store(identity, KIND, identifiers(&ring), now);
        Ok(changed())
    }
}

fn changed() -> SettingsOutcome {
    SettingsOutcome::Changed {
        method: METHOD,
        privileged: true,
        second_factor: false,
    }
}
