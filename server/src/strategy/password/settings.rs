//! The `password` settings method: set a new password (always a privileged change).

use app::model::NodeGroup;
use async_trait::async_trait;
use serde_json::{Value, json};

use super::{METHOD, PasswordStrategy, missing, password_input, policy, submit_button};
use crate::flow::{Flow, FlowResult};
use crate::hash::Password;
use crate::http::request::field;
use crate::identity::{CredentialType, Identity, credential_entry};
use crate::state::AppState;
use crate::strategy::{SettingsOutcome, SettingsStrategy};

#[async_trait]
impl SettingsStrategy for PasswordStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_settings(&self, _state: &AppState, flow: &mut Flow, _identity: &Identity) {
        flow.ui.nodes.push(password_input("new-password"));
        let mut submit = submit_button(1070003);
        submit.group = NodeGroup::Password;
        flow.ui.nodes.push(submit);
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
        let password = field(form, "password").unwrap_or_default();
        if password.is_empty() {
            missing(flow, "password");
            return Ok(SettingsOutcome::Rejected);
        }
        let identifiers = identity
            .credentials
            .get(&CredentialType::Password)
            .map(|credential| credential.identifiers.clone())
            .unwrap_or_default();
        if let Some(message) = policy::judge(state, password, &identifiers).await {
            flow.ui.add_message(Some("password"), message);
            return Ok(SettingsOutcome::Rejected);
        }
        let hash = state
            .hasher
            .hash(Password::new(password.to_string()))
            .await?;
        let now = state.clock.now();
        let credential = credential_entry(identity, CredentialType::Password, now);
        credential.config = json!({ "hashed_password": hash });
        credential.updated_at = now;
        identity.updated_at = now;
        Ok(SettingsOutcome::Changed {
            method: METHOD,
            privileged: true,
            second_factor: false,
        })
    }
}
