//! `totp`: an authenticator app's codes (RFC 6238: 6 digits, SHA-1, 30-second steps, one step
//! of clock skew either way) as a second factor. Settings shows a new secret as a QR code and
//! as text until a code from the app confirms it; aal2 login flows ask for a code.
//!
//! The key is kept sealed with `secrets.cipher` (Kratos keeps the `otpauth://` URL as it is, and
//! Ward still reads such imported values). Beyond Kratos: a code accepted once is refused for the rest of the time it would be valid
//! (RFC 6238 §5.2: the credential keeps the last time step it accepted), and one login flow
//! takes at most [`MAX_WRONG_CODES`] wrong codes.

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use async_trait::async_trait;
use rand::RngCore;
use serde_json::{Value, json};
use totp_rs::{Algorithm, TOTP};

use super::{LoginOutcome, LoginStrategy, SettingsOutcome, SettingsStrategy};
use crate::flow::{Flow, FlowResult};
use crate::http::request::field;
use crate::identity::{CredentialType, Identity, credential_entry};
use crate::session::Aal;
use crate::state::AppState;

const METHOD: &str = "totp";
/// Where a settings flow keeps the secret it shows until a code confirms it (Kratos's key).
const PENDING: &str = "totp_url";
/// Ward's addition to the credential's config: the last time step a code was accepted for.
const LAST_STEP: &str = "last_used_step";
/// Wrong second-factor codes one login flow accepts before it refuses every code.
pub const MAX_WRONG_CODES: u64 = 5;
/// The flow's count of wrong second-factor codes, shared with backup codes.
pub const WRONG_CODES: &str = "wrong_second_factor_codes";
const STEP: u64 = 30;
const QR_SIZE: u32 = 256;

pub struct TotpStrategy;

/// Whether `form` sets the boolean `key` (JSON `true` or the form value `"true"`).
pub fn flag(form: &Value, key: &str) -> bool {
    matches!(form.get(key), Some(Value::Bool(true))) || field(form, key) == Some("true")
}

/// A submit button of `group` named `name` with value `value`.
pub fn button(group: NodeGroup, name: &str, value: Value, label: u32) -> UiNode {
    let mut attributes = InputAttributes::new(name, "submit");
    attributes.value = Some(value);
    UiNode::input(group, attributes, Some(UiText::plain(label)))
}

/// A required text input of `group` for a code, labelled `label`.
pub fn code_input(group: NodeGroup, name: &str, label: u32) -> UiNode {
    let mut code = InputAttributes::new(name, "text");
    code.required = true;
    UiNode::input(group, code, Some(UiText::plain(label)))
}

/// A new key for `identity`: 20 random bytes, labelled with the issuer and the trait the
/// schema marks as the account name (else the identity's id).
fn new_key(state: &AppState, identity: &Identity) -> Option<TOTP> {
    let mut secret = vec![0_u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let issuer = state
        .config
        .selfservice
        .methods
        .totp
        .config
        .issuer
        .clone()
        .or_else(|| state.urls.public.host_str().map(str::to_string))
        .unwrap_or_else(|| "Ward".into());
    let account = state
        .schemas
        .get(&identity.schema_id)
        .and_then(|schema| {
            schema
                .extensions
                .iter()
                .find(|extension| extension.totp_account_name)
                .and_then(|extension| identity.traits.pointer(&extension.pointer))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| identity.id.to_string());
    // The otpauth label may not hold ':'.
    let clean = |text: String| text.replace(':', "");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret,
        Some(clean(issuer)),
        clean(account),
    )
    .map_err(|error| tracing::error!(%error, "could not make a TOTP key"))
    .ok()
}

/// The time step `code` belongs to, checked against the steps around `now` (constant time per
/// candidate), or `None`.
fn matching_step(key: &TOTP, code: &str, now: u64) -> Option<u64> {
    use subtle::ConstantTimeEq;
    let current = now / STEP;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| {
            bool::from(
                key.generate(step * STEP)
                    .as_bytes()
                    .ct_eq(code.trim().as_bytes()),
            )
        })
}

/// The key a stored `totp_url` holds: sealed by Ward's cipher, or a plain `otpauth://` URL as
/// Kratos stores it.
fn open_key(state: &AppState, stored: &str) -> Option<TOTP> {
    let url = match state.cipher.decrypt(stored) {
        Some(url) => url,
        None if stored.starts_with("otpauth://") => stored.to_string(),
        None => return None,
    };
    TOTP::from_url(url).ok()
}

fn unix_now(state: &AppState) -> u64 {
    u64::try_from(state.clock.now().unix_timestamp()).unwrap_or_default()
}

#[async_trait]
impl SettingsStrategy for TotpStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn populate_settings(&self, state: &AppState, flow: &mut Flow, identity: &Identity) {
        flow.internal.remove(PENDING);
        if identity.credentials.contains_key(&CredentialType::Totp) {
            flow.ui.nodes.push(button(
                NodeGroup::Totp,
                "totp_unlink",
                json!("true"),
                1050004,
            ));
            return;
        }
        let Some(key) = new_key(state, identity) else {
            return;
        };
        let (Ok(png), Some(sealed)) = (key.get_qr_base64(), state.cipher.encrypt(&key.get_url()))
        else {
            return;
        };
        flow.internal.insert(PENDING.into(), json!(sealed));
        flow.ui.nodes.push(UiNode::image(
            NodeGroup::Totp,
            "totp_qr",
            format!("data:image/png;base64,{png}"),
            QR_SIZE,
            UiText::plain(1050005),
        ));
        let secret = key.get_secret_base32();
        flow.ui.nodes.push(UiNode::text(
            NodeGroup::Totp,
            "totp_secret_key",
            UiText::new(1050006, json!({ "secret": secret })),
            UiText::plain(1050017),
        ));
        flow.ui
            .nodes
            .push(code_input(NodeGroup::Totp, "totp_code", 1070006));
        flow.ui
            .nodes
            .push(button(NodeGroup::Totp, "method", json!(METHOD), 1070003));
    }

    async fn update_settings(
        &self,
        state: &AppState,
        flow: &mut Flow,
        identity: &mut Identity,
        form: &Value,
    ) -> FlowResult<SettingsOutcome> {
        let unlink = flag(form, "totp_unlink");
        if field(form, "method") != Some(METHOD) && !unlink {
            return Ok(SettingsOutcome::NotMine);
        }
        let changed = SettingsOutcome::Changed {
            method: METHOD,
            privileged: true,
            second_factor: !unlink,
        };
        if unlink {
            identity.credentials.remove(&CredentialType::Totp);
            return Ok(changed);
        }
        if identity.credentials.contains_key(&CredentialType::Totp) {
            return Ok(changed);
        }
        let code = field(form, "totp_code").unwrap_or_default();
        if code.trim().is_empty() {
            flow.ui.add_message(
                Some("totp_code"),
                UiText::new(4000002, json!({"property": "totp_code"})),
            );
            return Ok(SettingsOutcome::Rejected);
        }
        let pending = flow.internal.get(PENDING).and_then(Value::as_str);
        let key = pending.and_then(|sealed| open_key(state, sealed));
        let step = key
            .as_ref()
            .and_then(|key| matching_step(key, code, unix_now(state)));
        let (Some(sealed), Some(step)) = (pending.map(str::to_string), step) else {
            flow.ui
                .add_message(Some("totp_code"), UiText::plain(4000008));
            return Ok(SettingsOutcome::Rejected);
        };
        let now = state.clock.now();
        let identifier = identity.id.to_string();
        let credential = credential_entry(identity, CredentialType::Totp, now);
        credential.identifiers = vec![identifier];
        credential.config = json!({ "totp_url": sealed, LAST_STEP: step });
        credential.updated_at = now;
        flow.internal.remove(PENDING);
        Ok(changed)
    }
}

#[async_trait]
impl LoginStrategy for TotpStrategy {
    fn method(&self) -> &'static str {
        METHOD
    }

    fn aal(&self) -> Aal {
        Aal::Aal2
    }

    fn populate_login(&self, _state: &AppState, flow: &mut Flow, identity: Option<&Identity>) {
        if !identity
            .is_some_and(|identity| identity.credentials.contains_key(&CredentialType::Totp))
        {
            return;
        }
        flow.ui
            .nodes
            .push(code_input(NodeGroup::Totp, "totp_code", 1010006));
        flow.ui
            .nodes
            .push(button(NodeGroup::Totp, "method", json!(METHOD), 1010009));
    }

    async fn login(
        &self,
        state: &AppState,
        flow: &mut Flow,
        form: &Value,
        identity: Option<&Identity>,
        _client_ip: Option<std::net::IpAddr>,
    ) -> FlowResult<LoginOutcome> {
        if field(form, "method") != Some(METHOD) {
            return Ok(LoginOutcome::NotMine);
        }
        let Some(identity) = identity else {
            return Ok(LoginOutcome::NotMine);
        };
        let Some(credential) = identity.credentials.get(&CredentialType::Totp) else {
            flow.ui.messages.push(UiText::plain(4000011));
            return Ok(LoginOutcome::Rejected);
        };
        let code = field(form, "totp_code").unwrap_or_default();
        let wrong = flow.counter(WRONG_CODES);
        let key = credential
            .config
            .get("totp_url")
            .and_then(Value::as_str)
            .and_then(|stored| open_key(state, stored));
        let last = credential.config.get(LAST_STEP).and_then(Value::as_u64);
        let step = key
            .as_ref()
            .filter(|_| wrong < MAX_WRONG_CODES)
            .and_then(|key| matching_step(key, code, unix_now(state)))
            // A code is good once: never again for its own or an earlier step.
            .filter(|step| last.is_none_or(|last| *step > last));
        let Some(step) = step else {
            flow.internal.insert(WRONG_CODES.into(), json!(wrong + 1));
            flow.ui.messages.push(UiText::plain(4000008));
            return Ok(LoginOutcome::Rejected);
        };
        // Requests racing with the same code all read the same last step: only the first to
        // claim the step may use it.
        let claim_for = std::time::Duration::from_secs(STEP * 3);
        if !crate::throttle::claim(state, identity.id, &format!("totp\n{step}"), claim_for).await? {
            flow.ui.messages.push(UiText::plain(4000008));
            return Ok(LoginOutcome::Rejected);
        }
        let mut identity = identity.clone();
        if let Some(credential) = identity.credentials.get_mut(&CredentialType::Totp) {
            credential.config[LAST_STEP] = json!(step);
            credential.updated_at = state.clock.now();
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
    fn codes_match_their_step_and_the_neighbours_only() {
        let key = TOTP::new(Algorithm::SHA1, 6, 1, STEP, vec![7; 20], None, "a".into()).unwrap();
        let now = 1_800_000_000;
        let step = now / STEP;
        for offset in [-1_i64, 0, 1] {
            let at = (step as i64 + offset) as u64;
            let code = key.generate(at * STEP);
            assert_eq!(matching_step(&key, &code, now), Some(at));
        }
        let far = key.generate((step + 2) * STEP);
        assert_eq!(matching_step(&key, &far, now), None);
        assert_eq!(matching_step(&key, "", now), None);
    }

    #[test]
    fn flags_read_json_and_forms() {
        assert!(flag(&json!({"x": true}), "x"));
        assert!(flag(&json!({"x": "true"}), "x"));
        assert!(!flag(&json!({"x": false}), "x"));
        assert!(!flag(&json!({}), "x"));
    }
}
