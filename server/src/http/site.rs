//! The UI's static files: the wasm bundle, its JavaScript glue, the stylesheet and `public/`.
//!
//! A release build carries the site built into `target/site` (scripts/build-site.sh), so one
//! binary serves its pages from anywhere; a debug build reads the same folder from disk.
//! `LEPTOS_SITE_ROOT` points Ward at another folder instead (a theme, or a site being
//! developed), which is read at each request.
//!
//! The bundle is also served under `/pkg/<version>/`, where the version is a hash of its
//! contents: the pages link there, and browsers may keep those files forever. The plain
//! `/pkg/ward.js` names stay for whoever links them, to be revalidated by ETag.

use std::borrow::Cow;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

#[derive(rust_embed::Embed)]
#[folder = "../target/site"]
#[allow_missing = true]
struct Embedded;

/// Where the site's files come from.
#[derive(Clone)]
pub enum Site {
    Embedded { version: String },
    Directory { root: PathBuf },
}

/// A file of the site, with what its answer needs.
struct File {
    data: Cow<'static, [u8]>,
    /// Hex SHA-256 of the contents: the strong ETag.
    digest: String,
}

impl Site {
    /// `LEPTOS_SITE_ROOT` when set, else the files built into the binary.
    pub fn from_env() -> Self {
        match std::env::var_os("LEPTOS_SITE_ROOT") {
            Some(root) => Self::Directory { root: root.into() },
            None => Self::embedded(),
        }
    }

    pub fn embedded() -> Self {
        let mut hasher = Sha256::new();
        let mut names: Vec<_> = Embedded::iter()
            .filter(|name| name.starts_with("pkg/"))
            .collect();
        names.sort();
        for name in &names {
            if let Some(file) = Embedded::get(name) {
                hasher.update(name.as_bytes());
                hasher.update(file.metadata.sha256_hash());
            }
        }
        let version = hex(&hasher.finalize())[..16].to_string();
        Self::Embedded { version }
    }

    /// Where the pages link the bundle: `pkg/<version>` for the embedded site, else `pkg`.
    pub fn pkg_dir(&self) -> String {
        match self {
            Self::Embedded { version } => format!("pkg/{version}"),
            Self::Directory { .. } => "pkg".to_string(),
        }
    }

    /// Whether the bundle is there (the pages work without it, unstyled and without islands).
    pub fn has_bundle(&self) -> bool {
        self.file(&format!("pkg/{}.js", app::OUTPUT_NAME)).is_some()
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Embedded { .. } => "built into the binary".to_string(),
            Self::Directory { root } => format!("read from {}", root.display()),
        }
    }

    /// The answer for `path`, or `None` when the site has no such file.
    pub fn serve(&self, path: &str, request_headers: &HeaderMap) -> Option<Response> {
        let path = path.trim_start_matches('/');
        // `pkg/<version>/ward.js` is `pkg/ward.js`, for as long as browsers like.
        let (name, immutable) = match (self, path.strip_prefix("pkg/")) {
            (Self::Embedded { version }, Some(rest)) => match rest.strip_prefix(version.as_str()) {
                Some(file) => (format!("pkg{file}"), true),
                None => (path.to_string(), false),
            },
            _ => (path.to_string(), false),
        };
        let file = self.file(&name)?;
        let tag = format!("\"{}\"", file.digest);
        let etag = HeaderValue::from_str(&tag).ok()?;
        let cache = if immutable {
            "public, max-age=31536000, immutable"
        } else if name.starts_with("pkg/") {
            "no-cache"
        } else {
            "public, max-age=3600"
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, etag);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        let unchanged = request_headers
            .get(header::IF_NONE_MATCH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(',')
                    .any(|candidate| candidate.trim().trim_start_matches("W/") == tag)
            });
        if unchanged {
            return Some((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&name)),
        );
        Some((headers, Body::from(file.data)).into_response())
    }

    fn file(&self, name: &str) -> Option<File> {
        if name
            .split('/')
            .any(|segment| segment == ".." || segment.is_empty())
        {
            return None;
        }
        match self {
            Self::Embedded { .. } => Embedded::get(name).map(|file| File {
                digest: hex(&file.metadata.sha256_hash()),
                data: file.data,
            }),
            Self::Directory { root } => {
                let path = root.join(name);
                // Only files inside the root: no symlink or hidden file leads out of it.
                let canonical = path.canonicalize().ok()?;
                if !canonical.starts_with(root.canonicalize().ok()?) || !canonical.is_file() {
                    return None;
                }
                let data = std::fs::read(canonical).ok()?;
                Some(File {
                    digest: hex(&Sha256::digest(&data)),
                    data: Cow::Owned(data),
                })
            }
        }
    }
}

/// The types of the files a site holds. A short table rather than a MIME database: the
/// browser must get exactly these for modules and wasm streaming to work.
fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit('.').next().unwrap_or_default();
    match extension {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_site_serves_inside_its_root_only() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("pkg")).unwrap();
        std::fs::write(root.path().join("pkg/ward.css"), "body{}").unwrap();
        std::fs::write(root.path().join("logo.svg"), "<svg/>").unwrap();
        let site = Site::Directory {
            root: root.path().to_path_buf(),
        };
        let css = site.serve("/pkg/ward.css", &HeaderMap::new()).unwrap();
        assert_eq!(css.status(), StatusCode::OK);
        assert_eq!(
            css.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
        assert_eq!(css.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = css.headers()[header::ETAG].clone();

        let mut conditional = HeaderMap::new();
        conditional.insert(header::IF_NONE_MATCH, etag);
        let again = site.serve("/pkg/ward.css", &conditional).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

        let logo = site.serve("/logo.svg", &HeaderMap::new()).unwrap();
        assert_eq!(
            logo.headers()[header::CACHE_CONTROL],
            "public, max-age=3600"
        );
        assert!(site.serve("/../etc/passwd", &HeaderMap::new()).is_none());
        assert!(site.serve("/pkg/missing.js", &HeaderMap::new()).is_none());
    }

    #[test]
    fn embedded_version_is_a_path_segment() {
        let Site::Embedded { version } = Site::embedded() else {
            panic!("expected the embedded site");
        };
        assert_eq!(version.len(), 16);
        assert!(version.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
