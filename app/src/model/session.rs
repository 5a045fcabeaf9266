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
