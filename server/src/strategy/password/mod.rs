//! The password method: sign-up with traits and a password, sign-in with identifier and
//! password (argon2id by default; imported bcrypt hashes are upgraded after a sign-in).

pub mod breach;
pub mod policy;
mod settings;

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::traits::{registering_identity, submitted_value, trait_nodes};
use super::{LoginOutcome, LoginStrategy, RegistrationOutcome, RegistrationStrategy};
use crate::flow::{Flow, FlowResult};
use crate::hash::Password;
use crate::http::request::field;
use crate::identity::{CredentialType, Identity, credential_entry};
use crate::state::AppState;

pub struct PasswordStrategy;

const METHOD: &str = "password";

fn submit_button(label: u32) -> UiNode {
    let mut submit = InputAttributes::new("method", "submit");
    submit.value = Some(json!(METHOD));
    UiNode::input(NodeGroup::Password, submit, Some(UiText::plain(label)))
}

fn password_input(autocomplete: &str) -> UiNode {
    let mut password = InputAttributes::new("password", "password");
    password.required = true;
    password.autocomplete = Some(autocomplete.into());
    UiNode::input(NodeGroup::Password, password, Some(UiText::plain(1070001)))
}

fn missing(flow: &mut Flow, name: &str) {
    flow.ui
        .add_message(Some(name), UiText::new(4000002, json!({"property": name})));
}

/// The identifier field's label: the title of the one trait that identifies, else "ID".
pub(crate) fn identifier_label(state: &AppState) -> UiText {
    let schema = state.schemas.get(state.schemas.default_id());
    let identifier_titles: Vec<&str> = schema
        .map(|schema| {
            schema
                .extensions
                .iter()
                .filter(|extension| extension.password_identifier)
                .filter_map(|extension| {
                    let name = format!("traits{}", extension.pointer.replace('/', "."));
                    schema
                        .fields
                        .iter()
                        .find(|field| field.name == name)?
                        .title
                        .as_deref()
                })
                .collect()
        })
        .unwrap_or_default();
    match identifier_titles.as_slice() {
        [title] => UiText::new(1070002, json!({"title": title, "name": "identifier"})),
        _ => UiText::plain(1070004),
    }
}

#[async_trait]
impl LoginStrategy for PasswordStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_login(&self, state: &AppState, flow: &mut Flow, _identity: Option<&Identity>) {
        let mut identifier = InputAttributes::new("identifier", "text");
        identifier.required = true;
        identifier.autocomplete = Some("username".into());
        let label = identifier_label(state);
        flow.ui
            .nodes
            .push(UiNode::input(NodeGroup::Default, identifier, Some(label)));
        flow.ui.nodes.push(password_input("current-password"));
        flow.ui.nodes.push(submit_button(1010022));
    }

    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        _identity: Option<&Identity>,
        client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        if field(form, "method") != Some(METHOD) {
            return Ok(LoginOutcome::NotMine);
        }
        flow.ui.keep_values(|name| submitted_value(form, name));
        let identifier = field(form, "identifier").map(str::trim).unwrap_or_default();
        let password = field(form, "password").unwrap_or_default();
        if identifier.is_empty() {
            missing(flow, "identifier");
        }
        if password.is_empty() {
            missing(flow, "password");
        }
        if identifier.is_empty() || password.is_empty() {
            return Ok(LoginOutcome::Rejected);
        }
        // Counted before the password is checked; refused the same way whether the identifier
        // exists or not.
        let attempt = match crate::throttle::sign_in(state, client_ip, identifier).await? {
            Ok(attempt) => attempt,
            Err(refused) => return Err(refused.reject(flow)),
        };

        let found = super::find_by_identifier(state, CredentialType::Password, identifier).await?;
        let stored_hash = found.as_ref().and_then(|identity| {
            identity
                .credentials
                .get(&CredentialType::Password)?
                .config
                .get("hashed_password")?
                .as_str()
                .map(str::to_string)
        });
        let password = Password::new(password.to_string());
        // Unknown identifiers still cost one hash, so timing does not tell who has an account.
        let checked = match (found, stored_hash) {
            (Some(identity), Some(hash)) => {
                let upgrade = state.hasher.needs_rehash(&hash);
                let plain = upgrade.then(|| Password::new(password.expose().to_string()));
                match state.hasher.verify(password, hash).await {
                    Ok(verified) => {
                        if verified && let Some(plain) = plain {
                            upgrade_hash(state, &identity, plain).await;
                        }
                        Ok((Some(identity), verified))
                    }
                    Err(error) => Err(error),
                }
            }
            _ => state
                .hasher
                .verify_dummy(password)
                .await
                .map(|_| (None, false)),
        };
        let (identity, verified) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                attempt.abandoned(state).await?;
                return Err(error.into());
            }
        };
        let Some(identity) = identity.filter(|_| verified) else {
            flow.ui.messages.push(UiText::plain(4000006));
            return Ok(LoginOutcome::Rejected);
        };
        attempt.succeeded(state).await?;
        if identity.state != crate::identity::IdentityState::Active {
            flow.ui.messages.push(UiText::plain(4010011));
            return Ok(LoginOutcome::Rejected);
        }
        Ok(LoginOutcome::Authenticated {
            identity: Box::new(identity),
            method: METHOD,
            changed: false,
        })
    }
}

/// Re-hashes a password whose stored hash another algorithm or other parameters made. A
/// failure is only logged: the sign-in itself succeeded.
async fn upgrade_hash(state: &AppState, identity: &Identity, password: Password) {
    let result = async {
        let hash = state
            .hasher
            .hash(password)
            .await
            .map_err(|error| error.to_string())?;
        let mut identity = identity.clone();
        let now = state.clock.now();
        let credential = credential_entry(&mut identity, CredentialType::Password, now);
        credential.config = json!({ "hashed_password": hash });
        credential.updated_at = now;
        state
            .identities
            .update_identity(&identity)
            .await
            .map_err(|error| error.to_string())
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(identity = %identity.id, %error, "could not upgrade a password hash");
    }
}

#[async_trait]
impl RegistrationStrategy for PasswordStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_registration(&self, state: &AppState, flow: &mut Flow) {
        if let Some(schema) = state.schemas.get(state.schemas.default_id()) {
            // Traits come first, in schema order, before the CSRF token.
            let traits = trait_nodes(schema, NodeGroup::Password);
            flow.ui.nodes.splice(0..0, traits);
        }
        flow.ui.nodes.push(password_input("new-password"));
        flow.ui.nodes.push(submit_button(1040001));
    }

    async fn register(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
    ) -> FlowResult<RegistrationOutcome> {
        if field(form, "method") != Some(METHOD) {
            return Ok(RegistrationOutcome::NotMine);
        }
        flow.ui.keep_values(|name| submitted_value(form, name));
        let password = field(form, "password").unwrap_or_default();
        let (mut identity, _) = registering_identity(state, flow, form)?;
        let now = state.clock.now();
        if password.is_empty() {
            missing(flow, "password");
        } else {
            let identifiers = identity
                .credentials
                .get(&CredentialType::Password)
                .map(|credential| credential.identifiers.clone())
                .unwrap_or_default();
            if let Some(message) = policy::judge(state, password, &identifiers).await {
                flow.ui.add_message(Some("password"), message);
            }
        }
        if has_messages(flow) {
            return Ok(RegistrationOutcome::Rejected);
        }
        if identity
            .credentials
            .get(&CredentialType::Password)
            .is_none_or(|credential| credential.identifiers.is_empty())
        {
            flow.ui.messages.push(UiText::plain(4000009));
            return Ok(RegistrationOutcome::Rejected);
        }
        let hash = state
            .hasher
            .hash(Password::new(password.to_string()))
            .await?;
        credential_entry(&mut identity, CredentialType::Password, now).config =
            json!({ "hashed_password": hash });
        Ok(RegistrationOutcome::Registered {
            identity: Box::new(identity),
            method: METHOD,
        })
    }
}

fn has_messages(flow: &Flow) -> bool {
    !flow.ui.messages.is_empty() || flow.ui.nodes.iter().any(|node| !node.messages.is_empty())
}
