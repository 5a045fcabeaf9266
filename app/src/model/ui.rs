//! The UI container and its nodes, exactly as Kratos serialises them (reference §3).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A form the engine asks the UI to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiContainer {
    pub action: String,
    pub method: String,
    pub nodes: Vec<UiNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<UiText>,
}

impl UiContainer {
    pub fn new(action: String) -> Self {
        Self {
            action,
            method: "POST".into(),
            nodes: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// The input node called `name`, if any.
    pub fn input_mut(&mut self, name: &str) -> Option<&mut UiNode> {
        self.nodes.iter_mut().find(|node| node.name() == Some(name))
    }

    /// Drops every message on the container and its nodes (before a new submission is judged).
    pub fn clear_messages(&mut self) {
        self.messages.clear();
        for node in &mut self.nodes {
            node.messages.clear();
        }
    }

    /// Puts `message` on the node called `name`, or on the container when there is no such node.
    pub fn add_message(&mut self, name: Option<&str>, message: UiText) {
        match name.and_then(|name| self.input_mut(name)) {
            Some(node) => node.messages.push(message),
            None => self.messages.push(message),
        }
    }

    /// Writes submitted values back into the inputs, so a re-rendered form keeps them.
    /// Passwords and hidden fields are never written back.
    pub fn keep_values(&mut self, value_of: impl Fn(&str) -> Option<Value>) {
        for node in &mut self.nodes {
            if let NodeAttributes::Input(input) = &mut node.attributes {
                if matches!(
                    input.input_type.as_str(),
                    "password" | "hidden" | "submit" | "button"
                ) {
                    continue;
                }
                if let Some(value) = value_of(&input.name) {
                    input.value = Some(value);
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Info,
    Error,
    Success,
}

/// A user-facing text with its stable id; the UI may translate it by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiText {
    pub id: u32,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: MessageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

#[cfg(feature = "ssr")]
impl UiText {
    /// The message `id` with its English text from the catalogue, filled from `context`.
    pub fn new(id: u32, context: Value) -> Self {
        let kind = match id / 1_000_000 {
            1 if crate::messages::is_success(id) => MessageType::Success,
            1 => MessageType::Info,
            _ => MessageType::Error,
        };
        Self {
            id,
            text: crate::messages::english(id, &context),
            kind,
            context: (!context.is_null()).then_some(context),
        }
    }

    pub fn plain(id: u32) -> Self {
        Self::new(id, Value::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeGroup {
    Default,
    Password,
    Oidc,
    Profile,
    Link,
    Code,
    Totp,
    LookupSecret,
    Webauthn,
    Passkey,
    IdentifierFirst,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NodeMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<UiText>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiNode {
    #[serde(rename = "type")]
    pub node_type: String,
    pub group: NodeGroup,
    pub attributes: NodeAttributes,
    pub messages: Vec<UiText>,
    pub meta: NodeMeta,
}

impl UiNode {
    /// An input node; `node_type` and the attributes' `node_type` are both "input".
    pub fn input(group: NodeGroup, attributes: InputAttributes, label: Option<UiText>) -> Self {
        Self {
            node_type: "input".into(),
            group,
            attributes: NodeAttributes::Input(attributes),
            messages: Vec::new(),
            meta: NodeMeta { label },
        }
    }

    pub fn anchor(group: NodeGroup, attributes: AnchorAttributes) -> Self {
        Self {
            node_type: "a".into(),
            group,
            attributes: NodeAttributes::A(attributes),
            messages: Vec::new(),
            meta: NodeMeta::default(),
        }
    }

    /// A script node: a script the page loads (the WebAuthn ceremonies).
    pub fn script(
        group: NodeGroup,
        id: &str,
        src: String,
        integrity: String,
        nonce: String,
    ) -> Self {
        Self {
            node_type: "script".into(),
            group,
            attributes: NodeAttributes::Other(serde_json::json!({
                "src": src, "async": true, "referrerpolicy": "no-referrer",
                "crossorigin": "anonymous", "integrity": integrity, "type": "text/javascript",
                "id": id, "nonce": nonce, "node_type": "script",
            })),
            messages: Vec::new(),
            meta: NodeMeta::default(),
        }
    }

    /// An image node (`img`), such as a QR code in a `data:` URL.
    pub fn image(group: NodeGroup, id: &str, src: String, size: u32, label: UiText) -> Self {
        Self {
            node_type: "img".into(),
            group,
            attributes: NodeAttributes::Other(serde_json::json!({
                "node_type": "img", "id": id, "src": src, "width": size, "height": size,
            })),
            messages: Vec::new(),
            meta: NodeMeta { label: Some(label) },
        }
    }

    /// A text node: `text` shown as it is (a secret to copy, a list of codes).
    pub fn text(group: NodeGroup, id: &str, text: UiText, label: UiText) -> Self {
        Self {
            node_type: "text".into(),
            group,
            attributes: NodeAttributes::Other(serde_json::json!({
                "node_type": "text", "id": id, "text": text,
            })),
            messages: Vec::new(),
            meta: NodeMeta { label: Some(label) },
        }
    }

    pub fn name(&self) -> Option<&str> {
        match &self.attributes {
            NodeAttributes::Input(input) => Some(&input.name),
            _ => None,
        }
    }

    /// A stable `data-testid` for the node: its name with dots and spaces as dashes.
    pub fn test_id(&self) -> String {
        let base = match &self.attributes {
            NodeAttributes::Input(input) if input.input_type == "submit" => {
                let value = input
                    .value
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                format!("submit-{}-{value}", input.name)
            }
            NodeAttributes::Input(input) => input.name.clone(),
            NodeAttributes::A(anchor) => anchor.id.clone(),
            NodeAttributes::Other(_) => "node".into(),
        };
        base.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node_type", rename_all = "lowercase")]
pub enum NodeAttributes {
    Input(InputAttributes),
    A(AnchorAttributes),
    /// img, text, script, div: carried through unchanged.
    #[serde(untagged)]
    Other(Value),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InputAttributes {
    pub name: String,
    #[serde(rename = "type")]
    pub input_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxlength: Option<u32>,
    /// JavaScript a click runs (WebAuthn ceremonies), and the bare function name it calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onclick: Option<String>,
    #[serde(
        default,
        rename = "onclickTrigger",
        skip_serializing_if = "Option::is_none"
    )]
    pub onclick_trigger: Option<String>,
    /// JavaScript to run once the page and its scripts are loaded, and its function name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onload: Option<String>,
    #[serde(
        default,
        rename = "onloadTrigger",
        skip_serializing_if = "Option::is_none"
    )]
    pub onload_trigger: Option<String>,
}

impl InputAttributes {
    pub fn new(name: impl Into<String>, input_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            input_type: input_type.into(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnchorAttributes {
    pub href: String,
    pub title: UiText,
    pub id: String,
}
