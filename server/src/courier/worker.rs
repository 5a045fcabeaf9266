//! The delivery loop: claim due messages with a lease, deliver them a few at a time over pooled
//! SMTP connections, record the outcomes. The worker sleeps until mail is queued (or
//! `pull_wait` passes), keeps the leases of messages in delivery alive with a heartbeat, and
//! claims mail someone is waiting for (codes) before older mail.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;

use super::Delivery;
use crate::state::AppState;
use crate::store::{Attempt, StoreResult};

/// How long a claimed message belongs to one worker unless its heartbeat renews the lease: a
/// worker that dies leaves its messages due again this soon.
pub const LEASE: Duration = Duration::from_secs(15);

/// How often a worker renews the leases of the messages it is delivering.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// The most messages of one batch delivered at the same time, each on its own pooled SMTP
/// connection (a batch is `courier.worker.pull_count` messages).
pub const MAX_CONCURRENT_DELIVERIES: u32 = 16;

/// The longest pause between two attempts of one message.
const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);

pub struct Worker {
    state: AppState,
    delivery: Arc<Delivery>,
}

impl Worker {
    pub fn new(state: AppState, delivery: Delivery) -> Self {
        Self {
            state,
            delivery: Arc::new(delivery),
        }
    }

    /// Delivers until `stop` turns true; the batch in progress is finished first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let wait = self.state.config.courier.worker.pull_wait;
        let wake = self.state.database.courier_wake();
        let database = self.state.database.clone();
        let listener = tokio::spawn(async move { database.listen_for_mail().await });
        loop {
            let delivered = match self.process_batch().await {
                Ok(count) => count,
                Err(error) => {
                    tracing::error!(%error, "the courier could not read its queue");
                    0
                }
            };
            if *stop.borrow() {
                break;
            }
            if delivered == 0 {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
            }
        }
        listener.abort();
    }

    /// Claims one batch and attempts each message; returns how many were claimed.
    pub async fn process_batch(&self) -> StoreResult<usize> {
        let config = &self.state.config.courier;
        let queue = &self.state.courier_queue;
        let lease = time::Duration::try_from(LEASE).unwrap_or(time::Duration::MINUTE);
        let now = self.state.clock.now();
        let batch = queue
            .claim_due(now, now + lease, config.worker.pull_count.max(1))
            .await?;
        if batch.is_empty() {
            return Ok(0);
        }
        let claimed = batch.len();
        let ids: Vec<uuid::Uuid> = batch.iter().map(|message| message.id).collect();
        let deliveries = futures_util::stream::iter(batch)
            .map(|message| {
                let delivery = self.delivery.clone();
                async move {
                    let outcome = delivery.deliver(&message).await;
                    (message, outcome)
                }
            })
            .buffer_unordered(concurrency(config.worker.pull_count))
            .collect::<Vec<_>>();
        tokio::pin!(deliveries);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        let outcomes = loop {
            tokio::select! {
                outcomes = &mut deliveries => break outcomes,
                _ = heartbeat.tick() => {
                    let now = self.state.clock.now();
                    if let Err(error) = queue.extend_leases(&ids, now, now + lease).await {
                        tracing::warn!(%error, "the courier could not renew its leases");
                    }
                }
            }
        };
        let attempts: Vec<Attempt> = outcomes
            .into_iter()
            .map(|(message, outcome)| {
                let retry_at = match &outcome {
                    Ok(()) => None,
                    Err(error) => {
                        tracing::warn!(message_id = %message.id, attempt = message.send_count, %error,
                            "could not deliver a message");
                        (message.send_count <= config.message_retries)
                            .then(|| self.state.clock.now() + backoff(message.send_count))
                    }
                };
                if outcome.is_err() && retry_at.is_none() {
                    tracing::error!(message_id = %message.id, "abandoned a message after its retries");
                }
                Attempt {
                    message_id: message.id,
                    outcome,
                    retry_at,
                }
            })
            .collect();
        queue
            .record_attempts(&attempts, self.state.clock.now())
            .await?;
        Ok(claimed)
    }
}

/// How many messages of a batch go out at once: the whole batch, up to the cap.
pub fn concurrency(pull_count: u32) -> usize {
    usize::try_from(pull_count.clamp(1, MAX_CONCURRENT_DELIVERIES)).unwrap_or(1)
}

/// 1 s after the first failure, doubling up to ten minutes.
pub(crate) fn backoff(attempts: u32) -> time::Duration {
    let seconds = 1u64
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u64::MAX)
        .min(MAX_BACKOFF.as_secs());
    time::Duration::seconds(i64::try_from(seconds).unwrap_or(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), time::Duration::seconds(1));
        assert_eq!(backoff(2), time::Duration::seconds(2));
        assert_eq!(backoff(4), time::Duration::seconds(8));
        assert_eq!(backoff(40), time::Duration::seconds(600));
    }
}
