//! Attempt counters shared by every replica: one upsert counts an attempt and reports the count,
//! so concurrent attempts each see a different number and never all pass a limit together.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::FromRow;
use time::OffsetDateTime;

use super::{SqlStore, StoreResult, from_micros, to_micros};

/// A counter's name: its scope and keyed hashes of what it limits (see `throttle::keys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey {
    pub scope: &'static str,
    pub subject: String,
    /// The client network for per-pair scopes, empty otherwise.
    pub origin: String,
}

/// A counter as read back: attempts inside its window and when the window ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub scope: String,
    pub subject: String,
    pub origin: String,
    pub failures: i64,
    pub window_ends_at: OffsetDateTime,
}

#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// Counts one attempt under each key, in one atomic statement, and returns each key's count
    /// (this attempt included) in the order of `hits`. A counter whose window ended starts a new
    /// window of the given length.
    async fn hit(
        &self,
        hits: &[(ThrottleKey, Duration)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Counter>>;
    /// Deletes these counters (a success resets them).
    async fn forget(&self, keys: &[ThrottleKey]) -> StoreResult<()>;
    /// Takes one attempt back (a success that should not count against a shared budget).
    async fn refund(&self, key: &ThrottleKey) -> StoreResult<()>;
    /// After a success, in one statement: `reset` counters start again from zero and `refund`
    /// gets its attempt back.
    async fn settle(&self, reset: &[ThrottleKey], refund: Option<&ThrottleKey>) -> StoreResult<()>;
    /// Makes the counter's window last at least until `until` (a lockout).
    async fn extend(&self, key: &ThrottleKey, until: OffsetDateTime) -> StoreResult<()>;
    /// The live counters of these `(scope, subject)` pairs, any origin.
    async fn counters(
        &self,
        subjects: &[(&'static str, String)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Counter>>;
    /// Deletes the counters of these `(scope, subject)` pairs, any origin.
    async fn clear(&self, subjects: &[(&'static str, String)]) -> StoreResult<u64>;
    /// Deletes counters whose window ended; returns how many.
    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

#[derive(FromRow)]
struct CounterRow {
    scope: String,
    subject: String,
    origin: String,
    failures: i64,
    window_ends_at: i64,
}

impl CounterRow {
    fn into_counter(self) -> StoreResult<Counter> {
        Ok(Counter {
            window_ends_at: from_micros(self.window_ends_at)?,
            scope: self.scope,
            subject: self.subject,
            origin: self.origin,
            failures: self.failures,
        })
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// `(scope = $a AND subject = $b [AND origin = $c]) OR …`, numbering parameters from `first`.
fn key_filter(count: usize, with_origin: bool, first: usize) -> String {
    let per_key = if with_origin { 3 } else { 2 };
    (0..count)
        .map(|index| {
            let n = first + index * per_key;
            if with_origin {
                format!(
                    "(scope = ${n} AND subject = ${} AND origin = ${})",
                    n + 1,
                    n + 2
                )
            } else {
                format!("(scope = ${n} AND subject = ${})", n + 1)
            }
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[async_trait]
impl ThrottleStore for SqlStore {
    async fn hit(
        &self,
        hits: &[(ThrottleKey, Duration)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Counter>> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let values = (0..hits.len())
            .map(|index| {
                let n = 3 + index * 4;
                format!("(${n}, ${}, ${}, 1, ${})", n + 1, n + 2, n + 3)
            })
            .collect::<Vec<_>>()
            .join(", ");
        // Both dialects evaluate SET against the row as it was, so the two CASEs agree.
        let sql = format!(
            "INSERT INTO throttles (scope, subject, origin, failures, window_ends_at) VALUES {values} \
             ON CONFLICT (scope, subject, origin) DO UPDATE SET \
             failures = CASE WHEN throttles.window_ends_at <= $1 THEN 1 ELSE throttles.failures + 1 END, \
             window_ends_at = CASE WHEN throttles.window_ends_at <= $2 THEN excluded.window_ends_at \
             ELSE throttles.window_ends_at END \
             RETURNING scope, subject, origin, failures, window_ends_at"
        );
        let now_micros = to_micros(now);
        let mut query = sqlx::query_as::<_, CounterRow>(&sql)
            .bind(now_micros)
            .bind(now_micros);
        for (key, window) in hits {
            query = query
                .bind(key.scope)
                .bind(key.subject.clone())
                .bind(key.origin.clone())
                .bind(now_micros.saturating_add(micros(*window)));
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut counters = rows
            .into_iter()
            .map(CounterRow::into_counter)
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING does not promise the order of VALUES.
        let position = |counter: &Counter| {
            hits.iter().position(|(key, _)| {
                key.scope == counter.scope
                    && key.subject == counter.subject
                    && key.origin == counter.origin
            })
        };
        counters.sort_by_key(|counter| position(counter));
        Ok(counters)
    }

    async fn forget(&self, keys: &[ThrottleKey]) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM throttles WHERE {}",
            key_filter(keys.len(), true, 1)
        );
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query
                .bind(key.scope)
                .bind(key.subject.clone())
                .bind(key.origin.clone());
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn refund(&self, key: &ThrottleKey) -> StoreResult<()> {
        sqlx::query(
            "UPDATE throttles SET failures = failures - 1 \
             WHERE scope = $1 AND subject = $2 AND origin = $3 AND failures > 0",
        )
        .bind(key.scope)
        .bind(key.subject.clone())
        .bind(key.origin.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn settle(&self, reset: &[ThrottleKey], refund: Option<&ThrottleKey>) -> StoreResult<()> {
        let keys: Vec<&ThrottleKey> = reset.iter().chain(refund).collect();
        if keys.is_empty() {
            return Ok(());
        }
        // $1 names the refunded scope; every other key listed is reset.
        let sql = format!(
            "UPDATE throttles SET failures = CASE WHEN scope = $1 AND failures > 0 \
             THEN failures - 1 WHEN scope = $1 THEN 0 ELSE 0 END WHERE {}",
            key_filter(keys.len(), true, 2)
        );
        let mut query = sqlx::query(&sql).bind(refund.map_or("", |key| key.scope));
        for key in keys {
            query = query
                .bind(key.scope)
                .bind(key.subject.clone())
                .bind(key.origin.clone());
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    async fn extend(&self, key: &ThrottleKey, until: OffsetDateTime) -> StoreResult<()> {
        sqlx::query(
            "UPDATE throttles SET window_ends_at = $1 \
             WHERE scope = $2 AND subject = $3 AND origin = $4 AND window_ends_at < $5",
        )
        .bind(to_micros(until))
        .bind(key.scope)
        .bind(key.subject.clone())
        .bind(key.origin.clone())
        .bind(to_micros(until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn counters(
        &self,
        subjects: &[(&'static str, String)],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Counter>> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT scope, subject, origin, failures, window_ends_at FROM throttles \
             WHERE window_ends_at > $1 AND failures > 0 AND ({}) ORDER BY scope, window_ends_at",
            key_filter(subjects.len(), false, 2)
        );
        let mut query = sqlx::query_as::<_, CounterRow>(&sql).bind(to_micros(now));
        for (scope, subject) in subjects {
            query = query.bind(*scope).bind(subject.clone());
        }
        query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(CounterRow::into_counter)
            .collect()
    }

    async fn clear(&self, subjects: &[(&'static str, String)]) -> StoreResult<u64> {
        if subjects.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "DELETE FROM throttles WHERE {}",
            key_filter(subjects.len(), false, 1)
        );
        let mut query = sqlx::query(&sql);
        for (scope, subject) in subjects {
            query = query.bind(*scope).bind(subject.clone());
        }
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM throttles WHERE window_ends_at <= $1")
            .bind(to_micros(now))
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}
