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
