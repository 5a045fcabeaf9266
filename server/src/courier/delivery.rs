//! Where messages go: e-mail to an SMTP server through `lettre`, or (in `--dev` without SMTP)
//! nowhere but the database, where `/dev/mailbox` shows it; text messages to the operator's
//! HTTP gateway (`courier.channels[]` with id `sms`), or in `--dev` without one, the mailbox.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

use super::Message;
use crate::config::Config;

/// An SMTP exchange that takes longer than this fails and is retried.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Delivery {
    /// `None`: `--dev` without SMTP, where a queued mail counts as delivered and the mailbox
    /// page reads it.
    email: Option<Box<SmtpDelivery>>,
    /// `None`: no gateway; in `--dev` text messages then stay in the mailbox too.
    sms: Option<HttpChannel>,
}

/// A channel delivered as an HTTP request, built like a web hook (Kratos shares the config).
struct HttpChannel {
    client: crate::hook::web_hook::WebHooks,
    request: crate::hook::web_hook::WebHook,
}

pub struct SmtpDelivery {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    headers: Vec<(String, String)>,
}

impl Delivery {
    /// The delivery the config asks for; `None` when nothing can deliver e-mail (no SMTP
    /// outside dev).
    pub async fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let sms = match config.courier.channel("sms") {
            Some(channel) => Some(HttpChannel {
                client: crate::hook::web_hook::WebHooks::client(config)
                    .map_err(anyhow::Error::msg)?,
                request: crate::hook::web_hook::WebHook::from_request_config(
                    &channel.request_config,
                )
                .await
                .map_err(|error| anyhow::anyhow!("courier.channels (sms): {error}"))?,
            }),
            None => None,
        };
        let email = match Self::smtp(config)? {
            Some(smtp) => Some(Box::new(smtp)),
            None if config.dev => None,
            None => return Ok(None),
        };
        Ok(Some(Self { email, sms }))
    }

    fn smtp(config: &Config) -> anyhow::Result<Option<SmtpDelivery>> {
        let smtp = &config.courier.smtp;
        let Some(uri) = smtp.connection_uri.as_deref().filter(|uri| !uri.is_empty()) else {
            return Ok(None);
        };
        let url = Url::parse(uri)
            .map_err(|error| anyhow::anyhow!("courier.smtp.connection_uri: {error}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("courier.smtp.connection_uri: no host"))?
            .to_string();
        let flag = |name: &str| {
            url.query_pairs()
                .any(|(key, value)| key == name && matches!(value.as_ref(), "true" | "1"))
        };
        let tls = || {
            TlsParameters::builder(host.clone())
                .dangerous_accept_invalid_certs(flag("skip_ssl_verify"))
                .dangerous_accept_invalid_hostnames(flag("skip_ssl_verify"))
                .build()
                .map_err(|error| anyhow::anyhow!("courier.smtp TLS: {error}"))
        };
        // smtps: TLS from the first byte (port 465); smtp: STARTTLS required unless disabled.
        let (tls, default_port) = match url.scheme() {
            "smtps" => (Tls::Wrapper(tls()?), 465),
            _ if flag("disable_starttls") => (Tls::None, 25),
            _ => (Tls::Required(tls()?), 587),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT))
            // A connection for each message of a batch in flight (see the worker).
            .pool_config(
                lettre::transport::smtp::PoolConfig::new().max_size(
                    u32::try_from(super::worker::concurrency(config.courier.worker.pull_count))
                        .unwrap_or(1),
                ),
            );
        if !url.username().is_empty() {
            let decode = |text: &str| percent_decode(text);
            builder = builder.credentials(Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            ));
        }
        if let Some(name) = &smtp.local_name {
            builder = builder.hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                name.clone(),
            ));
        }
        let address = smtp
            .from_address
            .parse()
            .map_err(|error| anyhow::anyhow!("courier.smtp.from_address: {error}"))?;
        Ok(Some(SmtpDelivery {
            transport: builder.build(),
            from: Mailbox::new(smtp.from_name.clone(), address),
            headers: smtp
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }))
    }

    /// Delivers one message; the error text is recorded with the failed attempt.
    pub async fn deliver(&self, message: &Message) -> Result<(), String> {
        match (message.channel.as_str(), &self.email, &self.sms) {
            ("sms", _, Some(channel)) => channel.send(message).await,
            ("sms", Some(_), None) => {
                Err("no sms channel is configured (courier.channels)".to_string())
            }
            (_, Some(smtp), _) => smtp.send(message).await,
            // `--dev` without SMTP (or without a gateway): the mailbox page shows it.
            _ => Ok(()),
        }
    }
}

impl HttpChannel {
    /// The request body is the channel's Jsonnet program of the message, with Kratos's
    /// fields: `recipient`, `subject`, `body`, `template_type`, `template_data`,
    /// `message_type`, `request_headers`.
    async fn send(&self, message: &Message) -> Result<(), String> {
        let ctx = serde_json::json!({
            "recipient": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "template_type": message.template_type,
            "template_data": message.template_data,
            "message_type": message.channel,
            "request_headers": {},
        });
        let reason = |error| match error {
            crate::hook::web_hook::HookError::Failed(reason) => reason,
            other => format!("{other:?}"),
        };
        match self.request.render(&ctx).await.map_err(reason)? {
            Some(rendered) => self
                .client
                .send(&self.request, &rendered)
                .await
                .map(|_| ())
                .map_err(reason),
            // The program cancelled it (`error "cancel"`): nothing to send.
            None => Ok(()),
        }
    }
}

impl SmtpDelivery {
    async fn send(&self, message: &Message) -> Result<(), String> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|error| format!("bad recipient: {error}"))?;
        let mut email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                message.body.clone(),
                message.html_body.clone(),
            ))
            .map_err(|error| format!("could not build the message: {error}"))?;
        for (name, value) in &self.headers {
            let name = HeaderName::new_from_ascii(name.clone())
                .map_err(|_| format!("bad header name {name:?} in courier.smtp.headers"))?;
            email
                .headers_mut()
                .insert_raw(HeaderValue::new(name, value.clone()));
        }
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|error| error.to_string())
    }
}

/// User names and passwords in URLs are percent-encoded.
fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}
