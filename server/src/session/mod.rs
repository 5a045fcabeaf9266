//! Sessions: the model, tokens and how a request's credentials find one.

pub mod cookie;
pub mod exchange;
pub mod handlers;
pub mod issue;

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// Authenticator assurance level.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    Aal0,
    Aal1,
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aal0 => "aal0",
            Self::Aal1 => "aal1",
            Self::Aal2 => "aal2",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "aal0" => Some(Self::Aal0),
            "aal1" => Some(Self::Aal1),
            "aal2" => Some(Self::Aal2),
            _ => None,
        }
    }
}

/// One completed authentication step of a session (reference §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationMethod {
    pub method: String,
    pub aal: Aal,
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// A device the session was used from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: Uuid,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub location: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub token_hash: String,
    pub active: bool,
    pub aal: Aal,
    pub authentication_methods: Vec<AuthenticationMethod>,
    pub devices: Vec<Device>,
    pub issued_at: OffsetDateTime,
    pub authenticated_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Session {
    /// An active first-factor session for `identity_id`, proven by `method` at `now`, known by
    /// `token` (only its hash is kept) and valid for `lifespan`.
    pub fn new(
        identity_id: Uuid,
        token: &SessionToken,
        method: &str,
        now: OffsetDateTime,
        lifespan: time::Duration,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            identity_id,
            token_hash: token.hash(),
            active: true,
            aal: Aal::Aal1,
            authentication_methods: vec![AuthenticationMethod {
                method: method.to_string(),
                aal: Aal::Aal1,
                completed_at: now,
                provider: None,
            }],
            devices: Vec::new(),
            issued_at: now,
            authenticated_at: now,
            expires_at: now + lifespan,
        }
    }

    /// The level its methods prove together: aal2 with a first and a second factor, aal1 with
    /// a first factor only (as Kratos counts).
    pub fn achieved_aal(&self) -> Aal {
        let has = |aal| {
            self.authentication_methods
                .iter()
                .any(|method| method.aal == aal)
        };
        match (has(Aal::Aal1), has(Aal::Aal2)) {
            (true, true) => Aal::Aal2,
            (false, false) => Aal::Aal0,
            _ => Aal::Aal1,
        }
    }

    /// Whether the session can be used at `now`.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.active && self.expires_at > now
    }
}

/// Where a browser proves its second factor: the aal2 login flow, then `return_to`.
pub fn step_up_url(state: &crate::state::AppState, return_to: Option<&str>) -> String {
    let mut url = state
        .urls
        .public
        .join("self-service/login/browser")
        .unwrap_or_else(|_| state.urls.public.clone());
    url.query_pairs_mut().append_pair("aal", "aal2");
    if let Some(return_to) = return_to {
        url.query_pairs_mut().append_pair("return_to", return_to);
    }
    url.to_string()
}

/// 403 `session_aal2_required`: the session lacks the second factor its identity has; the
/// body says where a browser proves it.
pub fn aal2_required(
    state: &crate::state::AppState,
    return_to: Option<&str>,
) -> axum::response::Response {
    forbidden_with_redirect(
        "session_aal2_required",
        "An active session was found but it lacks the second factor its identity has set up; \
         sign in with the second factor to continue.",
        &step_up_url(state, return_to),
    )
}

/// 403 `session_mfa_enrolment_required` (Ward only): the identity must set a second factor up
/// first; `redirect_browser_to` is the settings page, where it can.
pub fn mfa_enrolment_required(state: &crate::state::AppState) -> axum::response::Response {
    forbidden_with_redirect(
        "session_mfa_enrolment_required",
        "This account must set up a second factor before it can be used; do so in the \
         account settings.",
        &crate::flow::init_url(state, crate::flow::FlowKind::Settings),
    )
}

/// A 403 envelope with `redirect_browser_to` at the top level and in `details`, as Kratos
/// shapes its AAL errors.
pub fn forbidden_with_redirect(
    id: &'static str,
    reason: &str,
    target: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut body = crate::error::ApiError::new(axum::http::StatusCode::FORBIDDEN)
        .with_id(id)
        .with_reason(reason)
        .with_details(serde_json::json!({ "redirect_browser_to": target }))
        .body();
    body["redirect_browser_to"] = serde_json::json!(target);
    (axum::http::StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// A session token as handed to the client: `ory_st_` and 32 alphanumerics (~190 bits from the
/// OS's CSPRNG). It has no `Debug` or `Serialize`; only its hash is stored.
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        let random: String = rand::rngs::OsRng
            .sample_iter(&Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        Self(format!("ory_st_{random}"))
    }

    pub fn from_client(text: &str) -> Self {
        Self(text.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256. Tokens are long and random, so a fast hash suffices, and a lookup by hash
    /// compares no secret byte by byte.
    pub fn hash(&self) -> String {
        format!("{:x}", Sha256::digest(self.0.as_bytes()))
    }
}

/// The logout token of a session: `ory_lo_` and 32 alphanumerics derived with HMAC-SHA256 from
/// the session id under `key`. Derived rather than stored, so every page of the session offers
/// the same working sign-out link and nothing more is kept in the database.
pub fn logout_token(key: &str, session_id: Uuid) -> String {
    use hmac::{Hmac, Mac};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this branch cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(b"ward logout token\0");
    mac.update(session_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    let body: String = digest
        .iter()
        .take(32)
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect();
    format!("ory_lo_{body}")
}

/// The session token a `Cookie` header carries under `cookie_name`, if any.
pub fn token_from_cookie_header(header: &str, cookie_name: &str) -> Option<SessionToken> {
    crate::http::request::cookie_value(header, cookie_name).map(SessionToken::from_client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_prefixed() {
        let first = SessionToken::generate();
        let second = SessionToken::generate();
        assert!(first.expose().starts_with("ory_st_"));
        assert_eq!(first.expose().len(), 39);
        assert_ne!(first.expose(), second.expose());
        assert_eq!(first.hash().len(), 64);
        assert_eq!(
            first.hash(),
            SessionToken::from_client(first.expose()).hash()
        );
    }

    #[test]
    fn cookie_header_parsing() {
        let header = "theme=dark; ory_kratos_session=ory_st_abc; other=1";
        let token = token_from_cookie_header(header, "ory_kratos_session").unwrap();
        assert_eq!(token.expose(), "ory_st_abc");
        assert!(token_from_cookie_header("ory_kratos_session=", "ory_kratos_session").is_none());
        assert!(token_from_cookie_header("x_ory_kratos_session=a", "ory_kratos_session").is_none());
    }
}
