//! The delivery loop: claim due messages with a lease, deliver, record the outcome.

use std::time::Duration;

use tokio::sync::watch;

use super::Delivery;
use crate::state::AppState;
use crate::store::StoreResult;

/// How long a claimed message belongs to one worker. Longer than a batch can take (each SMTP
/// exchange times out after 30 s); a worker that dies leaves its messages due again after it.
pub const LEASE: Duration = Duration::from_secs(10 * 60);

/// The longest pause between two attempts of one message.
const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);

pub struct Worker {
    state: AppState,
    delivery: Delivery,
}

impl Worker {
    pub fn new(state: AppState, delivery: Delivery) -> Self {
        Self { state, delivery }
    }

    /// Delivers until `stop` turns true; the batch in progress is finished first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let wait = self.state.config.courier.worker.pull_wait;
        loop {
            let delivered = match self.process_batch().await {
                Ok(count) => count,
                Err(error) => {
                    tracing::error!(%error, "the courier could not read its queue");
                    0
                }
            };
            if *stop.borrow() {
                return;
            }
            if delivered == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|stop| *stop) => return,
                }
            }
        }
    }

    /// Claims one batch and attempts each message; returns how many were claimed.
    pub async fn process_batch(&self) -> StoreResult<usize> {
        let config = &self.state.config.courier;
        let now = self.state.clock.now();
        let lease = time::Duration::try_from(LEASE).unwrap_or(time::Duration::MINUTE);
        let batch = self
            .state
            .courier_queue
            .claim_due(now, now + lease, config.worker.pull_count.max(1))
            .await?;
        for message in &batch {
            let outcome = self.delivery.deliver(message).await;
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
            self.state
                .courier_queue
                .record_attempt(message.id, outcome, retry_at, self.state.clock.now())
                .await?;
        }
        Ok(batch.len())
    }
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
