//! Real answers checked against the description Ward serves at `/.well-known/openapi.json`:
//! the ones schemathesis (`scripts/test-api.sh`) cannot reach with generated data, such as a
//! signed-in session, a finished sign-up or a form with errors.

use reqwest::Method;
use serde_json::{Value, json};

use crate::flows::{PASSWORD, api_flow, register};
use crate::harness::TestApp;
use crate::mail::SmtpCapture;
use crate::mail_tests;

mail_tests!(real_answers_match_the_description);

struct Description(Value);

impl Description {
    async fn of(app: &TestApp, base: &str) -> Self {
        let response = app
            .client
            .get(format!("{base}/.well-known/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        Self(response.json().await.unwrap())
    }

    /// Asserts `response` to `operation` ("GET /path", the path as described) has `status`
    /// and a JSON body the description allows for it; returns the body.
    async fn check(&self, response: reqwest::Response, operation: &str, status: u16) -> Value {
        let (method, path) = operation.split_once(' ').unwrap();
        let method = method.to_ascii_lowercase();
        let actual = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(actual, status, "{method} {path}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let schema = &self.0["paths"][path][&method]["responses"][status.to_string()]["content"]["application/json"]
            ["schema"];
        assert!(
            !schema.is_null(),
            "{method} {path} describes no body for {status}"
        );
        // Local references (`#/components/...`) resolve against this wrapper.
        let wrapper = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.0["components"],
            "allOf": [schema],
        });
        let validator = jsonschema::validator_for(&wrapper).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|error| format!("{error} at {}", error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: {errors:#?}\n{body:#}"
        );
        body
    }
}

async fn call(
    app: &TestApp,
    method: Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, &url)
        .header("Accept", "application/json");
    if let Some(token) = token {
        request = request.header("X-Session-Token", token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn real_answers_match_the_description(app: &TestApp, _smtp: &SmtpCapture) {
    let public = Description::of(app, &app.public).await;
    let admin = Description::of(app, &app.admin).await;

    // Registration: a form with errors, then a finished sign-up with a session.
    let response = get(
        app,
        format!("{}/self-service/registration/api", app.public),
        None,
    )
    .await;
    let flow = public
        .check(response, "GET /self-service/registration/api", 200)
        .await;
    let bad = json!({"method": "password", "traits": {"email": "not an address"}, "password": "x"});
    let response = post(app, &flow, bad).await;
    public
        .check(response, "POST /self-service/registration", 400)
        .await;
    let registered = register(app, "described@example.com").await;
    let token = registered["session_token"].as_str().unwrap();
    let identity_id = registered["identity"]["id"].as_str().unwrap();
    let response = post(
        app,
        &api_flow(app, "registration").await,
        json!({"method": "password", "traits": {"email": "second@example.com"}, "password": PASSWORD}),
    )
    .await;
    public
        .check(response, "POST /self-service/registration", 200)
        .await;

    // Login: wrong password, then right.
    let response = get(app, format!("{}/self-service/login/api", app.public), None).await;
    let flow = public
        .check(response, "GET /self-service/login/api", 200)
        .await;
    let attempt = |password: &str| json!({"method": "password", "identifier": "described@example.com", "password": password});
    public
        .check(
            post(app, &flow, attempt("wrong")).await,
            "POST /self-service/login",
            400,
        )
        .await;
    public
        .check(
            post(app, &flow, attempt(PASSWORD)).await,
            "POST /self-service/login",
            200,
        )
        .await;

    // The session, the caller's sessions, settings.
    let response = get(app, format!("{}/sessions/whoami", app.public), Some(token)).await;
    public.check(response, "GET /sessions/whoami", 200).await;
    let response = get(app, format!("{}/sessions", app.public), Some(token)).await;
    public.check(response, "GET /sessions", 200).await;
    let response = get(
        app,
        format!("{}/self-service/settings/api", app.public),
        Some(token),
    )
    .await;
    let settings = public
        .check(response, "GET /self-service/settings/api", 200)
        .await;
    let change = json!({"method": "profile", "traits": {"email": "described@example.com", "name": {"first": "Ada"}}});
    let response = call(
        app,
        Method::POST,
        settings["ui"]["action"].as_str().unwrap().to_string(),
        Some(token),
        Some(change),
    )
    .await;
    public
        .check(response, "POST /self-service/settings", 200)
        .await;

    // Recovery and verification send a code.
    for kind in ["recovery", "verification"] {
        let response = get(app, format!("{}/self-service/{kind}/api", app.public), None).await;
        let flow = public
            .check(response, &format!("GET /self-service/{kind}/api"), 200)
            .await;
        let send = json!({"method": "code", "email": "described@example.com"});
        let sent = public
            .check(
                post(app, &flow, send).await,
                &format!("POST /self-service/{kind}"),
                200,
            )
            .await;
        assert_eq!(sent["state"], "sent_email");
    }

    // Errors, schemas, logout, health.
    let response = get(
        app,
        format!("{}/self-service/errors?id=stub:500", app.public),
        None,
    )
    .await;
    public
        .check(response, "GET /self-service/errors", 200)
        .await;
    public
        .check(
            get(app, format!("{}/schemas", app.public), None).await,
            "GET /schemas",
            200,
        )
        .await;
    let response = get(
        app,
        format!(
            "{}/self-service/login/flows?id={}",
            app.public,
            uuid::Uuid::new_v4()
        ),
        None,
    )
    .await;
    public
        .check(response, "GET /self-service/login/flows", 404)
        .await;
    public
        .check(
            get(app, format!("{}/health/ready", app.public), None).await,
            "GET /health/ready",
            200,
        )
        .await;

    // The admin listener: identities with credentials, sessions expanded, courier, recovery.
    let response = get(
        app,
        format!(
            "{}/admin/identities/{identity_id}?include_credential=password",
            app.admin
        ),
        None,
    )
    .await;
    admin
        .check(response, "GET /admin/identities/{id}", 200)
        .await;
    let response = get(app, format!("{}/admin/identities", app.admin), None).await;
    admin.check(response, "GET /admin/identities", 200).await;
    let response = get(
        app,
        format!(
            "{}/admin/sessions?expand=identity&expand=devices",
            app.admin
        ),
        None,
    )
    .await;
    let sessions = admin.check(response, "GET /admin/sessions", 200).await;
    assert!(!sessions.as_array().unwrap().is_empty());
    let response = get(app, format!("{}/admin/sessions", app.admin), None).await;
    admin.check(response, "GET /admin/sessions", 200).await;
    let response = get(
        app,
        format!("{}/admin/identities/{identity_id}/sessions", app.admin),
        None,
    )
    .await;
    admin
        .check(response, "GET /admin/identities/{id}/sessions", 200)
        .await;
    let response = get(app, format!("{}/admin/courier/messages", app.admin), None).await;
    let messages = admin
        .check(response, "GET /admin/courier/messages", 200)
        .await;
    assert!(!messages.as_array().unwrap().is_empty());
    let response = call(
        app,
        Method::POST,
        format!("{}/admin/recovery/code", app.admin),
        None,
        Some(json!({"identity_id": identity_id})),
    )
    .await;
    admin
        .check(response, "POST /admin/recovery/code", 201)
        .await;
    let response = call(
        app,
        Method::PATCH,
        format!("{}/admin/identities", app.admin),
        None,
        Some(json!({"identities": [
            {"create": {"schema_id": "default", "traits": {"email": "batch@example.com"}}},
            {"create": {"schema_id": "nope", "traits": {}}},
            null,
        ]})),
    )
    .await;
    admin.check(response, "PATCH /admin/identities", 200).await;
    let response = call(
        app,
        Method::POST,
        format!("{}/admin/identities", app.admin),
        None,
        Some(json!({"schema_id": "default", "traits": {"email": "described@example.com"}})),
    )
    .await;
    admin.check(response, "POST /admin/identities", 409).await;
    admin
        .check(
            get(app, format!("{}/version", app.admin), None).await,
            "GET /version",
            200,
        )
        .await;
}

async fn get(app: &TestApp, url: String, token: Option<&str>) -> reqwest::Response {
    call(app, Method::GET, url, token, None).await
}

async fn post(app: &TestApp, flow: &Value, body: Value) -> reqwest::Response {
    let action = flow["ui"]["action"].as_str().unwrap().to_string();
    call(app, Method::POST, action, None, Some(body)).await
}
