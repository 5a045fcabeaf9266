//! The port through which pages reach the identity engine during server rendering. The server
//! implements it in-process; another implementation could talk to a Kratos-compatible API.

use std::sync::Arc;

use crate::model::SessionView;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The active session the request's cookies carry, if any.
    async fn whoami(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<SessionView>, BackendError>;
}

/// The backend could not answer (its cause is logged where it happened, never shown).
#[derive(Debug, Clone, Copy)]
pub struct BackendError;

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the identity backend is unavailable")
    }
}

impl std::error::Error for BackendError {}

/// How the backend is stored in the Leptos context.
pub type SharedBackend = Arc<dyn Backend>;
