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
        <Title text=crate::i18n::t("not-found-title") />
        <section class="ward-card" data-testid="not-found">
            <h1>{crate::i18n::t("not-found-title")}</h1>
            <p>{crate::i18n::t("not-found-text")}</p>
            <a class="ward-button" href="/welcome">{crate::i18n::t("not-found-start")}</a>
        </section>
    }
}
