//! The port through which pages reach the identity engine during server rendering. The server
//! implements it in-process; another implementation could talk to a Kratos-compatible API.

use std::sync::Arc;

use crate::model::{ErrorView, FlowPage, MailView, PageFlow, SessionView, SessionsView};

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The active session the request's cookies carry, if any.
    async fn whoami(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<SessionView>, BackendError>;

    /// The flow `id` of `kind` for the browser with these cookies; without a usable id, where
    /// to start a new flow. `query` carries `return_to`, `refresh` and `aal` along.
    async fn flow_page(
        &self,
        kind: PageFlow,
        id: Option<&str>,
        query: &[(String, String)],
        cookie_header: Option<&str>,
    ) -> Result<FlowPage, BackendError>;

    /// A stored self-service error.
    async fn error(&self, id: &str) -> Result<Option<ErrorView>, BackendError>;

    /// The caller's active sessions; `None` without a session.
    async fn sessions(
        &self,
        cookie_header: Option<&str>,
    ) -> Result<Option<SessionsView>, BackendError>;

    /// Ends one of the caller's other sessions (`id`), or all of them (`None`). `csrf_token`
    /// must be the one the sessions page was rendered with. Returns whether anything was done.
    async fn revoke_sessions(
        &self,
        cookie_header: Option<&str>,
        csrf_token: &str,
        id: Option<&str>,
    ) -> Result<bool, BackendError>;

    /// The authorization request `challenge` waiting for consent in the browser with these
    /// cookies; `None` when there is none (expired, finished, another browser's).
    async fn consent(
        &self,
        challenge: &str,
        cookie_header: Option<&str>,
    ) -> Result<Option<crate::model::ConsentView>, BackendError>;

    /// The newest messages of the dev mailbox; `None` outside development mode.
    async fn mailbox(&self) -> Result<Option<Vec<MailView>>, BackendError>;
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

/// Inside a server function: the backend and the request's `Cookie` header.
pub async fn backend_and_cookies()
-> Result<(SharedBackend, Option<String>), leptos::prelude::ServerFnError> {
    use leptos::prelude::{ServerFnError, use_context};
    let backend = use_context::<SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the identity backend is not available"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    let cookies = headers
        .get(http::header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    Ok((backend, cookies))
}
