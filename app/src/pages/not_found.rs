use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for every path no page claims; the server answers it with status 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found" />
        <section class="ward-card" data-testid="not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <a class="ward-button" href="/welcome">"Go to the start page"</a>
        </section>
    }
}
