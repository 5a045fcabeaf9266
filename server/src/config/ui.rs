//! `ui`: Ward only. How the self-service pages look (`branding`, `theme`) and which sites may
//! show them in a frame. Checked and loaded at start by `http::theme`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UiConfig {
    pub branding: Branding,
    pub theme: ThemeConfig,
    /// Origins allowed to embed the pages in a frame (`https://app.example.com`); none when
    /// empty, which is the safe default against clickjacking.
    pub frame_ancestors: Vec<String>,
}

/// `ui.branding`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Branding {
    /// Replaces "Ward" in the header, the footer and page titles.
    pub product_name: String,
    /// The header's logo: `file://` or `base64://` (served by the UI listener) or `https://`
    /// (the browser loads it from there; the pages' policy allows that origin for images).
    pub logo_url: Option<String>,
    /// The favicon, from the same kinds of URL.
    pub favicon_url: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "Ward".into(),
            logo_url: None,
            favicon_url: None,
        }
    }
}

/// `ui.theme`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ThemeConfig {
    /// Design tokens by name (`color-accent`, `radius`, ...): each sets the CSS variable
    /// `--ward-<name>`; a colour's `<name>-dark` sets its value in the dark scheme.
    pub tokens: Option<BTreeMap<String, String>>,
    /// A stylesheet (`file://` or `base64://`) the UI listener serves after the built-in one.
    pub stylesheet_url: Option<String>,
}

/// The bytes a `file://` or `base64://` URL holds; `None` for any other kind of URL.
pub fn read_local_url(url: &str) -> Option<Result<Vec<u8>, String>> {
    use base64::Engine as _;
    if let Some(path) = url.strip_prefix("file://") {
        return Some(
            std::fs::read(std::path::Path::new(path))
                .map_err(|error| format!("cannot read {path}: {error}")),
        );
    }
    let encoded = url.strip_prefix("base64://")?.trim();
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
            .map_err(|error| format!("the base64:// payload does not decode: {error}")),
    )
}
