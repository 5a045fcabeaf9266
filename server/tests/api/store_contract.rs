//! The store contract: the same expectations for every dialect, straight against the store.

use serde_json::json;
use time::OffsetDateTime;
use ward::identity::{CredentialType, Identity, IdentitySchema, apply_schema, schema::DEV_SCHEMA};
use ward::session::{Device, Session, SessionToken};
use ward::store::{
    IdentityQuery, IdentityStore, SessionStore, SqlStore, StoreError, ThrottleKey, ThrottleStore,
};

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let database = $crate::harness::TestDatabase::new(ward::store::Dialect::Sqlite).await.unwrap();
                    super::$name(&super::store(&database).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(database) = $crate::harness::TestDatabase::new(ward::store::Dialect::Postgres).await else { return };
                    super::$name(&super::store(&database).await).await;
                }
            )*
        }
    };
}

contract!(
    round_trip_is_lossless,
    update_replaces_children,
    conflicts_roll_back_everything,
    delete_cascades,
    keyset_pages,
    find_by_identifier,
    missing_records,
    migrations_are_idempotent,
    sessions_are_found_by_token_hash_only,
    whoami_lookup_brings_the_whole_identity,
    throttle_counters_window_refund_and_purge,
    token_writes_commit_together_and_spend_once,
);

async fn store(database: &crate::harness::TestDatabase) -> SqlStore {
    let store = SqlStore::connect(&database.dsn).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn now() -> OffsetDateTime {
    ward::clock::Clock::default().now()
}

fn identity(email: &str) -> Identity {
    let schema =
        IdentitySchema::compile("default", serde_json::from_str(DEV_SCHEMA).unwrap()).unwrap();
    let now = now();
    let mut identity = Identity::new(
        "default".into(),
        json!({"email": email, "name": {"first": "Ünïcødé"}}),
        now,
    );
    identity.metadata_public = Some(json!({"a": [1, 2, {"b": null}]}));
    identity.external_id = Some(format!("ext-{email}"));
    ward::identity::credential_entry(&mut identity, CredentialType::Password, now).config = json!({"hashed_password": "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"});
    apply_schema(&mut identity, &schema, now).unwrap();
    identity
}

async fn round_trip_is_lossless(store: &SqlStore) {
    let original = identity("ada@example.com");
    store.create_identity(&original).await.unwrap();
    let loaded = store.get_identity(original.id).await.unwrap();
    assert_eq!(loaded, original);
}

async fn update_replaces_children(store: &SqlStore) {
    let mut identity = identity("ada@example.com");
    store.create_identity(&identity).await.unwrap();
    identity.traits["email"] = json!("grace@example.com");
    let schema =
        IdentitySchema::compile("default", serde_json::from_str(DEV_SCHEMA).unwrap()).unwrap();
    apply_schema(&mut identity, &schema, now()).unwrap();
    identity.credentials.remove(&CredentialType::Code);
    store.update_identity(&identity).await.unwrap();
    let loaded = store.get_identity(identity.id).await.unwrap();
    assert_eq!(loaded, identity);
    assert!(
        store
            .find_by_identifier(CredentialType::Password, "ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_by_identifier(CredentialType::Code, "grace@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

async fn conflicts_roll_back_everything(store: &SqlStore) {
    store
        .create_identity(&identity("ada@example.com"))
        .await
        .unwrap();
    let clash = identity("ada@example.com");
    assert!(matches!(
        store.create_identity(&clash).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.get_identity(clash.id).await,
        Err(StoreError::NotFound)
    ));

    // An update that clashes keeps the old state whole.
    let mut grace = identity("grace@example.com");
    store.create_identity(&grace).await.unwrap();
    let before = store.get_identity(grace.id).await.unwrap();
    grace
        .credentials
        .get_mut(&CredentialType::Password)
        .unwrap()
        .identifiers = vec!["ada@example.com".into()];
    assert!(matches!(
        store.update_identity(&grace).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get_identity(grace.id).await.unwrap(), before);
}

async fn delete_cascades(store: &SqlStore) {
    let identity = identity("ada@example.com");
    store.create_identity(&identity).await.unwrap();
    store.delete_identity(identity.id).await.unwrap();
    for table in [
        "identity_credentials",
        "identity_credential_identifiers",
        "identity_verifiable_addresses",
        "identity_recovery_addresses",
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(count, 0, "{table}");
    }
    store.create_identity(&identity).await.unwrap();
}

async fn keyset_pages(store: &SqlStore) {
    let mut ids = Vec::new();
    for index in 0..7 {
        let identity = identity(&format!("user{index}@example.com"));
        ids.push(identity.id);
        store.create_identity(&identity).await.unwrap();
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_identities(&IdentityQuery {
                page_size: 3,
                after,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            page.identities
                .iter()
                .all(|identity| identity.credentials.contains_key(&CredentialType::Password))
        );
        seen.extend(page.identities.iter().map(|identity| identity.id));
        match page.next_after {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let page = store
        .list_identities(&IdentityQuery {
            page_size: 7,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.identities.len(), 7);
    assert!(
        page.next_after.is_none(),
        "an exactly full last page has no next"
    );
}

async fn find_by_identifier(store: &SqlStore) {
    let identity = identity("ada@example.com");
    store.create_identity(&identity).await.unwrap();
    let found = store
        .find_by_identifier(CredentialType::Password, "ada@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, identity.id);
    assert!(
        store
            .find_by_identifier(CredentialType::Password, "nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_by_identifier(CredentialType::Totp, "ada@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

async fn missing_records(store: &SqlStore) {
    let identity = identity("ada@example.com");
    assert!(matches!(
        store.get_identity(identity.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.update_identity(&identity).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_identity(identity.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn migrations_are_idempotent(store: &SqlStore) {
    assert!(store.migrate().await.unwrap().is_empty());
    assert!(store.pending_migrations().await.unwrap().is_empty());
}

async fn sessions_are_found_by_token_hash_only(store: &SqlStore) {
    let identity = identity("ada@example.com");
    store.create_identity(&identity).await.unwrap();
    let token = SessionToken::generate();
    let now = now();
    let mut session = Session::new(
        identity.id,
        &token,
        "password",
        now,
        time::Duration::hours(24),
    );
    session.devices.push(Device {
        id: uuid::Uuid::new_v4(),
        ip_address: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        location: None,
    });
    store.create_session(&session).await.unwrap();
    assert_eq!(
        store
            .find_session_by_token_hash(&token.hash())
            .await
            .unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store
            .find_session_by_token_hash(token.expose())
            .await
            .unwrap(),
        None,
        "the raw token is not stored"
    );
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_hash = $1")
        .bind(token.expose().to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
    assert!(matches!(
        store.create_session(&session).await,
        Err(StoreError::Conflict)
    ));

    store.delete_identity(identity.id).await.unwrap();
    assert_eq!(
        store
            .find_session_by_token_hash(&token.hash())
            .await
            .unwrap(),
        None,
        "sessions go with their identity"
    );
}

async fn whoami_lookup_brings_the_whole_identity(store: &SqlStore) {
    // Several addresses of each kind: the one-query join must neither lose nor repeat any.
    let schema = IdentitySchema::compile(
        "multi",
        json!({"type": "object", "properties": {"traits": {"type": "object", "properties": {
            "emails": {"type": "array", "items": {"type": "string", "format": "email",
                "ory.sh/kratos": {"verification": {"via": "email"}, "recovery": {"via": "email"}}}},
            "backup": {"type": "string", "format": "email", "ory.sh/kratos": {"recovery": {"via": "email"}}}
        }}}}),
    )
    .unwrap();
    let now = now();
    let mut identity = Identity::new(
        "multi".into(),
        json!({"emails": ["a@x.io", "b@x.io", "c@x.io"], "backup": "d@x.io"}),
        now,
    );
    apply_schema(&mut identity, &schema, now).unwrap();
    assert_eq!(
        (
            identity.verifiable_addresses.len(),
            identity.recovery_addresses.len()
        ),
        (3, 4)
    );
    store.create_identity(&identity).await.unwrap();
    let token = SessionToken::generate();
    let session = Session::new(
        identity.id,
        &token,
        "password",
        now,
        time::Duration::hours(1),
    );
    store.create_session(&session).await.unwrap();
    let (found_session, found_identity) = store
        .find_session_with_identity(&token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found_session, session);
    let mut expected = store.get_identity(identity.id).await.unwrap();
    expected.credentials.clear();
    assert_eq!(found_identity, expected);
    assert!(
        store
            .find_session_with_identity("unknown")
            .await
            .unwrap()
            .is_none()
    );
}

/// Every write through the store that changes a session or its identity drops the identity's
/// cached whoami answers: at once in this process, and on PostgreSQL in other replicas too.
mod session_cache {
    use super::*;
    use std::time::Duration;
    use ward::store::Dialect;

    #[tokio::test]
    async fn sqlite() {
        let database = crate::harness::TestDatabase::new(Dialect::Sqlite)
            .await
            .unwrap();
        follows_changes(&database.dsn, false).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some(database) = crate::harness::TestDatabase::new(Dialect::Postgres).await else {
            return;
        };
        follows_changes(&database.dsn, true).await;
    }

    async fn replica(dsn: &str) -> SqlStore {
        let store = SqlStore::connect(dsn)
            .await
            .unwrap()
            .with_session_cache(1 << 20);
        store.migrate().await.unwrap();
        let listener = store.clone();
        tokio::spawn(async move { listener.listen_for_changes().await });
        for _ in 0..200 {
            if store.session_cache().is_trusted() {
                return store;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the replica never started listening for changes");
    }

    fn remember(store: &SqlStore, session: &Session) {
        let cache = store.session_cache();
        let started = cache.begin_fill();
        let body = axum::body::Bytes::from_static(b"{}");
        cache.fill(
            started,
            &session.token_hash,
            session.identity_id,
            session.expires_at,
            body,
        );
        assert!(cache.get(&session.token_hash).is_some());
    }

    /// Polls until the answer is gone; another replica hears of changes a little after they
    /// commit.
    async fn forgotten(store: &SqlStore, session: &Session) {
        for _ in 0..200 {
            if store.session_cache().get(&session.token_hash).is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the cached answer outlived the change");
    }

    async fn follows_changes(dsn: &str, two_replicas: bool) {
        let here = replica(dsn).await;
        let mut identity = identity("cache@example.com");
        here.create_identity(&identity).await.unwrap();
        let token = SessionToken::generate();
        let session = Session::new(
            identity.id,
            &token,
            "password",
            now(),
            time::Duration::hours(1),
        );
        here.create_session(&session).await.unwrap();
        let cache = here.session_cache();

        remember(&here, &session);
        identity.traits = json!({"email": "changed@example.com"});
        here.update_identity(&identity).await.unwrap();
        assert!(cache.get(&session.token_hash).is_none());

        remember(&here, &session);
        here.update_session(&session).await.unwrap();
        assert!(cache.get(&session.token_hash).is_none());

        remember(&here, &session);
        here.revoke_other_sessions(identity.id, Some(session.id))
            .await
            .unwrap();
        assert!(cache.get(&session.token_hash).is_none());

        if two_replicas {
            let there = replica(dsn).await;
            remember(&here, &session);
            there
                .revoke_other_sessions(identity.id, None)
                .await
                .unwrap();
            forgotten(&here, &session).await;

            remember(&here, &session);
            identity.traits = json!({"email": "elsewhere@example.com"});
            there.update_identity(&identity).await.unwrap();
            forgotten(&here, &session).await;
        }

        remember(&here, &session);
        here.delete_identity(identity.id).await.unwrap();
        assert!(cache.get(&session.token_hash).is_none());
    }
}

async fn throttle_counters_window_refund_and_purge(store: &SqlStore) {
    let key = |scope, subject: &str| ThrottleKey {
        scope,
        subject: subject.to_string(),
        origin: String::new(),
    };
    let minute = std::time::Duration::from_secs(60);
    let start = now();
    let failures = |counters: Vec<ward::store::Counter>| -> Vec<i64> {
        counters.iter().map(|counter| counter.failures).collect()
    };
    // Each hit counts every key and answers in the order asked.
    let both = [(key("b", "x"), minute), (key("a", "x"), minute * 2)];
    assert_eq!(failures(store.hit(&both, start).await.unwrap()), [1, 1]);
    let counters = store.hit(&both, start).await.unwrap();
    assert_eq!(failures(counters.clone()), [2, 2]);
    assert_eq!(counters[0].scope, "b");
    assert_eq!(
        counters[1].window_ends_at,
        start + time::Duration::minutes(2)
    );
    store.refund(&key("b", "x")).await.unwrap();
    assert_eq!(failures(store.hit(&both[..1], start).await.unwrap()), [2]);
    // A hit after the window starts a new one.
    let later = start + time::Duration::seconds(90);
    let counters = store.hit(&both, later).await.unwrap();
    assert_eq!(failures(counters.clone()), [1, 3]);
    assert_eq!(
        counters[0].window_ends_at,
        later + time::Duration::minutes(1)
    );
    let live = store
        .counters(&[("a", "x".into()), ("b", "x".into())], later)
        .await
        .unwrap();
    assert_eq!(live.len(), 2);
    // A success resets some counters and gives one attempt back to another, in one statement.
    let pair = [(key("a", "y"), minute), (key("b", "y"), minute)];
    store.hit(&pair, later).await.unwrap();
    store.hit(&pair, later).await.unwrap();
    store
        .settle(&[key("a", "y")], Some(&key("b", "y")))
        .await
        .unwrap();
    let live = store
        .counters(&[("a", "y".into()), ("b", "y".into())], later)
        .await
        .unwrap();
    assert_eq!(
        failures(live),
        [1],
        "a is reset (and no longer listed), b has one attempt back"
    );
    assert_eq!(failures(store.hit(&pair, later).await.unwrap()), [1, 2]);
    store
        .clear(&[("a", "y".into()), ("b", "y".into())])
        .await
        .unwrap();
    // The cleanup deletes ended windows only; `forget` and `clear` delete on request.
    let after = start + time::Duration::seconds(140);
    assert_eq!(store.purge_expired(after).await.unwrap(), 1);
    assert_eq!(
        store
            .counters(&[("b", "x".into())], later)
            .await
            .unwrap()
            .len(),
        1
    );
    store.forget(&[key("b", "x")]).await.unwrap();
    assert_eq!(
        store
            .clear(&[("a", "x".into()), ("b", "x".into())])
            .await
            .unwrap(),
        0
    );
}

/// The token writer groups concurrent writes into one transaction: every write lands, a token
/// spent by many requests at once is spent by one, and a write that cannot be stored fails
/// alone.
async fn token_writes_commit_together_and_spend_once(store: &SqlStore) {
    use futures_util::future::join_all;
    use ward::store::{Grant, OAuth2Store, StoredToken, TokenKind};
    let now = now();
    let grant = |n: usize| Grant {
        id: uuid::Uuid::new_v4(),
        client_id: "client".into(),
        subject: format!("subject-{n}"),
        session_id: None,
        scope: "offline_access".into(),
        details: json!({}),
        created_at: now,
        revoked_at: None,
    };
    let token = |grant: &Grant, kind: TokenKind, signature: String| StoredToken {
        signature,
        grant_id: grant.id,
        kind,
        expires_at: now + time::Duration::HOUR,
        used_at: None,
        created_at: now,
    };
    let grants: Vec<Grant> = (0..40).map(grant).collect();
    let created = join_all(grants.iter().enumerate().map(|(n, grant)| {
        let tokens = [
            token(grant, TokenKind::Access, format!("at-{n}")),
            token(grant, TokenKind::Refresh, format!("rt-{n}")),
        ];
        async move { store.create_grant(grant, &tokens).await }
    }))
    .await;
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    for (n, grant) in grants.iter().enumerate() {
        let (found, owner) = store.find_token(&format!("rt-{n}")).await.unwrap().unwrap();
        assert_eq!((found.kind, owner.id), (TokenKind::Refresh, grant.id));
    }

    // Ten requests spend one refresh token at once: one wins, and only its tokens are kept;
    // the grant's older access token is gone with the rotation.
    let first = &grants[0];
    let spent = join_all((0..10).map(|n| {
        let tokens = [token(first, TokenKind::Access, format!("rotated-{n}"))];
        async move { store.spend_token("rt-0", true, &tokens, now).await }
    }))
    .await;
    let winners: Vec<usize> = (0..10).filter(|n| *spent[*n].as_ref().unwrap()).collect();
    assert_eq!(winners.len(), 1, "{spent:?}");
    for n in 0..10 {
        let kept = store.find_token(&format!("rotated-{n}")).await.unwrap();
        assert_eq!(kept.is_some(), winners == [n]);
    }
    assert!(store.find_token("at-0").await.unwrap().is_none());
    assert!(store.find_token("at-1").await.unwrap().is_some());
    let (used, _) = store.find_token("rt-0").await.unwrap().unwrap();
    assert!(used.used_at.is_some());

    // A write whose token exists already fails; the writes beside it do not.
    let (clash, fine) = (grant(98), grant(99));
    let results = join_all([
        store.create_grant(&clash, &[token(&clash, TokenKind::Access, "at-2".into())]),
        store.create_grant(&fine, &[token(&fine, TokenKind::Access, "fine".into())]),
    ])
    .await;
    assert!(results[0].is_err());
    assert!(results[1].is_ok());
    assert!(store.find_token("fine").await.unwrap().is_some());
    let (kept, owner) = store.find_token("at-2").await.unwrap().unwrap();
    assert_eq!((kept.kind, owner.id), (TokenKind::Access, grants[2].id));
}
