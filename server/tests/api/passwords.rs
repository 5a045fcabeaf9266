//! Common and breached passwords: the built-in list, an operator's list built with
//! `ward hashers breached build`, and the Have I Been Pwned range API (a local server here).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use ward::store::Dialect;

use crate::flows::{PASSWORD, api_flow, node_message_ids, register, submit_json};
use crate::harness::{TestApp, json_with_status};

async fn sign_up_with(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let flow = api_flow(app, "registration").await;
    let body = json!({"method": "password", "traits": {"email": email}, "password": password});
    submit_json(app, &flow, body).await
}

async fn refused_with(app: &TestApp, password: &str) -> Value {
    let refused = json_with_status(sign_up_with(app, "new@example.com", password).await, 400).await;
    let password_node = refused["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "password")
        .unwrap()
        .clone();
    password_node["messages"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_passwords_are_refused_offline() {
    let app = TestApp::spawn(Dialect::Sqlite).await;
    for common in ["password123", "iloveyou1", "Qwertyuiop"] {
        let message = refused_with(&app, common).await;
        assert_eq!(message["id"], 4000034, "{common}: {message}");
        assert_eq!(message["type"], "error");
    }
    // Settings refuse them too.
    let registered = register(&app, "owner@example.com").await;
    let token = registered["session_token"].as_str().unwrap();
    let body = json!({"method": "password", "password": "sunshine1"});
    let answer = crate::flows::submit_settings(&app, token, body).await;
    let refused = json_with_status(answer, 400).await;
    assert_eq!(node_message_ids(&refused, "password"), [4000034]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_list_is_built_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("leaked.txt");
    std::fs::write(&input, "our-company-2026\nWinter-Breach-99\n").unwrap();
    let list = dir.path().join("leaked.bin");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["hashers", "breached", "build"])
        .arg(&input)
        .arg(&list)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("2 distinct passwords"));

    let list = list.to_str().unwrap();
    let env = [(
        "SELFSERVICE_METHODS_PASSWORD_CONFIG_BREACHED_LIST_FILE",
        list,
    )];
    let app = TestApp::spawn_with(Dialect::Sqlite, &env).await.unwrap();
    assert_eq!(refused_with(&app, "our-company-2026").await["id"], 4000034);
    json_with_status(sign_up_with(&app, "ok@example.com", PASSWORD).await, 200).await;
    app.stop().await;
}

/// A local Have I Been Pwned range server that knows one password; records the paths asked.
async fn range_server(known: &str, count: u64) -> (String, Arc<Mutex<Vec<String>>>) {
    let digest: String = Sha1::digest(known.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    let (head, tail) = digest.split_at(5);
    let (head, tail) = (head.to_string(), tail.to_string());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let router = axum::Router::new().route(
        "/range/{prefix}",
        axum::routing::get(
            move |axum::extract::Path(prefix): axum::extract::Path<String>| {
                let (head, tail, log) = (head.clone(), tail.clone(), log.clone());
                async move {
                    log.lock().unwrap().push(prefix.clone());
                    // Padding lines (count 0) as HIBP sends them.
                    let mut body = String::from("0000000000000000000000000000000000A:0\r\n");
                    if prefix == head {
                        body.push_str(&format!("{tail}:{count}\r\n"));
                    }
                    body
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn have_i_been_pwned_is_asked_by_prefix_when_enabled() {
    let leaked = "rare-but-leaked-7781";
    let (host, asked) = range_server(leaked, 3).await;
    let env = [
        (
            "SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_ENABLED",
            "true",
        ),
        (
            "SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_HOST",
            host.as_str(),
        ),
        ("SELFSERVICE_METHODS_PASSWORD_CONFIG_MAX_BREACHES", "2"),
    ];
    let app = TestApp::spawn_with(Dialect::Sqlite, &env).await.unwrap();
    let message = refused_with(&app, leaked).await;
    assert_eq!(message["id"], 4000034);
    assert_eq!(message["context"]["breaches"], 3);
    json_with_status(sign_up_with(&app, "ok@example.com", PASSWORD).await, 200).await;
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert!(asked.iter().all(|prefix| prefix.len() == 5), "{asked:?}");
    app.stop().await;

    // Seen no more than max_breaches times: accepted.
    let (host, _) = range_server(leaked, 2).await;
    let env = [
        (
            "SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_ENABLED",
            "true",
        ),
        (
            "SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_HOST",
            host.as_str(),
        ),
        ("SELFSERVICE_METHODS_PASSWORD_CONFIG_MAX_BREACHES", "2"),
    ];
    let app = TestApp::spawn_with(Dialect::Sqlite, &env).await.unwrap();
    json_with_status(sign_up_with(&app, "ok@example.com", leaked).await, 200).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_service_is_ignored_unless_configured() {
    // Nothing listens on port 9 of the loopback.
    let down = "http://127.0.0.1:9";
    let mut env = vec![
        (
            "SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_ENABLED",
            "true",
        ),
        (
            "SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_HOST",
            down,
        ),
    ];
    let app = TestApp::spawn_with(Dialect::Sqlite, &env).await.unwrap();
    json_with_status(sign_up_with(&app, "ok@example.com", PASSWORD).await, 200).await;
    app.stop().await;

    env.push((
        "SELFSERVICE_METHODS_PASSWORD_CONFIG_IGNORE_NETWORK_ERRORS",
        "false",
    ));
    let app = TestApp::spawn_with(Dialect::Sqlite, &env).await.unwrap();
    let message = refused_with(&app, PASSWORD).await;
    assert_eq!(message["id"], 4000005, "{message}");
    app.stop().await;
}
