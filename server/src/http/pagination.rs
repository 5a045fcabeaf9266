//! Keyset pagination as Kratos does it: `page_size` and an opaque `page_token`, with a `Link`
//! header that names the first and the next page.

use axum::http::HeaderValue;
use base64::Engine;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The query string as name/value pairs; names may repeat (`ids=a&ids=b`).
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Empty values count as absent, as in Kratos.
    pub fn parse(raw: Option<String>) -> Self {
        Self(super::non_empty_pairs(raw.as_deref().unwrap_or_default()))
    }

    pub fn single(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }
}

/// The keyset page parameters, for the API description ([`Page::parse`] reads them).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Items per page: 0 or less means the default, more than the maximum the maximum.
    page_size: Option<i64>,
    /// Where the next page starts: the `page_token` of the `Link` header's `rel="next"`.
    page_token: Option<String>,
}

/// Which page: how many items, after which id.
pub struct Page {
    pub size: u32,
    pub after: Option<Uuid>,
}

impl Page {
    pub fn parse(params: &Params, default_size: u32, max_size: u32) -> ApiResult<Self> {
        if params.single("page").is_some() || params.single("per_page").is_some() {
            return Err(ApiError::bad_request(
                "Offset pagination (page, per_page) is not supported; use page_size and page_token.",
            ));
        }
        // As Kratos: a size of 0 or less is the default, one above the maximum is the maximum.
        let size = match params.single("page_size") {
            Some(text) => {
                let size = text.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("page_size must be a number, not {text:?}."))
                })?;
                if size <= 0 {
                    default_size
                } else {
                    u32::try_from(size).unwrap_or(u32::MAX).min(max_size)
                }
            }
            None => default_size,
        };
        let after = params
            .single("page_token")
            .map(|token| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(token)
                    .ok()
                    .and_then(|bytes| Uuid::from_slice(&bytes).ok())
                    .ok_or_else(|| ApiError::bad_request("page_token is not valid."))
            })
            .transpose()?;
        Ok(Self { size, after })
    }

    /// `Link: <path?page_size=..>; rel="first",<path?page_size=..&page_token=..>; rel="next"`,
    /// keeping the other query parameters.
    pub fn link_header(
        &self,
        path: &str,
        next_after: Option<Uuid>,
        params: &Params,
    ) -> Option<HeaderValue> {
        let link = |after: Option<Uuid>| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.append_pair("page_size", &self.size.to_string());
            if let Some(after) = after {
                query.append_pair(
                    "page_token",
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(after.as_bytes()),
                );
            }
            for (key, value) in params
                .0
                .iter()
                .filter(|(key, _)| key != "page_token" && key != "page_size")
            {
                query.append_pair(key, value);
            }
            format!("{path}?{}", query.finish())
        };
        let mut links = vec![format!("<{}>; rel=\"first\"", link(None))];
        if let Some(last) = next_after {
            links.push(format!("<{}>; rel=\"next\"", link(Some(last))));
        }
        HeaderValue::from_str(&links.join(",")).ok()
    }
}
