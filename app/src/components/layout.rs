use leptos::prelude::*;

use super::ThemeToggle;

/// The frame of every page: product name, theme switch, the page, a footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <div class="ward-page">
            <header class="ward-header">
                <a class="ward-brand" href="/welcome">
                    <img class="ward-logo" src="/logo.svg" alt="" width="28" height="28" />
                    <span class="ward-product">"Ward"</span>
                </a>
                <ThemeToggle />
            </header>
            <main class="ward-main">{children()}</main>
            <footer class="ward-footer">
                <span>"Secured by Ward"</span>
            </footer>
        </div>
    }
}
