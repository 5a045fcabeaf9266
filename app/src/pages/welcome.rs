use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::{t, t_with};
use crate::model::SessionView;

/// The session the browser's cookies carry, resolved by the server.
#[server]
pub async fn current_session() -> Result<Option<SessionView>, ServerFnError> {
    let (backend, cookie) = crate::backend::backend_and_cookies().await?;
    backend
        .whoami(cookie.as_deref())
        .await
        .map_err(|error| ServerFnError::new(error.to_string()))
}

/// The start page: who is signed in, or that nobody is.
#[component]
pub fn Welcome() -> impl IntoView {
    let session = Resource::new(|| (), |_| current_session());
    let product = crate::branding::use_branding().product_name;
    let loading = t("loading");
    let failed = t("welcome-failed");
    view! {
        <Title text=t("welcome-title") />
        <section class="ward-card" data-testid="welcome">
            <h1>{t_with("welcome-heading", &[("product", &product)])}</h1>
            <Suspense fallback=move || view! { <p>{loading.clone()}</p> }>
                {move || {
                    let failed = failed.clone();
                    session
                        .get()
                        .map(|result| match result {
                            Ok(Some(session)) => view! { <SignedIn session /> }.into_any(),
                            Ok(None) => view! { <SignedOut /> }.into_any(),
                            Err(_) => {
                                view! {
                                    <p class="ward-message ward-message-error" data-testid="session-error">
                                        {failed}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn SignedIn(session: SessionView) -> impl IntoView {
    let traits = serde_json::to_string_pretty(&session.traits).unwrap_or_default();
    view! {
        <p data-testid="session-status">
            {t_with("welcome-signed-in", &[("name", &session.display_name())])}
        </p>
        <details class="ward-details">
            <summary>{t("welcome-profile")}</summary>
            <pre data-testid="session-traits">{traits}</pre>
        </details>
        <nav class="ward-links">
            <a class="ward-button" href=session.logout_url rel="external" data-testid="sign-out">{t("sign-out")}</a>
            <a href="/settings" rel="external" data-testid="settings">{t("account-settings")}</a>
        </nav>
    }
}

#[component]
fn SignedOut() -> impl IntoView {
    view! {
        <p data-testid="session-status">{t("welcome-signed-out")}</p>
        <nav class="ward-links">
            <a class="ward-button" href="/login" rel="external" data-testid="sign-in">{t("sign-in")}</a>
            <a href="/registration" rel="external" data-testid="sign-up">{t("welcome-create-account")}</a>
        </nav>
    }
}
