//! Identifier-first sign-in (`selfservice.flows.login.style: identifier_first`, as in Kratos):
//! the first screen asks for the identifier alone, beside what needs none (the upstreams'
//! buttons, passkey autofill); the second offers the methods that identity signs in with.
//!
//! With `security.account_enumeration.mitigate` (Ward's default) the second screen is the same
//! for every identifier, whether an account uses it or not and whatever it signs in with, and a
//! sign-in then fails as a wrong password or code would. Without it, the second screen shows
//! that account's methods, and an identifier no account uses gets Kratos's 4000037.

use app::model::{InputAttributes, NodeAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::{LoginOutcome, LoginStrategy};
use crate::flow::{Flow, FlowResult};
use crate::http::request::field;
use crate::identity::{CredentialType, Identity};
use crate::session::Aal;
use crate::state::AppState;

pub struct IdentifierFirstStrategy;

pub const METHOD: &str = "identifier_first";

/// The methods besides this one that the first screen shows: they need no identifier.
const FIRST_SCREEN: [&str; 2] = ["oidc", "passkey"];

impl IdentifierFirstStrategy {
    /// Whether `method`'s nodes belong on the first screen of an identifier-first flow.
    pub fn on_first_screen(method: &str) -> bool {
        method == METHOD || FIRST_SCREEN.contains(&method)
    }
}

/// The identity `identifier` names, through any credential that has identifiers.
async fn find(state: &AppState, identifier: &str) -> FlowResult<Option<Identity>> {
    for kind in [
        CredentialType::Password,
        CredentialType::Code,
        CredentialType::Webauthn,
    ] {
        if let Some(identity) = super::find_by_identifier(state, kind, identifier).await? {
            return Ok(Some(identity));
        }
    }
    Ok(None)
}

#[async_trait]
impl LoginStrategy for IdentifierFirstStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_login(&self, state: &AppState, flow: &mut Flow, _identity: Option<&Identity>) {
        let mut identifier = InputAttributes::new("identifier", "text");
        identifier.required = true;
        identifier.autocomplete = Some("username webauthn".into());
        flow.ui.nodes.push(UiNode::input(
            NodeGroup::IdentifierFirst,
            identifier,
            Some(super::password::identifier_label(state)),
        ));
        let mut submit = InputAttributes::new("method", "submit");
        submit.value = Some(json!(METHOD));
        flow.ui.nodes.push(UiNode::input(
            NodeGroup::IdentifierFirst,
            submit,
            Some(UiText::plain(1070009)),
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
        if field(form, "method") != Some(METHOD) {
            return Ok(LoginOutcome::NotMine);
        }
        let identifier = field(form, "identifier")
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if identifier.is_empty() {
            flow.ui.add_message(
                Some("identifier"),
                UiText::new(4000002, json!({"property": "identifier"})),
            );
            return Ok(LoginOutcome::Rejected);
        }
        let mitigate = state.config.security.account_enumeration.mitigate;
        // The methods of the second screen. Under mitigation the account is not looked at, so
        // every identifier gets the same screen: what any account may use (password, codes)
        // and the upstreams of the first screen (as in Kratos). Otherwise: the methods the
        // identity signs in with.
        let found = if mitigate {
            None
        } else {
            find(state, &identifier).await?
        };
        let offered: Vec<_> = state
            .strategies
            .login
            .iter()
            .filter(|strategy| strategy.aal() == Aal::Aal1 && strategy.method() != METHOD)
            .filter(|strategy| match &found {
                _ if mitigate => matches!(strategy.method(), "password" | "code" | "oidc"),
                Some(identity) => CredentialType::parse(strategy.method())
                    .is_some_and(|kind| identity.signs_in_with(kind)),
                None => false,
            })
            .cloned()
            .collect();
        if offered.is_empty() && !mitigate {
            if let Some(NodeAttributes::Input(input)) = flow
                .ui
                .input_mut("identifier")
                .map(|node| &mut node.attributes)
            {
                input.value = Some(json!(identifier));
            }
            flow.ui.messages.push(UiText::plain(4000037));
            return Ok(LoginOutcome::Rejected);
        }
        flow.ui
            .nodes
            .retain(|node| node.name() == Some("csrf_token"));
        for strategy in &offered {
            strategy.populate_login(state, flow, None);
        }
        // One identifier, fixed: the methods' own identifier fields give way to it.
        flow.ui
            .nodes
            .retain(|node| node.name() != Some("identifier"));
        let mut hidden = InputAttributes::new("identifier", "hidden");
        hidden.value = Some(json!(identifier));
        hidden.required = true;
        let after_csrf = flow
            .ui
            .nodes
            .iter()
            .position(|node| node.name() == Some("csrf_token"))
            .map_or(0, |at| at + 1);
        flow.ui.nodes.insert(
            after_csrf,
            UiNode::input(NodeGroup::IdentifierFirst, hidden, None),
        );
        flow.active = Some(METHOD.into());
        Ok(LoginOutcome::NextStep)
    }
}
