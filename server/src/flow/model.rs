//! The flow object every self-service flow shares (reference §2).

use app::model::UiContainer;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::timestamp;
use crate::session::Aal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    Login,
    Registration,
    Settings,
    Recovery,
    Verification,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Registration => "registration",
            Self::Settings => "settings",
            Self::Recovery => "recovery",
            Self::Verification => "verification",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Login,
            Self::Registration,
            Self::Settings,
            Self::Recovery,
            Self::Verification,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    /// Message id of "this flow expired" for the kind.
    pub fn expired_message(self) -> u32 {
        match self {
            Self::Login => 4010001,
            Self::Registration => 4040001,
            Self::Settings => 4050001,
            Self::Recovery => 4060005,
            Self::Verification => 4070005,
        }
    }

    /// Message id of "no strategy handles this method" for the kind.
    pub fn no_strategy_message(self) -> u32 {
        match self {
            Self::Login => 4010002,
            Self::Registration => 4010003,
            Self::Settings => 4010004,
            Self::Recovery => 4010005,
            Self::Verification => 4010006,
        }
    }

    /// Message id of "this flow was already completed" for the kind; settings flows stay
    /// usable after a change, so they have none.
    pub fn completed_message(self) -> Option<u32> {
        match self {
            Self::Login => Some(4010007),
            Self::Registration => Some(4040002),
            Self::Settings => None,
            Self::Recovery => Some(4060001),
            Self::Verification => Some(4070002),
        }
    }

    /// The state a new flow of this kind starts in.
    pub fn initial_state(self) -> &'static str {
        match self {
            Self::Settings => STATE_SHOW_FORM,
            _ => STATE_CHOOSE_METHOD,
        }
    }
}

/// Browser flows answer with redirects and need CSRF tokens; API flows (native apps) answer
/// JSON and carry session tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowType {
    Browser,
    Api,
}

impl FlowType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "browser" => Some(Self::Browser),
            "api" => Some(Self::Api),
            _ => None,
        }
    }
}

pub const STATE_CHOOSE_METHOD: &str = "choose_method";
pub const STATE_SENT_EMAIL: &str = "sent_email";
pub const STATE_PASSED_CHALLENGE: &str = "passed_challenge";
pub const STATE_SHOW_FORM: &str = "show_form";
pub const STATE_SUCCESS: &str = "success";

/// Where a login or registration flow keeps the OAuth2 request it signs in for (Kratos's
/// `oauth2_login_request`), in `internal`.
pub const OAUTH2_LOGIN_REQUEST: &str = "oauth2_login_request";

/// Where [`Flow::language`] is kept in `internal`.
pub const LANGUAGE: &str = "language";

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: Uuid,
    pub kind: FlowKind,
    pub flow_type: FlowType,
    pub state: String,
    pub request_url: String,
    pub return_to: Option<String>,
    pub ui: UiContainer,
    /// The CSRF token a browser submission must carry (browser flows only).
    pub csrf_token: Option<String>,
    /// The method last submitted.
    pub active: Option<String>,
    /// Login: re-authenticate a signed-in user.
    pub refresh: bool,
    pub requested_aal: Aal,
    /// Settings: the identity the flow changes. Recovery and verification: the identity a
    /// code was sent to.
    pub identity_id: Option<Uuid>,
    /// What strategies keep between steps; never sent to clients except `continue_with`.
    pub internal: Map<String, Value>,
    /// Settings flows show the identity they change; filled in when the flow is answered.
    pub identity: Option<Value>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Flow {
    /// Binds a browser flow to `token`: the field submissions are checked against and the
    /// form's hidden `csrf_token`.
    pub fn set_csrf_token(&mut self, token: &str) {
        self.csrf_token = Some(token.to_string());
        if let Some(node) = self.ui.input_mut("csrf_token")
            && let app::model::NodeAttributes::Input(input) = &mut node.attributes
        {
            input.value = Some(json!(token));
        }
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }

    pub fn is_completed(&self) -> bool {
        self.state == STATE_PASSED_CHALLENGE
    }

    /// The language of the browser that started the flow: its e-mails are written in it.
    pub fn language(&self) -> app::i18n::Lang {
        self.internal
            .get(LANGUAGE)
            .and_then(Value::as_str)
            .and_then(app::i18n::Lang::parse)
            .unwrap_or_default()
    }

    /// A number kept in `internal`.
    pub fn counter(&self, key: &str) -> u64 {
        self.internal.get(key).and_then(Value::as_u64).unwrap_or(0)
    }

    /// A text kept in `internal`.
    pub fn note(&self, key: &str) -> Option<&str> {
        self.internal.get(key).and_then(Value::as_str)
    }

    /// The flow as Kratos serialises it.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "id": self.id,
            "type": self.flow_type.as_str(),
            "expires_at": timestamp(self.expires_at),
            "issued_at": timestamp(self.issued_at),
            "created_at": timestamp(self.issued_at),
            "updated_at": timestamp(self.updated_at),
            "request_url": self.request_url,
            "ui": self.ui,
            "state": self.state,
            "organization_id": null,
        });
        if let Some(return_to) = &self.return_to {
            out["return_to"] = json!(return_to);
        }
        if let Some(active) = &self.active {
            out["active"] = json!(active);
        }
        match self.kind {
            FlowKind::Login | FlowKind::Registration => {
                if self.kind == FlowKind::Login {
                    out["refresh"] = json!(self.refresh);
                    out["requested_aal"] = json!(self.requested_aal.as_str());
                }
                if let Some(request) = self.internal.get(OAUTH2_LOGIN_REQUEST) {
                    out["oauth2_login_challenge"] = request["challenge"].clone();
                    out["oauth2_login_request"] = request.clone();
                }
            }
            FlowKind::Settings | FlowKind::Recovery | FlowKind::Verification => {
                let object = out.as_object_mut();
                if let Some(object) = object {
                    object.remove("created_at");
                    object.remove("updated_at");
                    object.remove("organization_id");
                }
                if self.kind == FlowKind::Settings {
                    out["identity"] = self.identity.clone().unwrap_or(Value::Null);
                }
                if self.kind != FlowKind::Verification {
                    out["continue_with"] = self
                        .internal
                        .get("continue_with")
                        .cloned()
                        .unwrap_or_else(|| json!([]));
                }
            }
        }
        out
    }
}
