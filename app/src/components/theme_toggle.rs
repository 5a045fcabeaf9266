use leptos::prelude::*;

/// Switches between light and dark. Without JavaScript the page follows the system setting
/// (`prefers-color-scheme`); once hydrated, this button overrides it and remembers the choice.
#[island]
pub fn ThemeToggle(texts: crate::i18n::Texts) -> impl IntoView {
    let label = texts.get("theme-switch");
    let (theme, set_theme) = signal(None::<String>);

    Effect::new(move |_| {
        if let Some(saved) = stored_theme() {
            apply_theme(&saved);
            set_theme.set(Some(saved));
        }
    });

    let toggle = move |_| {
        let next = match theme.get().as_deref() {
            Some("dark") => "light",
            Some("light") => "dark",
            _ if prefers_dark() => "light",
            _ => "dark",
        };
        apply_theme(next);
        store_theme(next);
        set_theme.set(Some(next.to_string()));
    };

    view! {
        <button
            type="button"
            class="ward-theme-toggle"
            data-testid="theme-toggle"
            aria-label=label
            on:click=toggle
        >
            {move || match theme.get().as_deref() {
                Some("dark") => texts.get("theme-light"),
                Some("light") => texts.get("theme-dark"),
                _ => texts.get("theme-system"),
            }}
        </button>
    }
}

#[cfg(feature = "hydrate")]
fn document_element() -> Option<web_sys::Element> {
    web_sys::window()?.document()?.document_element()
}

#[cfg(feature = "hydrate")]
fn apply_theme(theme: &str) {
    if let Some(root) = document_element() {
        root.set_attribute("data-theme", theme).ok();
    }
}

#[cfg(feature = "hydrate")]
fn stored_theme() -> Option<String> {
    let storage = web_sys::window()?.local_storage().ok()??;
    storage
        .get_item("ward-theme")
        .ok()?
        .filter(|theme| theme == "light" || theme == "dark")
}

#[cfg(feature = "hydrate")]
fn store_theme(theme: &str) {
    if let Some(Ok(Some(storage))) = web_sys::window().map(|window| window.local_storage()) {
        storage.set_item("ward-theme", theme).ok();
    }
}

#[cfg(feature = "hydrate")]
fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|window| {
            window
                .match_media("(prefers-color-scheme: dark)")
                .ok()
                .flatten()
        })
        .is_some_and(|query| query.matches())
}

// On the server nothing of this runs: effects and event handlers exist only in the browser.
#[cfg(not(feature = "hydrate"))]
fn apply_theme(_theme: &str) {}

#[cfg(not(feature = "hydrate"))]
fn stored_theme() -> Option<String> {
    None
}

#[cfg(not(feature = "hydrate"))]
fn store_theme(_theme: &str) {}

#[cfg(not(feature = "hydrate"))]
fn prefers_dark() -> bool {
    false
}
