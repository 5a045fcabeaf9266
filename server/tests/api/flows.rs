//! Registration, login, logout, sessions and whoami over HTTP (reference §1a, §2, §6, §11).

use reqwest::Response;
use serde_json::{Value, json};

use crate::dialect_tests;
use crate::harness::{TestApp, json_with_status};

dialect_tests!(
    api_sign_up_sign_in_whoami_sign_out,
    registration_messages,
    login_failures_look_alike,
    unknown_methods_and_reused_flows,
    api_flows_refuse_cookies,
    unknown_and_tampered_flow_ids,
    disabled_identities_cannot_sign_in,
    imported_bcrypt_hashes_are_upgraded,
    refresh_reauthenticates_the_same_session,
    form_snapshots,
);

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) async fn api_flow(app: &TestApp, kind: &str) -> Value {
    let response = app
        .client
        .get(format!("{}/self-service/{kind}/api", app.public))
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await
}

pub(crate) async fn submit_json(app: &TestApp, flow: &Value, body: Value) -> Response {
    let action = flow["ui"]["action"].as_str().unwrap();
    app.client.post(action).json(&body).send().await.unwrap()
}

pub(crate) fn node<'a>(flow: &'a Value, name: &str) -> &'a Value {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == name)
        .unwrap_or_else(|| panic!("no node {name} in {flow}"))
}

pub(crate) fn node_message_ids(flow: &Value, name: &str) -> Vec<u64> {
    node(flow, name)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .collect()
}

pub(crate) fn ui_message_ids(flow: &Value) -> Vec<u64> {
    flow["ui"]["messages"]
        .as_array()
        .map(|messages| messages.iter().map(|m| m["id"].as_u64().unwrap()).collect())
        .unwrap_or_default()
}

/// A registration flow on the credentials screen of two-step sign-up (Kratos's default), after
/// submitting `traits` with `method=profile`.
pub(crate) async fn credentials_screen(app: &TestApp, traits: Value) -> Value {
    let flow = api_flow(app, "registration").await;
    let body = json!({"method": "profile", "traits": traits});
    let chosen = json_with_status(submit_json(app, &flow, body).await, 400).await;
    assert_eq!(ui_message_ids(&chosen), [1040009]);
    chosen
}

/// A new API settings flow of the identity signed in with `token`, and the answer to
/// submitting `body` on it.
pub(crate) async fn submit_settings(app: &TestApp, token: &str, body: Value) -> Response {
    let flow = json_with_status(
        app.client
            .get(format!("{}/self-service/settings/api", app.public))
            .header("X-Session-Token", token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    crate::second_factor::post_with_token(app, &flow, body, token).await
}

/// Registers over the API flow and returns the response body.
pub(crate) async fn register(app: &TestApp, email: &str) -> Value {
    let flow = api_flow(app, "registration").await;
    let body = json!({"method": "password", "traits": {"email": email}, "password": PASSWORD});
    json_with_status(submit_json(app, &flow, body).await, 200).await
}

pub(crate) async fn whoami(app: &TestApp, token: &str) -> Response {
    app.client
        .get(format!("{}/sessions/whoami", app.public))
        .header("X-Session-Token", token)
        .send()
        .await
        .unwrap()
}

async fn api_sign_up_sign_in_whoami_sign_out(app: &TestApp) {
    let registered = register(app, "Ada@Example.com").await;
    let token = registered["session_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ory_st_") && token.len() == 39, "{token}");
    assert_eq!(registered["identity"]["traits"]["email"], "Ada@Example.com");
    assert!(registered["identity"].get("credentials").is_none());
    assert_eq!(
        registered["session"]["identity"]["id"],
        registered["identity"]["id"]
    );
    assert_eq!(
        registered["continue_with"],
        json!([{"action": "set_ory_session_token", "ory_session_token": token}])
    );

    let response = whoami(app, &token).await;
    let identity_id = response.headers()["x-kratos-authenticated-identity-id"]
        .to_str()
        .unwrap()
        .to_string();
    let session = json_with_status(response, 200).await;
    assert_eq!(identity_id, registered["identity"]["id"]);
    assert_eq!(session["active"], true);
    assert_eq!(session["authenticator_assurance_level"], "aal1");
    assert_eq!(session["authentication_methods"][0]["method"], "password");
    assert!(session["devices"][0]["ip_address"].is_string());
    assert!(session["identity"].get("metadata_admin").is_none());

    // Sign in again with the identifier in another case: a new session, a new token.
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "password", "identifier": "ADA@example.com", "password": PASSWORD});
    let signed_in = json_with_status(submit_json(app, &flow, body).await, 200).await;
    let second = signed_in["session_token"].as_str().unwrap();
    assert_ne!(second, token);
    assert_ne!(signed_in["session"]["id"], registered["session"]["id"]);
    let bearer = app
        .client
        .get(format!("{}/sessions/whoami", app.public))
        .bearer_auth(second)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);

    let response = app
        .client
        .delete(format!("{}/self-service/logout/api", app.public))
        .json(&json!({"session_token": second}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let body = json_with_status(whoami(app, second).await, 401).await;
    assert_eq!(body["error"]["id"], "session_inactive");
    assert_eq!(
        whoami(app, &token).await.status(),
        200,
        "other sessions stay"
    );
    let response = app
        .client
        .delete(format!("{}/self-service/logout/api", app.public))
        .json(&json!({"session_token": second}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = app
        .client
        .get(format!("{}/sessions/whoami", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 401).await["error"]["id"],
        "session_inactive"
    );
}

async fn registration_messages(app: &TestApp) {
    let cases = [
        (
            json!({"method": "password", "traits": {"email": "a@example.com"}}),
            "password",
            4000002,
        ),
        (
            json!({"method": "password", "traits": {"email": "a@example.com"}, "password": "short"}),
            "password",
            4000032,
        ),
        (
            json!({"method": "password", "traits": {"email": "ada.lovelace@example.com"}, "password": "ada.lovelace!"}),
            "password",
            4000031,
        ),
        (
            json!({"method": "password", "traits": {"email": "not-an-email"}, "password": PASSWORD}),
            "traits.email",
            4000040,
        ),
        (
            json!({"method": "password", "traits": {}, "password": PASSWORD}),
            "traits.email",
            4000002,
        ),
        (
            json!({"method": "password", "traits": {"email": "a@example.com", "name": {"first": 7}}, "password": PASSWORD}),
            "traits.name.first",
            4000026,
        ),
        (
            json!({"method": "password", "traits": {"email": "a@example.com"}, "password": 12345678}),
            "password",
            4000002,
        ),
    ];
    for (body, field, id) in cases {
        let flow = api_flow(app, "registration").await;
        let refused = json_with_status(submit_json(app, &flow, body.clone()).await, 400).await;
        assert_eq!(node_message_ids(&refused, field), vec![id], "{body}");
    }

    // The form keeps what was typed, except the password.
    let flow = api_flow(app, "registration").await;
    let body =
        json!({"method": "password", "traits": {"email": "keep@example.com"}, "password": "short"});
    let refused = json_with_status(submit_json(app, &flow, body).await, 400).await;
    assert_eq!(
        node(&refused, "traits.email")["attributes"]["value"],
        "keep@example.com"
    );
    assert!(
        node(&refused, "password")["attributes"]
            .get("value")
            .is_none()
    );

    register(app, "taken@example.com").await;
    let flow = api_flow(app, "registration").await;
    let body = json!({"method": "password", "traits": {"email": "TAKEN@example.com"}, "password": PASSWORD});
    let refused = json_with_status(submit_json(app, &flow, body).await, 400).await;
    assert_eq!(ui_message_ids(&refused), vec![4000007]);

    // 64 characters are allowed and not truncated.
    let long = "a-Long passphrase that keeps going and going, 64 characters long";
    assert_eq!(long.chars().count(), 64);
    let flow = api_flow(app, "registration").await;
    let body =
        json!({"method": "password", "traits": {"email": "ada@example.com"}, "password": long});
    json_with_status(submit_json(app, &flow, body).await, 200).await;
    let flow = api_flow(app, "login").await;
    let truncated = &long[..63];
    let body =
        json!({"method": "password", "identifier": "ada@example.com", "password": truncated});
    json_with_status(submit_json(app, &flow, body).await, 400).await;
}

async fn login_failures_look_alike(app: &TestApp) {
    register(app, "ada@example.com").await;
    let mut bodies = Vec::new();
    for (identifier, password) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let flow = api_flow(app, "login").await;
        let body = json!({"method": "password", "identifier": identifier, "password": password});
        let refused = json_with_status(submit_json(app, &flow, body).await, 400).await;
        assert_eq!(ui_message_ids(&refused), vec![4000006]);
        assert_eq!(
            node(&refused, "identifier")["attributes"]["value"],
            identifier
        );
        bodies.push(refused["ui"]["messages"].clone());
    }
    assert_eq!(
        bodies[0], bodies[1],
        "unknown users and wrong passwords get the same answer"
    );

    let flow = api_flow(app, "login").await;
    let refused = json_with_status(
        submit_json(app, &flow, json!({"method": "password"})).await,
        400,
    )
    .await;
    assert_eq!(node_message_ids(&refused, "identifier"), vec![4000002]);
    assert_eq!(node_message_ids(&refused, "password"), vec![4000002]);
}

async fn unknown_methods_and_reused_flows(app: &TestApp) {
    for (kind, id) in [("login", 4010002), ("registration", 4010003)] {
        for body in [json!({"method": "carrier-pigeon"}), json!({})] {
            let flow = api_flow(app, kind).await;
            let refused = json_with_status(submit_json(app, &flow, body).await, 400).await;
            assert_eq!(ui_message_ids(&refused), vec![id], "{kind}");
        }
    }
    register(app, "ada@example.com").await;
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD});
    json_with_status(submit_json(app, &flow, body.clone()).await, 200).await;
    let again = json_with_status(submit_json(app, &flow, body).await, 400).await;
    assert_eq!(ui_message_ids(&again), vec![4010007]);
}

/// Starts a browser flow and follows it to the page: returns the flow id.
async fn api_flows_refuse_cookies(app: &TestApp) {
    let flow = api_flow(app, "login").await;
    let response = app
        .client
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("cookie", "some_session=1; cf_clearance=ok")
        .json(&json!({"method": "password", "identifier": "a@b.co", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ui_message_ids(&json_with_status(response, 400).await),
        vec![4000001]
    );
}

async fn unknown_and_tampered_flow_ids(app: &TestApp) {
    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".into()] {
        let response = app
            .client
            .post(format!("{}/self-service/login?flow={id}", app.public))
            .json(&json!({"method": "password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(json_with_status(response, 404).await["error"]["code"], 404);
        let response = app
            .client
            .get(format!(
                "{}/self-service/registration/flows?id={id}",
                app.public
            ))
            .send()
            .await
            .unwrap();
        json_with_status(response, 404).await;
    }
    // A login flow id is no registration flow.
    let flow = api_flow(app, "login").await;
    let response = app
        .client
        .get(format!(
            "{}/self-service/registration/flows?id={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    json_with_status(response, 404).await;
    let response = app
        .browser()
        .post(format!("{}/self-service/login?flow=nope", app.public))
        .form(&[("a", "b")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/self-service/login/browser")
    );

    let big = "x".repeat(5 * 1024 * 1024 + 1);
    let response = submit_json(app, &flow, json!({"method": "password", "identifier": big})).await;
    json_with_status(response, 413).await;
}

async fn disabled_identities_cannot_sign_in(app: &TestApp) {
    let id = register(app, "ada@example.com").await["identity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = json!([{"op": "replace", "path": "/state", "value": "inactive"}]);
    let response = app
        .admin_request(
            reqwest::Method::PATCH,
            &format!("/admin/identities/{id}"),
            Some(patch),
        )
        .await;
    assert_eq!(response.status(), 200);
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD});
    assert_eq!(
        ui_message_ids(&json_with_status(submit_json(app, &flow, body).await, 400).await),
        vec![4010011]
    );
}

async fn imported_bcrypt_hashes_are_upgraded(app: &TestApp) {
    let hash = bcrypt_hash(PASSWORD);
    let created = app
        .create_identity(
            json!({"schema_id": "default", "traits": {"email": "old@example.com"},
            "credentials": {"password": {"config": {"hashed_password": hash}}}}),
        )
        .await;
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "password", "identifier": "old@example.com", "password": PASSWORD});
    json_with_status(submit_json(app, &flow, body).await, 200).await;
    let path = format!(
        "/admin/identities/{}?include_credential=password",
        created["id"].as_str().unwrap()
    );
    let identity = json_with_status(
        app.admin_request(reqwest::Method::GET, &path, None).await,
        200,
    )
    .await;
    let stored = identity["credentials"]["password"]["config"]["hashed_password"]
        .as_str()
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
}

fn bcrypt_hash(password: &str) -> String {
    // A bcrypt hash made outside Ward, as an import would bring it (cost 4 keeps the test fast).
    bcrypt::hash(password, 4).unwrap()
}

async fn refresh_reauthenticates_the_same_session(app: &TestApp) {
    let registered = register(app, "ada@example.com").await;
    let token = registered["session_token"].as_str().unwrap();
    let response = app
        .client
        .get(format!(
            "{}/self-service/login/api?refresh=true",
            app.public
        ))
        .header("X-Session-Token", token)
        .send()
        .await
        .unwrap();
    let flow = json_with_status(response, 200).await;
    assert_eq!(flow["refresh"], true);
    assert_eq!(
        node(&flow, "identifier")["attributes"]["value"],
        "ada@example.com"
    );
    app.state.clock.advance(std::time::Duration::from_secs(60));
    let response = app
        .client
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("X-Session-Token", token)
        .json(&json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let refreshed = json_with_status(response, 200).await;
    assert_eq!(refreshed["session"]["id"], registered["session"]["id"]);
    assert_eq!(
        refreshed["session"]["authentication_methods"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_ne!(
        refreshed["session"]["authenticated_at"],
        registered["session"]["authenticated_at"]
    );
}

async fn form_snapshots(app: &TestApp) {
    let login = api_flow(app, "login").await;
    insta::assert_json_snapshot!("login_password_ui", login["ui"], {".action" => "[action]"});
    // Two-step sign-up: the traits, then the credentials with the traits kept.
    let registration = api_flow(app, "registration").await;
    insta::assert_json_snapshot!("registration_profile_ui", registration["ui"], {".action" => "[action]"});
    let chosen = credentials_screen(app, json!({"email": "snap@example.com"})).await;
    insta::assert_json_snapshot!("registration_credentials_ui", chosen["ui"], {".action" => "[action]"});
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_can_be_disabled() {
    let app = TestApp::spawn_with(
        ward::store::Dialect::Sqlite,
        &[("SELFSERVICE_FLOWS_REGISTRATION_ENABLED", "false")],
    )
    .await
    .unwrap();
    let response = app
        .client
        .get(format!("{}/self-service/registration/api", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 400).await["error"]["id"],
        "self_service_flow_disabled"
    );
    let response = app
        .client
        .post(format!(
            "{}/self-service/registration?flow={}",
            app.public,
            uuid::Uuid::new_v4()
        ))
        .json(&json!({"method": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 400).await["error"]["id"],
        "self_service_flow_disabled"
    );
    app.stop().await;
}
