//! `lookup_secret`: twelve backup codes, each good for one aal2 sign-in when the authenticator
//! app is out of reach. Settings generates them, shows them once and keeps them after a
//! confirmation; login takes one on aal2 flows and marks it used, with the time.
//!
//! Unlike Kratos, which stores the codes as they are and shows them again on request, Ward
//! keeps only a keyed hash of each (HMAC-SHA256 under `secrets.default`), so a stolen database
//! holds no usable code; the codes are shown when generated and never again.

use app::model::{NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};

use super::one_time::keyed_hash;
use super::totp::{MAX_WRONG_CODES, WRONG_CODES, button, code_input, flag};
use super::{LoginOutcome, LoginStrategy, SettingsOutcome, SettingsStrategy};
use crate::flow::{Flow, FlowResult};
use crate::http::request::field;
use crate::identity::{CredentialType, Identity, credential_entry, timestamp};
use crate::session::Aal;
use crate::state::AppState;

const METHOD: &str = "lookup_secret";
/// Where a settings flow keeps new codes until they are confirmed (Kratos's key).
const PENDING: &str = "lookup_secret_regenerated";
const CODES: usize = 12;
const CODE_LENGTH: usize = 8;

pub struct LookupSecretStrategy;

fn new_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut random = rand::rngs::OsRng;
    (0..CODES)
        .map(|_| {
            (0..CODE_LENGTH)
                .map(|_| char::from(ALPHABET[random.gen_range(0..ALPHABET.len())]))
                .collect()
        })
        .collect()
}

/// The text node that shows `codes` (message 1050015, one 1050009 per code).
fn codes_node(codes: &[String]) -> UiNode {
    let secrets: Vec<UiText> = codes
        .iter()
        .map(|code| UiText::new(1050009, json!({ "secret": code })))
        .collect();
    UiNode::text(
        NodeGroup::LookupSecret,
        "lookup_secret_codes",
        UiText::new(1050015, json!({ "secrets": secrets })),
        UiText::plain(1050010),
    )
}

fn stored_codes(identity: &Identity) -> Vec<Value> {
    identity
        .credentials
        .get(&CredentialType::LookupSecret)
        .and_then(|credential| credential.config.get("recovery_codes"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl SettingsStrategy for LookupSecretStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_settings(&self, _state: &AppState, flow: &mut Flow, identity: &Identity) {
        flow.internal.remove(PENDING);
        flow.ui.nodes.push(button(
            NodeGroup::LookupSecret,
            "lookup_secret_regenerate",
            json!("true"),
            1050008,
        ));
        if !stored_codes(identity).is_empty() {
            flow.ui.nodes.push(button(
                NodeGroup::LookupSecret,
                "lookup_secret_disable",
                json!("true"),
                1050016,
            ));
        }
    }

    async fn update_settings(
        &self,
        state: &AppState,
        flow: &mut Flow,
        identity: &mut Identity,
        form: &Value,
    ) -> FlowResult<SettingsOutcome> {
        let (confirm, disable, regenerate) = (
            flag(form, "lookup_secret_confirm"),
            flag(form, "lookup_secret_disable"),
            flag(form, "lookup_secret_regenerate"),
        );
        if !(confirm || disable || regenerate) {
            return Ok(SettingsOutcome::NotMine);
        }
        let now = state.clock.now();
        if confirm {
            let pending: Vec<String> = flow
                .internal
                .remove(PENDING)
                .and_then(|codes| serde_json::from_value(codes).ok())
                .unwrap_or_default();
            if pending.len() != CODES {
                flow.ui.messages.push(UiText::new(
                    4000001,
                    json!({"reason": "Generate new backup recovery codes before confirming them."}),
                ));
                return Ok(SettingsOutcome::Rejected);
            }
            let key = state.secrets.current();
            let codes: Vec<Value> = pending
                .iter()
                .map(|code| json!({"code_hash": keyed_hash(key, code), "used_at": null}))
                .collect();
            let credential = credential_entry(identity, CredentialType::LookupSecret, now);
            credential.config = json!({ "recovery_codes": codes });
            credential.updated_at = now;
            return Ok(SettingsOutcome::Changed {
                method: METHOD,
                privileged: true,
                second_factor: true,
            });
        }
        if disable {
            identity.credentials.remove(&CredentialType::LookupSecret);
            return Ok(SettingsOutcome::Changed {
                method: METHOD,
                privileged: true,
                second_factor: false,
            });
        }
        // New codes: shown now, kept once confirmed. Nothing is stored yet, so this needs no
        // recent sign-in; confirming does.
        let codes = new_codes();
        flow.internal.insert(PENDING.into(), json!(codes));
        flow.ui
            .nodes
            .retain(|node| node.group != NodeGroup::LookupSecret);
        flow.ui.nodes.push(codes_node(&codes));
        flow.ui.nodes.push(button(
            NodeGroup::LookupSecret,
            "lookup_secret_confirm",
            json!("true"),
            1050011,
        ));
        Ok(SettingsOutcome::Shown)
    }
}

#[async_trait]
impl LoginStrategy for LookupSecretStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn aal(&self) -> Aal {
        Aal::Aal2
    }

    fn populate_login(&self, _state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
        if identity.is_none_or(|identity| stored_codes(identity).is_empty()) {
            return;
        }
        flow.ui.nodes.push(code_input(
            NodeGroup::LookupSecret,
            "lookup_secret",
            1010007,
        ));
        flow.ui.nodes.push(button(
            NodeGroup::LookupSecret,
            "method",
            json!(METHOD),
            1010010,
        ));
    }

    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        identity: Option<&Identity>,
        _client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        use subtle::ConstantTimeEq;
        if field(form, "method") != Some(METHOD) {
            return Ok(LoginOutcome::NotMine);
        }
        let Some(identity) = identity else {
            return Ok(LoginOutcome::NotMine);
        };
        let codes = stored_codes(identity);
        if codes.is_empty() {
            flow.ui.messages.push(UiText::plain(4000014));
            return Ok(LoginOutcome::Rejected);
        }
        let wrong = flow.counter(WRONG_CODES);
        let submitted = field(form, "lookup_secret")
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        // Every key in use, every code: the comparisons take the same time whichever matches.
        let hashes: Vec<String> = state
            .secrets
            .all()
            .iter()
            .map(|key| keyed_hash(key, &submitted))
            .collect();
        let found = codes.iter().position(|code| {
            let stored = code
                .get("code_hash")
                .and_then(Value::as_str)
                .unwrap_or_default();
            hashes.iter().fold(false, |found, hash| {
                found | bool::from(hash.as_bytes().ct_eq(stored.as_bytes()))
            })
        });
        let found = found.filter(|_| wrong < MAX_WRONG_CODES && !submitted.is_empty());
        let Some(index) = found else {
            flow.internal.insert(WRONG_CODES.into(), json!(wrong + 1));
            flow.ui.messages.push(UiText::plain(4000016));
            return Ok(LoginOutcome::Rejected);
        };
        if !codes[index]["used_at"].is_null() {
            flow.internal.insert(WRONG_CODES.into(), json!(wrong + 1));
            flow.ui.messages.push(UiText::plain(4000012));
            return Ok(LoginOutcome::Rejected);
        }
        // Requests racing with the same code all see it unused: only the first to claim it
        // may use it (afterwards the stored `used_at` refuses it).
        let stored_hash = codes[index]["code_hash"].as_str().unwrap_or_default();
        let claim = format!("lookup_secret\n{stored_hash}");
        if !crate::throttle::claim(
            state,
            identity.id,
            &claim,
            std::time::Duration::from_secs(600),
        )
        .await?
        {
            flow.ui.messages.push(UiText::plain(4000012));
            return Ok(LoginOutcome::Rejected);
        }
        let now = state.clock.now();
        let mut identity = identity.clone();
        if let Some(credential) = identity.credentials.get_mut(&CredentialType::LookupSecret) {
            credential.config["recovery_codes"][index]["used_at"] = json!(timestamp(now));
            credential.updated_at = now;
        }
        Ok(LoginOutcome::Authenticated {
            identity: Box::new(identity),
            method: METHOD,
            changed: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_distinct_codes_of_eight_lowercase_characters() {
        let codes = new_codes();
        assert_eq!(codes.len(), 12);
        assert!(codes.iter().all(|code| {
            code.len() == 8
                && code
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }));
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 12);
    }
}
