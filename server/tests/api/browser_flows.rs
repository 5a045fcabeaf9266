//! Browser and SPA flows: redirects, cookies, CSRF, return_to, expiry, logout, the error page.

use reqwest::Client;
use serde_json::{Value, json};

use crate::dialect_tests;
use crate::flows::{PASSWORD, api_flow, node, register, submit_json, ui_message_ids};
use crate::harness::{TestApp, json_with_status};

dialect_tests!(
    browser_flows_redirect_and_keep_cookies,
    csrf_is_required_for_browser_submissions,
    spa_clients_get_json,
    signed_in_users_get_session_already_available,
    return_to_is_checked_and_followed,
    expired_flows_are_replaced,
    browser_logout,
    stored_errors,
);

pub(crate) async fn browser_flow(
    app: &TestApp,
    browser: &Client,
    kind: &str,
    query: &str,
) -> String {
    let response = browser
        .get(format!("{}/self-service/{kind}/browser{query}", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let prefix = format!("{}/{kind}?flow=", app.ui);
    assert!(location.starts_with(&prefix), "{location}");
    location[prefix.len()..].to_string()
}

pub(crate) async fn get_browser_flow(
    app: &TestApp,
    browser: &Client,
    kind: &str,
    id: &str,
) -> Value {
    let response = browser
        .get(format!("{}/self-service/{kind}/flows?id={id}", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await
}

/// Signs up in `browser` through the registration page's form; the answer is the redirect.
pub(crate) async fn sign_up(app: &TestApp, browser: &Client, email: &str) -> reqwest::Response {
    let id = browser_flow(app, browser, "registration", "").await;
    let flow = get_browser_flow(app, browser, "registration", &id).await;
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("traits.email", email.to_string()),
        ("password", PASSWORD.into()),
        ("method", "password".into()),
    ];
    let response = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "sign-up succeeds");
    response
}

pub(crate) fn csrf_of(flow: &Value) -> String {
    node(flow, "csrf_token")["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_string()
}

fn url_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn browser_flows_redirect_and_keep_cookies(app: &TestApp) {
    let browser = app.browser();
    let id = browser_flow(app, &browser, "registration", "").await;
    let flow = get_browser_flow(app, &browser, "registration", &id).await;
    assert_eq!(flow["type"], "browser");
    let csrf = csrf_of(&flow);
    assert!(csrf.len() >= 32);

    let form = [
        ("csrf_token", csrf.as_str()),
        ("traits.email", "ada@example.com"),
        ("password", PASSWORD),
        ("method", "password"),
    ];
    let response = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], crate::harness::RETURN_URL);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("ory_kratos_session="))
        .expect("session cookie");
    assert!(
        session_cookie.contains("HttpOnly")
            && session_cookie.contains("SameSite=Lax")
            && session_cookie.contains("Path=/")
    );
    let rotated = cookies
        .iter()
        .find(|c| c.starts_with("csrf_token_"))
        .expect("a new CSRF cookie");
    assert!(
        !rotated.contains(&csrf),
        "the CSRF token rotates on sign-in"
    );

    let response = browser
        .get(format!("{}/sessions/whoami", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 200).await["identity"]["traits"]["email"],
        "ada@example.com"
    );

    // A wrong password sends the browser back to the form, which shows the message.
    let logout = browser
        .get(format!("{}/self-service/logout/browser", app.public))
        .send()
        .await
        .unwrap();
    let logout = json_with_status(logout, 200).await;
    browser
        .get(logout["logout_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let id = browser_flow(app, &browser, "login", "").await;
    let flow = get_browser_flow(app, &browser, "login", &id).await;
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("identifier", "ada@example.com".into()),
        ("password", "nope".into()),
        ("method", "password".into()),
    ];
    let response = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("{}/login?flow={id}", app.ui).as_str()
    );
    let shown = get_browser_flow(app, &browser, "login", &id).await;
    assert_eq!(ui_message_ids(&shown), vec![4000006]);

    // The page renders the same flow, message and all.
    let html = browser
        .get(format!("{}/login?flow={id}", app.ui))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-testid="message-4000006""#), "{html}");
    assert!(html.contains(r#"name="csrf_token""#));
}

async fn csrf_is_required_for_browser_submissions(app: &TestApp) {
    let browser = app.browser();
    let id = browser_flow(app, &browser, "login", "").await;
    let flow = get_browser_flow(app, &browser, "login", &id).await;
    let action = flow["ui"]["action"].as_str().unwrap();
    for token in ["", "forged-token"] {
        let form = [
            ("csrf_token", token),
            ("identifier", "a@b.co"),
            ("password", "x"),
            ("method", "password"),
        ];
        let response = browser
            .post(action)
            .header("accept", "application/json")
            .form(&form)
            .send()
            .await
            .unwrap();
        let body = json_with_status(response, 403).await;
        assert_eq!(body["error"]["id"], "security_csrf_violation");
    }
    // Another browser (no CSRF cookie) can neither read nor submit the flow.
    let stranger = app.browser();
    let response = stranger
        .get(format!("{}/self-service/login/flows?id={id}", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 403).await["error"]["id"],
        "security_csrf_violation"
    );
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("identifier", "a@b.co".into()),
        ("password", "x".into()),
        ("method", "password".into()),
    ];
    let response = stranger
        .post(action)
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 403).await["error"]["id"],
        "security_csrf_violation"
    );
    // A browser that navigates is sent to the error page instead.
    let response = stranger.post(action).form(&form).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with(&format!("{}/error?id=", app.ui))
    );
}

async fn spa_clients_get_json(app: &TestApp) {
    let spa = app.browser();
    let response = spa
        .get(format!("{}/self-service/registration/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let flow = json_with_status(response, 200).await;
    assert_eq!(flow["type"], "browser");
    let body = json!({"csrf_token": csrf_of(&flow), "method": "password", "traits": {"email": "spa@example.com"}, "password": PASSWORD});
    let response = spa
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("ory_kratos_session="))
    );
    let done = json_with_status(response, 200).await;
    assert!(
        done.get("session_token").is_none(),
        "browsers get cookies, not tokens"
    );
    assert_eq!(done["continue_with"][0]["action"], "redirect_browser_to");
    assert_eq!(
        done["session"]["identity"]["traits"]["email"],
        "spa@example.com"
    );
}

async fn signed_in_users_get_session_already_available(app: &TestApp) {
    let token = register(app, "ada@example.com").await["session_token"]
        .as_str()
        .unwrap()
        .to_string();
    for kind in ["login", "registration"] {
        let response = app
            .client
            .get(format!("{}/self-service/{kind}/api", app.public))
            .header("X-Session-Token", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            json_with_status(response, 400).await["error"]["id"],
            "session_already_available"
        );
    }
    let browser = app.browser();
    sign_up(app, &browser, "grace@example.com").await;
    let response = browser
        .get(format!("{}/self-service/login/browser", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], crate::harness::RETURN_URL);
}

async fn return_to_is_checked_and_followed(app: &TestApp) {
    let response = app
        .client
        .get(format!(
            "{}/self-service/login/api?return_to=https://evil.example/steal",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 400).await["error"]["id"],
        "self_service_flow_return_to_forbidden"
    );

    register(app, "ada@example.com").await;
    let browser = app.browser();
    let target = format!("{}/welcome?from=login", app.ui);
    let query = format!("?return_to={}", url_encode(&target));
    let id = browser_flow(app, &browser, "login", &query).await;
    let flow = get_browser_flow(app, &browser, "login", &id).await;
    assert_eq!(flow["return_to"], target.as_str());
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("identifier", "ada@example.com".into()),
        ("password", PASSWORD.into()),
        ("method", "password".into()),
    ];
    let response = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], target.as_str());
}

async fn expired_flows_are_replaced(app: &TestApp) {
    let flow = api_flow(app, "login").await;
    app.state
        .clock
        .advance(std::time::Duration::from_secs(2 * 3600));
    let response = submit_json(
        app,
        &flow,
        json!({"method": "password", "identifier": "a@b.co", "password": PASSWORD}),
    )
    .await;
    let body = json_with_status(response, 410).await;
    assert_eq!(body["error"]["id"], "self_service_flow_expired");
    let replacement = body["use_flow_id"].as_str().unwrap();
    assert_ne!(replacement, flow["id"].as_str().unwrap());
    assert!(body["since"].as_i64().unwrap() > 0);
    let response = app
        .client
        .get(format!(
            "{}/self-service/login/flows?id={replacement}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ui_message_ids(&json_with_status(response, 200).await),
        vec![4010001]
    );
    let response = app
        .client
        .get(format!(
            "{}/self-service/login/flows?id={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 410).await["error"]["id"],
        "self_service_flow_expired"
    );

    let browser = app.browser();
    let id = browser_flow(app, &browser, "registration", "").await;
    let flow = get_browser_flow(app, &browser, "registration", &id).await;
    app.state
        .clock
        .advance(std::time::Duration::from_secs(2 * 3600));
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("traits.email", "a@b.co".into()),
        ("password", PASSWORD.into()),
        ("method", "password".into()),
    ];
    let response = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/registration?flow=", app.ui)) && !location.ends_with(&id),
        "{location}"
    );
    let new_id = location.rsplit('=').next().unwrap();
    let replacement = get_browser_flow(app, &browser, "registration", new_id).await;
    assert_eq!(ui_message_ids(&replacement), vec![4040001]);
}

async fn browser_logout(app: &TestApp) {
    let browser = app.browser();
    let response = browser
        .get(format!("{}/self-service/logout/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(response, 401).await["error"]["id"],
        "session_inactive"
    );

    sign_up(app, &browser, "ada@example.com").await;
    let logout = json_with_status(
        browser
            .get(format!("{}/self-service/logout/browser", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let token = logout["logout_token"].as_str().unwrap();
    assert!(token.starts_with("ory_lo_"));
    let again = json_with_status(
        browser
            .get(format!("{}/self-service/logout/browser", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        again["logout_token"], token,
        "the logout token is stable for a session"
    );

    let response = browser
        .get(format!(
            "{}/self-service/logout?token=ory_lo_forged",
            app.public
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    json_with_status(response, 403).await;
    let response = browser
        .get(logout["logout_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("ory_kratos_session=;"))
    );
    let response = browser
        .get(format!("{}/sessions/whoami", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn stored_errors(app: &TestApp) {
    let response = app
        .client
        .get(format!("{}/self-service/errors?id=stub:500", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(response, 200).await["error"]["code"], 500);
    let response = app
        .client
        .get(format!(
            "{}/self-service/errors?id={}",
            app.public,
            uuid::Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    json_with_status(response, 404).await;

    let browser = app.browser();
    let response = browser
        .get(format!(
            "{}/self-service/login/browser?return_to=https://evil.example/",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let id = location.rsplit('=').next().unwrap();
    let response = app
        .client
        .get(format!("{}/self-service/errors?id={id}", app.public))
        .send()
        .await
        .unwrap();
    let stored = json_with_status(response, 200).await;
    assert_eq!(
        stored["error"]["id"],
        "self_service_flow_return_to_forbidden"
    );
    let html = browser
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Requested return_to URL is not allowed."),
        "{html}"
    );
}

/// The reference UI's path after sign-up with `show_verification_ui`: the browser is sent to
/// the verification flow the sign-up started, and must be able to read it with the CSRF
/// cookie the sign-up just replaced.
async fn sign_up_leads_to_a_readable_verification_flow(dialect: ward::store::Dialect) {
    let hooks = r#"[{"hook":"session"},{"hook":"show_verification_ui"}]"#;
    let extra = [("SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS", hooks)];
    let Some((app, _smtp)) = crate::mail::spawn(dialect, &extra).await else {
        return;
    };
    let browser = app.browser();
    let response = sign_up(&app, &browser, "verify-me@example.com").await;
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let prefix = format!("{}/verification?flow=", app.ui);
    assert!(location.starts_with(&prefix), "{location}");
    let flow = get_browser_flow(&app, &browser, "verification", &location[prefix.len()..]).await;
    assert_eq!(flow["state"], "sent_email");
    assert!(
        flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["attributes"]["name"] == "code")
    );
    // The form's token is the browser's new one: submitting a wrong code is judged, not refused.
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("method", "code".to_string()),
        ("code", "000000".to_string()),
    ];
    let response = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("accept", "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    let refused = json_with_status(response, 400).await;
    assert_eq!(crate::account::message_ids(&refused), [4070006]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_leads_to_a_readable_verification_flow_sqlite() {
    sign_up_leads_to_a_readable_verification_flow(ward::store::Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_leads_to_a_readable_verification_flow_postgres() {
    sign_up_leads_to_a_readable_verification_flow(ward::store::Dialect::Postgres).await;
}
