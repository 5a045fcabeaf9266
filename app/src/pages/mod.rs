mod error;
mod flow_page;
mod login;
mod not_found;
mod registration;
mod welcome;

pub use error::Error;
pub use login::Login;
pub use not_found::NotFound;
pub use registration::Registration;
pub use welcome::Welcome;
