use leptos::prelude::*;

use super::ThemeToggle;

/// The frame of every page: product name, theme switch, the page, a footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let branding = crate::branding::use_branding();
    let product = branding.product_name.clone();
    view! {
        <div class="ward-page">
            <header class="ward-header">
                <a class="ward-brand" href="/welcome">
                    <img class="ward-logo" src=branding.logo_src alt="" height="28" />
                    <span class="ward-product" data-testid="product-name">{branding.product_name}</span>
                </a>
                <ThemeToggle />
            </header>
            <main class="ward-main">{children()}</main>
            <footer class="ward-footer">
                <span>{format!("Secured by {product}")}</span>
            </footer>
        </div>
    }
}
