//! The admin identities API (reference §1b, §5).

use reqwest::Method;
use serde_json::{Value, json};

use crate::dialect_tests;
use crate::harness::{TestApp, json_with_status};

dialect_tests!(
    create_returns_the_kratos_shape,
    password_is_hashed_and_shown_only_on_request,
    imported_hashes_are_checked,
    duplicate_identifiers_conflict_and_leave_nothing_behind,
    invalid_traits_list_every_violation,
    strict_bodies,
    list_paginates_with_link_headers,
    list_filters,
    replace_identity,
    patch_identity,
    delete_identity,
    malformed_and_unknown_ids,
);

fn ada() -> Value {
    json!({"schema_id": "default", "traits": {"email": "Ada@Example.com", "name": {"first": "Ada", "last": "Lovelace"}}})
}

async fn create_returns_the_kratos_shape(app: &TestApp) {
    let response = app
        .admin_request(Method::POST, "/admin/identities", Some(ada()))
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(
        location.ends_with(&format!("/admin/identities/{id}")),
        "{location}"
    );

    let mut keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "credentials",
            "id",
            "metadata_admin",
            "metadata_public",
            "organization_id",
            "recovery_addresses",
            "schema_id",
            "schema_url",
            "state",
            "state_changed_at",
            "traits",
            "updated_at",
            "verifiable_addresses"
        ]
    );
    assert_eq!(created["state"], "active");
    assert_eq!(
        created["schema_url"],
        format!("{}/schemas/ZGVmYXVsdA", app.public)
    );
    assert_eq!(
        created["traits"]["email"], "Ada@Example.com",
        "traits are stored as given"
    );
    let address = &created["verifiable_addresses"][0];
    assert_eq!(address["value"], "ada@example.com");
    assert_eq!(address["verified"], false);
    assert_eq!(address["status"], "pending");
    assert_eq!(address["via"], "email");
    assert_eq!(created["recovery_addresses"][0]["value"], "ada@example.com");
    assert_eq!(
        created["credentials"]["password"]["identifiers"],
        json!(["ada@example.com"])
    );
    assert!(created["credentials"]["password"].get("config").is_none());
    assert_eq!(
        created["credentials"]["code"]["identifiers"],
        json!(["ada@example.com"])
    );

    let response = app
        .admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
        .await;
    assert_eq!(
        json_with_status(response, 200).await,
        created,
        "a read returns what the create returned"
    );
}

async fn password_is_hashed_and_shown_only_on_request(app: &TestApp) {
    let mut body = ada();
    body["credentials"] =
        json!({"password": {"config": {"password": "correct horse battery staple"}}});
    let created = app.create_identity(body).await;
    let id = created["id"].as_str().unwrap();

    let response = app
        .admin_request(
            Method::GET,
            &format!("/admin/identities/{id}?include_credential=password"),
            None,
        )
        .await;
    let identity = json_with_status(response, 200).await;
    let hash = identity["credentials"]["password"]["config"]["hashed_password"]
        .as_str()
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
    assert!(!hash.contains("correct horse"));
    assert!(identity["credentials"]["code"].get("config").is_none());

    let stored = ward::store::IdentityStore::get_identity(&app.state.database, id.parse().unwrap())
        .await
        .unwrap();
    let hashed =
        stored.credentials[&ward::identity::CredentialType::Password].config["hashed_password"]
            .as_str()
            .unwrap()
            .to_string();
    let hasher = &app.state.hasher;
    assert!(
        hasher
            .verify(
                ward::hash::Password::new("correct horse battery staple".into()),
                hashed.clone()
            )
            .await
            .unwrap()
    );
    assert!(
        !hasher
            .verify(ward::hash::Password::new("wrong".into()), hashed)
            .await
            .unwrap()
    );

    let response = app
        .admin_request(
            Method::GET,
            &format!("/admin/identities/{id}?include_credential=nonsense"),
            None,
        )
        .await;
    json_with_status(response, 400).await;
}

async fn imported_hashes_are_checked(app: &TestApp) {
    let import = |email: &str, config: Value| json!({"schema_id": "default", "traits": {"email": email}, "credentials": {"password": {"config": config}}});
    let bcrypt = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
    let argon2i =
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
    for (email, hash) in [("b@example.com", bcrypt), ("a@example.com", argon2i)] {
        let created = app
            .create_identity(import(email, json!({"hashed_password": hash})))
            .await;
        let id = created["id"].as_str().unwrap();
        let response = app
            .admin_request(
                Method::GET,
                &format!("/admin/identities/{id}?include_credential=password"),
                None,
            )
            .await;
        let identity = json_with_status(response, 200).await;
        assert_eq!(
            identity["credentials"]["password"]["config"]["hashed_password"],
            hash
        );
    }
    for bad in [
        json!({"hashed_password": "$md5$abc"}),
        json!({"hashed_password": "$2a$10$tooshort"}),
        json!({"hashed_password": bcrypt, "password": "both-given-123"}),
        json!({}),
        json!({"password": "secret-secret", "use_password_migration_hook": true}),
    ] {
        let response = app
            .admin_request(
                Method::POST,
                "/admin/identities",
                Some(import("c@example.com", bad.clone())),
            )
            .await;
        let body = json_with_status(response, 400).await;
        assert_eq!(body["error"]["code"], 400, "{bad}");
    }
    let page = app
        .state
        .identities
        .list_identities(&ward::store::IdentityQuery {
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.identities.len(), 2, "rejected imports store nothing");
}

async fn duplicate_identifiers_conflict_and_leave_nothing_behind(app: &TestApp) {
    app.create_identity(ada()).await;
    // Same address in another case: identifiers are normalised before the unique check.
    let duplicate = json!({"schema_id": "default", "traits": {"email": "ADA@example.com"}});
    let response = app
        .admin_request(Method::POST, "/admin/identities", Some(duplicate))
        .await;
    let body = json_with_status(response, 409).await;
    assert_eq!(body["error"]["status"], "Conflict");

    // The identity row was written before the identifier failed: the transaction undid it.
    let pool = app.state.database.pool();
    for (table, expected) in [
        ("identities", 1),
        ("identity_credentials", 2),
        ("identity_credential_identifiers", 2),
        ("identity_verifiable_addresses", 1),
        ("identity_recovery_addresses", 1),
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(count, expected, "{table}");
    }
}

async fn invalid_traits_list_every_violation(app: &TestApp) {
    let body =
        json!({"schema_id": "default", "traits": {"email": "not-an-email", "name": {"first": 42}}});
    let response = app
        .admin_request(Method::POST, "/admin/identities", Some(body))
        .await;
    let body = json_with_status(response, 400).await;
    let errors = body["error"]["details"]["errors"].as_array().unwrap();
    let pointers: Vec<&str> = errors
        .iter()
        .map(|error| error["instance_ptr"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"#/traits/email"), "{body}");
    assert!(pointers.contains(&"#/traits/name/first"), "{body}");
    assert!(errors.iter().all(|error| {
        error["reason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty())
    }));

    let response = app
        .admin_request(
            Method::POST,
            "/admin/identities",
            Some(json!({"schema_id": "nope", "traits": {}})),
        )
        .await;
    let body = json_with_status(response, 400).await;
    assert!(body["error"]["reason"].as_str().unwrap().contains("nope"));

    let response = app
        .admin_request(
            Method::POST,
            "/admin/identities",
            Some(json!({"schema_id": "default", "traits": {}})),
        )
        .await;
    let body = json_with_status(response, 400).await;
    assert_eq!(
        body["error"]["details"]["errors"][0]["instance_ptr"],
        "#/traits"
    );
}

async fn strict_bodies(app: &TestApp) {
    let mut body = ada();
    body["unexpected"] = json!(true);
    let response = app
        .admin_request(Method::POST, "/admin/identities", Some(body))
        .await;
    let body = json_with_status(response, 400).await;
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("unexpected"),
        "{body}"
    );

    let response = app
        .admin_request(
            Method::POST,
            "/admin/identities",
            Some(json!({"schema_id": "default", "traits": {"email": "x@y.z"}, "state": "frozen"})),
        )
        .await;
    let body = json_with_status(response, 400).await;
    assert!(
        body["error"]["reason"].as_str().unwrap().contains("state"),
        "{body}"
    );
}

async fn list_paginates_with_link_headers(app: &TestApp) {
    let mut created = Vec::new();
    for index in 0..5 {
        let identity = app
            .create_identity(json!({"schema_id": "default", "traits": {"email": format!("user{index}@example.com")}}))
            .await;
        created.push(identity["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut next = Some("/admin/identities?page_size=2".to_string());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let response = app.admin_request(Method::GET, &path, None).await;
        let link = response
            .headers()
            .get("link")
            .map(|value| value.to_str().unwrap().to_string());
        let page = json_with_status(response, 200).await;
        let items = page.as_array().unwrap();
        assert!(items.len() <= 2);
        assert!(
            items
                .iter()
                .all(|identity| identity.get("credentials").is_some())
        );
        seen.extend(
            items
                .iter()
                .map(|identity| identity["id"].as_str().unwrap().to_string()),
        );
        let link = link.expect("every page carries a Link header");
        assert!(link.contains(r#"rel="first""#), "{link}");
        next = link
            .split(',')
            .find(|part| part.contains(r#"rel="next""#))
            .map(|part| {
                part.trim()
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            });
        pages += 1;
        assert!(pages <= 3, "pagination must end");
    }
    assert_eq!(pages, 3);
    created.sort();
    assert_eq!(seen, created, "every identity exactly once, in id order");

    // Out-of-range sizes are the default and the maximum, as in Kratos.
    for (query, expected) in [
        ("page_size=0", 5),
        ("page_size=-3", 5),
        ("page_size=501", 5),
    ] {
        let response = app
            .admin_request(Method::GET, &format!("/admin/identities?{query}"), None)
            .await;
        let link = response.headers()["link"].to_str().unwrap().to_string();
        let body = json_with_status(response, 200).await;
        assert_eq!(body.as_array().unwrap().len(), expected, "{query}");
        let size = if query == "page_size=501" { 500 } else { 250 };
        assert!(
            link.contains(&format!("page_size={size}")),
            "{query}: {link}"
        );
    }
    for bad in ["page_size=many", "page_token=garbage", "page=2&per_page=10"] {
        let response = app
            .admin_request(Method::GET, &format!("/admin/identities?{bad}"), None)
            .await;
        assert_eq!(
            json_with_status(response, 400).await["error"]["code"],
            400,
            "{bad}"
        );
    }
}

async fn list_filters(app: &TestApp) {
    let ada = app.create_identity(ada()).await;
    let grace = app
        .create_identity(json!({"schema_id": "default", "traits": {"email": "grace@example.com"}}))
        .await;

    let response = app
        .admin_request(
            Method::GET,
            "/admin/identities?credentials_identifier=ADA%40example.com",
            None,
        )
        .await;
    let found = json_with_status(response, 200).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], ada["id"]);

    let response = app
        .admin_request(
            Method::GET,
            "/admin/identities?credentials_identifier=nobody%40example.com",
            None,
        )
        .await;
    assert_eq!(json_with_status(response, 200).await, json!([]));

    let path = format!(
        "/admin/identities?ids={}&ids={}",
        grace["id"].as_str().unwrap(),
        uuid::Uuid::new_v4()
    );
    let response = app.admin_request(Method::GET, &path, None).await;
    let found = json_with_status(response, 200).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], grace["id"]);

    let path = format!(
        "/admin/identities?ids={}&credentials_identifier=x",
        grace["id"].as_str().unwrap()
    );
    let response = app.admin_request(Method::GET, &path, None).await;
    json_with_status(response, 400).await;
    let response = app
        .admin_request(Method::GET, "/admin/identities?ids=not-a-uuid", None)
        .await;
    json_with_status(response, 400).await;
}

async fn replace_identity(app: &TestApp) {
    let created = app.create_identity(ada()).await;
    let id = created["id"].as_str().unwrap();
    let body = json!({
        "schema_id": "default",
        "traits": {"email": "countess@example.com"},
        "state": "inactive",
        "metadata_public": {"plan": "pro"},
        "metadata_admin": {"note": "vip"}
    });
    let response = app
        .admin_request(Method::PUT, &format!("/admin/identities/{id}"), Some(body))
        .await;
    let updated = json_with_status(response, 200).await;
    assert_eq!(updated["traits"], json!({"email": "countess@example.com"}));
    assert_eq!(updated["state"], "inactive");
    assert_ne!(updated["state_changed_at"], created["state_changed_at"]);
    assert_eq!(updated["metadata_public"], json!({"plan": "pro"}));
    assert_eq!(updated["metadata_admin"], json!({"note": "vip"}));
    assert_eq!(
        updated["verifiable_addresses"][0]["value"],
        "countess@example.com"
    );
    assert_eq!(
        updated["credentials"]["password"]["identifiers"],
        json!(["countess@example.com"])
    );
    assert_eq!(updated["created_at"], created["created_at"]);

    // The old identifier is free again.
    app.create_identity(ada()).await;

    let response = app
        .admin_request(
            Method::PUT,
            &format!("/admin/identities/{id}"),
            Some(json!({"schema_id": "default", "traits": {"email": 1}})),
        )
        .await;
    json_with_status(response, 400).await;
    let response = app
        .admin_request(
            Method::PUT,
            &format!("/admin/identities/{}", uuid::Uuid::new_v4()),
            Some(ada()),
        )
        .await;
    json_with_status(response, 404).await;
    // Taking someone else's identifier conflicts.
    let response = app
        .admin_request(Method::PUT, &format!("/admin/identities/{id}"), Some(ada()))
        .await;
    json_with_status(response, 409).await;
}

async fn patch_identity(app: &TestApp) {
    let created = app.create_identity(ada()).await;
    let id = created["id"].as_str().unwrap();
    let patch = json!([
        {"op": "replace", "path": "/traits/name/first", "value": "Augusta"},
        {"op": "replace", "path": "/state", "value": "inactive"},
        {"op": "add", "path": "/metadata_public", "value": {"theme": "dark"}},
        {"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true}
    ]);
    let response = app
        .admin_request(
            Method::PATCH,
            &format!("/admin/identities/{id}"),
            Some(patch),
        )
        .await;
    let patched = json_with_status(response, 200).await;
    assert_eq!(patched["traits"]["name"]["first"], "Augusta");
    assert_eq!(patched["state"], "inactive");
    assert_eq!(patched["metadata_public"], json!({"theme": "dark"}));
    assert_eq!(patched["verifiable_addresses"][0]["verified"], true);
    assert_eq!(patched["verifiable_addresses"][0]["status"], "completed");
    assert!(patched["verifiable_addresses"][0]["verified_at"].is_string());

    for forbidden in [
        json!([{"op": "replace", "path": "/id", "value": uuid::Uuid::new_v4()}]),
        json!([{"op": "remove", "path": "/credentials/password"}]),
        json!([{"op": "replace", "path": "/traits/email", "value": "broken"}]),
        json!([{"op": "remove", "path": "/traits/missing"}]),
        json!([{"op": "jump", "path": "/traits"}]),
        json!({"op": "replace"}),
    ] {
        let response = app
            .admin_request(
                Method::PATCH,
                &format!("/admin/identities/{id}"),
                Some(forbidden.clone()),
            )
            .await;
        assert_eq!(
            json_with_status(response, 400).await["error"]["code"],
            400,
            "{forbidden}"
        );
    }
    let response = app
        .admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
        .await;
    let unchanged = json_with_status(response, 200).await;
    assert_eq!(
        unchanged["traits"], patched["traits"],
        "rejected patches change nothing"
    );
}

async fn delete_identity(app: &TestApp) {
    let created = app.create_identity(ada()).await;
    let id = created["id"].as_str().unwrap();
    let response = app
        .admin_request(Method::DELETE, &format!("/admin/identities/{id}"), None)
        .await;
    assert_eq!(response.status(), 204);
    let response = app
        .admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
        .await;
    json_with_status(response, 404).await;
    let response = app
        .admin_request(Method::DELETE, &format!("/admin/identities/{id}"), None)
        .await;
    json_with_status(response, 404).await;
    // Its identifiers went with it.
    app.create_identity(ada()).await;
}

async fn malformed_and_unknown_ids(app: &TestApp) {
    for path in [
        "/admin/identities/not-a-uuid",
        &format!("/admin/identities/{}", uuid::Uuid::new_v4()),
    ] {
        let response = app.admin_request(Method::GET, path, None).await;
        assert_eq!(json_with_status(response, 404).await["error"]["code"], 404);
    }
}
