//! What a Kratos user brings unchanged: its DSN forms, the leniency of its router and query
//! parsing that SDKs and the reference UI rely on, and the admin endpoints its SDK calls.

use reqwest::Method;
use serde_json::{Value, json};
use ward::identity::{CredentialType, credential_entry};
use ward::store::{Dialect, SqlStore};

use crate::dialect_tests;
use crate::harness::{TestApp, TestDatabase, json_with_status};

dialect_tests!(
    repeated_and_trailing_slashes_are_the_plain_path,
    empty_query_parameters_are_absent,
    every_error_is_the_envelope,
    identity_by_external_id,
    all_sessions_in_pages,
    credentials_are_removed_one_at_a_time,
    batch_creates_identities_one_by_one,
    admin_paths_on_the_public_listener_redirect,
    each_listener_describes_its_api,
);

async fn get(app: &TestApp, url: String) -> reqwest::Response {
    app.client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
}

async fn repeated_and_trailing_slashes_are_the_plain_path(app: &TestApp) {
    // The reference UI's SDK joins `http://host:4433/` with `/self-service/...`.
    let flow = json_with_status(
        get(
            app,
            format!("{}//self-service/registration/api", app.public),
        )
        .await,
        200,
    )
    .await;
    let id = flow["id"].as_str().unwrap();
    let again = json_with_status(
        get(
            app,
            format!("{}//self-service//registration/flows?id={id}", app.public),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(again["id"], id);
    for path in [
        "//sessions/whoami",
        "/sessions/whoami/",
        "/sessions//whoami",
    ] {
        let body = json_with_status(get(app, format!("{}{path}", app.public)).await, 401).await;
        assert_eq!(body["error"]["id"], "session_inactive", "{path}");
    }
    // A POST keeps its method and body.
    let action = format!("{}//self-service/registration?flow={id}", app.public);
    let response = app
        .client
        .post(action)
        .json(&json!({"method": "password", "traits": {"email": "slash@example.com"}, "password": "a long and unusual passphrase"}))
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 200).await;
    assert_eq!(body["identity"]["traits"]["email"], "slash@example.com");
    // The admin listener too, with and without its prefix.
    for path in ["//admin/identities", "/admin/identities/", "//identities"] {
        let response = get(app, format!("{}{path}", app.admin)).await;
        assert!(json_with_status(response, 200).await.is_array(), "{path}");
    }
}

async fn empty_query_parameters_are_absent(app: &TestApp) {
    // What kratos-selfservice-ui-node sends when it knows no value.
    let empty = "aal=&refresh=&return_to=&organization=&via=&identity_schema=&login_challenge=";
    for kind in [
        "login",
        "registration",
        "recovery",
        "verification",
        "settings",
    ] {
        for client in ["api", "browser"] {
            let plain = get(app, format!("{}/self-service/{kind}/{client}", app.public)).await;
            let with_empty = get(
                app,
                format!("{}/self-service/{kind}/{client}?{empty}", app.public),
            )
            .await;
            assert_eq!(plain.status(), with_empty.status(), "{kind}/{client}");
            let body: Value = with_empty.json().await.unwrap();
            if plain.status() == 200 {
                assert!(body["ui"]["nodes"].is_array(), "{kind}/{client}: {body}");
            } else {
                assert!(body["error"]["id"].is_string(), "{kind}/{client}: {body}");
            }
        }
    }
    // A browser navigation is sent to the UI, as without the parameters.
    let response = app
        .client
        .get(format!("{}/self-service/login/browser?{empty}", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    // Kratos reads the level case-insensitively.
    let response = get(
        app,
        format!("{}/self-service/login/api?aal=AAL1", app.public),
    )
    .await;
    assert_eq!(response.status(), 200);
    // Logout with an empty token is the missing-token error, not a lookup of "".
    let response = get(
        app,
        format!("{}/self-service/logout?token=&return_to=", app.public),
    )
    .await;
    assert_eq!(json_with_status(response, 400).await["error"]["code"], 400);
    // Admin lists: an empty page token is the first page.
    let response = get(
        app,
        format!(
            "{}/admin/identities?page_token=&page_size=&credentials_identifier=",
            app.admin
        ),
    )
    .await;
    assert!(json_with_status(response, 200).await.is_array());
}

async fn every_error_is_the_envelope(app: &TestApp) {
    // A query value of the wrong type, on both listeners.
    let response = get(
        app,
        format!("{}/schemas?page=-9223372036854775808", app.public),
    )
    .await;
    let body = json_with_status(response, 400).await;
    assert!(
        body["error"]["reason"].as_str().unwrap().contains("page"),
        "{body}"
    );
    // A method a route does not serve: 405 with its Allow header.
    let response = app
        .client
        .delete(format!("{}/self-service/login/api", app.public))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("allow"));
    let body = json_with_status(response, 405).await;
    assert_eq!(body["error"]["status"], "Method Not Allowed");
    let response = app
        .client
        .put(format!("{}/admin/identities", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(response, 405).await["error"]["code"], 405);
    // A path segment that is not UTF-8.
    let response = get(app, format!("{}/admin/identities/%FF%FE", app.admin)).await;
    assert_eq!(json_with_status(response, 400).await["error"]["code"], 400);
}

async fn identity_by_external_id(app: &TestApp) {
    let created = app
        .create_identity(json!({
            "schema_id": "default",
            "traits": {"email": "external@example.com"},
            "external_id": "crm-4711",
            "credentials": {"password": {"config": {"password": "a long and unusual passphrase"}}},
        }))
        .await;
    let response = get(
        app,
        format!(
            "{}/admin/identities/by/external/crm-4711?include_credential=password",
            app.admin
        ),
    )
    .await;
    let body = json_with_status(response, 200).await;
    assert_eq!(body["id"], created["id"]);
    assert_eq!(body["external_id"], "crm-4711");
    assert!(body["credentials"]["password"]["config"]["hashed_password"].is_string());
    let response = get(
        app,
        format!("{}/admin/identities/by/external/crm-4711", app.admin),
    )
    .await;
    let body = json_with_status(response, 200).await;
    assert!(
        body["credentials"]["password"].get("config").is_none(),
        "{body}"
    );
    let response = get(app, format!("{}/identities/by/external/nobody", app.admin)).await;
    assert_eq!(json_with_status(response, 404).await["error"]["code"], 404);
    let response = get(
        app,
        format!(
            "{}/admin/identities/by/external/crm-4711?include_credential=magic",
            app.admin
        ),
    )
    .await;
    json_with_status(response, 400).await;
}

async fn all_sessions_in_pages(app: &TestApp) {
    let mut identities = Vec::new();
    for email in ["one@example.com", "two@example.com"] {
        let identity = app
            .create_identity(json!({"schema_id": "default", "traits": {"email": email}}))
            .await;
        identities.push(identity["id"].as_str().unwrap().to_string());
    }
    for id in [&identities[0], &identities[0], &identities[1]] {
        app.sign_in(id, time::Duration::hours(1)).await;
    }
    app.sign_in(&identities[1], time::Duration::seconds(-1))
        .await;

    let response = get(app, format!("{}/admin/sessions?page_size=3", app.admin)).await;
    let link = response.headers()["link"].to_str().unwrap().to_string();
    let first = json_with_status(response, 200).await;
    assert_eq!(first.as_array().unwrap().len(), 3);
    assert!(
        first[0]["identity"].is_null() && first[0]["devices"].is_null(),
        "{first}"
    );
    assert!(link.contains("rel=\"next\""), "{link}");
    let next = link
        .split(',')
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| part.split(['<', '>']).nth(1))
        .unwrap()
        .to_string();
    let rest = json_with_status(get(app, format!("{}{next}", app.admin)).await, 200).await;
    assert_eq!(rest.as_array().unwrap().len(), 1);

    let active = json_with_status(
        get(
            app,
            format!(
                "{}/admin/sessions?active=true&expand=identity&expand=Devices",
                app.admin
            ),
        )
        .await,
        200,
    )
    .await;
    let active = active.as_array().unwrap();
    assert_eq!(active.len(), 3);
    for session in active {
        assert!(identities.contains(&session["identity"]["id"].as_str().unwrap().to_string()));
        assert!(session["devices"].is_array());
    }
    let inactive = json_with_status(
        get(app, format!("{}/admin/sessions?active=false", app.admin)).await,
        200,
    )
    .await;
    assert_eq!(inactive.as_array().unwrap().len(), 1);
    let response = get(
        app,
        format!("{}/admin/sessions?expand=everything", app.admin),
    )
    .await;
    let body = json_with_status(response, 400).await;
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("everything")
    );
    let response = get(app, format!("{}/admin/sessions?active=maybe", app.admin)).await;
    json_with_status(response, 400).await;
}

async fn credentials_are_removed_one_at_a_time(app: &TestApp) {
    let created = app
        .create_identity(json!({
            "schema_id": "default",
            "traits": {"email": "factors@example.com"},
            "credentials": {"password": {"config": {"password": "a long and unusual passphrase"}}},
        }))
        .await;
    let id = created["id"].as_str().unwrap();
    let delete = |kind: &str, query: &str| {
        app.client
            .delete(format!(
                "{}/admin/identities/{id}/credentials/{kind}{query}",
                app.admin
            ))
            .send()
    };
    // The only way to sign in stays.
    let body = json_with_status(delete("password", "").await.unwrap(), 400).await;
    assert!(
        body["error"]["reason"].as_str().unwrap().contains("last"),
        "{body}"
    );
    // Nothing to remove, or a type that does not exist.
    json_with_status(delete("totp", "").await.unwrap(), 404).await;
    json_with_status(delete("magic", "").await.unwrap(), 404).await;
    let unknown = uuid::Uuid::new_v4();
    let response = app
        .client
        .delete(format!(
            "{}/admin/identities/{unknown}/credentials/totp",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    json_with_status(response, 404).await;

    // A second factor and a social sign-in link, as later methods will store them.
    let mut identity = app
        .state
        .identities
        .get_identity(id.parse().unwrap())
        .await
        .unwrap();
    let now = app.state.clock.now();
    credential_entry(&mut identity, CredentialType::Totp, now).config =
        json!({"totp_url": "otpauth://totp/Ward:factors@example.com?secret=JBSWY3DPEHPK3PXP"});
    let oidc = credential_entry(&mut identity, CredentialType::Oidc, now);
    oidc.identifiers = vec!["google:1".into(), "github:2".into()];
    oidc.config = json!({"providers": [{"provider": "google", "subject": "1"}, {"provider": "github", "subject": "2"}]});
    app.state
        .identities
        .update_identity(&identity)
        .await
        .unwrap();

    assert_eq!(delete("totp", "").await.unwrap().status(), 204);
    json_with_status(delete("oidc", "").await.unwrap(), 400).await;
    json_with_status(delete("oidc", "?identifier=google:9").await.unwrap(), 404).await;
    assert_eq!(
        delete("oidc", "?identifier=google:1")
            .await
            .unwrap()
            .status(),
        204
    );
    // Password and the GitHub link remain: either may go, but not both.
    assert_eq!(delete("password", "").await.unwrap().status(), 204);
    json_with_status(delete("oidc", "?identifier=github:2").await.unwrap(), 400).await;

    let response = get(
        app,
        format!(
            "{}/admin/identities/{id}?include_credential=oidc",
            app.admin
        ),
    )
    .await;
    let body = json_with_status(response, 200).await;
    let credentials = body["credentials"].as_object().unwrap();
    assert!(
        !credentials.contains_key("password") && !credentials.contains_key("totp"),
        "{body}"
    );
    assert_eq!(
        body["credentials"]["oidc"]["identifiers"],
        json!(["github:2"])
    );
}

async fn batch_creates_identities_one_by_one(app: &TestApp) {
    let patch = |body: Value| app.admin_request(Method::PATCH, "/admin/identities", Some(body));
    let first = uuid::Uuid::new_v4();
    let body = json!({"identities": [
        {"patch_id": first, "create": {"schema_id": "default", "traits": {"email": "batch@example.com"},
            "credentials": {"password": {"config": {"password": "a long and unusual passphrase"}}}}},
        {"create": {"schema_id": "default", "traits": {"email": "not an address"}}},
        {"create": {"schema_id": "default", "traits": {"email": "batch@example.com"}}},
        {"create": {"schema_id": "nope", "traits": {}}},
        null,
    ]});
    let answer = json_with_status(patch(body).await, 200).await;
    let results = answer["identities"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0]["action"], "create");
    assert_eq!(results[0]["patch_id"], json!(first));
    let created = results[0]["identity"].as_str().unwrap();
    let response = get(app, format!("{}/admin/identities/{created}", app.admin)).await;
    assert_eq!(
        json_with_status(response, 200).await["traits"]["email"],
        "batch@example.com"
    );
    assert_eq!(results[1]["action"], "error");
    assert_eq!(results[1]["error"]["code"], 400);
    assert_eq!(results[2]["error"]["code"], 409);
    assert_eq!(results[3]["error"]["code"], 400);
    assert!(results[4].is_null());

    // The whole request is refused when it is too big or malformed.
    let many: Vec<Value> = (0..1001)
        .map(|n| json!({"create": {"schema_id": "default", "traits": {"email": format!("u{n}@example.com")}}}))
        .collect();
    json_with_status(patch(json!({ "identities": many })).await, 400).await;
    let plaintext: Vec<Value> = (0..201)
        .map(|n| json!({"create": {"schema_id": "default", "traits": {"email": format!("p{n}@example.com")},
            "credentials": {"password": {"config": {"password": "a long and unusual passphrase"}}}}}))
        .collect();
    json_with_status(patch(json!({ "identities": plaintext })).await, 400).await;
    json_with_status(patch(json!({"identities": [], "delete": []})).await, 400).await;
    let none = json_with_status(
        get(
            app,
            format!(
                "{}/admin/identities?credentials_identifier=u1@example.com",
                app.admin
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(none, json!([]));
}

/// Kratos's DSN forms start Ward and let it work; the in-memory one migrates itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kratos_sqlite_dsns_start_ward() {
    let dir = tempfile::tempdir().unwrap();
    let file = format!(
        "sqlite://{}?_fk=true&mode=rwc&_journal_mode=WAL&_busy_timeout=2000&_synchronous=NORMAL",
        dir.path().join("kratos.sqlite").display()
    );
    for dsn in [
        "memory",
        "sqlite://file::memory:?_fk=true&cache=shared",
        file.as_str(),
    ] {
        // Not --dev: only an in-memory database is migrated at start; the file is migrated
        // by the first round (dev) so that the second start finds it ready.
        for dev in ["true", "false"] {
            let env = [("DSN", dsn), ("DEV", dev), ("HASHERS_BCRYPT_COST", "12")];
            let app = TestApp::spawn_with(Dialect::Sqlite, &env).await.unwrap();
            let email = format!("{}-{dev}@example.com", dsn.len());
            let created = app
                .create_identity(json!({"schema_id": "default", "traits": {"email": email}}))
                .await;
            let response = get(
                &app,
                format!(
                    "{}/admin/identities/{}",
                    app.admin,
                    created["id"].as_str().unwrap()
                ),
            )
            .await;
            json_with_status(response, 200).await;
            app.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kratos_pool_parameters_apply() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let Some(database) = TestDatabase::new(dialect).await else {
            continue;
        };
        let separator = if database.dsn.contains('?') { '&' } else { '?' };
        let dsn = format!(
            "{}{separator}max_conns=3&max_idle_conns=2&max_conn_lifetime=1h&max_conn_idle_time=30s",
            database.dsn
        );
        let store = SqlStore::connect(&dsn).await.unwrap();
        let options = store.pool().options();
        assert_eq!(options.get_max_connections(), 3, "{dialect:?}");
        assert_eq!(options.get_min_connections(), 2, "{dialect:?}");
        assert_eq!(
            options.get_max_lifetime(),
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(
            options.get_idle_timeout(),
            Some(std::time::Duration::from_secs(30))
        );
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        store.close().await;
    }
}

async fn admin_paths_on_the_public_listener_redirect(app: &TestApp) {
    for (method, path, target) in [
        (
            Method::GET,
            "/identities?page_size=1",
            "/admin/identities?page_size=1",
        ),
        (Method::DELETE, "/identities/abc", "/admin/identities/abc"),
        (Method::POST, "/admin/recovery/link", "/admin/recovery/link"),
    ] {
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.public))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 307, "{method} {path}");
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(
            location,
            format!("{}{target}", app.admin.trim_end_matches('/'))
        );
    }
    // The public listener's own `/sessions` stays its own.
    let response = get(app, format!("{}/sessions", app.public)).await;
    assert_eq!(
        json_with_status(response, 401).await["error"]["id"],
        "session_inactive"
    );
}

async fn each_listener_describes_its_api(app: &TestApp) {
    let public = json_with_status(
        get(app, format!("{}/.well-known/openapi.json", app.public)).await,
        200,
    )
    .await;
    assert_eq!(public["openapi"], "3.1.0");
    assert_eq!(
        public["paths"]["/self-service/login/api"]["get"]["operationId"],
        "createNativeLoginFlow"
    );
    assert!(public["paths"].get("/admin/identities").is_none());
    let admin = json_with_status(
        get(app, format!("{}/.well-known/openapi.json", app.admin)).await,
        200,
    )
    .await;
    assert_eq!(
        admin["paths"]["/admin/identities"]["post"]["operationId"],
        "createIdentity"
    );
    assert!(admin["paths"].get("/self-service/login/api").is_none());
}
