//! Group commit for the token endpoint's writes. Under load many requests store tokens at the
//! same moment; writing all that are waiting in one transaction costs one commit (and on
//! SQLite one turn of its single writer) and a few statements in all, where writing each alone
//! costs a transaction and three or four statements per request. The writer takes whatever is
//! queued when it becomes free, so a request that comes alone is written at once, and every
//! request is answered only after the transaction holding its write committed.

use std::collections::HashSet;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::oauth2::{insert_grants, insert_tokens};
use super::{Grant, StoreError, StoreResult, StoredToken, to_micros};

/// The most writes one transaction takes; more wait for the next.
const MAX_BATCH: usize = 128;

/// One request's write.
pub enum Write {
    /// A new grant with its first tokens.
    Create {
        grant: Grant,
        tokens: Vec<StoredToken>,
    },
    /// Spends the token with signature `spend` and stores `tokens` in its place, removing the
    /// grant's access tokens first when `rotate`. Nothing is written when the token was spent
    /// already, by an earlier transaction or an earlier write of the same batch.
    Spend {
        spend: String,
        rotate: bool,
        tokens: Vec<StoredToken>,
        now: OffsetDateTime,
    },
}

type Job = (Write, oneshot::Sender<StoreResult<bool>>);

/// The queue to this process's token writer.
pub struct TokenWriter {
    sender: mpsc::Sender<Job>,
}

impl TokenWriter {
    /// Starts the writer on the current Tokio runtime. It stops when the last handle is
    /// dropped.
    pub fn start(pool: sqlx::AnyPool) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run(pool, receiver));
        Self { sender }
    }

    /// Writes `write` once its transaction committed: `true`, or `false` for a token that was
    /// spent already.
    pub async fn write(&self, write: Write) -> StoreResult<bool> {
        let stopped = || StoreError::Database(sqlx::Error::PoolClosed);
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((write, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(pool: sqlx::AnyPool, mut receiver: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let writes: Vec<&Write> = jobs.iter().map(|(write, _)| write).collect();
        match write_all(&pool, &writes).await {
            Ok(outcomes) => {
                for ((_, reply), outcome) in jobs.drain(..).zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            // One bad write (a token signature that exists already, say) must not fail the
            // others: each is tried alone.
            Err(error) if jobs.len() == 1 => {
                if let Some((_, reply)) = jobs.pop() {
                    let _ = reply.send(Err(error));
                }
            }
            Err(_) => {
                for (write, reply) in jobs.drain(..) {
                    let outcome = write_all(&pool, &[&write])
                        .await
                        .map(|outcomes| outcomes.first().copied().unwrap_or(false));
                    let _ = reply.send(outcome);
                }
            }
        }
    }
}

/// Writes `writes` in one transaction; for each, whether it was written.
async fn write_all(pool: &sqlx::AnyPool, writes: &[&Write]) -> StoreResult<Vec<bool>> {
    let mut tx = pool.begin().await?;
    let spends: Vec<&str> = writes
        .iter()
        .filter_map(|write| match write {
            Write::Spend { spend, .. } => Some(spend.as_str()),
            Write::Create { .. } => None,
        })
        .collect();
    let mut unspent: HashSet<String> = HashSet::new();
    if !spends.is_empty() {
        // The batch's latest time stands for all: they differ by the moments spent queueing.
        let now = writes
            .iter()
            .filter_map(|write| match write {
                Write::Spend { now, .. } => Some(*now),
                Write::Create { .. } => None,
            })
            .max()
            .unwrap_or_else(OffsetDateTime::now_utc);
        for chunk in super::fixed_chunks(&spends) {
            let sql = format!(
                "UPDATE oauth2_tokens SET used_at = $1 \
                 WHERE used_at IS NULL AND signature IN ({}) RETURNING signature",
                super::placeholders(2, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql).bind(to_micros(now));
            for spend in chunk {
                query = query.bind(*spend);
            }
            unspent.extend(query.fetch_all(&mut *tx).await?);
        }
    }
    // Each token is spent by the first write that names it.
    let outcomes: Vec<bool> = writes
        .iter()
        .map(|write| match write {
            Write::Create { .. } => true,
            Write::Spend { spend, .. } => unspent.remove(spend),
        })
        .collect();
    let rotated: Vec<&str> = writes
        .iter()
        .zip(&outcomes)
        .filter_map(|(write, written)| match write {
            Write::Spend {
                spend,
                rotate: true,
                ..
            } if *written => Some(spend.as_str()),
            _ => None,
        })
        .collect();
    // A grant's older access tokens end with the refresh token that made them.
    for chunk in super::fixed_chunks(&rotated) {
        let sql = format!(
            "DELETE FROM oauth2_tokens WHERE kind = 'access' AND grant_id IN \
             (SELECT grant_id FROM oauth2_tokens WHERE signature IN ({}))",
            super::placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for spend in chunk {
            query = query.bind(*spend);
        }
        query.execute(&mut *tx).await?;
    }
    let grants: Vec<&Grant> = writes
        .iter()
        .filter_map(|write| match write {
            Write::Create { grant, .. } => Some(grant),
            Write::Spend { .. } => None,
        })
        .collect();
    insert_grants(&mut tx, &grants).await?;
    let tokens: Vec<&StoredToken> = writes
        .iter()
        .zip(&outcomes)
        .filter(|(_, written)| **written)
        .flat_map(|(write, _)| match write {
            Write::Create { tokens, .. } | Write::Spend { tokens, .. } => tokens.iter(),
        })
        .collect();
    insert_tokens(&mut tx, &tokens).await?;
    tx.commit().await?;
    Ok(outcomes)
}
