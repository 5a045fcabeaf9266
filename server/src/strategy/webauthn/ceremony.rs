//! What the `webauthn` (security keys) and `passkey` methods share: the relying party built from
//! `config.rp`, the script that runs the ceremonies in the browser, the nodes that carry their
//! options, and the keys kept in an identity's credential config.
//!
//! The ceremonies themselves (challenges, attestation and assertion checks, sign counters) are
//! webauthn-rs's; Ward keeps its state in the flow between the page and the submission.

use std::sync::OnceLock;

use app::model::{InputAttributes, NodeGroup, UiNode, UiText};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest;
use time::OffsetDateTime;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::config::RelyingParty;
use crate::error::ApiError;
use crate::flow::{Flow, FlowType};
use crate::identity::{CredentialType, Identity, credential_entry, timestamp};
use crate::state::AppState;

/// The ceremonies' script, served at `/.well-known/ory/webauthn.js` (where UIs made for Kratos
/// look for it).
pub const SCRIPT: &str = include_str!("../../../assets/webauthn.js");
pub const SCRIPT_PATH: &str = ".well-known/ory/webauthn.js";

/// The script's Subresource Integrity value (`sha512-…`).
pub fn script_integrity() -> &'static str {
    static INTEGRITY: OnceLock<String> = OnceLock::new();
    INTEGRITY.get_or_init(|| {
        let digest = sha2::Sha512::digest(SCRIPT.as_bytes());
        format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}

/// Adds the script node to a browser flow, once (both methods may ask for it).
pub fn add_script(state: &AppState, flow: &mut Flow) {
    const ID: &str = "webauthn_script";
    let present = flow.ui.nodes.iter().any(|node| {
        matches!(&node.attributes, app::model::NodeAttributes::Other(attributes)
            if attributes.get("id").and_then(Value::as_str) == Some(ID))
    });
    if flow.flow_type != FlowType::Browser || present {
        return;
    }
    let src = state
        .urls
        .public
        .join(SCRIPT_PATH)
        .map(String::from)
        .unwrap_or_default();
    flow.ui.nodes.push(UiNode::script(
        NodeGroup::Webauthn,
        ID,
        src,
        script_integrity().to_string(),
        uuid::Uuid::new_v4().to_string(),
    ));
}

/// The relying party of `rp`: its id defaults to the UI's host, its origins to the UI's and the
/// public listener's. Built per use: it is cheap, and the listeners' URLs are final only once
/// they are bound.
pub fn relying_party(state: &AppState, rp: &RelyingParty) -> Result<Webauthn, ApiError> {
    let origin_of = |url: &Url| url.origin().ascii_serialization();
    let id = rp.id_or_host_of(&state.urls.ui);
    let mut origins: Vec<Url> = rp.origins.clone();
    if origins.is_empty() {
        origins.extend(rp.origin.clone());
    }
    if origins.is_empty() {
        origins = vec![state.urls.ui.clone(), state.urls.public.clone()];
    }
    let origins: Vec<Url> = origins
        .iter()
        .filter_map(|url| Url::parse(&origin_of(url)).ok())
        .collect();
    let misconfigured = |error: webauthn_rs::prelude::WebauthnError| {
        ApiError::internal(format_args!(
            "the WebAuthn relying party (rp.id {id:?}, origins {origins:?}) is not usable: {error}"
        ))
    };
    let Some(first) = origins.first() else {
        return Err(ApiError::internal(
            "the WebAuthn relying party has no origin",
        ));
    };
    let mut builder = WebauthnBuilder::new(&id, first)
        .map_err(misconfigured)?
        .rp_name(rp.display_name.as_deref().unwrap_or("Ward"));
    for origin in &origins[1..] {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map_err(misconfigured)
}

/// One key as an identity's credential config keeps it: webauthn-rs's record (public key, sign
/// counter, backup flags, transports) under `key`, with what the pages show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey<K> {
    /// The credential id, base64url.
    pub id: String,
    pub display_name: String,
    pub added_at: String,
    pub is_passwordless: bool,
    pub key: K,
}

/// `credentials.<webauthn|passkey>.config`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(deserialize = "K: DeserializeOwned"))]
pub struct KeyRing<K> {
    #[serde(default = "Vec::new")]
    pub credentials: Vec<StoredKey<K>>,
    /// The user handle authenticators keep (base64url of 16 bytes).
    #[serde(default)]
    pub user_handle: Option<String>,
}

impl<K> Default for KeyRing<K> {
    fn default() -> Self {
        Self {
            credentials: Vec::new(),
            user_handle: None,
        }
    }
}

impl<K: Serialize + DeserializeOwned> KeyRing<K> {
    /// The identity's keys of `kind`; none when it has no such credential (or an unreadable one,
    /// which is logged).
    pub fn of(identity: &Identity, kind: CredentialType) -> Self {
        let Some(credential) = identity.credentials.get(&kind) else {
            return Self::default();
        };
        serde_json::from_value(credential.config.clone()).unwrap_or_else(|error| {
            tracing::warn!(identity = %identity.id, kind = kind.as_str(), %error, "unreadable WebAuthn credentials");
            Self::default()
        })
    }

    /// Stores the keys on the identity (removing the credential when none is left);
    /// `identifiers` become the credential's identifiers.
    pub fn store(
        &self,
        identity: &mut Identity,
        kind: CredentialType,
        identifiers: Vec<String>,
        now: OffsetDateTime,
    ) {
        if self.credentials.is_empty() {
            identity.credentials.remove(&kind);
            return;
        }
        let config = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        let credential = credential_entry(identity, kind, now);
        credential.config = config;
        credential.identifiers = identifiers;
        credential.updated_at = now;
    }

    /// Removes the key a remove button names (its id in hex); whether there was one.
    pub fn remove_hex(&mut self, hex: &str) -> bool {
        let before = self.credentials.len();
        let hex = hex.to_ascii_lowercase();
        self.credentials.retain(|stored| hex_id(&stored.id) != hex);
        self.credentials.len() < before
    }

    /// The user handle as a UUID, made (and kept) on first use.
    pub fn user_handle(&mut self) -> uuid::Uuid {
        let existing = self
            .user_handle
            .as_deref()
            .and_then(|handle| decode(handle).ok())
            .and_then(|bytes| uuid::Uuid::from_slice(&bytes).ok());
        existing.unwrap_or_else(|| {
            let handle = uuid::Uuid::new_v4();
            self.user_handle = Some(encode(handle.as_bytes()));
            handle
        })
    }
}

pub fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))
}

/// The value of a remove button: the credential id in lower-case hex, as Kratos sends it.
pub fn hex_id(id: &str) -> String {
    decode(id)
        .unwrap_or_default()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A remove button for a stored key, labelled with its name and when it was added.
pub fn remove_button(
    group: NodeGroup,
    name: &str,
    stored: &StoredKey<impl Sized>,
    label: u32,
    disabled: bool,
) -> UiNode {
    let mut attributes = InputAttributes::new(name, "submit");
    attributes.value = Some(json!(hex_id(&stored.id)));
    attributes.disabled = disabled;
    let added_at_unix = OffsetDateTime::parse(
        &stored.added_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(OffsetDateTime::unix_timestamp)
    .unwrap_or_default();
    let context = json!({
        "display_name": stored.display_name,
        "added_at": stored.added_at,
        "added_at_unix": added_at_unix,
    });
    UiNode::input(group, attributes, Some(UiText::new(label, context)))
}

/// A button that starts a ceremony in the browser: `trigger` names the script's function, and
/// `options` (when given) go in the value, as JSON text, for clients that run the ceremony
/// themselves. API flows get no script to call.
pub fn trigger_button(
    flow: &Flow,
    group: NodeGroup,
    name: &str,
    trigger: &str,
    options: Option<&Value>,
    label: u32,
) -> UiNode {
    let mut attributes = InputAttributes::new(name, "button");
    let text = options.map(Value::to_string);
    attributes.value = text.as_ref().map(|text| json!(text));
    if flow.flow_type == FlowType::Browser {
        attributes.onclick = Some(match &text {
            Some(text) => format!("window.{trigger}({text})"),
            None => format!("window.{trigger}()"),
        });
        attributes.onclick_trigger = Some(trigger.to_string());
    }
    UiNode::input(group, attributes, Some(UiText::plain(label)))
}

pub fn hidden(group: NodeGroup, name: &str, value: Option<Value>) -> UiNode {
    let mut attributes = InputAttributes::new(name, "hidden");
    attributes.value = value;
    UiNode::input(group, attributes, None)
}

/// Keeps a ceremony's state in the flow until the submission that finishes it.
pub fn keep_state(flow: &mut Flow, key: &str, ceremony: &impl Serialize) {
    match serde_json::to_value(ceremony) {
        Ok(value) => {
            flow.internal.insert(key.into(), value);
        }
        Err(error) => tracing::error!(%error, "could not keep a WebAuthn ceremony's state"),
    }
}

/// Takes a ceremony's state out of the flow: a challenge answers one submission (sign-ins then
/// get a new one).
pub fn take_state<T: DeserializeOwned>(flow: &mut Flow, key: &str) -> Option<T> {
    let value = flow.internal.remove(key)?;
    serde_json::from_value(value).ok()
}

/// A registration's state, left in the flow: a registration that fails can be tried again
/// from the same page, and one that succeeds ends with new options (or the flow).
pub fn read_state<T: DeserializeOwned>(flow: &Flow, key: &str) -> Option<T> {
    serde_json::from_value(flow.internal.get(key)?.clone()).ok()
}

/// The name authenticators show for the identity: its first identifier or address.
pub fn account_name(identity: &Identity) -> String {
    identity
        .credentials
        .get(&CredentialType::Password)
        .and_then(|credential| credential.identifiers.first().cloned())
        .or_else(|| {
            identity
                .verifiable_addresses
                .first()
                .map(|address| address.value.clone())
        })
        .unwrap_or_else(|| identity.id.to_string())
}

pub fn now_text(now: OffsetDateTime) -> String {
    timestamp(now.replace_nanosecond(0).unwrap_or(now))
}

/// A submitted credential (JSON text), parsed; `None` when the field is empty.
pub fn parse_submitted<T: DeserializeOwned>(form: &Value, name: &str) -> Option<Result<T, ()>> {
    let text = crate::http::request::field(form, name)
        .map(str::trim)
        .filter(|text| !text.is_empty() && *text != "true")?;
    Some(serde_json::from_str(text).map_err(|_| ()))
}

/// Logs why a sign-in with a `what` (passkey, security key) did not verify; a sign counter
/// that went backwards means a cloned authenticator, which is a warning.
pub fn log_refused(identity: uuid::Uuid, what: &str, error: &webauthn_rs::prelude::WebauthnError) {
    if matches!(
        error,
        webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise
    ) {
        tracing::warn!(%identity, "a {what}'s sign counter went backwards: it may be cloned; refused");
    } else {
        tracing::info!(%identity, %error, "a {what} sign-in did not verify");
    }
}

/// A registration the browser sent in a form field.
pub enum Answer {
    /// The form has none: another method's submission.
    Absent,
    /// It could not be read; the form already says so.
    Unreadable,
    Read(webauthn_rs::prelude::RegisterPublicKeyCredential),
}

/// The registration in `field` (the answer of a `what`: passkey, security key).
pub fn registration_answer(flow: &mut Flow, form: &Value, field: &str, what: &str) -> Answer {
    match parse_submitted(form, field) {
        None => Answer::Absent,
        Some(Ok(credential)) => Answer::Read(credential),
        Some(Err(())) => {
            refused(
                flow,
                field,
                &format!("the {what}'s answer could not be read"),
            );
            Answer::Unreadable
        }
    }
}

/// The flow message for a ceremony that did not verify (a wrong origin, a replayed or foreign
/// challenge, a bad signature, a cloned authenticator).
pub fn invalid(flow: &mut Flow) {
    flow.ui.messages.push(UiText::plain(4000043));
}

/// The flow message for an unusable submission or a failed registration.
pub fn refused(flow: &mut Flow, field: &str, reason: &str) {
    flow.ui.add_message(
        Some(field),
        UiText::new(4000001, json!({ "reason": reason })),
    );
}

/// Refuses to remove the last way to sign in (a `what`: passkey, security key).
pub fn lockout(flow: &mut Flow, field: &str, what: &str) {
    refused(
        flow,
        field,
        &format!("unable to remove this {what} because it would lock you out of your account"),
    );
}

/// A key registered as a passkey (it verifies its user), kept with the security keys:
/// webauthn-rs writes both as the same record (`{"cred": …}`) and converts between them only
/// behind a feature it calls dangerous, so the record goes through JSON.
pub fn as_security_key(
    key: &webauthn_rs::prelude::Passkey,
) -> Option<webauthn_rs::prelude::SecurityKey> {
    serde_json::to_value(key)
        .and_then(serde_json::from_value)
        .ok()
}
