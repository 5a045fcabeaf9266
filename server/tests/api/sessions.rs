//! The caller's sessions and the admin session endpoints (reference §1a, §1b, §6).

use reqwest::Method;
use serde_json::{Value, json};

use crate::dialect_tests;
use crate::flows::{PASSWORD, api_flow, register, submit_json};
use crate::harness::{TestApp, json_with_status};

dialect_tests!(
    own_sessions_are_listed_and_revoked,
    admin_session_endpoints,
    extend_respects_the_window
);

/// Signs in over the API flow (registering first when asked) and returns the body.
async fn api_sign_in(app: &TestApp, email: &str, register_first: bool) -> Value {
    if register_first {
        return register(app, email).await;
    }
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "password", "identifier": email, "password": PASSWORD});
    json_with_status(submit_json(app, &flow, body).await, 200).await
}

async fn as_user(app: &TestApp, method: Method, path: &str, token: &str) -> reqwest::Response {
    app.client
        .request(method, format!("{}{path}", app.public))
        .header("X-Session-Token", token)
        .send()
        .await
        .unwrap()
}

async fn own_sessions_are_listed_and_revoked(app: &TestApp) {
    let first = api_sign_in(app, "ada@example.com", true).await;
    let second = api_sign_in(app, "ada@example.com", false).await;
    let third = api_sign_in(app, "ada@example.com", false).await;
    api_sign_in(app, "grace@example.com", true).await;
    let token = third["session_token"].as_str().unwrap();

    let others = json_with_status(as_user(app, Method::GET, "/sessions", token).await, 200).await;
    let ids: Vec<&str> = others
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "the other two, not the current one nor Grace's"
    );
    assert!(ids.contains(&first["session"]["id"].as_str().unwrap()));

    let current = third["session"]["id"].as_str().unwrap();
    let body = json_with_status(
        as_user(app, Method::DELETE, &format!("/sessions/{current}"), token).await,
        400,
    )
    .await;
    assert_eq!(body["error"]["code"], 400);
    let second_id = second["session"]["id"].as_str().unwrap();
    // Each whoami below runs once before its revocation, so the answer is cached: revocation
    // must still be instant.
    for session in [&first, &second] {
        let token = session["session_token"].as_str().unwrap();
        let response = as_user(app, Method::GET, "/sessions/whoami", token).await;
        assert_eq!(response.status(), 200);
    }
    let response = as_user(
        app,
        Method::DELETE,
        &format!("/sessions/{second_id}"),
        token,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        as_user(
            app,
            Method::GET,
            "/sessions/whoami",
            second["session_token"].as_str().unwrap()
        )
        .await
        .status(),
        401
    );

    let body = json_with_status(as_user(app, Method::DELETE, "/sessions", token).await, 200).await;
    assert_eq!(body["count"], 1);
    assert_eq!(
        as_user(
            app,
            Method::GET,
            "/sessions/whoami",
            first["session_token"].as_str().unwrap()
        )
        .await
        .status(),
        401
    );
    assert_eq!(
        as_user(app, Method::GET, "/sessions/whoami", token)
            .await
            .status(),
        200
    );
    assert_eq!(
        json_with_status(as_user(app, Method::GET, "/sessions", token).await, 200).await,
        json!([])
    );

    let response = app
        .client
        .get(format!("{}/sessions", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 401).await["error"]["id"],
        "session_inactive"
    );
}

async fn admin_session_endpoints(app: &TestApp) {
    let signed_in = api_sign_in(app, "ada@example.com", true).await;
    api_sign_in(app, "ada@example.com", false).await;
    let identity = signed_in["identity"]["id"].as_str().unwrap();
    let session = signed_in["session"]["id"].as_str().unwrap();
    let token = signed_in["session_token"].as_str().unwrap();

    let path = format!("/admin/identities/{identity}/sessions?page_size=1");
    let response = app.admin_request(Method::GET, &path, None).await;
    assert!(
        response.headers()["link"]
            .to_str()
            .unwrap()
            .contains(r#"rel="next""#)
    );
    assert_eq!(
        json_with_status(response, 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let fetched = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/sessions/{session}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(fetched["identity"]["id"], identity);
    assert_eq!(
        as_user(app, Method::GET, "/sessions/whoami", token)
            .await
            .status(),
        200
    );
    let response = app
        .admin_request(Method::DELETE, &format!("/admin/sessions/{session}"), None)
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        as_user(app, Method::GET, "/sessions/whoami", token)
            .await
            .status(),
        401
    );
    let inactive = app
        .admin_request(
            Method::GET,
            &format!("/admin/identities/{identity}/sessions?active=false"),
            None,
        )
        .await;
    assert_eq!(
        json_with_status(inactive, 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let response = app
        .admin_request(
            Method::DELETE,
            &format!("/admin/identities/{identity}/sessions"),
            None,
        )
        .await;
    assert_eq!(response.status(), 204);
    let all = app
        .admin_request(
            Method::GET,
            &format!("/admin/identities/{identity}/sessions"),
            None,
        )
        .await;
    assert_eq!(json_with_status(all, 200).await, json!([]));

    let unknown = uuid::Uuid::new_v4();
    for (method, path) in [
        (Method::GET, format!("/admin/sessions/{unknown}")),
        (Method::GET, format!("/admin/identities/{unknown}/sessions")),
        (Method::PATCH, format!("/admin/sessions/{unknown}/extend")),
    ] {
        json_with_status(app.admin_request(method, &path, None).await, 404).await;
    }
    json_with_status(
        app.admin_request(Method::GET, "/admin/sessions/not-an-id", None)
            .await,
        400,
    )
    .await;
}

async fn extend_respects_the_window(app: &TestApp) {
    let signed_in = api_sign_in(app, "ada@example.com", true).await;
    let session = signed_in["session"]["id"].as_str().unwrap();
    let original = signed_in["session"]["expires_at"]
        .as_str()
        .unwrap()
        .to_string();
    app.state
        .clock
        .advance(std::time::Duration::from_secs(3600));
    let path = format!("/admin/sessions/{session}/extend");
    let extended = json_with_status(app.admin_request(Method::PATCH, &path, None).await, 200).await;
    assert!(
        extended["expires_at"].as_str().unwrap() > original.as_str(),
        "a fresh lifespan from now"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extend_waits_for_the_window() {
    let app = TestApp::spawn_with(
        ward::store::Dialect::Sqlite,
        &[("SESSION_EARLIEST_POSSIBLE_EXTEND", "1h")],
    )
    .await
    .unwrap();
    let signed_in = api_sign_in(&app, "ada@example.com", true).await;
    let session = signed_in["session"]["id"].as_str().unwrap();
    let path = format!("/admin/sessions/{session}/extend");
    let early = json_with_status(app.admin_request(Method::PATCH, &path, None).await, 200).await;
    assert_eq!(
        early["expires_at"], signed_in["session"]["expires_at"],
        "24 h left: too early to extend"
    );
    app.state
        .clock
        .advance(std::time::Duration::from_secs(23 * 3600 + 60));
    let late = json_with_status(app.admin_request(Method::PATCH, &path, None).await, 200).await;
    assert_ne!(late["expires_at"], signed_in["session"]["expires_at"]);
    app.stop().await;
}
