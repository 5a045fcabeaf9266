//! Kratos's `webauthn.config.passwordless: true`: security keys (and platform authenticators)
//! as the first factor. Sign-up takes the traits and a key that verifies its user; sign-in asks
//! for the identifier first (a trait the schema marks `credentials.webauthn.identifier`), then
//! for one of that identity's keys. Passkeys (`passkey`) do the same without the identifier
//! step; this mode exists for configurations and identities carried over from Kratos.

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, SecurityKey,
    WebauthnError,
};

use super::ceremony::{self, Answer, KeyRing, StoredKey};
use super::{KIND, METHOD, add_login_nodes, add_registration_nodes, rp, schema_identifiers};
use crate::flow::{Flow, FlowResult};
use crate::http::request::field;
use crate::identity::{Identity, IdentityState};
use crate::state::AppState;
use crate::store::StoreError;
use crate::strategy::traits::{registering_identity, shared_trait_nodes, submitted_value};
use crate::strategy::{LoginOutcome, LoginStrategy, RegistrationOutcome, RegistrationStrategy};

pub struct PasswordlessStrategy;

/// The flow keeps the ceremony's state, and for a sign-in the identity it is for.
const REGISTRATION: &str = "webauthn_passwordless_registration";
const AUTHENTICATION: &str = "webauthn_passwordless_authentication";

/// The identity's keys that may sign in on their own.
fn passwordless_keys(identity: &Identity) -> Vec<Passkey> {
    KeyRing::<Passkey>::of(identity, KIND)
        .credentials
        .into_iter()
        .filter(|stored| stored.is_passwordless)
        .map(|stored| stored.key)
        .collect()
}

/// Starts a sign-in with `identity`'s passwordless keys: keeps the state in the flow and adds
/// the trigger carrying the options and the result field (replacing an earlier try's). False
/// when it has no such key.
fn offer_keys(state: &AppState, flow: &mut Flow, identity: &Identity) -> bool {
    let keys = passwordless_keys(identity);
    if keys.is_empty() {
        return false;
    }
    let started = ceremony::relying_party(state, rp(state))
        .ok()
        .and_then(|webauthn| webauthn.start_passkey_authentication(&keys).ok());
    let Some((options, authentication)) = started else {
        tracing::error!("could not start a passwordless security key sign-in");
        return false;
    };
    ceremony::keep_state(flow, AUTHENTICATION, &(authentication, identity.id));
    let options = serde_json::to_value(&options).unwrap_or_default();
    add_login_nodes(state, flow, &options, 1010013);
    true
}

#[async_trait]
impl LoginStrategy for PasswordlessStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    /// Kratos's script submits the assertion without a `method` field.
    fn claims(&self, form: &Value) -> bool {
        field(form, "method") == Some(METHOD) || form.get("webauthn_login").is_some()
    }

    fn populate_login(&self, state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
        // Re-authentication: the signed-in identity's keys, at once.
        if let Some(identity) = identity {
            offer_keys(state, flow, identity);
            return;
        }
        if flow.ui.input_mut("identifier").is_none() {
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
        let mut submit = InputAttributes::new("method", "submit");
        submit.value = Some(json!(METHOD));
        flow.ui.nodes.push(UiNode::input(
            NodeGroup::Webauthn,
            submit,
            Some(UiText::plain(1010008)),
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
        if !self.claims(form) {
            return Ok(LoginOutcome::NotMine);
        }
        let identifier = field(form, "identifier")
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let Some(submitted) =
            ceremony::parse_submitted::<PublicKeyCredential>(form, "webauthn_login")
        else {
            // The first step: the identifier, then the identity's keys.
            if identifier.is_empty() {
                flow.ui.add_message(
                    Some("identifier"),
                    UiText::new(4000002, json!({"property": "identifier"})),
                );
                return Ok(LoginOutcome::Rejected);
            }
            let found = crate::strategy::find_by_identifier(state, KIND, &identifier).await?;
            let Some(identity) = found.filter(|identity| !passwordless_keys(identity).is_empty())
            else {
                flow.ui.keep_values(|name| submitted_value(form, name));
                flow.ui.messages.push(UiText::plain(4000015));
                return Ok(LoginOutcome::Rejected);
            };
            // As in Kratos, only what this step needs stays: the CSRF token, the identifier
            // (hidden) and the ceremony.
            flow.ui
                .nodes
                .retain(|node| node.name() == Some("csrf_token"));
            flow.ui.nodes.push(ceremony::hidden(
                NodeGroup::Default,
                "identifier",
                Some(json!(identifier)),
            ));
            offer_keys(state, flow, &identity);
            flow.ui.messages.push(UiText::plain(1010012));
            return Ok(LoginOutcome::NextStep);
        };
        let started: Option<(PasskeyAuthentication, Uuid)> =
            ceremony::take_state(flow, AUTHENTICATION);
        let Some((authentication, identity_id)) = started else {
            ceremony::invalid(flow);
            return Ok(LoginOutcome::Rejected);
        };
        let identity = state.identities.get_identity(identity_id).await;
        let mut identity = match identity {
            Ok(identity) => identity,
            Err(StoreError::NotFound) => {
                flow.ui.messages.push(UiText::plain(4000015));
                return Ok(LoginOutcome::Rejected);
            }
            Err(error) => return Err(error.into()),
        };
        let webauthn = ceremony::relying_party(state, rp(state))?;
        let verified = submitted
            .map_err(|()| WebauthnError::ParseNOMFailure)
            .and_then(|credential| {
                webauthn.finish_passkey_authentication(&credential, &authentication)
            });
        let result = match verified {
            Ok(result) => result,
            Err(error) => {
                ceremony::log_refused(identity.id, "passwordless security key", &error);
                // A new challenge for the next try.
                offer_keys(state, flow, &identity);
                ceremony::invalid(flow);
                return Ok(LoginOutcome::Rejected);
            }
        };
        if identity.state != IdentityState::Active {
            flow.ui.messages.push(UiText::plain(4010011));
            return Ok(LoginOutcome::Rejected);
        }
        let mut ring = KeyRing::<SecurityKey>::of(&identity, KIND);
        for stored in &mut ring.credentials {
            stored.key.update_credential(&result);
        }
        let identifiers = schema_identifiers(state, &identity);
        ring.store(&mut identity, KIND, identifiers, state.clock.now());
        Ok(LoginOutcome::Authenticated {
            identity: Box::new(identity),
            method: METHOD,
            changed: true,
        })
    }
}

#[async_trait]
impl RegistrationStrategy for PasswordlessStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_registration(&self, state: &AppState, flow: &mut Flow) {
        let Some(schema) = state.schemas.get(state.schemas.default_id()) else {
            return;
        };
        shared_trait_nodes(schema, flow);
        let mut ring = KeyRing::<Passkey>::default();
        let user = ring.user_handle();
        let name = format!(
            "{} account",
            rp(state).display_name.as_deref().unwrap_or("Ward")
        );
        let started = ceremony::relying_party(state, rp(state))
            .ok()
            .and_then(|webauthn| {
                webauthn
                    .start_passkey_registration(user, &name, &name, None)
                    .ok()
            });
        let Some((options, registration)) = started else {
            tracing::error!("could not start a passwordless security key registration");
            return;
        };
        ceremony::keep_state(
            flow,
            REGISTRATION,
            &(registration, ring.user_handle.clone()),
        );
        let options = serde_json::to_value(&options).unwrap_or_default();
        add_registration_nodes(state, flow, &options, 1040004);
    }

    async fn register(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
    ) -> FlowResult<RegistrationOutcome> {
        let answer = ceremony::registration_answer(flow, form, "webauthn_register", "security key");
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
        let identifiers = schema_identifiers(state, &identity);
        if identifiers.is_empty() {
            // Nothing would find the identity at sign-in: the schema marks no identifier.
            tracing::error!(
                "passwordless security keys need a trait marked credentials.webauthn.identifier in the identity schema"
            );
            ceremony::refused(
                flow,
                "webauthn_register",
                "this account has nothing to sign in with: the identity schema marks no security key identifier",
            );
            return Ok(RegistrationOutcome::Rejected);
        }
        let started: Option<(PasskeyRegistration, Option<String>)> =
            ceremony::read_state(flow, REGISTRATION);
        let webauthn = ceremony::relying_party(state, rp(state))?;
        let mut ring = KeyRing::<SecurityKey>::default();
        let registered =
            started
                .ok_or(WebauthnError::ChallengeNotFound)
                .and_then(|(registration, handle)| {
                    ring.user_handle = handle;
                    webauthn.finish_passkey_registration(&credential, &registration)
                });
        let now = state.clock.now();
        let key = match registered.and_then(|key| {
            ceremony::as_security_key(&key).ok_or(WebauthnError::CredentialPersistenceError)
        }) {
            Ok(key) => key,
            Err(error) => {
                tracing::info!(%error, "a passwordless security key registration did not verify");
                ceremony::refused(
                    flow,
                    "webauthn_register",
                    &format!("the security key could not be registered ({error})"),
                );
                return Ok(RegistrationOutcome::Rejected);
            }
        };
        let display_name = field(form, "webauthn_register_displayname")
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map_or_else(|| identifiers[0].clone(), str::to_string);
        ring.credentials.push(StoredKey {
            id: ceremony::encode(key.cred_id()),
            display_name,
            added_at: ceremony::now_text(now),
            is_passwordless: true,
            key,
        });
        ring.store(&mut identity, KIND, identifiers, now);
        Ok(RegistrationOutcome::Registered {
            identity: Box::new(identity),
            method: METHOD,
        })
    }
}
