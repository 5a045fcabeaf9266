mod error;
mod flow_page;
mod login;
mod not_found;
mod recovery;
mod registration;
mod settings;
mod verification;
mod welcome;

pub use error::Error;
pub use login::Login;
pub use not_found::NotFound;
pub use recovery::Recovery;
pub use registration::Registration;
pub use settings::Settings;
pub use verification::Verification;
pub use welcome::Welcome;
