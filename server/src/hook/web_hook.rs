//! Kratos's `web_hook`: an HTTP request to the integrator's endpoint, its body rendered by a
//! Jsonnet program from the flow's context, able to change the identity before it is stored
//! (`response.parse`) or to refuse the flow with messages on its fields.
//!
//! Beyond Kratos: requests are signed (Standard Webhooks) when the hook has a
//! `signing_secret`, hosts can be restricted (`clients.web_hook.allowed_hosts`), and hooks
//! whose answer does not matter (`response.ignore`) are delivered from a queue in the database
//! (see `deliveries`), so a receiver that is down for a while still gets every event.

use std::collections::HashMap;
use std::sync::Arc;

use app::model::UiText;
use base64::Engine;
use hmac::Mac;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use crate::config::{Config, HookConfig, HookName, HookPlace};
use crate::jsonnet::Mapper;

/// What a receiver may send back: Kratos reads at most 5 MB.
const MAX_ANSWER: usize = 5 << 20;

/// One configured web hook.
pub struct WebHook {
    /// Names the hook in queued deliveries: a digest of its configuration.
    pub key: String,
    url: Url,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    body: Option<Mapper>,
    auth: Option<Auth>,
    /// `response.ignore`: the flow does not wait; the request is queued.
    pub ignore: bool,
    /// `response.parse` (or the deprecated `can_interrupt`): the answer may change the
    /// identity or refuse the flow.
    pub parse: bool,
    signing_secret: Option<Vec<u8>>,
}

enum Auth {
    Basic {
        user: String,
        password: String,
    },
    ApiKey {
        name: String,
        value: String,
        in_cookie: bool,
    },
}

/// What the receiver's answer means for the flow.
#[derive(Debug)]
pub enum Answer {
    Continue,
    /// `response.parse`: the identity's fields the receiver sent (any of `traits`,
    /// `metadata_public`, `metadata_admin`, ...).
    Identity(Value),
}

#[derive(Debug)]
pub enum HookError {
    /// The receiver refused the flow: messages for the form, each on its field (`traits.email`)
    /// or on the form.
    Interrupted(Vec<(Option<String>, UiText)>),
    /// The call failed (unreachable, timed out, an error status): the flow fails.
    Failed(String),
}

/// A rendered request, as sent and as queued.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: Uuid,
    pub body: Option<String>,
}

/// Every configured web hook, built once at start.
pub struct WebHooks {
    hooks: HashMap<String, Arc<WebHook>>,
    http: reqwest::Client,
    allowed_hosts: Vec<String>,
}

impl WebHooks {
    pub async fn from_config(config: &Config) -> Result<Self, String> {
        let mut web_hooks = Self::client(config)?;
        for (list, configured, place) in config.hook_lists() {
            for (index, hook) in configured.iter().enumerate() {
                if hook.hook != HookName::WebHook {
                    continue;
                }
                let key = format!("{list}.{index}.config");
                let built = WebHook::from_config(hook)
                    .await
                    .map_err(|error| format!("{key}: {error}"))?;
                // After recovery and verification there is nothing left to change or refuse.
                if built.parse
                    && matches!(
                        place,
                        HookPlace::AfterRecovery | HookPlace::AfterVerification
                    )
                {
                    return Err(format!(
                        "{key}: response.parse has no effect after recovery or verification"
                    ));
                }
                web_hooks.hooks.insert(built.key.clone(), Arc::new(built));
            }
        }
        Ok(web_hooks)
    }

    /// No hooks, only the client: `clients.web_hook`'s timeout and allowed hosts, which the
    /// courier's HTTP channel shares.
    pub fn client(config: &Config) -> Result<Self, String> {
        let client = &config.clients.web_hook;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(client.timeout)
            .user_agent("Ward web hooks")
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Self {
            hooks: HashMap::new(),
            http,
            allowed_hosts: client.allowed_hosts.clone(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
    }

    /// The web hook `hook` configures.
    pub fn get(&self, hook: &HookConfig) -> Option<&Arc<WebHook>> {
        self.hooks.get(&key_of(hook.config.as_ref()?))
    }

    pub fn by_key(&self, key: &str) -> Option<&Arc<WebHook>> {
        self.hooks.get(key)
    }

    fn allowed(&self, url: &Url) -> bool {
        if self.allowed_hosts.is_empty() {
            return true;
        }
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
        self.allowed_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => host.eq_ignore_ascii_case(allowed),
            })
    }

    /// Sends `request` for `hook` and reads the answer.
    pub async fn send(&self, hook: &WebHook, request: &Request) -> Result<Answer, HookError> {
        if !self.allowed(&hook.url) {
            return Err(HookError::Failed(format!(
                "the web hook's host {:?} is not in clients.web_hook.allowed_hosts",
                hook.url.host_str().unwrap_or_default()
            )));
        }
        let mut builder = self
            .http
            .request(hook.method.clone(), hook.url.clone())
            .header("Content-Type", "application/json");
        for (name, value) in &hook.headers {
            builder = builder.header(name, value);
        }
        match &hook.auth {
            Some(Auth::Basic { user, password }) => {
                builder = builder.basic_auth(user, Some(password));
            }
            Some(Auth::ApiKey {
                name,
                value,
                in_cookie: false,
            }) => builder = builder.header(name, value),
            Some(Auth::ApiKey {
                name,
                value,
                in_cookie: true,
            }) => builder = builder.header("Cookie", format!("{name}={value}")),
            None => {}
        }
        let body = request.body.clone().unwrap_or_default();
        if let Some(secret) = &hook.signing_secret {
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs())
                .unwrap_or_default();
            let id = format!("msg_{}", request.id.simple());
            builder = builder
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    signature(secret, &id, timestamp, &body),
                );
        }
        if request.body.is_some() {
            builder = builder.body(body);
        }
        let response = builder.send().await.map_err(|error| {
            HookError::Failed(if error.is_timeout() {
                "the web hook did not answer in time".to_string()
            } else {
                // Without the URL: it may carry a token, and this text reaches the log.
                format!("the web hook could not be called: {}", error.without_url())
            })
        })?;
        let status = response.status();
        let answer = read_answer(response).await;
        if status.is_success() {
            if hook.parse && status.as_u16() == 200 {
                return Ok(
                    match answer.and_then(|mut body| body.get_mut("identity").map(Value::take)) {
                        Some(identity) if identity.is_object() => Answer::Identity(identity),
                        _ => Answer::Continue,
                    },
                );
            }
            return Ok(Answer::Continue);
        }
        if hook.parse
            && status.is_client_error()
            && let Some(messages) = answer.as_ref().and_then(interruption)
        {
            return Err(HookError::Interrupted(messages));
        }
        Err(HookError::Failed(format!(
            "the web hook answered {}",
            status.as_u16()
        )))
    }
}

impl WebHook {
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn from_config(hook: &HookConfig) -> Result<Self, String> {
        let config = hook
            .config
            .as_ref()
            .ok_or("a web_hook needs its config (url, method, body)")?;
        Self::from_request_config(config).await
    }

    /// A request as Kratos configures one (`url`, `method`, `headers`, `body`, `auth`, and a
    /// hook's `response`, `can_interrupt`, `signing_secret`): web hooks and the courier's HTTP
    /// channel.
    pub async fn from_request_config(config: &Value) -> Result<Self, String> {
        let text = |key: &str| config.get(key).and_then(Value::as_str);
        let url = text("url").ok_or("url is required")?;
        let url = Url::parse(url).map_err(|error| format!("url {url:?}: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("url {url}: must be http or https"));
        }
        let method = text("method").unwrap_or("POST");
        let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("method {method:?} is not an HTTP method"))?;
        let headers = match config.get("headers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(headers)) => headers
                .iter()
                .map(|(name, value)| {
                    value
                        .as_str()
                        .map(|value| (name.clone(), value.to_string()))
                        .ok_or_else(|| format!("headers.{name} must be a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("headers must be an object".into()),
        };
        let body = match text("body") {
            None | Some("") => None,
            Some(body) => {
                let url = Url::parse(body).map_err(|error| format!("body {body:?}: {error}"))?;
                Some(
                    Mapper::fetch(&url)
                        .await
                        .map_err(|error| format!("body: {error}"))?,
                )
            }
        };
        let auth = match config.get("auth") {
            None | Some(Value::Null) => None,
            Some(auth) => Some(read_auth(auth)?),
        };
        let response = config.get("response");
        let flag = |value: Option<&Value>| value.and_then(Value::as_bool).unwrap_or(false);
        let ignore = flag(response.and_then(|response| response.get("ignore")));
        let parse = flag(response.and_then(|response| response.get("parse")))
            || flag(config.get("can_interrupt"));
        // Kratos's issue #3352: an ignored answer cannot also be read. Say so instead of
        // silently picking one.
        if ignore && parse {
            return Err(
                "response.ignore and response.parse (or can_interrupt) contradict each other: \
                 an answer nobody waits for cannot change the flow"
                    .into(),
            );
        }
        let signing_secret = match text("signing_secret") {
            None => None,
            Some(secret) => {
                let encoded = secret
                    .strip_prefix("whsec_")
                    .ok_or("signing_secret must be whsec_<base64>")?;
                let key = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|_| "signing_secret must be whsec_<base64>".to_string())?;
                if key.len() < 16 {
                    return Err("signing_secret must hold at least 16 bytes".into());
                }
                Some(key)
            }
        };
        Ok(Self {
            key: key_of(config),
            url,
            method,
            headers,
            body,
            auth,
            ignore,
            parse,
            signing_secret,
        })
    }

    /// Renders the request for `ctx`; `None`: the body program cancelled the call
    /// (`error "cancel"`).
    pub async fn render(&self, ctx: &Value) -> Result<Option<Request>, HookError> {
        let body = match &self.body {
            None => None,
            Some(program) => match program.call(ctx.clone()).await {
                Ok(body) => Some(body.to_string()),
                Err(error) if is_cancel(&error) => return Ok(None),
                Err(error) => {
                    tracing::error!(url = %self.url, %error, "a web hook's body program failed");
                    return Err(HookError::Failed(
                        "the web hook's body could not be rendered".into(),
                    ));
                }
            },
        };
        Ok(Some(Request {
            id: Uuid::new_v4(),
            body,
        }))
    }
}

fn read_auth(auth: &Value) -> Result<Auth, String> {
    let config = auth.get("config").cloned().unwrap_or_default();
    let field = |key: &str| {
        config
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("auth.config.{key} is required"))
    };
    match auth.get("type").and_then(Value::as_str) {
        Some("basic_auth") => Ok(Auth::Basic {
            user: field("user")?,
            password: field("password")?,
        }),
        Some("api_key") => Ok(Auth::ApiKey {
            name: field("name")?,
            value: field("value")?,
            in_cookie: match config.get("in").and_then(Value::as_str) {
                None | Some("header") => false,
                Some("cookie") => true,
                Some(other) => return Err(format!("auth.config.in {other:?}: header or cookie")),
            },
        }),
        other => Err(format!("auth.type {other:?}: basic_auth or api_key")),
    }
}

/// A hook's identity across restarts: the SHA-256 of its configuration.
fn key_of(config: &Value) -> String {
    crate::oauth2::grant::signature(&config.to_string())
}

/// `error "cancel"` in the body program (its message, whatever trace follows).
fn is_cancel(error: &str) -> bool {
    error
        .lines()
        .next()
        .is_some_and(|line| line.trim_end().ends_with("cancel"))
}

/// Standard Webhooks: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.
pub fn signature(secret: &[u8], id: &str, timestamp: u64, body: &str) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

async fn read_answer(response: reqwest::Response) -> Option<Value> {
    let bytes = response.bytes().await.ok()?;
    if bytes.len() > MAX_ANSWER {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// Kratos's refusal: `{messages: [{instance_ptr: "#/traits/email", messages: [{id, text, type,
/// context}]}]}`.
fn interruption(answer: &Value) -> Option<Vec<(Option<String>, UiText)>> {
    let groups = answer.get("messages")?.as_array()?;
    let mut out = Vec::new();
    for group in groups {
        let field = group
            .get("instance_ptr")
            .and_then(Value::as_str)
            .map(|pointer| pointer.trim_start_matches("#/").replace('/', "."))
            .filter(|field| !field.is_empty());
        for message in group.get("messages")?.as_array()? {
            let id = message.get("id").and_then(Value::as_u64).unwrap_or(4000001);
            let text = message
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = message
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let context = message.get("context").cloned().unwrap_or(json!({}));
            let ui: UiText = serde_json::from_value(json!({
                "id": id,
                "text": text,
                "type": kind,
                "context": context,
            }))
            .ok()?;
            out.push((field.clone(), ui));
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference implementations.
        let secret = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let signed = signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn refusals_name_their_fields() {
        let messages = interruption(&json!({"messages": [
            {"instance_ptr": "#/traits/email", "messages": [
                {"id": 4000001, "text": "not from this domain", "type": "error", "context": {"reason": "domain"}}
            ]}
        ]}))
        .unwrap();
        assert_eq!(messages[0].0.as_deref(), Some("traits.email"));
        assert_eq!(messages[0].1.text, "not from this domain");
        assert!(interruption(&json!({"error": "no"})).is_none());
    }

    #[tokio::test]
    async fn contradicting_flags_are_refused() {
        let hook = HookConfig {
            hook: HookName::WebHook,
            config: Some(json!({
                "url": "https://crm.example/hook",
                "response": {"ignore": true, "parse": true},
            })),
        };
        let error = WebHook::from_config(&hook).await.err().unwrap();
        assert!(error.contains("contradict"), "{error}");
    }
}
