use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

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
    view! {
        <Title text="Something went wrong" />
        <section class="ward-card" data-testid="error-page">
            <h1>"Something went wrong"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || error.get().map(|result| match result {
                    Ok(Some(error)) => view! {
                        <p class="ward-message ward-message-error" data-testid="error-message">
                            {error.reason.unwrap_or(error.message)}
                        </p>
                        <p class="ward-muted" data-testid="error-code">{format!("{} {}", error.code, error.status)}</p>
                    }.into_any(),
                    _ => view! {
                        <p data-testid="error-message">"The error you are looking for does not exist (any more)."</p>
                    }.into_any(),
                })}
            </Suspense>
            <nav class="ward-links">
                <a href="/login" rel="external">"Sign in"</a>
                <a href="/welcome">"Start page"</a>
            </nav>
        </section>
    }
}
