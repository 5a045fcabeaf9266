mod layout;
mod theme_toggle;

pub use layout::Layout;
pub use theme_toggle::ThemeToggle;
