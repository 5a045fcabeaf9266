//! The flow object every self-service flow shares (reference §2).

use app::model::UiContainer;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::timestamp;
use crate::session::Aal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    Login,
    Registration,
}

impl FlowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Registration => "registration",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "login" => Some(Self::Login),
            "registration" => Some(Self::Registration),
            _ => None,
        }
    }

    /// Message id of "this flow expired" for the kind.
    pub fn expired_message(self) -> u32 {
        match self {
            Self::Login => 4010001,
            Self::Registration => 4040001,
        }
    }

    /// Message id of "no strategy handles this method" for the kind.
    pub fn no_strategy_message(self) -> u32 {
        match self {
            Self::Login => 4010002,
            Self::Registration => 4010003,
        }
    }

    /// Message id of "this flow was already completed" for the kind.
    pub fn completed_message(self) -> u32 {
        match self {
            Self::Login => 4010007,
            Self::Registration => 4040002,
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
pub const STATE_PASSED_CHALLENGE: &str = "passed_challenge";

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
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Flow {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }

    pub fn is_completed(&self) -> bool {
        self.state == STATE_PASSED_CHALLENGE
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
        if self.kind == FlowKind::Login {
            out["refresh"] = json!(self.refresh);
            out["requested_aal"] = json!(self.requested_aal.as_str());
        }
        out
    }
}
