use leptos::prelude::*;

use super::ThemeToggle;
use crate::i18n::{THEME_KEYS, language_links, t, t_with, texts, use_lang};

/// The frame of every page: product name, theme switch, the page, a footer with the language
/// picker (plain links, so it works without JavaScript).
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let branding = crate::branding::use_branding();
    let secured_by = t_with("layout-secured-by", &[("product", &branding.product_name)]);
    let current = use_lang();
    let languages = language_links()
        .into_iter()
        .map(|(lang, name, href)| {
            view! {
                <a
                    href=href
                    hreflang=lang.tag()
                    lang=lang.tag()
                    aria-current=(lang == current).then_some("true")
                    data-testid=format!("language-{}", lang.tag())
                >
                    {name}
                </a>
            }
        })
        .collect_view();
    view! {
        <div class="ward-page">
            <header class="ward-header">
                <a class="ward-brand" href="/welcome">
                    <img class="ward-logo" src=branding.logo_src alt="" height="28" />
                    <span class="ward-product" data-testid="product-name">{branding.product_name}</span>
                </a>
                <ThemeToggle texts=texts(THEME_KEYS) />
            </header>
            <main class="ward-main">{children()}</main>
            <footer class="ward-footer">
                <span>{secured_by}</span>
                <nav class="ward-languages" aria-label=t("layout-language") data-testid="languages">
                    {languages}
                </nav>
            </footer>
        </div>
    }
}
