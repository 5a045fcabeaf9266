//! The courier: messages are queued in the database with the change that causes them, and a
//! worker delivers them (SMTP, or the dev mailbox), at least once, with retries.

mod delivery;
mod message;
mod templates;
pub mod worker;

use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

pub use delivery::Delivery;
pub use message::{Dispatch, Message, MessageStatus};
pub use templates::{Rendered, TemplateType, Templates};

/// What flows need from the courier: templates to turn events into queued messages.
#[derive(Clone)]
pub struct Courier {
    templates: Arc<Templates>,
}

impl Courier {
    pub fn new(templates: Templates) -> Self {
        Self {
            templates: Arc::new(templates),
        }
    }

    /// A message of `kind` in `lang` to `to`, ready to queue with the change that causes it.
    pub fn email(
        &self,
        kind: TemplateType,
        lang: app::i18n::Lang,
        to: &str,
        vars: Value,
        now: OffsetDateTime,
    ) -> anyhow::Result<Message> {
        let rendered = self.templates.render(kind, lang, to, vars)?;
        Ok(queued(kind, rendered, now))
    }

    /// The text message of `kind` in `lang` to the phone number `to`.
    pub fn sms(
        &self,
        kind: TemplateType,
        lang: app::i18n::Lang,
        to: &str,
        vars: Value,
        now: OffsetDateTime,
    ) -> anyhow::Result<Message> {
        let rendered = self.templates.render_sms(kind, lang, to, vars)?;
        Ok(queued(kind, rendered, now))
    }
}

/// A message to queue; one someone waits for goes out before older ones.
fn queued(kind: TemplateType, rendered: Rendered, now: OffsetDateTime) -> Message {
    let mut message = Message::new(rendered, now);
    message.priority = i64::from(kind.waited_for());
    message
}
