//! Ward's self-service pages. Compiled twice: with `ssr` into the server, which renders them,
//! and with `hydrate` into the wasm bundle. Pages are plain server-rendered HTML that works
//! without JavaScript; only the islands (`#[island]`: the flow form and the theme toggle) are
//! shipped to the browser and hydrated, which keeps the bundle small.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "ssr")]
pub mod backend;
pub mod branding;
pub mod components;
pub mod i18n;
pub mod messages;
pub mod model;
// Pages render on the server only; the browser hydrates just the islands among them.
#[cfg(feature = "ssr")]
pub mod pages;

#[cfg(feature = "ssr")]
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use leptos_meta::{MetaTags, Title, provide_meta_context};
#[cfg(feature = "ssr")]
use leptos_router::components::{Redirect, Route, Router, Routes};
#[cfg(feature = "ssr")]
use leptos_router::{SsrMode, path};

#[cfg(feature = "ssr")]
use components::Layout;
#[cfg(feature = "ssr")]
use pages::{
    Consent, Error, Login, Mailbox, NotFound, Recovery, Registration, Sessions, Settings,
    Verification, Welcome,
};

/// The browser entry point: hydrates the islands of the server-rendered page.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}

/// The stem of the site's bundle files: `ward.js`, `ward.wasm`, `ward.css`, served under
/// `LeptosOptions::site_pkg_dir`.
pub const OUTPUT_NAME: &str = "ward";

/// The HTML document around every page, in the request's language.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let stylesheet = format!("/{}/{OUTPUT_NAME}.css", options.site_pkg_dir);
    let branding = branding::use_branding();
    branding::send_page_policy();
    let lang = i18n::provide_request_lang();
    view! {
        <!DOCTYPE html>
        <html lang=lang.tag()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href=branding.favicon_src />
                <link rel="stylesheet" id="ward-theme" href=stylesheet />
                {branding.stylesheet.map(|href| view! { <link rel="stylesheet" href=href /> })}
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[cfg(feature = "ssr")]
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let product = branding::use_branding().product_name;
    view! {
        <Title formatter=move |page: String| format!("{page} · {product}") />
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=|| view! { <Redirect path="/welcome" /> } />
                    // Pages render whole before the first byte (SsrMode::Async): they must work without
                    // JavaScript, and out-of-order streaming needs it to put resolved parts in place.
                    <Route path=path!("/welcome") view=Welcome ssr=SsrMode::Async />
                    <Route path=path!("/login") view=Login ssr=SsrMode::Async />
                    <Route path=path!("/registration") view=Registration ssr=SsrMode::Async />
                    <Route path=path!("/error") view=Error ssr=SsrMode::Async />
                    <Route path=path!("/consent") view=Consent ssr=SsrMode::Async />
                    <Route path=path!("/settings") view=Settings ssr=SsrMode::Async />
                    <Route path=path!("/recovery") view=Recovery ssr=SsrMode::Async />
                    <Route path=path!("/verification") view=Verification ssr=SsrMode::Async />
                    <Route path=path!("/sessions") view=Sessions ssr=SsrMode::Async />
                    <Route path=path!("/dev/mailbox") view=Mailbox ssr=SsrMode::Async />
                </Routes>
            </Layout>
        </Router>
    }
}
