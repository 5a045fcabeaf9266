use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::i18n::t;
use crate::model::ErrorView;

#[server]
pub async fn load_error(id: String) -> Result<Option<ErrorView>, ServerFnError> {
    let backend = use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the identity backend is not available"))?;
    backend
        .error(&id)
        .await
        .map_err(|error| ServerFnError::new(error.to_string()))
}

/// Errors that could not be shown on a form (`/error?id=`).
#[component]
pub fn Error() -> impl IntoView {
    let query = use_query_map();
    let error = Resource::new(
        move || query.get().get("id").unwrap_or_default(),
        |id| async move {
            if id.is_empty() {
                Ok(None)
            } else {
                load_error(id).await
            }
        },
    );
    let loading = t("loading");
    let missing = t("error-missing");
    view! {
        <Title text=t("error-title") />
        <section class="ward-card" data-testid="error-page">
            <h1>{t("error-title")}</h1>
            <Suspense fallback=move || view! { <p>{loading.clone()}</p> }>
                {move || { let missing = missing.clone(); error.get().map(|result| match result {
                    Ok(Some(error)) => view! {
                        <p class="ward-message ward-message-error" data-testid="error-message">
                            {error.reason.unwrap_or(error.message)}
                        </p>
                        <p class="ward-muted" data-testid="error-code">{format!("{} {}", error.code, error.status)}</p>
                    }.into_any(),
                    _ => view! {
                        <p data-testid="error-message">{missing}</p>
                    }.into_any(),
                })}}
            </Suspense>
            <nav class="ward-links">
                <a href="/login" rel="external">{t("sign-in")}</a>
                <a href="/welcome">{t("error-start-page")}</a>
            </nav>
        </section>
    }
}
