//! The `profile` settings method: change traits. Changing an address or identifier needs a
//! privileged session; a changed verifiable address starts unverified again.

use app::model::{InputAttributes, NodeAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::traits::{submitted_value, trait_nodes, typed_traits};
use super::{SettingsOutcome, SettingsStrategy};
use crate::flow::{Flow, FlowResult};
use crate::http::request::field;
use crate::identity::{Identity, apply_schema};
use crate::state::AppState;
use crate::store::StoreError;

pub struct ProfileStrategy;

const METHOD: &str = "profile";

#[async_trait]
impl SettingsStrategy for ProfileStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_settings(&self, state: &AppState, flow: &mut Flow, identity: &Identity) {
        let Some(schema) = state.schemas.get(&identity.schema_id) else {
            return;
        };
        let traits = json!({ "traits": identity.traits });
        for mut node in trait_nodes(schema, NodeGroup::Profile) {
            if let NodeAttributes::Input(input) = &mut node.attributes {
                input.value = submitted_value(&traits, &input.name);
            }
            flow.ui.nodes.push(node);
        }
        let mut submit = InputAttributes::new("method", "submit");
        submit.value = Some(json!(METHOD));
        flow.ui.nodes.push(UiNode::input(
            NodeGroup::Profile,
            submit,
            Some(UiText::plain(1070003)),
        ));
    }

    async fn update_settings(
        &self,
        state: &AppState,
        flow: &mut Flow,
        identity: &mut Identity,
        form: &Value,
    ) -> FlowResult<SettingsOutcome> {
        if field(form, "method") != Some(METHOD) {
            return Ok(SettingsOutcome::NotMine);
        }
        flow.ui.keep_values(|name| {
            name.starts_with("traits.")
                .then(|| submitted_value(form, name))
                .flatten()
        });
        let Some(schema) = state.schemas.get(&identity.schema_id) else {
            return Err(StoreError::Corrupt(format!(
                "identity schema {} is missing",
                identity.schema_id
            ))
            .into());
        };
        let before = identity.clone();
        identity.traits = typed_traits(schema, form.get("traits").unwrap_or(&Value::Null));
        let now = state.clock.now();
        if let Err(violations) = apply_schema(identity, schema, now) {
            for violation in violations {
                flow.ui
                    .add_message(violation.field.as_deref(), violation.ui);
            }
            return Ok(SettingsOutcome::Rejected);
        }
        identity.updated_at = now;
        let addresses = |identity: &Identity| {
            let mut values: Vec<String> = identity
                .verifiable_addresses
                .iter()
                .map(|address| address.value.clone())
                .chain(identity.recovery_addresses.iter().map(|a| a.value.clone()))
                .chain(
                    identity
                        .credentials
                        .values()
                        .flat_map(|credential| credential.identifiers.clone()),
                )
                .collect();
            values.sort();
            values
        };
        Ok(SettingsOutcome::Changed {
            method: METHOD,
            privileged: addresses(&before) != addresses(identity),
            second_factor: false,
        })
    }
}

/// Kratos's two-step sign-up (`selfservice.flows.registration.style: profile_first`): the
/// traits first, then the choice of a credential, with the traits kept (hidden) and a way back.
pub struct ProfileRegistration;

/// The methods besides `profile` on the traits screen: those that need no traits from the form.
const TRAITS_SCREEN: [&str; 1] = ["oidc"];

/// Which of a registration form's screens to show.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Every method's nodes on one form (`style: unified`).
    Unified,
    /// The traits and `method=profile` (two-step sign-up, first screen).
    Traits,
    /// The credential methods, the traits hidden (two-step sign-up, second screen).
    Credentials,
}

impl Screen {
    /// The screen a new registration flow starts on.
    pub fn first(state: &AppState) -> Self {
        if state.config.selfservice.flows.registration.two_steps() {
            Self::Traits
        } else {
            Self::Unified
        }
    }

    fn shows(self, method: &str) -> bool {
        match self {
            Self::Unified | Self::Credentials => method != METHOD,
            Self::Traits => method == METHOD || TRAITS_SCREEN.contains(&method),
        }
    }
}

/// Adds the nodes of `screen` to a registration flow, in the strategies' order.
pub fn populate_registration_screen(state: &AppState, flow: &mut Flow, screen: Screen) {
    for strategy in &state.strategies.registration {
        if screen.shows(strategy.method()) {
            strategy.populate_registration(state, flow);
        }
    }
    if screen == Screen::Credentials {
        let mut back = InputAttributes::new("screen", "submit");
        back.value = Some(json!("previous"));
        flow.ui.nodes.push(UiNode::input(
            NodeGroup::Profile,
            back,
            Some(UiText::plain(1040008)),
        ));
    }
}

/// Whether a submission for `method` on the traits screen of two-step sign-up is judged on
/// the credentials screen (a native app sending traits and password at once): every method but
/// those the traits screen offers itself.
pub fn needs_credentials_screen(flow: &Flow, method: &str) -> bool {
    !Screen::Traits.shows(method) && on_traits_screen(flow)
}

/// Whether a registration flow shows the traits screen of two-step sign-up.
fn on_traits_screen(flow: &Flow) -> bool {
    flow.ui.nodes.iter().any(|node| {
        node.name() == Some("method")
            && matches!(&node.attributes, NodeAttributes::Input(input)
                if input.value.as_ref().and_then(Value::as_str) == Some(METHOD))
    })
}

/// Moves a registration flow to the credentials screen of two-step sign-up, the `traits` kept
/// in the form, hidden: choosing a credential does not change them.
pub fn show_credentials(state: &AppState, flow: &mut Flow, traits: &Value) {
    flow.ui
        .nodes
        .retain(|node| node.name() == Some("csrf_token"));
    populate_registration_screen(state, flow, Screen::Credentials);
    let kept = json!({ "traits": traits });
    for node in &mut flow.ui.nodes {
        if let NodeAttributes::Input(input) = &mut node.attributes
            && input.name.starts_with("traits.")
        {
            input.value = submitted_value(&kept, &input.name);
            input.input_type = "hidden".into();
            node.group = NodeGroup::Default;
        }
    }
}

#[async_trait]
impl super::RegistrationStrategy for ProfileRegistration {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_registration(&self, state: &AppState, flow: &mut Flow) {
        let Some(schema) = state.schemas.get(state.schemas.default_id()) else {
            return;
        };
        super::traits::shared_trait_nodes(schema, flow);
        let mut submit = InputAttributes::new("method", "submit");
        submit.value = Some(json!(METHOD));
        flow.ui.nodes.push(UiNode::input(
            NodeGroup::Profile,
            submit,
            Some(UiText::plain(1040001)),
        ));
    }

    async fn register(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
    ) -> FlowResult<super::RegistrationOutcome> {
        let screen = field(form, "screen");
        if field(form, "method") != Some(METHOD) && screen.is_none() {
            return Ok(super::RegistrationOutcome::NotMine);
        }
        let traits = |name: &str| {
            name.starts_with("traits.")
                .then(|| submitted_value(form, name))
                .flatten()
        };
        flow.ui.clear_messages();
        if screen == Some("previous") {
            // Back to the traits, as they were sent.
            flow.ui
                .nodes
                .retain(|node| node.name() == Some("csrf_token"));
            populate_registration_screen(state, flow, Screen::Traits);
            flow.ui.keep_values(traits);
            return Ok(super::RegistrationOutcome::Rejected);
        }
        flow.ui.keep_values(traits);
        let (identity, valid) = super::traits::registering_identity(state, flow, form)?;
        if !valid {
            return Ok(super::RegistrationOutcome::Rejected);
        }
        show_credentials(state, flow, &identity.traits);
        flow.ui.messages.push(UiText::plain(1040009));
        Ok(super::RegistrationOutcome::Rejected)
    }
}
