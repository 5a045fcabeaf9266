//! Web hooks against a real HTTP receiver the test starts: rendering, headers, auth,
//! signatures, answers that change or refuse a sign-up, failures, and queued deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use base64::Engine;
use hmac::Mac;
use reqwest::Method;
use serde_json::{Value, json};
use ward::store::Dialect;

use crate::account::create_user;
use crate::flows::{PASSWORD, api_flow, register, submit_json};
use crate::harness::{TestApp, json_with_status};

const SECRET: &[u8] = b"a-signing-secret-of-32-bytes!!!!";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Self::default();
        let app = axum::Router::new()
            .route("/{kind}", any(answer))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, format!("http://{address}"))
    }

    fn requests(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` got `count` requests.
    async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let requests = self.requests(path);
            if requests.len() >= count {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{path} got {} requests, not {count}",
            self.requests(path).len()
        );
    }
}

async fn answer(
    State(receiver): State<Receiver>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let earlier = receiver.requests(&kind).len();
    receiver.received.lock().unwrap().push(Received {
        path: kind.clone(),
        headers,
        body: body.clone(),
    });
    match kind.as_str() {
        "patch" => {
            let sent: Value = serde_json::from_str(&body).unwrap_or_default();
            let json = json!({"identity": {
                "traits": {"email": sent["email"], "name": {"first": "Patched"}},
                "metadata_public": {"crm_id": "crm-1"},
            }});
            axum::Json(json).into_response()
        }
        "refuse" => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"messages": [{
                "instance_ptr": "#/traits/email",
                "messages": [{"id": 4000001, "text": "Sign-ups from this domain are closed.",
                              "type": "error", "context": {"reason": "domain"}}],
            }]})),
        )
            .into_response(),
        "fail" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        // A change that breaks the identity schema.
        "unschematic" => {
            axum::Json(json!({"identity": {"traits": {"email": "not an address"}}})).into_response()
        }
        // A body program served over HTTP.
        "program.jsonnet" => BODY.into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::OK.into_response()
        }
        // Refuses twice, then takes it.
        "flaky" if earlier < 2 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        _ => StatusCode::OK.into_response(),
    }
}

fn base64_url(code: &str) -> String {
    format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(code)
    )
}

const BODY: &str = "function(ctx) {
  email: ctx.identity.traits.email,
  flow_id: ctx.flow.id,
  user_agent: if 'User-Agent' in ctx.request_headers then ctx.request_headers['User-Agent'][0],
  method: ctx.request_method,
}";

/// A Ward whose password sign-ups run `hooks` (then sign in).
async fn ward_with(dialect: Dialect, hooks: Value, extra: &[(&str, &str)]) -> Option<TestApp> {
    let mut list = hooks.as_array().cloned().unwrap_or_default();
    list.push(json!({"hook": "session"}));
    let hooks = Value::Array(list).to_string();
    let mut env = vec![(
        "SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS",
        hooks.as_str(),
    )];
    env.extend_from_slice(extra);
    TestApp::spawn_with(dialect, &env).await
}

fn web_hook(url: String, config: Value) -> Value {
    let mut config = config;
    config["url"] = json!(url);
    config["body"] = json!(base64_url(BODY));
    json!({"hook": "web_hook", "config": config})
}

macro_rules! web_hook_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(ward::store::Dialect::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    // Without PostgreSQL configured, `app` answers None and the test returns.
                    super::$name(ward::store::Dialect::Postgres).await;
                }
            )*
        }
    };
}

web_hook_tests!(
    requests_are_rendered_authenticated_and_signed,
    answers_change_or_refuse_a_sign_up_before_it_is_stored,
    failures_and_timeouts_store_nothing,
    cancelled_and_disallowed_calls,
    ignored_answers_are_delivered_from_the_queue,
    deliveries_that_keep_failing_are_abandoned,
    settings_answers_change_or_refuse_and_browsers_see_refusals,
    hooks_before_a_flow_and_at_sign_in_can_refuse,
    address_changes_wait_for_verification_and_tell_the_old_address,
);

async fn identity_count(app: &TestApp) -> usize {
    let list = app
        .admin_request(Method::GET, "/admin/identities", None)
        .await;
    json_with_status(list, 200).await.as_array().unwrap().len()
}

async fn requests_are_rendered_authenticated_and_signed(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(SECRET)
    );
    let mut hook = web_hook(
        format!("{base}/ok"),
        json!({
            "method": "PUT",
            "headers": {"X-Custom": "yes"},
            "auth": {"type": "api_key", "config": {"name": "X-Api-Key", "value": "key-1", "in": "header"}},
            "signing_secret": secret,
        }),
    );
    // The body program comes from an http(s):// URL, read once at start.
    hook["config"]["body"] = json!(format!("{base}/program.jsonnet"));
    // A second hook: an API key in a cookie, and a body listing the request headers it sees.
    let mut cookie = web_hook(
        format!("{base}/cookie"),
        json!({"auth": {"type": "api_key", "config": {"name": "hook_key", "value": "key-2", "in": "cookie"}}}),
    );
    cookie["config"]["body"] = json!(base64_url(
        "function(ctx) { headers: std.objectFields(ctx.request_headers) }"
    ));
    let Some(app) = ward_with(dialect, json!([hook, cookie]), &[]).await else {
        return;
    };
    assert_eq!(receiver.requests("program.jsonnet").len(), 1);
    let flow = api_flow(&app, "registration").await;
    let response = app
        .client
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("User-Agent", "hook-test/1.0")
        .header("X-Not-Listed", "private")
        .json(&json!({"method": "password", "traits": {"email": "ann@example.com"}, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let signed_up = json_with_status(response, 200).await;
    assert!(signed_up["session_token"].is_string());

    let request = receiver.wait_for("ok", 1).await.remove(0);
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["flow_id"], flow["id"]);
    assert_eq!(body["user_agent"], "hook-test/1.0");
    assert_eq!(body["method"], "POST");
    assert_eq!(request.headers["x-custom"], "yes");
    assert_eq!(request.headers["x-api-key"], "key-1");
    assert_eq!(request.headers["content-type"], "application/json");

    // Standard Webhooks, checked here with the hmac crate directly.
    let id = request.headers["webhook-id"].to_str().unwrap();
    let timestamp = request.headers["webhook-timestamp"].to_str().unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", request.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(
        request.headers["webhook-signature"].to_str().unwrap(),
        expected
    );
    let age = time::OffsetDateTime::now_utc().unix_timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age));

    // The cookie carries the key; only headers on clients.web_hook.header_allowlist reach ctx.
    let request = receiver.wait_for("cookie", 1).await.remove(0);
    assert_eq!(request.headers["cookie"], "hook_key=key-2");
    let seen: Value = serde_json::from_str(&request.body).unwrap();
    let seen: Vec<&str> = seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(seen.contains(&"User-Agent"), "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|name| name.eq_ignore_ascii_case("X-Not-Listed")),
        "{seen:?}"
    );
    app.stop().await;
}

async fn answers_change_or_refuse_a_sign_up_before_it_is_stored(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    let hooks = json!([web_hook(
        format!("{base}/patch"),
        json!({"response": {"parse": true}})
    ),]);
    let Some(app) = ward_with(dialect, hooks, &[]).await else {
        return;
    };
    let signed_up = register(&app, "bea@example.com").await;
    assert_eq!(signed_up["identity"]["traits"]["name"]["first"], "Patched");
    assert_eq!(signed_up["identity"]["metadata_public"]["crm_id"], "crm-1");
    assert_eq!(receiver.requests("patch").len(), 1);
    app.stop().await;

    // The deprecated `can_interrupt` reads answers too: a refusal with messages.
    let hooks = json!([web_hook(
        format!("{base}/refuse"),
        json!({"can_interrupt": true})
    )]);
    let Some(app) = ward_with(dialect, hooks, &[]).await else {
        return;
    };
    let flow = api_flow(&app, "registration").await;
    let body = json!({"method": "password", "traits": {"email": "cid@blocked.example"}, "password": PASSWORD});
    let refused = json_with_status(submit_json(&app, &flow, body).await, 400).await;
    let email = refused["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "traits.email")
        .unwrap();
    assert_eq!(
        email["messages"][0]["text"],
        "Sign-ups from this domain are closed."
    );
    assert_eq!(email["messages"][0]["context"]["reason"], "domain");
    assert_eq!(identity_count(&app).await, 0);
    app.stop().await;
}

async fn failures_and_timeouts_store_nothing(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    for path in ["fail", "slow"] {
        let hooks = json!([web_hook(
            format!("{base}/{path}"),
            json!({"response": {"parse": true}})
        )]);
        let Some(app) = ward_with(dialect, hooks, &[("CLIENTS_WEB_HOOK_TIMEOUT", "1s")]).await
        else {
            return;
        };
        let flow = api_flow(&app, "registration").await;
        let body = json!({"method": "password", "traits": {"email": "dan@example.com"}, "password": PASSWORD});
        let refused = json_with_status(submit_json(&app, &flow, body).await, 400).await;
        assert_eq!(refused["ui"]["messages"][0]["id"], 4000001, "{path}");
        assert_eq!(identity_count(&app).await, 0, "{path}");
        assert_eq!(receiver.requests(path).len(), 1);
        app.stop().await;
    }
}

async fn cancelled_and_disallowed_calls(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    let cancel = "function(ctx) if std.endsWith(ctx.identity.traits.email, '@skip.example') \
                  then error 'cancel' else { email: ctx.identity.traits.email }";
    let hooks = json!([{"hook": "web_hook", "config": {
        "url": format!("{base}/ok"),
        "body": base64_url(cancel),
        "auth": {"type": "basic_auth", "config": {"user": "ward", "password": "hook-pass"}},
    }}]);
    let Some(app) = ward_with(dialect, hooks, &[]).await else {
        return;
    };
    register(&app, "eve@skip.example").await;
    register(&app, "fay@example.com").await;
    let requests = receiver.wait_for("ok", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.requests("ok").len(), 1);
    assert!(requests[0].body.contains("fay@example.com"));
    let basic = base64::engine::general_purpose::STANDARD.encode("ward:hook-pass");
    assert_eq!(
        requests[0].headers["authorization"],
        format!("Basic {basic}").as_str()
    );
    app.stop().await;

    // A host outside clients.web_hook.allowed_hosts is not called.
    let hooks = json!([web_hook(
        format!("{base}/patch"),
        json!({"response": {"parse": true}})
    )]);
    let allowed = r#"["crm.example.com", "*.hooks.example.com"]"#;
    let Some(app) = ward_with(
        dialect,
        hooks,
        &[("CLIENTS_WEB_HOOK_ALLOWED_HOSTS", allowed)],
    )
    .await
    else {
        return;
    };
    let flow = api_flow(&app, "registration").await;
    let body =
        json!({"method": "password", "traits": {"email": "gus@example.com"}, "password": PASSWORD});
    let refused = json_with_status(submit_json(&app, &flow, body).await, 400).await;
    // The user reads that it failed; the log says why (the receiver's address is not theirs
    // to see).
    assert_eq!(refused["ui"]["messages"][0]["id"], 4000001);
    assert!(!refused.to_string().contains(&base), "{refused}");
    assert!(receiver.requests("patch").is_empty());
    app.stop().await;
}

async fn ignored_answers_are_delivered_from_the_queue(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(SECRET)
    );
    let hooks = json!([web_hook(
        format!("{base}/flaky"),
        json!({"response": {"ignore": true}, "signing_secret": secret}),
    )]);
    let Some(app) = ward_with(dialect, hooks, &[]).await else {
        return;
    };
    // The sign-up does not wait for the receiver, which is refusing.
    register(&app, "hal@example.com").await;
    let first = receiver.wait_for("flaky", 1).await;
    // Ward restarts once the first refusal is recorded: the retry is not lost.
    for _ in 0..100 {
        let list = app
            .admin_request(Method::GET, "/admin/web-hooks/deliveries", None)
            .await;
        let delivery = json_with_status(list, 200).await[0].clone();
        if delivery["status"] == "queued" && delivery["attempts"] == 1 {
            assert!(
                delivery["last_error"].as_str().unwrap().contains("503"),
                "{delivery}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let restarted = app.restart().await;
    let attempts = receiver.wait_for("flaky", 3).await;
    for attempt in &attempts {
        assert_eq!(
            attempt.headers["webhook-id"],
            first[0].headers["webhook-id"]
        );
        assert_eq!(attempt.body, first[0].body);
    }
    assert!(attempts[2].body.contains("hal@example.com"));
    let mut delivered = Value::Null;
    for _ in 0..100 {
        let list = restarted
            .admin_request(Method::GET, "/admin/web-hooks/deliveries", None)
            .await;
        delivered = json_with_status(list, 200).await[0].clone();
        if delivered["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(delivered["url"], format!("{base}/flaky"));
    // Finished deliveries are forgotten after a week (their bodies hold identity data).
    let now = restarted.state.clock.now();
    let store = &restarted.state.deliveries;
    let earlier = now - time::Duration::minutes(1);
    assert_eq!(store.purge_deliveries(earlier).await.unwrap(), 0);
    let later = now + time::Duration::days(8);
    assert_eq!(store.purge_deliveries(later).await.unwrap(), 1);
    restarted.stop().await;
}

/// A receiver that always fails: twelve attempts, the pauses between them doubling (the test
/// clock skips them), then `abandoned` with the last error.
async fn deliveries_that_keep_failing_are_abandoned(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    let hooks = json!([web_hook(
        format!("{base}/fail"),
        json!({"response": {"ignore": true}})
    )]);
    let Some(app) = ward_with(dialect, hooks, &[]).await else {
        return;
    };
    register(&app, "ivy@example.com").await;
    let mut delivery = Value::Null;
    for attempt in 1..=12 {
        receiver.wait_for("fail", attempt).await;
        for _ in 0..200 {
            let list = app
                .admin_request(Method::GET, "/admin/web-hooks/deliveries", None)
                .await;
            delivery = json_with_status(list, 200).await[0].clone();
            if delivery["attempts"] == attempt && delivery["status"] != "processing" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        app.state.clock.advance(Duration::from_secs(3600));
    }
    assert_eq!(delivery["status"], "abandoned", "{delivery}");
    assert!(
        delivery["last_error"].as_str().unwrap().contains("500"),
        "{delivery}"
    );
    let abandoned = app
        .admin_request(
            Method::GET,
            "/admin/web-hooks/deliveries?status=abandoned",
            None,
        )
        .await;
    assert_eq!(
        json_with_status(abandoned, 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Nothing more is tried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.requests("fail").len(), 12);
    app.stop().await;
}

/// Saves `first` as the first name of the identity signed in with `token`, over the API.
async fn save_name(app: &TestApp, token: &str, email: &str, first: &str) -> reqwest::Response {
    let body = json!({"method": "profile", "traits": {"email": email, "name": {"first": first}}});
    crate::flows::submit_settings(app, token, body).await
}

/// A settings flow's answers are read before the change is stored, as a sign-up's are: a
/// patch is applied and checked against the schema (a broken one stores nothing); and a
/// browser's refused sign-up comes back to its form with the receiver's messages.
async fn settings_answers_change_or_refuse_and_browsers_see_refusals(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    let settings_hooks = |path: &str| {
        json!([web_hook(
            format!("{base}/{path}"),
            json!({"response": {"parse": true}})
        )])
        .to_string()
    };
    let patch = settings_hooks("patch");
    let Some(app) = ward_with(
        dialect,
        json!([]),
        &[(
            "SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS",
            patch.as_str(),
        )],
    )
    .await
    else {
        return;
    };
    let registered = register(&app, "dee@example.com").await;
    let token = registered["session_token"].as_str().unwrap();
    let saved = json_with_status(save_name(&app, token, "dee@example.com", "Dee").await, 200).await;
    assert_eq!(saved["identity"]["traits"]["name"]["first"], "Patched");
    assert_eq!(saved["identity"]["metadata_public"]["crm_id"], "crm-1");
    assert_eq!(receiver.requests("patch").len(), 1);
    app.stop().await;

    let broken = settings_hooks("unschematic");
    let Some(app) = ward_with(
        dialect,
        json!([]),
        &[(
            "SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS",
            broken.as_str(),
        )],
    )
    .await
    else {
        return;
    };
    let registered = register(&app, "eve@example.com").await;
    let token = registered["session_token"].as_str().unwrap();
    let id = registered["identity"]["id"].as_str().unwrap().to_string();
    let refused = save_name(&app, token, "eve@example.com", "Eve").await;
    let refused = json_with_status(refused, 400).await;
    let email = refused["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "traits.email")
        .unwrap();
    assert!(
        !email["messages"].as_array().unwrap().is_empty(),
        "{refused}"
    );
    let stored = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(stored["traits"]["email"], "eve@example.com");
    assert!(
        stored["traits"]["name"].is_null(),
        "nothing stored: {stored}"
    );
    app.stop().await;

    // A browser's refused sign-up: back to the form, the receiver's message on its field.
    let hooks = json!([web_hook(
        format!("{base}/refuse"),
        json!({"response": {"parse": true}})
    )]);
    let Some(app) = ward_with(dialect, hooks, &[]).await else {
        return;
    };
    let browser = app.browser();
    let id = crate::browser_flows::browser_flow(&app, &browser, "registration", "").await;
    let flow = crate::browser_flows::get_browser_flow(&app, &browser, "registration", &id).await;
    let form = [
        ("csrf_token", crate::browser_flows::csrf_of(&flow)),
        ("traits.email", "fay@blocked.example".to_string()),
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
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.ends_with(&format!("/registration?flow={id}")),
        "{location}"
    );
    let shown = crate::browser_flows::get_browser_flow(&app, &browser, "registration", &id).await;
    let email = shown["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "traits.email")
        .unwrap();
    assert_eq!(
        email["messages"][0]["text"],
        "Sign-ups from this domain are closed."
    );
    assert_eq!(identity_count(&app).await, 0);
    app.stop().await;
}

async fn hooks_before_a_flow_and_at_sign_in_can_refuse(dialect: Dialect) {
    let (receiver, base) = Receiver::start().await;
    let refuse = |config: Value| {
        let mut hook = web_hook(format!("{base}/refuse"), config);
        hook["config"]["body"] = json!(base64_url("function(ctx) { flow: ctx.flow.id }"));
        json!([hook]).to_string()
    };
    let before = refuse(json!({"response": {"parse": true}}));
    let after = refuse(json!({"response": {"parse": true}}));
    let Some(app) = TestApp::spawn_with(
        dialect,
        &[
            (
                "SELFSERVICE_FLOWS_REGISTRATION_BEFORE_HOOKS",
                before.as_str(),
            ),
            ("SELFSERVICE_FLOWS_LOGIN_AFTER_HOOKS", after.as_str()),
        ],
    )
    .await
    else {
        return;
    };
    // Before: the flow does not start (a hook that does not read its answer would fail it
    // with 502 instead, as in Kratos).
    let response = app
        .client
        .get(format!("{}/self-service/registration/api", app.public))
        .send()
        .await
        .unwrap();
    let refused = json_with_status(response, 400).await;
    assert_eq!(
        refused["error"]["reason"],
        "Sign-ups from this domain are closed."
    );

    // At sign-in: no session.
    create_user(&app, "ida@example.com").await;
    let flow = api_flow(&app, "login").await;
    let body = json!({"method": "password", "identifier": "ida@example.com", "password": PASSWORD});
    let refused = json_with_status(submit_json(&app, &flow, body).await, 400).await;
    assert_eq!(
        refused["ui"]["messages"][0]["text"],
        "Sign-ups from this domain are closed."
    );
    assert!(refused.get("session_token").is_none());
    assert_eq!(receiver.requests("refuse").len(), 2);
    app.stop().await;
}

/// Changes the identity's address in settings over the API; returns the settings flow.
async fn change_address(app: &TestApp, token: &str, to: &str) -> Value {
    use crate::second_factor::{get_with_token, post_with_token};
    let flow = json_with_status(
        get_with_token(app, "/self-service/settings/api", token).await,
        200,
    )
    .await;
    let body = json!({"method": "profile", "traits": {"email": to}});
    json_with_status(post_with_token(app, &flow, body, token).await, 200).await
}

async fn address_changes_wait_for_verification_and_tell_the_old_address(dialect: Dialect) {
    let hooks = r#"[{"hook": "verify_new_address"}, {"hook": "notify_previous_addresses"}]"#;
    let Some((app, smtp)) = crate::mail::spawn(
        dialect,
        &[("SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS", hooks)],
    )
    .await
    else {
        return;
    };
    let user = create_user(&app, "old@example.com").await;
    let token = crate::second_factor::password_login(&app, "old@example.com").await;
    let settings = change_address(&app, &token, "new@example.com").await;
    let ids: Vec<u64> = settings["ui"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1050001, 1059002], "{settings}");
    assert_eq!(
        settings["ui"]["messages"][1]["context"]["address"],
        "new@example.com"
    );
    // Pending: the old address is still the account's.
    let id = user["id"].as_str().unwrap();
    let stored = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(stored["traits"]["email"], "old@example.com");
    assert!(
        smtp.mails()
            .iter()
            .all(|mail| !mail.to.contains(&"old@example.com".to_string()))
    );

    // The code sent to the new address applies the change, and the old address is told.
    let verification = settings["continue_with"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["action"] == "show_verification_ui")
        .unwrap()["flow"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let code = smtp.wait_for("new@example.com", 1).await[0].code();
    let flow = json_with_status(
        app.client
            .get(format!(
                "{}/self-service/verification/flows?id={verification}",
                app.public
            ))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let verified = submit_json(&app, &flow, json!({"method": "code", "code": code})).await;
    assert_eq!(
        json_with_status(verified, 200).await["state"],
        "passed_challenge"
    );
    let stored = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(stored["traits"]["email"], "new@example.com");
    assert_eq!(
        stored["verifiable_addresses"][0]["value"],
        "new@example.com"
    );
    assert_eq!(stored["verifiable_addresses"][0]["verified"], true);
    let notice = smtp.wait_for("old@example.com", 1).await.remove(0);
    assert_eq!(notice.subject(), "Your account's address was changed");
    assert!(notice.data.contains("new@example.com"));
    // The new address signs in now.
    let token = crate::second_factor::password_login(&app, "new@example.com").await;

    // A change whose session ended before the code came back is dropped, as in Kratos.
    let settings = change_address(&app, &token, "third@example.com").await;
    let verification = settings["continue_with"][0]["flow"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = app
        .admin_request(
            Method::DELETE,
            &format!("/admin/identities/{id}/sessions"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 204);
    let code = smtp.wait_for("third@example.com", 1).await[0].code();
    let flow = json_with_status(
        app.client
            .get(format!(
                "{}/self-service/verification/flows?id={verification}",
                app.public
            ))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let refused = submit_json(&app, &flow, json!({"method": "code", "code": code})).await;
    let refused = json_with_status(refused, 400).await;
    assert_eq!(refused["ui"]["messages"][0]["id"], 4000001);
    let stored = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(stored["traits"]["email"], "new@example.com");
    app.stop().await;

    // Without verify_new_address the change applies at once, and the old address is told.
    let hooks = r#"[{"hook": "notify_previous_addresses"}]"#;
    let Some((app, smtp)) = crate::mail::spawn(
        dialect,
        &[("SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS", hooks)],
    )
    .await
    else {
        return;
    };
    create_user(&app, "was@example.com").await;
    let token = crate::second_factor::password_login(&app, "was@example.com").await;
    let settings = change_address(&app, &token, "now@example.com").await;
    assert_eq!(settings["identity"]["traits"]["email"], "now@example.com");
    let notice = smtp.wait_for("was@example.com", 1).await.remove(0);
    assert_eq!(notice.subject(), "Your account's address was changed");
    app.stop().await;
}
