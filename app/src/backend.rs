//! The port through which pages reach the identity engine during server rendering. The server
//! implements it in-process; another implementation could talk to a Kratos-compatible API.

use std::sync::Arc;

use crate::model::SessionView;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The active session the request's cookies carry, if any.
    async fn whoami(&self, cookie_header: Option<&str>) -> Option<SessionView>;
}

/// How the backend is stored in the Leptos context.
pub type SharedBackend = Arc<dyn Backend>;
