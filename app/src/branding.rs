//! What the operator set about the pages' look (`ui.branding`, `ui.theme`), and the
//! Content-Security-Policy that keeps the pages to Ward's own origin and what that names.

use leptos::prelude::*;

/// Provided by the server to every page.
#[derive(Debug, Clone, PartialEq)]
pub struct Branding {
    /// In the header, the footer and every page title.
    pub product_name: String,
    pub logo_src: String,
    pub favicon_src: String,
    /// The operator's stylesheet (design tokens and their own rules), after the built-in one.
    pub stylesheet: Option<String>,
    pub policy: PagePolicy,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "Ward".into(),
            logo_src: "/logo.svg".into(),
            favicon_src: "/favicon.svg".into(),
            stylesheet: None,
            policy: PagePolicy::default(),
        }
    }
}

/// How far the pages may reach beyond Ward's own origin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PagePolicy {
    /// Origins images may come from besides Ward's (a logo configured by URL).
    pub image_origins: Vec<String>,
    /// Origins that may show the pages in a frame (`ui.frame_ancestors`); none when empty.
    pub frame_ancestors: Vec<String>,
}

impl PagePolicy {
    /// The header value. Scripts run from Ward's origin and inline only with this response's
    /// `nonce` (the hydration bootstrap); `wasm-unsafe-eval` lets the islands' wasm compile.
    /// Images may be `data:` URLs (QR codes for authenticator apps).
    pub fn header(&self, nonce: Option<&str>, more_images: &[String]) -> String {
        let nonce = nonce
            .map(|nonce| format!(" 'nonce-{nonce}'"))
            .unwrap_or_default();
        let images: Vec<&str> = ["'self'", "data:"]
            .into_iter()
            .chain(self.image_origins.iter().map(String::as_str))
            .chain(more_images.iter().map(String::as_str))
            .collect();
        let ancestors = if self.frame_ancestors.is_empty() {
            "'none'".to_string()
        } else {
            self.frame_ancestors.join(" ")
        };
        format!(
            "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
             img-src {}; object-src 'none'; base-uri 'none'; frame-ancestors {ancestors}",
            images.join(" ")
        )
    }
}

/// The branding of this page (Ward's own when none was provided).
pub fn use_branding() -> Branding {
    use_context::<Branding>().unwrap_or_default()
}

#[cfg(feature = "ssr")]
mod policy {
    use std::sync::{Arc, Mutex};

    use leptos::prelude::*;

    /// Image origins one page adds to the policy (the consent page's client logo).
    #[derive(Clone, Default)]
    struct MoreImages(Arc<Mutex<Vec<String>>>);

    /// Sends this page's Content-Security-Policy; call once, from the document shell.
    pub fn send_page_policy() {
        provide_context(MoreImages::default());
        write_header();
    }

    /// Lets this page show an image from `origin` (`scheme://host[:port]`).
    pub fn allow_image_origin(origin: String) {
        if let Some(MoreImages(more)) = use_context::<MoreImages>() {
            if let Ok(mut more) = more.lock() {
                more.push(origin);
            }
            write_header();
        }
    }

    fn write_header() {
        let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        let more = use_context::<MoreImages>()
            .and_then(|MoreImages(more)| more.lock().ok().map(|more| more.clone()))
            .unwrap_or_default();
        let nonce = leptos::nonce::use_nonce();
        let value = super::use_branding().policy.header(nonce.as_deref(), &more);
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

#[cfg(feature = "ssr")]
pub use policy::{allow_image_origin, send_page_policy};

/// Without a server there is no header to write.
#[cfg(not(feature = "ssr"))]
pub fn allow_image_origin(_origin: String) {}
