//! Recovery, verification and settings, with mail over real SMTP (reference §1a, §2, §7).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use ward::store::Dialect;

use crate::flows::{PASSWORD, api_flow, submit_json};
use crate::harness::{TestApp, json_with_status};
use crate::mail::{SmtpCapture, spawn};
use crate::mail_tests;

mail_tests!(
    recovery_by_code_then_new_password,
    recovery_does_not_reveal_accounts,
    registration_sends_verification,
    verification_flow_by_code_and_attempt_limit,
    settings_profile_and_privileged_password,
    admin_recovery_and_messages,
    mails_are_written_in_the_language_of_the_flow,
);

pub(crate) async fn create_user(app: &TestApp, email: &str) -> Value {
    app.create_identity(json!({
        "schema_id": "default",
        "traits": {"email": email},
        "credentials": {"password": {"config": {"password": PASSWORD}}},
    }))
    .await
}

pub(crate) fn message_ids(flow: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> = flow["ui"]["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|message| message["id"].as_u64())
        .collect();
    for node in flow["ui"]["nodes"].as_array().into_iter().flatten() {
        ids.extend(
            node["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["id"].as_u64()),
        );
    }
    ids
}

async fn recovery_by_code_then_new_password(app: &TestApp, smtp: &SmtpCapture) {
    create_user(app, "rec@example.com").await;
    let flow = api_flow(app, "recovery").await;
    assert_eq!(flow["state"], "choose_method");
    let sent = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "code", "email": "REC@example.com"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(sent["state"], "sent_email");
    assert_eq!(message_ids(&sent), [1060003]);

    let mail = &smtp.wait_for("rec@example.com", 1).await[0];
    assert!(
        mail.subject().contains("recovery code"),
        "{}",
        mail.subject()
    );
    let code = mail.code();
    assert_eq!(code.len(), 6);

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = json_with_status(
        submit_json(app, &sent, json!({"method": "code", "code": wrong})).await,
        400,
    )
    .await;
    assert_eq!(message_ids(&refused), [4060006]);

    let done = json_with_status(
        submit_json(app, &sent, json!({"method": "code", "code": code})).await,
        200,
    )
    .await;
    assert_eq!(done["state"], "passed_challenge");
    let continue_with = done["continue_with"].as_array().unwrap();
    assert_eq!(continue_with[0]["action"], "set_ory_session_token");
    assert_eq!(continue_with[1]["action"], "show_settings_ui");
    let token = continue_with[0]["ory_session_token"]
        .as_str()
        .unwrap()
        .to_string();

    // The stored flow never holds the session token.
    let stored = json_with_status(
        app.client
            .get(format!(
                "{}/self-service/recovery/flows?id={}",
                app.public,
                done["id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(!stored.to_string().contains(&token), "{stored}");
    assert_eq!(stored["continue_with"][0]["action"], "show_settings_ui");

    // The code is single use.
    let reused = submit_json(app, &sent, json!({"method": "code", "code": code})).await;
    assert_eq!(reused.status(), 400);

    // The settings flow from continue_with takes the new password.
    let settings_id = continue_with[1]["flow"]["id"].as_str().unwrap();
    let settings = json_with_status(
        app.client
            .get(format!(
                "{}/self-service/settings/flows?id={settings_id}",
                app.public
            ))
            .header("X-Session-Token", &token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(message_ids(&settings), [1060001]);
    assert_eq!(settings["identity"]["traits"]["email"], "rec@example.com");
    let saved = json_with_status(
        app.client
            .post(settings["ui"]["action"].as_str().unwrap())
            .header("X-Session-Token", &token)
            .json(&json!({"method": "password", "password": "a brand new passphrase"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(saved["state"], "success");
    assert_eq!(message_ids(&saved), [1050001]);

    let login = api_flow(app, "login").await;
    let signed_in = submit_json(
        app,
        &login,
        json!({"method": "password", "identifier": "rec@example.com", "password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(signed_in.status(), 200);
}

async fn recovery_does_not_reveal_accounts(app: &TestApp, smtp: &SmtpCapture) {
    let flow = api_flow(app, "recovery").await;
    let sent = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "code", "email": "nobody@example.com"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(sent["state"], "sent_email");
    assert_eq!(message_ids(&sent), [1060003]);
    let messages = json_with_status(
        app.admin_request(Method::GET, "/admin/courier/messages", None)
            .await,
        200,
    )
    .await;
    assert_eq!(messages, json!([]), "no message for an unknown address");
    assert!(smtp.mails().is_empty());

    // Signed-in callers cannot start recovery.
    let user = create_user(app, "signed@example.com").await;
    let token = app
        .sign_in(user["id"].as_str().unwrap(), time::Duration::HOUR)
        .await;
    let response = app
        .client
        .get(format!("{}/self-service/recovery/api", app.public))
        .header("X-Session-Token", token)
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 400).await;
    assert_eq!(body["error"]["id"], "session_already_available");
}

async fn registration_sends_verification(app: &TestApp, smtp: &SmtpCapture) {
    let flow = api_flow(app, "registration").await;
    let body = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "password", "traits": {"email": "new@example.com"}, "password": PASSWORD}),
        )
        .await,
        200,
    )
    .await;
    let continue_with = body["continue_with"].as_array().unwrap();
    let item = continue_with
        .iter()
        .find(|item| item["action"] == "show_verification_ui")
        .unwrap();
    assert_eq!(item["flow"]["verifiable_address"], "new@example.com");
    let address = &body["identity"]["verifiable_addresses"][0];
    assert_eq!(address["status"], "sent");
    assert_eq!(address["verified"], false);

    let mail = &smtp.wait_for("new@example.com", 1).await[0];
    assert!(mail.subject().contains("verification code"));
    let link = mail.link("/self-service/verification?");
    assert!(link.contains(&format!("flow={}", item["flow"]["id"].as_str().unwrap())));
    let clicked = json_with_status(app.client.get(&link).send().await.unwrap(), 200).await;
    assert_eq!(clicked["state"], "passed_challenge");
    assert_eq!(message_ids(&clicked), [1080002]);

    let id = body["identity"]["id"].as_str().unwrap();
    let identity = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
            .await,
        200,
    )
    .await;
    let address = &identity["verifiable_addresses"][0];
    assert_eq!(address["verified"], true);
    assert_eq!(address["status"], "completed");
    assert!(address["verified_at"].is_string());
}

async fn verification_flow_by_code_and_attempt_limit(app: &TestApp, smtp: &SmtpCapture) {
    create_user(app, "ver@example.com").await;
    let flow = api_flow(app, "verification").await;
    let sent = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "code", "email": "ver@example.com"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(message_ids(&sent), [1080003]);
    let code = smtp.wait_for("ver@example.com", 1).await[0].code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let refused = json_with_status(
            submit_json(app, &sent, json!({"method": "code", "code": wrong})).await,
            400,
        )
        .await;
        assert_eq!(message_ids(&refused), [4070006]);
    }
    // Five wrong codes spend the flow: even the right one is refused now.
    let spent = json_with_status(
        submit_json(app, &sent, json!({"method": "code", "code": code})).await,
        400,
    )
    .await;
    assert_eq!(message_ids(&spent), [4000001]);

    // An expired code does not verify either.
    let flow = api_flow(app, "verification").await;
    submit_json(
        app,
        &flow,
        json!({"method": "code", "email": "ver@example.com"}),
    )
    .await;
    let code = smtp.wait_for("ver@example.com", 2).await[1].code();
    app.state.clock.advance(Duration::from_secs(2 * 3600));
    let expired = submit_json(app, &flow, json!({"method": "code", "code": code})).await;
    let body = json_with_status(expired, 410).await;
    assert_eq!(body["error"]["id"], "self_service_flow_expired");
}

async fn settings_profile_and_privileged_password(app: &TestApp, smtp: &SmtpCapture) {
    let user = create_user(app, "set@example.com").await;
    let token = app
        .sign_in(user["id"].as_str().unwrap(), time::Duration::days(1))
        .await;
    let anonymous = app
        .client
        .get(format!("{}/self-service/settings/api", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(anonymous, 401).await["error"]["id"],
        "session_inactive"
    );

    let init = |token: String| async move {
        json_with_status(
            app.client
                .get(format!("{}/self-service/settings/api", app.public))
                .header("X-Session-Token", token)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await
    };
    let flow = init(token.clone()).await;
    assert_eq!(flow["state"], "show_form");
    let whoami = |token: String| async move {
        json_with_status(
            app.client
                .get(format!("{}/sessions/whoami", app.public))
                .header("X-Session-Token", token)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await
    };
    // Cached now; the profile change below must show at once.
    assert!(whoami(token.clone()).await["identity"]["traits"]["name"].is_null());
    let submit = |flow: Value, body: Value, token: String| async move {
        app.client
            .post(flow["ui"]["action"].as_str().unwrap())
            .header("X-Session-Token", token)
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    // A name is not protected.
    let saved = json_with_status(
        submit(
            flow.clone(),
            json!({"method": "profile", "traits": {"email": "set@example.com", "name": {"first": "Ada"}}}),
            token.clone(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(saved["identity"]["traits"]["name"]["first"], "Ada");
    assert_eq!(
        whoami(token.clone()).await["identity"]["traits"]["name"]["first"],
        "Ada"
    );

    // Two hours later, a password is: re-authenticate first.
    app.state.clock.advance(Duration::from_secs(2 * 3600));
    let flow = init(token.clone()).await;
    let refused = submit(
        flow.clone(),
        json!({"method": "password", "password": "another good passphrase"}),
        token.clone(),
    )
    .await;
    let body = json_with_status(refused, 403).await;
    assert_eq!(body["error"]["id"], "session_refresh_required");
    let redirect = body["redirect_browser_to"].as_str().unwrap();
    assert!(
        redirect.contains("refresh=true") && redirect.contains("return_to="),
        "{redirect}"
    );

    // A new e-mail address is protected too, and when allowed it gets a verification mail.
    let fresh = app
        .sign_in(user["id"].as_str().unwrap(), time::Duration::days(1))
        .await;
    let flow = init(fresh.clone()).await;
    let changed = json_with_status(
        submit(
            flow,
            json!({"method": "profile", "traits": {"email": "moved@example.com"}}),
            fresh,
        )
        .await,
        200,
    )
    .await;
    let address = &changed["identity"]["verifiable_addresses"][0];
    assert_eq!(address["value"], "moved@example.com");
    assert_eq!(address["verified"], false);
    assert_eq!(
        changed["continue_with"][0]["action"],
        "show_verification_ui"
    );
    smtp.wait_for("moved@example.com", 1).await;

    // Bad traits are a form message, and nothing is written.
    let flow = init(token.clone()).await;
    let refused = json_with_status(
        submit(
            flow,
            json!({"method": "profile", "traits": {"email": "not-an-email"}}),
            token,
        )
        .await,
        400,
    )
    .await;
    assert_eq!(message_ids(&refused), [4000040]);
    let id = user["id"].as_str().unwrap();
    let stored = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
            .await,
        200,
    )
    .await;
    assert_eq!(stored["traits"]["email"], "moved@example.com");
}

async fn admin_recovery_and_messages(app: &TestApp, _smtp: &SmtpCapture) {
    let user = create_user(app, "adm@example.com").await;
    let id = user["id"].as_str().unwrap();
    let created = json_with_status(
        app.admin_request(
            Method::POST,
            "/admin/recovery/code",
            Some(json!({"identity_id": id, "flow_type": "api"})),
        )
        .await,
        201,
    )
    .await;
    let code = created["recovery_code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    let link = created["recovery_link"].as_str().unwrap();
    let flow_id = link.split("flow=").nth(1).unwrap();
    let flow = json_with_status(
        app.client
            .get(format!(
                "{}/self-service/recovery/flows?id={flow_id}",
                app.public
            ))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let done = json_with_status(
        submit_json(app, &flow, json!({"method": "code", "code": code})).await,
        200,
    )
    .await;
    assert_eq!(done["state"], "passed_challenge");

    let linked = json_with_status(
        app.admin_request(
            Method::POST,
            "/admin/recovery/link",
            Some(json!({"identity_id": id})),
        )
        .await,
        200,
    )
    .await;
    let link = linked["recovery_link"].as_str().unwrap();
    assert!(link.contains("/self-service/recovery?flow=") && link.contains("token="));
    let opened = app.browser().get(link).send().await.unwrap();
    assert_eq!(opened.status(), 303);
    assert!(
        opened.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/settings?flow=")
    );

    let unknown = app
        .admin_request(
            Method::POST,
            "/admin/recovery/code",
            Some(json!({"identity_id": uuid::Uuid::new_v4()})),
        )
        .await;
    assert_eq!(unknown.status(), 400);
    let bad = app
        .admin_request(Method::GET, "/admin/courier/messages?status=lost", None)
        .await;
    assert_eq!(bad.status(), 400);
    let missing = app
        .admin_request(
            Method::GET,
            &format!("/admin/courier/messages/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_links_hooks_and_unknown_recipients() {
    links_hooks_and_unknown_recipients(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_links_hooks_and_unknown_recipients() {
    links_hooks_and_unknown_recipients(Dialect::Postgres).await;
}

/// `use: link` for both flows, `notify_unknown_recipients`, and the hooks
/// `require_verified_address`, `revoke_active_sessions` and the SPA answer of recovery.
async fn links_hooks_and_unknown_recipients(dialect: Dialect) {
    let env = [
        ("SELFSERVICE_METHODS_LINK_ENABLED", "true"),
        ("SELFSERVICE_FLOWS_RECOVERY_USE", "link"),
        ("SELFSERVICE_FLOWS_VERIFICATION_USE", "link"),
        (
            "SELFSERVICE_FLOWS_RECOVERY_NOTIFY_UNKNOWN_RECIPIENTS",
            "true",
        ),
        (
            "SELFSERVICE_FLOWS_LOGIN_AFTER_HOOKS",
            r#"[{"hook":"require_verified_address"}]"#,
        ),
        (
            "SELFSERVICE_FLOWS_RECOVERY_AFTER_HOOKS",
            r#"[{"hook":"revoke_active_sessions"}]"#,
        ),
    ];
    let Some((app, smtp)) = spawn(dialect, &env).await else {
        return;
    };
    // Unknown addresses get the "no account" mail when configured, and look the same.
    let flow = api_flow(&app, "recovery").await;
    let sent = json_with_status(
        submit_json(
            &app,
            &flow,
            json!({"method": "link", "email": "ghost@example.com"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(message_ids(&sent), [1060002]);
    let mail = &smtp.wait_for("ghost@example.com", 1).await[0];
    assert_eq!(mail.subject(), "Account recovery");

    // An unverified address cannot sign in.
    let user = create_user(&app, "link@example.com").await;
    let id = user["id"].as_str().unwrap();
    let old_session = app.sign_in(id, time::Duration::days(1)).await;
    let login = api_flow(&app, "login").await;
    let refused = json_with_status(
        submit_json(
            &app,
            &login,
            json!({"method": "password", "identifier": "link@example.com", "password": PASSWORD}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(message_ids(&refused), [4000010]);

    // Verification by link.
    let flow = api_flow(&app, "verification").await;
    submit_json(
        &app,
        &flow,
        json!({"method": "link", "email": "link@example.com"}),
    )
    .await;
    let link = smtp.wait_for("link@example.com", 1).await[0].link("token=");
    let verified = json_with_status(app.client.get(&link).send().await.unwrap(), 200).await;
    assert_eq!(message_ids(&verified), [1080002]);
    let login = api_flow(&app, "login").await;
    let signed_in = submit_json(
        &app,
        &login,
        json!({"method": "password", "identifier": "link@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(signed_in.status(), 200);

    // Recovery by link in a browser flow answered to an SPA: 422 to the settings page, with a
    // session cookie; the hook ended the identity's other sessions.
    let spa = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let flow = json_with_status(
        spa.get(format!("{}/self-service/recovery/browser", app.public))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let csrf = flow["ui"]["nodes"][0]["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    spa.post(flow["ui"]["action"].as_str().unwrap())
        .json(&json!({"method": "link", "email": "link@example.com", "csrf_token": csrf}))
        .send()
        .await
        .unwrap();
    let link = smtp.wait_for("link@example.com", 2).await[1].link("/self-service/recovery?");
    let answer = spa
        .get(&link)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(answer.headers().get("set-cookie").is_some());
    let body = json_with_status(answer, 422).await;
    assert_eq!(body["error"]["id"], "browser_location_change_required");
    assert!(
        body["redirect_browser_to"]
            .as_str()
            .unwrap()
            .contains("/settings?flow=")
    );
    let whoami = app
        .client
        .get(format!("{}/sessions/whoami", app.public))
        .header("X-Session-Token", &old_session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        whoami.status(),
        401,
        "revoke_active_sessions ended the old session"
    );

    // The link is single use.
    let again = spa
        .get(&link)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    app.stop().await;
}

/// The flow remembers the language of the client that started it; its mail is written in it.
async fn mails_are_written_in_the_language_of_the_flow(app: &TestApp, smtp: &SmtpCapture) {
    create_user(app, "sprache@example.com").await;
    let flow: Value = app
        .client
        .get(format!("{}/self-service/recovery/api", app.public))
        .header("accept-language", "de-DE, en;q=0.5")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Kratos's `text` stays English whatever the language.
    let sent = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "code", "email": "sprache@example.com"}),
        )
        .await,
        200,
    )
    .await;
    assert!(
        sent["ui"]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("An email containing a recovery code"),
        "{sent}"
    );
    let mail = &smtp.wait_for("sprache@example.com", 1).await[0];
    let code = mail.code();
    assert_eq!(
        mail.subject(),
        format!("Ihr Wiederherstellungscode lautet {code}")
    );
    assert!(
        mail.data.contains("geben Sie diesen Code ein"),
        "{}",
        mail.data
    );
}
