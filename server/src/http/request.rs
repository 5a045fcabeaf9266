//! What a request tells the flows about its sender, and the submitted form.

use std::net::IpAddr;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::session::SessionToken;
use crate::state::AppState;

/// The sender of a request as the flows need to know it.
#[derive(Clone)]
pub struct Client {
    /// Prefers JSON over HTML: an SPA or a native app rather than a browser navigation.
    pub wants_json: bool,
    /// The raw `Cookie` header.
    pub cookies: Option<String>,
    pub origin: Option<String>,
    /// `X-Session-Token`, else `Authorization: Bearer` (the cookie is looked up separately).
    pub header_token: Option<String>,
    pub ip_address: Option<String>,
    /// The client's address (see [`client_ip`]); `None` for internal requests.
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The URL this request was made to, on the public base URL.
    pub request_url: String,
    pub method: String,
    /// The headers a web hook may see (`clients.web_hook.header_allowlist`).
    pub allowed_headers: Vec<(String, String)>,
    /// The language the pages would show this browser; its e-mails are written in it.
    pub language: app::i18n::Lang,
}

impl Client {
    /// A request made on nobody's behalf (admin endpoints that start flows).
    pub fn internal(state: &AppState) -> Self {
        Self {
            wants_json: true,
            cookies: None,
            origin: None,
            header_token: None,
            ip_address: None,
            ip: None,
            user_agent: None,
            request_url: state.urls.admin.to_string(),
            method: "POST".into(),
            allowed_headers: Vec::new(),
            language: app::i18n::Lang::En,
        }
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .as_deref()
            .and_then(|header| cookie_value(header, name))
    }

    /// Cookies other than those proxies add (`__cf`, `_cf`, `cf_` prefixes), which API flows
    /// refuse.
    pub fn foreign_cookies(&self) -> Vec<String> {
        self.cookies
            .as_deref()
            .unwrap_or_default()
            .split(';')
            .filter_map(|pair| {
                pair.trim()
                    .split_once('=')
                    .map(|(name, _)| name.to_string())
            })
            .filter(|name| !name.is_empty())
            .filter(|name| {
                !["__cf", "_cf", "cf_"]
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
            })
            .collect()
    }

    /// The session token in this request: header, then the session cookie, then bearer.
    pub fn session_token(&self, cookie_name: &str) -> Option<SessionToken> {
        self.header_token
            .as_deref()
            .or_else(|| self.cookie(cookie_name))
            .map(SessionToken::from_client)
    }
}

impl<S> FromRequestParts<S> for Client
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let header = |name: header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let accept = header(header::ACCEPT).unwrap_or_default();
        let content_type = header(header::CONTENT_TYPE).unwrap_or_default();
        let wants_json = content_type.starts_with("application/json") || prefers_json(&accept);
        let header_token = header_token(&parts.headers).map(str::to_string);
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        let ip = client_ip(
            &parts.headers,
            peer,
            &state.config.serve.public.trusted_proxies,
        );
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let request_url = state
            .urls
            .public
            .join(path.trim_start_matches('/'))
            .map(String::from)
            .unwrap_or_default();
        let cookies = header(header::COOKIE);
        let language = app::i18n::Lang::negotiate(
            cookies.as_deref(),
            header(header::ACCEPT_LANGUAGE).as_deref(),
        );
        Ok(Self {
            wants_json,
            language,
            cookies,
            origin: header(header::ORIGIN),
            header_token,
            ip_address: ip.map(|ip| ip.to_string()),
            ip,
            user_agent: header(header::USER_AGENT),
            request_url,
            method: parts.method.to_string(),
            allowed_headers: state
                .config
                .clients
                .web_hook
                .header_allowlist
                .iter()
                .filter_map(|name| {
                    let value = parts.headers.get(name.as_str())?.to_str().ok()?;
                    Some((name.clone(), value.to_string()))
                })
                .collect(),
        })
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy. Then `True-Client-IP`
/// names the client, else the nearest `X-Forwarded-For` hop that is not itself a trusted proxy
/// (hops further left could be made up by the client).
fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let header = |name: &'static str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(ip) = header("true-client-ip").and_then(|value| value.trim().parse::<IpAddr>().ok())
    {
        return Some(ip.to_canonical());
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|hop| !is_trusted(hop))
            .unwrap_or(peer),
    )
}

/// `X-Session-Token`, else the bearer token of `Authorization`; empty ones count as none.
fn header_token(headers: &HeaderMap) -> Option<&str> {
    let value = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    value(header::HeaderName::from_static("x-session-token"))
        .or_else(|| value(header::AUTHORIZATION).and_then(|value| value.strip_prefix("Bearer ")))
        .filter(|token| !token.is_empty())
}

/// The session token in a request's headers, as [`Client::session_token`] finds it, without
/// building a [`Client`] (for `/sessions/whoami`, which needs nothing else).
pub fn session_token_in(headers: &HeaderMap, cookie_name: &str) -> Option<SessionToken> {
    header_token(headers)
        .or_else(|| {
            let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
            cookie_value(cookies, cookie_name)
        })
        .map(SessionToken::from_client)
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Whether an `Accept` header ranks JSON above HTML.
fn prefers_json(accept: &str) -> bool {
    let position = |media: &str| accept.find(media);
    match (position("application/json"), position("text/html")) {
        (Some(json), Some(html)) => json < html,
        (Some(_), None) => true,
        _ => false,
    }
}

/// A submitted form as one JSON object, whether it came as JSON, as form fields with dotted
/// names (`traits.email`), or as query parameters on a GET.
pub struct Submission(pub Value);

impl<S: Send + Sync> FromRequest<S> for Submission {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.method() == Method::GET {
            let query = request.uri().query().unwrap_or_default().to_string();
            return Ok(Self(nest_fields(
                url::form_urlencoded::parse(query.as_bytes()).into_owned(),
            )));
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = crate::http::read_body(request, state).await?;
        if content_type.starts_with("application/json") {
            let value: Value = crate::http::parse_json(&bytes)?;
            if !value.is_object() {
                return Err(ApiError::bad_request(
                    "The request body must be a JSON object.",
                ));
            }
            Ok(Self(value))
        } else if content_type.starts_with("application/x-www-form-urlencoded")
            || content_type.is_empty()
        {
            Ok(Self(nest_fields(
                url::form_urlencoded::parse(&bytes).into_owned(),
            )))
        } else {
            Err(
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).with_reason(
                    "Submit the form as application/json or application/x-www-form-urlencoded.",
                ),
            )
        }
    }
}

/// `traits.name.first=Ada` becomes `{"traits": {"name": {"first": "Ada"}}}`.
fn nest_fields(fields: impl Iterator<Item = (String, String)>) -> Value {
    let mut root = Map::new();
    for (name, value) in fields {
        let mut slot = &mut root;
        let mut segments = name.split('.').peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_none() {
                slot.insert(segment.to_string(), Value::String(value.clone()));
                break;
            }
            let entry = slot
                .entry(segment.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(next) = entry else { break };
            slot = next;
        }
    }
    Value::Object(root)
}

/// The string at `key` of a submitted form.
pub fn field<'a>(form: &'a Value, key: &str) -> Option<&'a str> {
    form.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.0.0.9"),
        );
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |peer: &str, trusted: &[ipnet::IpNet], headers: &HeaderMap| {
            client_ip(headers, Some(peer.parse().unwrap()), trusted).map(|ip| ip.to_string())
        };
        // A stranger's headers are ignored.
        assert_eq!(
            ip("8.8.8.8", &trusted, &headers).as_deref(),
            Some("8.8.8.8")
        );
        assert_eq!(ip("10.1.1.1", &[], &headers).as_deref(), Some("10.1.1.1"));
        // Through trusted proxies: the nearest hop that is not one of them.
        assert_eq!(
            ip("10.1.1.1", &trusted, &headers).as_deref(),
            Some("1.2.3.4")
        );
        headers.insert("true-client-ip", HeaderValue::from_static("::ffff:5.5.5.5"));
        assert_eq!(
            ip("10.1.1.1", &trusted, &headers).as_deref(),
            Some("5.5.5.5")
        );
        assert_eq!(
            ip("::ffff:8.8.8.8", &trusted, &headers).as_deref(),
            Some("8.8.8.8")
        );
    }

    #[test]
    fn dotted_fields_nest() {
        let form = nest_fields(
            [
                ("traits.email", "a@b.c"),
                ("traits.name.first", "Ada"),
                ("method", "password"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        assert_eq!(
            form,
            json!({"traits": {"email": "a@b.c", "name": {"first": "Ada"}}, "method": "password"})
        );
    }

    #[test]
    fn accept_ranking() {
        assert!(prefers_json("application/json"));
        assert!(prefers_json("application/json, text/html"));
        assert!(!prefers_json(
            "text/html,application/xhtml+xml,application/json;q=0.9"
        ));
        assert!(!prefers_json(""));
    }
}
