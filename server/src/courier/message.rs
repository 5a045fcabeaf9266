//! A queued message and its delivery attempts (reference §10).

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::identity::timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Queued,
    Processing,
    Sent,
    Abandoned,
}

impl MessageStatus {
    pub const ALL: [Self; 4] = [Self::Queued, Self::Processing, Self::Sent, Self::Abandoned];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Sent => "sent",
            Self::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// One e-mail in the queue. The body holds codes and links until it is delivered, like the
/// message it becomes; the codes themselves are stored hashed elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Uuid,
    pub status: MessageStatus,
    pub recipient: String,
    /// `email` or `sms`.
    pub channel: String,
    pub subject: String,
    /// The plaintext body (what the admin API shows as `body`).
    pub body: String,
    pub html_body: String,
    pub template_type: String,
    /// The variables it was rendered with (an HTTP channel's body program may read them).
    pub template_data: Value,
    /// Delivery attempts started so far.
    pub send_count: u32,
    /// Higher goes first: 1 for mail someone is waiting for (codes and links), else 0.
    pub priority: i64,
    pub next_attempt_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub dispatches: Vec<Dispatch>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub id: Uuid,
    pub message_id: Uuid,
    pub success: bool,
    pub error: Option<String>,
    pub created_at: OffsetDateTime,
}

impl Message {
    pub fn new(rendered: super::Rendered, now: OffsetDateTime) -> Self {
        Self {
            id: Uuid::new_v4(),
            status: MessageStatus::Queued,
            recipient: rendered.recipient,
            channel: rendered.channel.to_string(),
            subject: rendered.subject,
            body: rendered.plaintext,
            html_body: rendered.html,
            template_type: rendered.template_type.to_string(),
            template_data: rendered.template_data,
            send_count: 0,
            priority: 0,
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
            dispatches: Vec::new(),
        }
    }

    /// The message as Kratos's admin API shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status.as_str(),
            "type": self.channel,
            "recipient": self.recipient,
            "body": self.body,
            "subject": self.subject,
            "template_type": self.template_type,
            "send_count": self.send_count,
            "dispatches": self.dispatches.iter().map(|dispatch| {
                let mut out = json!({
                    "id": dispatch.id,
                    "message_id": dispatch.message_id,
                    "status": if dispatch.success { "success" } else { "failed" },
                    "created_at": timestamp(dispatch.created_at),
                    "updated_at": timestamp(dispatch.created_at),
                });
                if let Some(error) = &dispatch.error {
                    out["error"] = json!({"reason": error});
                }
                out
            }).collect::<Vec<_>>(),
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
        })
    }
}
