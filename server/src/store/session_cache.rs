//! Whoami answers kept in memory, so `/sessions/whoami` answers without a database round trip,
//! while revocation stays instant.
//!
//! Every store write that can change what a session resolves to (the session, its identity,
//! the identity's addresses) calls [`SessionCache::invalidate`] for the identity before it
//! returns. The next lookup of any of that identity's sessions then reads the database.
//!
//! Invalidation uses striped generation counters, not an index from identities to tokens.
//! An entry remembers its identity's stripe generation from when it was read, and it is stale
//! once that stripe has moved. A global epoch guards the gap between reading the database and
//! storing the entry: a fill that overlaps any invalidation is not stored. Stripes shared by
//! several identities only cost an extra miss now and then.
//!
//! With several replicas on PostgreSQL, each write also sends a `NOTIFY` in its transaction
//! (see [`CHANNEL`]). Each replica listens and invalidates the same way. While a replica's
//! listener is not connected, its cache is not trusted: lookups miss and fills are dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

use axum::body::Bytes;
use time::OffsetDateTime;
use uuid::Uuid;

/// The PostgreSQL notification channel that carries ids of changed identities.
pub const CHANNEL: &str = "ward_session_changes";

const STRIPES: usize = 4096;

/// A valid session's whoami answer, as the database had it when it was read.
pub struct CachedWhoami {
    pub identity_id: Uuid,
    /// After this the entry answers nothing; the database says why.
    pub expires_at: OffsetDateTime,
    /// The serialized session with its identity.
    pub body: Bytes,
    stamp: u64,
}

#[derive(Clone)]
struct ByWeight;

impl quick_cache::Weighter<String, Arc<CachedWhoami>> for ByWeight {
    fn weight(&self, token_hash: &String, entry: &Arc<CachedWhoami>) -> u64 {
        // The body, the key, and the entry's and the table's bookkeeping.
        (entry.body.len() + token_hash.len() + 160) as u64
    }
}

type Entries = quick_cache::sync::Cache<String, Arc<CachedWhoami>, ByWeight>;

pub struct SessionCache {
    /// `None` when caching is off.
    entries: Option<Entries>,
    stripes: Box<[AtomicU64]>,
    epoch: AtomicU64,
    /// Whether changes made by other processes reach this cache (always, with SQLite).
    trusted: AtomicBool,
}

impl SessionCache {
    /// A cache that keeps nothing: every lookup reads the database.
    pub fn disabled() -> Self {
        Self::build(None)
    }

    /// A cache holding up to about `max_bytes` of whoami answers.
    pub fn new(max_bytes: u64) -> Self {
        // quick_cache sizes its tables from an item estimate; a whoami answer is about 1.5 KB.
        let estimated = usize::try_from(max_bytes / 1536)
            .unwrap_or(usize::MAX)
            .max(16);
        Self::build(Some(Entries::with_weighter(estimated, max_bytes, ByWeight)))
    }

    fn build(entries: Option<Entries>) -> Self {
        Self {
            entries,
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epoch: AtomicU64::new(0),
            trusted: AtomicBool::new(true),
        }
    }

    pub fn enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// Whether lookups may be answered from memory now.
    pub fn is_trusted(&self) -> bool {
        self.enabled() && self.trusted.load(SeqCst)
    }

    fn stripe(&self, identity_id: Uuid) -> &AtomicU64 {
        // UUIDs are random in their low bits (v4) or their clock bits (v7); fold both halves.
        let (high, low) = identity_id.as_u64_pair();
        let index = usize::try_from((high ^ low) % STRIPES as u64).unwrap_or_default();
        &self.stripes[index]
    }

    /// The cached, still current answer for a token hash.
    pub fn get(&self, token_hash: &str) -> Option<Arc<CachedWhoami>> {
        let entries = self.entries.as_ref()?;
        if !self.trusted.load(SeqCst) {
            return None;
        }
        let entry = entries.get(token_hash)?;
        if entry.stamp == self.stripe(entry.identity_id).load(SeqCst) {
            Some(entry)
        } else {
            entries.remove(token_hash);
            None
        }
    }

    /// Call before reading the database for a fill; hand the value to [`Self::fill`].
    pub fn begin_fill(&self) -> u64 {
        self.epoch.load(SeqCst)
    }

    /// Keeps an answer built from what the database returned, unless an invalidation happened
    /// since `started`.
    pub fn fill(
        &self,
        started: u64,
        token_hash: &str,
        identity_id: Uuid,
        expires_at: OffsetDateTime,
        body: Bytes,
    ) {
        let Some(entries) = &self.entries else {
            return;
        };
        let stamp = self.stripe(identity_id).load(SeqCst);
        if self.trusted.load(SeqCst) && self.epoch.load(SeqCst) == started {
            let entry = CachedWhoami {
                identity_id,
                expires_at,
                body,
                stamp,
            };
            entries.insert(token_hash.to_string(), Arc::new(entry));
        }
    }

    /// Marks everything cached for `identity_id` stale. Call after the change is committed.
    pub fn invalidate(&self, identity_id: Uuid) {
        self.epoch.fetch_add(1, SeqCst);
        self.stripe(identity_id).fetch_add(1, SeqCst);
    }

    /// Stops trusting the cache (`false`) or starts again (`true`); both drop every entry.
    /// For a replica whose change notifications stopped or resumed.
    pub fn set_trusted(&self, trusted: bool) {
        self.epoch.fetch_add(1, SeqCst);
        self.trusted.store(trusted, SeqCst);
        // Fills racing with this carry an older stamp than any stripe now has.
        for stripe in &self.stripes {
            stripe.fetch_add(1, SeqCst);
        }
        if let Some(entries) = &self.entries {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(cache: &SessionCache, identity_id: Uuid, token_hash: &str) {
        let started = cache.begin_fill();
        let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
        cache.fill(
            started,
            token_hash,
            identity_id,
            expires,
            Bytes::from_static(b"{}"),
        );
    }

    #[test]
    fn invalidation_reaches_every_session_of_the_identity_only() {
        let cache = SessionCache::new(1 << 20);
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        put(&cache, alice, "a1");
        put(&cache, alice, "a2");
        put(&cache, bob, "b1");
        assert!(cache.get("a1").is_some() && cache.get("b1").is_some());
        cache.invalidate(alice);
        assert!(cache.get("a1").is_none());
        assert!(cache.get("a2").is_none());
        // Bob shares Alice's stripe with probability 1/4096.
        if !std::ptr::eq(cache.stripe(alice), cache.stripe(bob)) {
            assert!(cache.get("b1").is_some());
        }
    }

    #[test]
    fn a_fill_that_overlaps_an_invalidation_is_not_kept() {
        let cache = SessionCache::new(1 << 20);
        let alice = Uuid::new_v4();
        let started = cache.begin_fill();
        // The database was read here, then another request changed Alice and invalidated.
        cache.invalidate(alice);
        let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
        cache.fill(started, "a1", alice, expires, Bytes::from_static(b"{}"));
        assert!(cache.get("a1").is_none());
    }

    #[test]
    fn an_untrusted_cache_neither_answers_nor_keeps() {
        let cache = SessionCache::new(1 << 20);
        let alice = Uuid::new_v4();
        put(&cache, alice, "a1");
        cache.set_trusted(false);
        assert!(cache.get("a1").is_none());
        put(&cache, alice, "a1");
        cache.set_trusted(true);
        assert!(cache.get("a1").is_none());
        put(&cache, alice, "a1");
        assert!(cache.get("a1").is_some());
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = SessionCache::disabled();
        put(&cache, Uuid::new_v4(), "a1");
        assert!(cache.get("a1").is_none());
    }
}
