//! Wire types shared by the engine and the pages.

mod session;
pub mod ui;

pub use session::{DeviceSessionView, MailView, SessionView, SessionsView};
pub use ui::{
    AnchorAttributes, InputAttributes, MessageType, NodeAttributes, NodeGroup, NodeMeta,
    UiContainer, UiNode, UiText,
};

/// The flows the pages render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PageFlow {
    Login,
    Registration,
    Settings,
    Recovery,
    Verification,
}

impl PageFlow {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Registration => "registration",
            Self::Settings => "settings",
            Self::Recovery => "recovery",
            Self::Verification => "verification",
        }
    }
}

/// What a flow page shows: the flow, or where the browser must go instead (no flow yet, or an
/// unknown, expired or foreign one: the browser starts a new flow).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FlowPage {
    Show(FlowView),
    Redirect(String),
}

/// An application's request to the OpenID Connect provider, waiting for the user's consent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConsentView {
    pub challenge: String,
    pub csrf_token: String,
    /// Where the form posts (`/oauth2/auth/consent` on the public listener).
    pub action: String,
    pub client_name: String,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// The requested scopes.
    pub scopes: Vec<String>,
    /// Who is signed in (an e-mail address or the identity id).
    pub account: String,
}

/// An error stored for the error page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ErrorView {
    pub code: u16,
    pub status: String,
    pub reason: Option<String>,
    pub message: String,
}

/// What a page needs to render a flow: its id, the form, and where it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlowView {
    pub id: String,
    pub ui: UiContainer,
    pub return_to: Option<String>,
    /// Login: whether this is a re-authentication of a signed-in user.
    pub refresh: bool,
    /// Set on flows that continue a signed-in session (the second factor after the password):
    /// the way back is signing out, not the page's usual links.
    pub sign_out_url: Option<String>,
    /// What the page's links to the other sign-in pages keep, as a query (`?...`, or empty):
    /// the OAuth2 request the flow signs in for (`login_challenge`), else its `return_to`.
    pub carry: String,
    /// Signing in or up for an OAuth2 request: the application's name.
    pub client_name: Option<String>,
}
