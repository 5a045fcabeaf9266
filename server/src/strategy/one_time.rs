//! The `code` and `link` methods of recovery and verification: a secret sent to an address
//! proves that whoever submits it reads that address. `code` sends six digits to type into the
//! flow; `link` sends a URL carrying a long token. Secrets are single use, expire, and are kept
//! only as an HMAC under `secrets.default`.

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::json;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::OneTimeMethod;
use crate::flow::{Flow, FlowKind};
use crate::state::AppState;
use crate::store::{OneTimeCode, StoreResult};

/// Submissions of a wrong code a flow has seen (kept in the flow's internal context).
pub const ATTEMPTS: &str = "attempts";
/// The address the last secret of a flow went to.
pub const ADDRESS: &str = "address";

#[derive(Clone)]
pub struct OneTimeStrategy {
    pub method: OneTimeMethod,
}

impl OneTimeStrategy {
    pub fn group(&self) -> NodeGroup {
        match self.method {
            OneTimeMethod::Code => NodeGroup::Code,
            OneTimeMethod::Link => NodeGroup::Link,
        }
    }

    /// The first step: which address to send to.
    pub fn populate(&self, flow: &mut Flow) {
        let group = self.group();
        let mut email = InputAttributes::new("email", "email");
        email.required = true;
        email.autocomplete = Some("email".into());
        flow.ui
            .nodes
            .push(UiNode::input(group, email, Some(UiText::plain(1070007))));
        flow.ui
            .nodes
            .push(submit("method", self.method.as_str(), group, 1070009));
    }

    /// After sending: a code method asks for the code and offers to resend; a link method
    /// offers the address form again.
    pub fn populate_sent(&self, flow: &mut Flow, address: &str) {
        flow.ui
            .nodes
            .retain(|node| node.name() == Some("csrf_token"));
        let group = self.group();
        match self.method {
            OneTimeMethod::Link => {
                self.populate(flow);
                if let Some(node) = flow.ui.input_mut("email")
                    && let app::model::NodeAttributes::Input(input) = &mut node.attributes
                {
                    input.value = Some(json!(address));
                }
            }
            OneTimeMethod::Code => {
                let label = match flow.kind {
                    FlowKind::Recovery => 1070010,
                    _ => 1070011,
                };
                let mut code = InputAttributes::new("code", "text");
                code.required = true;
                code.pattern = Some("[0-9]+".into());
                code.maxlength = Some(6);
                code.autocomplete = Some("one-time-code".into());
                flow.ui
                    .nodes
                    .push(UiNode::input(group, code, Some(UiText::plain(label))));
                let mut method = InputAttributes::new("method", "hidden");
                method.value = Some(json!("code"));
                flow.ui.nodes.push(UiNode::input(group, method, None));
                flow.ui.nodes.push(submit("method", "code", group, 1070006));
                flow.ui.nodes.push(submit("email", address, group, 1070008));
            }
        }
    }

    /// A new secret: six digits, or 32 alphanumerics (190 bits) for a link.
    pub fn generate(&self) -> String {
        match self.method {
            OneTimeMethod::Code => six_digits(),
            OneTimeMethod::Link => (0..32)
                .map(|_| char::from(rand::rngs::OsRng.sample(Alphanumeric)))
                .collect(),
        }
    }

    pub fn lifespan(&self, state: &AppState) -> time::Duration {
        let methods = &state.config.selfservice.methods;
        let lifespan = match self.method {
            OneTimeMethod::Code => methods.code.config.lifespan,
            OneTimeMethod::Link => methods.link.config.lifespan,
        };
        time::Duration::try_from(lifespan).unwrap_or(time::Duration::HOUR)
    }

    /// A stored record of `secret`, sent to `address` for `identity_id`; the flow's lifespan
    /// caps the secret's.
    pub fn record(
        &self,
        state: &AppState,
        flow: &Flow,
        identity_id: Uuid,
        address: &str,
        secret: &str,
    ) -> OneTimeCode {
        let expires_at = (state.clock.now() + self.lifespan(state)).min(flow.expires_at);
        OneTimeCode {
            id: Uuid::new_v4(),
            flow_id: flow.id,
            identity_id,
            purpose: purpose(flow.kind),
            address: address.to_string(),
            secret_hash: keyed_hash(state.secrets.current(), secret),
            expires_at,
            used_at: None,
        }
    }

    /// The unused, unexpired secret of `flow` that `submitted` matches, compared in constant
    /// time under every configured key.
    pub async fn find(
        &self,
        state: &AppState,
        flow: &Flow,
        submitted: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<OneTimeCode>> {
        let candidates = state
            .changes
            .codes_of_flow(flow.id, purpose(flow.kind))
            .await?;
        let hashes = submitted_hashes(state, submitted);
        Ok(candidates
            .into_iter()
            .find(|code| matches_hash(&hashes, &code.secret_hash) && code.expires_at > now))
    }
}

/// A six-digit code, uniformly drawn from the operating system's generator.
pub fn six_digits() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000))
}

/// The keyed hashes of a submitted secret under every configured key (the newest first).
pub fn submitted_hashes(state: &AppState, submitted: &str) -> Vec<String> {
    state
        .secrets
        .all()
        .iter()
        .map(|key| keyed_hash(key, submitted.trim()))
        .collect()
}

/// Whether one of `hashes` is `stored`, compared in constant time (every hash is compared).
pub fn matches_hash(hashes: &[String], stored: &str) -> bool {
    hashes.iter().fold(false, |found, hash| {
        found | bool::from(hash.as_bytes().ct_eq(stored.as_bytes()))
    })
}

/// `<base>/self-service/<flow>?flow=<id>&<param>=<secret>`: what a message links to.
pub fn flow_link(state: &AppState, flow: &Flow, param: &str, secret: &str) -> String {
    let base = state
        .config
        .selfservice
        .methods
        .link
        .config
        .base_url
        .clone()
        .unwrap_or_else(|| state.urls.public.clone());
    let mut url = base
        .join(&format!("self-service/{}", flow.kind.as_str()))
        .unwrap_or(base);
    url.query_pairs_mut()
        .append_pair("flow", &flow.id.to_string())
        .append_pair(param, secret);
    url.to_string()
}

fn purpose(kind: FlowKind) -> &'static str {
    match kind {
        FlowKind::Recovery => "recovery",
        FlowKind::Login => "login",
        _ => "verification",
    }
}

fn submit(name: &str, value: &str, group: NodeGroup, label: u32) -> UiNode {
    let mut attributes = InputAttributes::new(name, "submit");
    attributes.value = Some(json!(value));
    UiNode::input(group, attributes, Some(UiText::plain(label)))
}

pub(crate) use crate::secrets::keyed_hash;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_their_shape() {
        let code = OneTimeStrategy {
            method: OneTimeMethod::Code,
        }
        .generate();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let token = OneTimeStrategy {
            method: OneTimeMethod::Link,
        }
        .generate();
        assert_eq!(token.len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn hashes_depend_on_the_key() {
        assert_eq!(keyed_hash("k1", "123456"), keyed_hash("k1", "123456"));
        assert_ne!(keyed_hash("k1", "123456"), keyed_hash("k2", "123456"));
        assert_eq!(keyed_hash("k1", "123456").len(), 64);
    }
}
