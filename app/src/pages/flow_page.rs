//! What every flow page shares: load the flow named by `?flow=` (or go and start one), then
//! render it with `FlowForm`. Pages differ only in title, heading and links.

use leptos::prelude::*;
use leptos_meta::Title;
#[cfg(not(feature = "hydrate"))]
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use crate::components::FlowForm;
use crate::i18n::{FORM_KEYS, t, t_with, texts, translate_ui};
use crate::model::{FlowPage, PageFlow};

/// Loads the flow page for the current request, with its cookies.
#[server]
pub async fn load_flow_page(
    kind: PageFlow,
    query: Vec<(String, String)>,
) -> Result<FlowPage, ServerFnError> {
    let (backend, cookie) = crate::backend::backend_and_cookies().await?;
    let id = query
        .iter()
        .find(|(key, _)| key == "flow")
        .map(|(_, value)| value.clone());
    backend
        .flow_page(kind, id.as_deref(), &query, cookie.as_deref())
        .await
        .map_err(|error| ServerFnError::new(error.to_string()))
}

#[component]
pub fn FlowScreen(
    kind: PageFlow,
    /// Catalogue keys of the page's title and heading.
    title: &'static str,
    heading: &'static str,
    /// The page's links, given the query they keep (see [`crate::model::FlowView::carry`]).
    links: fn(&str) -> AnyView,
    /// One form per node group (settings).
    #[prop(optional)]
    sections: bool,
) -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(
        move || query.get(),
        move |query| {
            let pairs: Vec<(String, String)> = query
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect();
            load_flow_page(kind, pairs)
        },
    );
    let loading = t("loading");
    let failed = t("flow-failed");
    view! {
        <Title text=t(title) />
        <section class="ward-card" data-testid=format!("{}-page", kind.as_str())>
            <h1>{t(heading)}</h1>
            <Suspense fallback=move || view! { <p>{loading.clone()}</p> }>
                {move || {
                    let failed = failed.clone();
                    page.get()
                        .map(|result| match result {
                            Ok(FlowPage::Show(mut flow)) => {
                                translate_ui(&mut flow.ui);
                                let texts = texts(FORM_KEYS);
                                let client = flow.client_name.map(|client| view! {
                                    <p class="ward-identifier ward-muted" data-testid="oauth2-client">
                                        {t_with("flow-for-client", &[("client", &client)])}
                                    </p>
                                });
                                match flow.sign_out_url {
                                Some(url) => view! {
                                    {client}
                                    <FlowForm ui=flow.ui sections texts />
                                    <nav class="ward-links">
                                        <a href=url rel="external" data-testid="sign-out">{t("sign-out")}</a>
                                    </nav>
                                }
                                    .into_any(),
                                None => view! {
                                    {client}
                                    <FlowForm ui=flow.ui sections texts />
                                    <nav class="ward-links">{links(&flow.carry)}</nav>
                                }
                                    .into_any(),
                            }},
                            Ok(FlowPage::Redirect(url)) => view! { <ExternalRedirect url /> }.into_any(),
                            Err(_) => view! {
                                <p class="ward-message ward-message-error" data-testid="flow-error">
                                    {failed}
                                </p>
                            }
                                .into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

/// Sends the browser to a URL on another listener (the public API): an HTTP redirect while
/// rendering on the server, a full page load after hydration.
#[component]
fn ExternalRedirect(url: String) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(&url);
        ().into_any()
    }
    #[cfg(not(feature = "hydrate"))]
    view! { <Redirect path=url /> }.into_any()
}
