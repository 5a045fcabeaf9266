//! Time as a dependency, so tests can move it forward instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

#[derive(Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The current time in UTC, truncated to microseconds (what the database keeps), plus any
    /// offset a test added.
    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let micros = now.unix_timestamp_nanos() / 1_000
            + i128::from(self.offset_micros.load(Ordering::Relaxed));
        OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).unwrap_or(now)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_all_clones() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::from_secs(3600));
        assert!(copy.now() - before >= time::Duration::hours(1));
        assert_eq!(copy.now().nanosecond() % 1_000, 0);
    }
}
