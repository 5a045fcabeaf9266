mod flow_form;
#[cfg(feature = "ssr")]
mod layout;
mod theme_toggle;
mod webauthn;

pub use flow_form::{FlowForm, Messages};
#[cfg(feature = "ssr")]
pub use layout::Layout;
pub use theme_toggle::ThemeToggle;
