//! The caller's sessions: where and when each began, and buttons that end them. The buttons
//! are plain forms, so they work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::{t, t_with};
use crate::model::{DeviceSessionView, SessionsView};

#[server]
pub async fn load_sessions() -> Result<Option<SessionsView>, ServerFnError> {
    let (backend, cookie) = crate::backend::backend_and_cookies().await?;
    backend
        .sessions(cookie.as_deref())
        .await
        .map_err(|error| ServerFnError::new(error.to_string()))
}

/// Ends the session `id`, or every other session when `id` is absent.
#[server]
pub async fn revoke_sessions(
    csrf_token: String,
    id: Option<String>,
) -> Result<bool, ServerFnError> {
    let (backend, cookie) = crate::backend::backend_and_cookies().await?;
    let revoked = backend
        .revoke_sessions(cookie.as_deref(), &csrf_token, id.as_deref())
        .await
        .map_err(|error| ServerFnError::new(error.to_string()))?;
    // The form is a plain POST: back to the list. (Leptos would go back by the `Referer`,
    // which the pages never send: see `http::browser_headers`.)
    leptos_axum::redirect("/sessions");
    Ok(revoked)
}

#[component]
pub fn Sessions() -> impl IntoView {
    let revoke = ServerAction::<RevokeSessions>::new();
    let sessions = Resource::new(move || revoke.version().get(), |_| load_sessions());
    view! {
        <Title text=t("your-sessions") />
        <section class="ward-card" data-testid="sessions-page">
            <h1>{t("your-sessions")}</h1>
            <Suspense fallback=|| view! { <p>{t("loading")}</p> }>
                {move || {
                    sessions
                        .get()
                        .map(|result| match result {
                            Ok(Some(view)) => view! { <SessionList view revoke /> }.into_any(),
                            Ok(None) => view! {
                                <p data-testid="session-status">{t("welcome-signed-out")}</p>
                                <a class="ward-button" href="/login" rel="external">{t("sign-in")}</a>
                            }
                                .into_any(),
                            Err(_) => view! {
                                <p class="ward-message ward-message-error" data-testid="sessions-error">
                                    {t("sessions-failed")}
                                </p>
                            }
                                .into_any(),
                        })
                }}
            </Suspense>
            <nav class="ward-links">
                <a href="/settings" rel="external" data-testid="link-settings">{t("account-settings")}</a>
            </nav>
        </section>
    }
}

#[component]
fn SessionList(view: SessionsView, revoke: ServerAction<RevokeSessions>) -> impl IntoView {
    let others = view
        .sessions
        .iter()
        .filter(|session| !session.current)
        .count();
    let csrf = view.csrf_token.clone();
    view! {
        <ul class="ward-sessions" data-testid="session-list">
            {view
                .sessions
                .into_iter()
                .map(|session| view! { <SessionItem session csrf=csrf.clone() revoke /> })
                .collect_view()}
        </ul>
        {(others > 0)
            .then(|| {
                view! {
                    <ActionForm action=revoke>
                        <input type="hidden" name="csrf_token" value=view.csrf_token.clone() />
                        <button type="submit" class="ward-button" data-testid="revoke-all">
                            {t("sessions-revoke-others")}
                        </button>
                    </ActionForm>
                }
            })}
    }
}

#[component]
fn SessionItem(
    session: DeviceSessionView,
    csrf: String,
    revoke: ServerAction<RevokeSessions>,
) -> impl IntoView {
    let device = session
        .user_agent
        .clone()
        .unwrap_or_else(|| t("sessions-unknown-device"));
    let address = session.ip_address.clone().unwrap_or_default();
    let test_id = format!("session-{}", session.id);
    view! {
        <li class="ward-session" data-testid=test_id>
            <strong>{device}</strong>
            <span class="ward-session-meta">
                {t_with("sessions-signed-in-at", &[("address", &address), ("at", &session.authenticated_at)])}
            </span>
            {if session.current {
                view! { <em data-testid="current-session">{t("sessions-this-device")}</em> }.into_any()
            } else {
                view! {
                    <ActionForm action=revoke>
                        <input type="hidden" name="csrf_token" value=csrf />
                        <input type="hidden" name="id" value=session.id.clone() />
                        <button type="submit" class="ward-button ward-button-small" data-testid="revoke-session">{t("sign-out")}</button>
                    </ActionForm>
                }
                    .into_any()
            }}
        </li>
    }
}
