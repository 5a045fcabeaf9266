mod flow_form;
mod layout;
mod theme_toggle;
mod webauthn;

pub use flow_form::{FlowForm, Messages};
pub use layout::Layout;
pub use theme_toggle::ThemeToggle;
