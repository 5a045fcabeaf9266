//! The session as the pages see it.

use serde::{Deserialize, Serialize};

/// The signed-in session as the pages need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub identity_id: String,
    pub traits: serde_json::Value,
    pub authenticated_at: String,
    pub expires_at: String,
    /// Visiting this URL signs the session out.
    pub logout_url: String,
}

impl SessionView {
    /// The name to greet: the e-mail trait if there is one, else the identity id.
    pub fn display_name(&self) -> String {
        self.traits
            .get("email")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| self.identity_id.clone())
    }
}

/// One of the caller's sessions on the sessions page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeviceSessionView {
    pub id: String,
    /// The session this browser is using.
    pub current: bool,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub authenticated_at: String,
    pub expires_at: String,
}

/// The caller's active sessions, with the token that authorises revoking them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionsView {
    pub sessions: Vec<DeviceSessionView>,
    pub csrf_token: String,
}

/// A message in the dev mailbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MailView {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub created_at: String,
}
