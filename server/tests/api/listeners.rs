//! Health, version, metrics, schemas, error envelopes and the UI shell.

use reqwest::Method;
use serde_json::json;

use crate::dialect_tests;
use crate::harness::{TestApp, json_with_status};

dialect_tests!(
    health_on_both_api_listeners,
    ready_reports_database_failure,
    version_and_metrics,
    schemas_are_served_by_plain_and_encoded_id,
    unknown_routes_answer_in_the_envelope,
    admin_routes_work_without_prefix,
    oversized_and_malformed_bodies,
    ui_shell_renders_pages_and_404,
    welcome_shows_the_session,
);

async fn health_on_both_api_listeners(app: &TestApp) {
    for base in [&app.public, &app.admin] {
        for path in ["/health/alive", "/health/ready"] {
            let response = app
                .client
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                json_with_status(response, 200).await,
                json!({"status": "ok"})
            );
        }
    }
}

async fn ready_reports_database_failure(app: &TestApp) {
    app.state.database.close().await;
    let response = app
        .client
        .get(format!("{}/health/ready", app.public))
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 503).await;
    assert!(
        body["errors"]["database"]
            .as_str()
            .unwrap()
            .contains("database"),
        "{body}"
    );
    let response = app
        .client
        .get(format!("{}/health/alive", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn version_and_metrics(app: &TestApp) {
    let response = app
        .client
        .get(format!("{}/version", app.admin))
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 200).await;
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    app.client
        .get(format!("{}/schemas", app.public))
        .send()
        .await
        .unwrap();
    let text = app
        .client
        .get(format!("{}/metrics/prometheus", app.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|line| line.starts_with("ward_http_requests_total{")
                && line.contains("route=\"/schemas\"")
                && line.contains("listener=\"public\"")
                && line.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.contains("ward_http_request_duration_seconds_bucket{"),
        "{text}"
    );
}

async fn schemas_are_served_by_plain_and_encoded_id(app: &TestApp) {
    let response = app
        .client
        .get(format!("{}/schemas", app.public))
        .send()
        .await
        .unwrap();
    let list = json_with_status(response, 200).await;
    assert_eq!(list[0]["id"], "default");
    assert_eq!(
        list[0]["schema"]["properties"]["traits"]["properties"]["email"]["format"],
        "email"
    );

    for id in ["default", "ZGVmYXVsdA"] {
        let response = app
            .client
            .get(format!("{}/schemas/{id}", app.public))
            .send()
            .await
            .unwrap();
        let schema = json_with_status(response, 200).await;
        assert_eq!(schema["title"], "Person");
    }
    let response = app
        .client
        .get(format!("{}/schemas/unknown", app.public))
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 404).await;
    assert_eq!(body["error"]["code"], 404);
}

async fn unknown_routes_answer_in_the_envelope(app: &TestApp) {
    for base in [&app.public, &app.admin] {
        let response = app
            .client
            .get(format!("{base}/no/such/route"))
            .send()
            .await
            .unwrap();
        let body = json_with_status(response, 404).await;
        assert_eq!(body["error"]["status"], "Not Found");
    }
}

async fn admin_routes_work_without_prefix(app: &TestApp) {
    let created = app
        .create_identity(json!({"schema_id": "default", "traits": {"email": "bare@example.com"}}))
        .await;
    let id = created["id"].as_str().unwrap();
    let response = app
        .client
        .get(format!("{}/identities/{id}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(response, 200).await["id"], id);
    let response = app
        .client
        .get(format!("{}/admin/health/alive", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn oversized_and_malformed_bodies(app: &TestApp) {
    let big = "x".repeat(5 * 1024 * 1024 + 1);
    let response = app
        .client
        .post(format!("{}/admin/identities", app.admin))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"schema_id":"default","traits":{{"email":"{big}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 413).await;
    assert_eq!(body["error"]["code"], 413);

    let response = app
        .client
        .post(format!("{}/admin/identities", app.admin))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 400).await;
    assert_eq!(body["error"]["status"], "Bad Request");
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("not valid"),
        "{body}"
    );

    let response = app
        .client
        .post(format!("{}/admin/identities", app.admin))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(response, 415).await["error"]["code"], 415);

    let response = app
        .admin_request(
            Method::POST,
            "/admin/identities",
            Some(json!({"schema_id": 7, "traits": {}})),
        )
        .await;
    let body = json_with_status(response, 400).await;
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("schema_id"),
        "{body}"
    );
}

async fn ui_shell_renders_pages_and_404(app: &TestApp) {
    let response = app
        .client
        .get(format!("{}/welcome", app.ui))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"data-testid="session-status""#), "{html}");
    assert!(html.contains("You are not signed in."), "{html}");
    assert!(html.contains("/pkg/ward.js"), "{html}");
    assert!(html.contains("/pkg/ward.css"), "{html}");

    let response = app.client.get(format!("{}/", app.ui)).send().await.unwrap();
    assert!(
        response.status().is_redirection() || response.text().await.unwrap().contains("welcome")
    );

    let response = app
        .client
        .get(format!("{}/does-not-exist", app.ui))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"data-testid="not-found""#)
    );
}

async fn welcome_shows_the_session(app: &TestApp) {
    let identity = app
        .create_identity(json!({"schema_id": "default", "traits": {"email": "ada@example.com"}}))
        .await;
    let id = identity["id"].as_str().unwrap();
    let token = app.sign_in(id, time::Duration::hours(1)).await;
    let welcome = |cookie: String| {
        let request = app
            .client
            .get(format!("{}/welcome", app.ui))
            .header("cookie", cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let html = welcome(format!("theme=x; ory_kratos_session={token}")).await;
    assert!(
        html.contains("You are signed in as ada@example.com."),
        "{html}"
    );

    let html = welcome("ory_kratos_session=ory_st_unknown".into()).await;
    assert!(html.contains("You are not signed in."), "{html}");

    // Expired sessions and disabled identities are not signed in.
    app.state
        .clock
        .advance(std::time::Duration::from_secs(2 * 3600));
    assert!(
        welcome(format!("ory_kratos_session={token}"))
            .await
            .contains("You are not signed in.")
    );
    let fresh = app.sign_in(id, time::Duration::hours(1)).await;
    assert!(
        welcome(format!("ory_kratos_session={fresh}"))
            .await
            .contains("signed in as")
    );
    let patch = json!([{"op": "replace", "path": "/state", "value": "inactive"}]);
    let response = app
        .admin_request(
            Method::PATCH,
            &format!("/admin/identities/{id}"),
            Some(patch),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        welcome(format!("ory_kratos_session={fresh}"))
            .await
            .contains("You are not signed in.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_and_cookie_settings() {
    let app = TestApp::spawn_with(
        ward::store::Dialect::Sqlite,
        &[
            ("SERVE_PUBLIC_CORS_ENABLED", "true"),
            (
                "SERVE_PUBLIC_CORS_ALLOWED_ORIGINS",
                "https://app.example.com,https://*.example.org",
            ),
            ("COOKIES_DOMAIN", "example.com"),
            ("SESSION_COOKIE_PERSISTENT", "false"),
            ("SESSION_COOKIE_SAME_SITE", "Strict"),
        ],
    )
    .await
    .unwrap();
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://spa.example.org", true),
        ("https://evil.example.net", false),
    ] {
        let response = app
            .client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/sessions/whoami", app.public),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-session-token")
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            allow.as_deref() == Some(origin),
            allowed,
            "{origin}: {allow:?}"
        );
        if allowed {
            assert_eq!(
                response.headers()["access-control-allow-credentials"],
                "true"
            );
        }
    }

    let browser = app.browser();
    let response = browser
        .get(format!("{}/self-service/registration/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let csrf_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csrf_cookie.contains("Domain=example.com") && csrf_cookie.contains("SameSite=Lax"),
        "{csrf_cookie}"
    );
    let browser_flow: serde_json::Value = response.json().await.unwrap();
    let csrf = browser_flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "csrf_token")
        .unwrap()["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    // A cookie for example.com is not sent to 127.0.0.1 by a browser; hand it over directly.
    let csrf_pair = csrf_cookie.split(';').next().unwrap().to_string();
    let response = app
        .client
        .post(browser_flow["ui"]["action"].as_str().unwrap())
        .header("accept", "application/json")
        .header("cookie", csrf_pair)
        .json(&json!({"csrf_token": csrf, "method": "password", "traits": {"email": "c@example.com"}, "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    let session_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_string())
        .find(|cookie| cookie.starts_with("ory_kratos_session="))
        .unwrap();
    assert!(
        session_cookie.contains("SameSite=Strict") && session_cookie.contains("Domain=example.com"),
        "{session_cookie}"
    );
    assert!(
        !session_cookie.contains("Max-Age"),
        "not persistent: {session_cookie}"
    );
    app.stop().await;
}

/// GET `path` from the UI listener.
async fn ui_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.ui))
        .send()
        .await
        .unwrap()
}

/// The value of `directive` in a Content-Security-Policy.
fn directive<'a>(policy: &'a str, directive: &str) -> &'a str {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|part| part.strip_prefix(directive))
        .unwrap_or_else(|| panic!("no {directive} in {policy}"))
        .trim()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_redirects_carry_security_headers() {
    let app = TestApp::spawn(ward::store::Dialect::Sqlite).await;
    let response = ui_get(&app, "/welcome").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.get("strict-transport-security").is_none());
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert_eq!(directive(policy, "default-src"), "'self'");
    assert_eq!(directive(policy, "frame-ancestors"), "'none'");
    assert_eq!(directive(policy, "img-src"), "'self' data:");
    // The one inline script, Leptos's hydration bootstrap, runs by this response's nonce.
    let scripts = directive(policy, "script-src");
    let nonce = scripts
        .split_whitespace()
        .find_map(|source| source.strip_prefix("'nonce-"))
        .and_then(|source| source.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no nonce in {scripts}"));
    assert!(nonce.len() >= 16, "{nonce}");
    let html = response.text().await.unwrap();
    assert!(html.contains(&format!(r#"nonce="{nonce}""#)), "{html}");
    for tag in html.split("<script").skip(1) {
        let attributes = tag.split('>').next().unwrap_or_default();
        assert!(
            attributes.contains(&format!(r#"nonce="{nonce}""#)),
            "{attributes}"
        );
    }
    // A second page gets another nonce.
    let again = ui_get(&app, "/welcome").await;
    assert!(
        !again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains(nonce)
    );

    // The public listener's redirects carry them too.
    let redirect = app
        .client
        .get(format!("{}/self-service/login/browser", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 303);
    assert_eq!(redirect.headers()["referrer-policy"], "no-referrer");
    assert_eq!(redirect.headers()["x-content-type-options"], "nosniff");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branding_and_theme_come_from_configuration() {
    use base64::Engine as _;
    let stylesheet = format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(".ward-card { border-width: 3px; }")
    );
    let app = TestApp::spawn_with(
        ward::store::Dialect::Sqlite,
        &[
            ("UI_BRANDING_PRODUCT_NAME", "Acme ID"),
            (
                "UI_BRANDING_LOGO_URL",
                "https://cdn.example.com/acme/logo.svg",
            ),
            (
                "UI_THEME_TOKENS",
                r##"{"color-accent": "#0f766e", "radius": "4px"}"##,
            ),
            ("UI_THEME_STYLESHEET_URL", &stylesheet),
            ("UI_FRAME_ANCESTORS", "https://app.example.com"),
            ("SERVE_UI_BASE_URL", "https://id.example.com/"),
        ],
    )
    .await
    .unwrap();
    let response = ui_get(&app, "/welcome").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["strict-transport-security"], "max-age=31536000");
    assert!(headers.get("x-frame-options").is_none());
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert_eq!(
        directive(policy, "img-src"),
        "'self' data: https://cdn.example.com"
    );
    assert_eq!(
        directive(policy, "frame-ancestors"),
        "https://app.example.com"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Welcome · Acme ID</title>"), "{html}");
    assert!(html.contains("<h1>Welcome to Acme ID</h1>"), "{html}");
    assert!(html.contains("Secured by Acme ID"), "{html}");
    assert!(
        html.contains(r#"src="https://cdn.example.com/acme/logo.svg""#),
        "{html}"
    );
    assert!(!html.contains(">Ward<"), "{html}");
    // The theme's stylesheet follows the built-in one.
    let theme = html
        .split('"')
        .find(|part| part.starts_with("/theme/theme-") && part.ends_with(".css"))
        .unwrap_or_else(|| panic!("no theme stylesheet in {html}"));
    assert!(html.find("/pkg/ward.css").unwrap() < html.find(theme).unwrap());
    let css = ui_get(&app, theme).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    // Files get a policy that allows nothing.
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        css.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let css = css.text().await.unwrap();
    assert!(
        css.contains("--ward-color-accent: light-dark(#0f766e, #748ffc);"),
        "{css}"
    );
    assert!(css.contains("--ward-radius: 4px;"), "{css}");
    assert!(css.ends_with(".ward-card { border-width: 3px; }"), "{css}");
    app.stop().await;
}
