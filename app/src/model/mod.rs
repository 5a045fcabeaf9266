//! Wire types shared by the engine and the pages.

mod session;
pub mod ui;

pub use session::SessionView;
pub use ui::{
    AnchorAttributes, InputAttributes, MessageType, NodeAttributes, NodeGroup, NodeMeta,
    UiContainer, UiNode, UiText,
};

/// What a page needs to render a flow: its id, the form, and where it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlowView {
    pub id: String,
    pub ui: UiContainer,
    pub return_to: Option<String>,
    /// Login: whether this is a re-authentication of a signed-in user.
    pub refresh: bool,
}
