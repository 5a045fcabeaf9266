//! The operator's branding and theme (`ui.branding`, `ui.theme`): checked and loaded once at
//! start, then served by the UI listener under `/theme/`, each file under a name that changes
//! with its content, so browsers may keep it for good.

use std::collections::BTreeMap;

use app::branding::{Branding, PagePolicy};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, UiConfig, read_local_url};

/// The built-in design tokens: every `--ward-<name>: <value>;` of this file.
const TOKENS_CSS: &str = include_str!("../../../style/tokens.css");

pub struct Theme {
    branding: Branding,
    files: Vec<ThemeFile>,
}

struct ThemeFile {
    path: String,
    content_type: &'static str,
    body: Bytes,
}

impl Theme {
    pub fn load(config: &UiConfig) -> Result<Self, ConfigError> {
        let mut files = Vec::new();
        let mut policy = PagePolicy {
            image_origins: Vec::new(),
            frame_ancestors: frame_ancestors(&config.frame_ancestors)?,
        };
        let mut branding = Branding {
            product_name: config.branding.product_name.trim().to_string(),
            ..Branding::default()
        };
        if branding.product_name.is_empty() {
            return Err(ConfigError::invalid(
                "ui.branding.product_name",
                "must not be empty",
            ));
        }
        for (key, url, stem, src) in [
            (
                "ui.branding.logo_url",
                &config.branding.logo_url,
                "logo",
                &mut branding.logo_src,
            ),
            (
                "ui.branding.favicon_url",
                &config.branding.favicon_url,
                "favicon",
                &mut branding.favicon_src,
            ),
        ] {
            if let Some(url) = url {
                *src = image(key, url, stem, &mut files, &mut policy.image_origins)?;
            }
        }
        let mut css = match &config.theme.tokens {
            Some(tokens) if !tokens.is_empty() => token_css(tokens)?,
            _ => String::new(),
        };
        if let Some(url) = &config.theme.stylesheet_url {
            let key = "ui.theme.stylesheet_url";
            let bytes = read_local_url(url)
                .ok_or_else(|| ConfigError::invalid(key, "use a file:// or base64:// URL"))?
                .map_err(|message| ConfigError::invalid(key, message))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| ConfigError::invalid(key, "is not UTF-8 text"))?;
            css.push_str(&text);
        }
        if !css.is_empty() {
            let body = Bytes::from(css);
            let path = format!("/theme/theme-{}.css", short_hash(&body));
            branding.stylesheet = Some(path.clone());
            files.push(ThemeFile {
                path,
                content_type: "text/css; charset=utf-8",
                body,
            });
        }
        branding.policy = policy;
        Ok(Self { branding, files })
    }

    pub fn branding(&self) -> &Branding {
        &self.branding
    }

    /// The theme file at `path`, if it is one.
    pub fn serve(&self, path: &str) -> Option<Response> {
        let file = self.files.iter().find(|file| file.path == path)?;
        Some(
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(file.content_type),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=31536000, immutable"),
                    ),
                ],
                file.body.clone(),
            )
                .into_response(),
        )
    }
}

/// A logo or favicon: served from here when the URL holds it (`file://`, `base64://`), else
/// loaded by the browser from its `https://` origin, which the pages' policy then allows.
fn image(
    key: &str,
    url: &str,
    stem: &str,
    files: &mut Vec<ThemeFile>,
    origins: &mut Vec<String>,
) -> Result<String, ConfigError> {
    if let Some(bytes) = read_local_url(url) {
        let body = Bytes::from(bytes.map_err(|message| ConfigError::invalid(key, message))?);
        let (extension, content_type) = image_type(&body).ok_or_else(|| {
            ConfigError::invalid(key, "is not an SVG, PNG, JPEG, GIF, WebP or ICO image")
        })?;
        let path = format!("/theme/{stem}-{}.{extension}", short_hash(&body));
        files.push(ThemeFile {
            path: path.clone(),
            content_type,
            body,
        });
        return Ok(path);
    }
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|parsed| matches!(parsed.scheme(), "https" | "http") && parsed.has_host())
        .ok_or_else(|| ConfigError::invalid(key, "use an https://, file:// or base64:// URL"))?;
    origins.push(parsed.origin().ascii_serialization());
    Ok(parsed.to_string())
}

/// What an image file is, by its first bytes.
fn image_type(body: &[u8]) -> Option<(&'static str, &'static str)> {
    let text_start = String::from_utf8_lossy(&body[..body.len().min(512)]).to_string();
    let text_start = text_start.trim_start();
    Some(if body.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("png", "image/png")
    } else if body.starts_with(&[0xff, 0xd8, 0xff]) {
        ("jpg", "image/jpeg")
    } else if body.starts_with(b"GIF8") {
        ("gif", "image/gif")
    } else if body.len() > 12 && body.starts_with(b"RIFF") && &body[8..12] == b"WEBP" {
        ("webp", "image/webp")
    } else if body.starts_with(&[0, 0, 1, 0]) {
        ("ico", "image/x-icon")
    } else if text_start.starts_with("<svg")
        || (text_start.starts_with("<?xml") && text_start.contains("<svg"))
    {
        ("svg", "image/svg+xml")
    } else {
        return None;
    })
}

fn short_hash(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    digest[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A built-in token: its value, or its light and dark values for a colour.
struct Token {
    name: &'static str,
    value: &'static str,
    dark: Option<&'static str>,
}

fn builtin_tokens() -> Vec<Token> {
    TOKENS_CSS
        .lines()
        .filter_map(|line| {
            let (name, value) = line.trim().strip_prefix("--ward-")?.split_once(':')?;
            let value = value.trim().trim_end_matches(';').trim();
            let pair = value
                .strip_prefix("light-dark(")
                .and_then(|pair| pair.strip_suffix(')'))
                .and_then(|pair| pair.split_once(','));
            Some(match pair {
                Some((light, dark)) => Token {
                    name,
                    value: light.trim(),
                    dark: Some(dark.trim()),
                },
                None => Token {
                    name,
                    value,
                    dark: None,
                },
            })
        })
        .collect()
}

/// `ui.theme.tokens` as CSS custom properties. A colour set only for the light scheme keeps
/// Ward's dark value: a colour picked for white rarely reads well on black.
fn token_css(tokens: &BTreeMap<String, String>) -> Result<String, ConfigError> {
    let builtin = builtin_tokens();
    let known = |name: &str| {
        builtin.iter().any(|token| {
            token.name == name
                || (token.dark.is_some() && name.strip_suffix("-dark") == Some(token.name))
        })
    };
    for (name, value) in tokens {
        let key = format!("ui.theme.tokens.{name}");
        if !known(name) {
            let mut names: Vec<String> = builtin
                .iter()
                .flat_map(|token| {
                    let dark = token.dark.map(|_| format!("{}-dark", token.name));
                    std::iter::once(token.name.to_string()).chain(dark)
                })
                .collect();
            names.sort();
            return Err(ConfigError::invalid(
                &key,
                format!("is not a design token; known: {}", names.join(", ")),
            ));
        }
        // A value stays inside its declaration.
        let value = value.trim();
        if value.is_empty()
            || value.contains(['{', '}', ';', '<', '>', '\\', '\n'])
            || value.contains("/*")
        {
            return Err(ConfigError::invalid(&key, "is not a plain CSS value"));
        }
    }
    let mut css = String::from(":root {\n");
    for token in &builtin {
        let light = tokens.get(token.name).map(|value| value.trim());
        let dark = tokens
            .get(&format!("{}-dark", token.name))
            .map(|value| value.trim());
        match (token.dark, light, dark) {
            (_, None, None) => continue,
            (Some(builtin_dark), light, dark) => css.push_str(&format!(
                "  --ward-{}: light-dark({}, {});\n",
                token.name,
                light.unwrap_or(token.value),
                dark.unwrap_or(builtin_dark)
            )),
            (None, Some(value), _) => css.push_str(&format!("  --ward-{}: {value};\n", token.name)),
            (None, None, Some(_)) => continue,
        }
    }
    css.push_str("}\n");
    Ok(css)
}

/// `ui.frame_ancestors`: each an origin (`https://app.example.com`, a `*.` host allowed) or
/// `'self'`.
fn frame_ancestors(origins: &[String]) -> Result<Vec<String>, ConfigError> {
    origins
        .iter()
        .map(|origin| {
            let origin = origin.trim().trim_end_matches('/');
            let valid = origin == "'self'"
                || origin.split_once("://").is_some_and(|(scheme, host)| {
                    matches!(scheme, "https" | "http")
                        && !host.is_empty()
                        && host.chars().all(|c| {
                            c.is_ascii_alphanumeric()
                                || matches!(c, '.' | '-' | ':' | '*' | '[' | ']')
                        })
                });
            if valid {
                Ok(origin.to_string())
            } else {
                Err(ConfigError::invalid(
                    "ui.frame_ancestors",
                    format!("{origin:?} is not an origin such as https://app.example.com"),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn tokens_become_custom_properties_and_colours_keep_their_dark_value() {
        let css = token_css(&tokens(&[("color-accent", "#0f766e"), ("radius", "4px")])).unwrap();
        assert!(
            css.contains("--ward-color-accent: light-dark(#0f766e, #748ffc);"),
            "{css}"
        );
        assert!(css.contains("--ward-radius: 4px;"), "{css}");
        let css = token_css(&tokens(&[("color-accent-dark", "#5eead4")])).unwrap();
        assert!(
            css.contains("--ward-color-accent: light-dark(#3b5bdb, #5eead4);"),
            "{css}"
        );
    }

    #[test]
    fn unknown_tokens_and_unsafe_values_are_refused() {
        let error = token_css(&tokens(&[("colour-accent", "red")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("ui.theme.tokens.colour-accent"), "{error}");
        assert!(error.contains("color-accent, color-accent-dark"), "{error}");
        assert!(error.contains("radius"), "{error}");
        assert!(token_css(&tokens(&[("radius-dark", "2px")])).is_err());
        let error = token_css(&tokens(&[("radius", "0; } body { display: none")])).unwrap_err();
        assert!(error.to_string().contains("plain CSS value"), "{error}");
    }

    #[test]
    fn local_images_are_served_and_remote_ones_allowed() {
        let svg = "base64://PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=";
        let mut config = UiConfig::default();
        config.branding.logo_url = Some(svg.into());
        config.branding.favicon_url = Some("https://cdn.example.com/icon.png".into());
        config.frame_ancestors = vec!["https://app.example.com".into()];
        let theme = Theme::load(&config).unwrap();
        let branding = theme.branding();
        assert!(
            branding.logo_src.starts_with("/theme/logo-"),
            "{branding:?}"
        );
        assert!(branding.logo_src.ends_with(".svg"));
        assert!(theme.serve(&branding.logo_src).is_some());
        assert_eq!(branding.favicon_src, "https://cdn.example.com/icon.png");
        assert_eq!(branding.policy.image_origins, ["https://cdn.example.com"]);
        let header = branding.policy.header(Some("abc"), &[]);
        assert!(
            header.contains("img-src 'self' data: https://cdn.example.com;"),
            "{header}"
        );
        assert!(
            header.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'"),
            "{header}"
        );
        assert!(
            header.ends_with("frame-ancestors https://app.example.com"),
            "{header}"
        );

        config.branding.logo_url = Some("base64://bm90IGFuIGltYWdl".into());
        let error = Theme::load(&config).err().unwrap().to_string();
        assert!(error.contains("ui.branding.logo_url"), "{error}");
        config.branding.logo_url = Some("javascript:alert(1)".into());
        assert!(Theme::load(&config).is_err());
        config.branding.logo_url = None;
        config.frame_ancestors = vec!["'self' https://x".into()];
        assert!(Theme::load(&config).is_err());
    }
}
