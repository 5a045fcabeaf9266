//! Resolved sessions kept in memory, so `/sessions/whoami` answers from memory rather than a
//! database round trip, while revocation stays instant.
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

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use uuid::Uuid;

use crate::identity::Identity;
use crate::session::Session;

/// The PostgreSQL notification channel that carries ids of changed identities.
pub const CHANNEL: &str = "ward_session_changes";

const STRIPES: usize = 4096;

/// A session with its identity (without credentials), as the database had them.
pub struct ResolvedSession {
    pub session: Session,
    pub identity: Identity,
    /// The whoami body, serialized on first use.
    pub whoami: OnceLock<Bytes>,
    stamp: u64,
    weight: u64,
}

#[derive(Clone)]
struct ByWeight;

impl quick_cache::Weighter<String, Arc<ResolvedSession>> for ByWeight {
    fn weight(&self, _token_hash: &String, entry: &Arc<ResolvedSession>) -> u64 {
        entry.weight
    }
}

type Entries = quick_cache::sync::Cache<String, Arc<ResolvedSession>, ByWeight>;

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

    /// A cache holding up to about `max_bytes` of sessions and identities.
    pub fn new(max_bytes: u64) -> Self {
        // quick_cache sizes its tables from an item estimate; 2 KiB per entry is typical.
        let estimated = usize::try_from(max_bytes / 2048)
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

    /// The cached, still current entry for a token hash.
    pub fn get(&self, token_hash: &str) -> Option<Arc<ResolvedSession>> {
        let entries = self.entries.as_ref()?;
        if !self.trusted.load(SeqCst) {
            return None;
        }
        let entry = entries.get(token_hash)?;
        if entry.stamp == self.stripe(entry.session.identity_id).load(SeqCst) {
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

    /// Wraps what the database returned, and keeps it unless an invalidation happened since
    /// `started`.
    pub fn fill(&self, started: u64, session: Session, identity: Identity) -> Arc<ResolvedSession> {
        let stamp = self.stripe(identity.id).load(SeqCst);
        // Traits and metadata dominate an entry's size; the rest is roughly constant.
        let weight = 1024
            + json_len(&identity.traits)
            + identity.metadata_public.as_ref().map_or(0, json_len)
            + identity.metadata_admin.as_ref().map_or(0, json_len);
        let token_hash = session.token_hash.clone();
        let resolved = Arc::new(ResolvedSession {
            session,
            identity,
            whoami: OnceLock::new(),
            stamp,
            weight,
        });
        if let Some(entries) = &self.entries
            && self.trusted.load(SeqCst)
            && self.epoch.load(SeqCst) == started
        {
            entries.insert(token_hash, resolved.clone());
        }
        resolved
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

fn json_len(value: &serde_json::Value) -> u64 {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Identity, IdentityState};
    use crate::session::{Aal, Session};
    use time::OffsetDateTime;

    fn entry(identity_id: Uuid, token_hash: &str) -> (Session, Identity) {
        let now = OffsetDateTime::now_utc();
        let mut identity =
            Identity::new("default".into(), serde_json::json!({"email": "a@b.c"}), now);
        identity.id = identity_id;
        identity.state = IdentityState::Active;
        let session = Session {
            id: Uuid::new_v4(),
            identity_id,
            token_hash: token_hash.to_string(),
            active: true,
            aal: Aal::Aal1,
            authentication_methods: Vec::new(),
            devices: Vec::new(),
            issued_at: now,
            authenticated_at: now,
            expires_at: now + time::Duration::hours(1),
        };
        (session, identity)
    }

    fn put(cache: &SessionCache, identity_id: Uuid, token_hash: &str) {
        let started = cache.begin_fill();
        let (session, identity) = entry(identity_id, token_hash);
        cache.fill(started, session, identity);
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
        // Bob shares Alice's stripe with probability 1/4096; this id pair does not.
        if cache.stripe(alice).as_ptr() != cache.stripe(bob).as_ptr() {
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
        let (session, identity) = entry(alice, "a1");
        let resolved = cache.fill(started, session, identity);
        assert_eq!(resolved.session.token_hash, "a1");
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
