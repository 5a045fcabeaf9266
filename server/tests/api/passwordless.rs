//! Sign-in and sign-up by e-mail code, and the code as a second factor (Kratos's `code`
//! method with `passwordless_enabled` and `mfa_enabled`), with mail over real SMTP.

use std::time::Duration;

use serde_json::{Value, json};

use crate::account::create_user;
use crate::flows::{
    PASSWORD, api_flow, credentials_screen, node, submit_json, ui_message_ids, whoami,
};
use crate::harness::{TestApp, json_with_status};
use crate::mail::{SmtpCapture, spawn};
use crate::mail_tests;
use crate::second_factor::{aal2_flow, post_with_token};

const ENV: &[(&str, &str)] = &[
    ("SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED", "true"),
    ("SELFSERVICE_METHODS_CODE_MFA_ENABLED", "true"),
    ("SELFSERVICE_METHODS_CODE_CONFIG_LIFESPAN", "10m"),
    // Codes arrive because queuing them wakes the courier, not because it polls.
    ("COURIER_WORKER_PULL_WAIT", "1h"),
];

mail_tests!(
    env = super::ENV;
    sign_up_then_sign_in_by_code,
    resends_expiry_and_the_attempt_limit,
    unknown_identifiers_get_the_same_answers,
    the_code_as_a_second_factor,
);

/// The node called `name` with `value` (buttons share names).
fn button<'a>(flow: &'a Value, name: &str, value: &str) -> &'a Value {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == name && node["attributes"]["value"] == value)
        .unwrap_or_else(|| panic!("no {name}={value} in {flow}"))
}

async fn sign_up_then_sign_in_by_code(app: &TestApp, smtp: &SmtpCapture) {
    // Two-step sign-up: the traits, then the code among the credentials.
    let traits = json!({"email": "new@example.com", "name": {"first": "Ada"}});
    let flow = credentials_screen(app, traits.clone()).await;
    let send = button(&flow, "method", "code");
    assert_eq!(send["group"], "code");
    assert_eq!(send["meta"]["label"]["id"], 1040006);

    // A code goes to the address, and the traits stay, hidden.
    let sent = json_with_status(
        submit_json(app, &flow, json!({"method": "code", "traits": traits})).await,
        400,
    )
    .await;
    assert_eq!(sent["state"], "sent_email");
    assert_eq!(ui_message_ids(&sent), [1040005]);
    assert_eq!(node(&sent, "code")["meta"]["label"]["id"], 1070012);
    assert_eq!(node(&sent, "traits.email")["attributes"]["type"], "hidden");
    assert_eq!(
        button(&sent, "resend", "code")["meta"]["label"]["id"],
        1070008
    );
    let mail = smtp.wait_for("new@example.com", 1).await.remove(0);
    assert!(
        mail.subject().contains("sign-up code"),
        "{}",
        mail.subject()
    );
    let code = mail.code();

    // A wrong code, and changed traits, are refused.
    let wrong = json_with_status(
        submit_json(
            app,
            &sent,
            json!({"method": "code", "code": "000000", "traits": traits}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&wrong), [4040003]);
    let changed = json!({"email": "other@example.com"});
    let mismatch = json_with_status(
        submit_json(
            app,
            &sent,
            json!({"method": "code", "code": code, "traits": changed}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&mismatch), [4000036]);

    // The right code creates the identity, its address verified, and signs it in.
    let done = json_with_status(
        submit_json(
            app,
            &sent,
            json!({"method": "code", "code": code, "traits": traits}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["identity"]["traits"], traits);
    assert_eq!(
        done["identity"]["verifiable_addresses"][0]["verified"],
        true
    );
    assert_eq!(
        done["identity"]["verifiable_addresses"][0]["status"],
        "completed"
    );
    assert!(done["session_token"].is_string());
    assert_eq!(
        done["session"]["authentication_methods"][0]["method"],
        "code"
    );
    // No verification mail for an address the code just proved.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.wait_for("new@example.com", 1).await.len(), 1);

    // Sign-in: the identifier (in any case), then the code.
    let flow = api_flow(app, "login").await;
    assert_eq!(
        button(&flow, "method", "code")["meta"]["label"]["id"],
        1010015
    );
    let sent = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "code", "identifier": "NEW@example.com"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(sent["state"], "sent_email");
    assert_eq!(ui_message_ids(&sent), [1010014]);
    assert_eq!(node(&sent, "identifier")["attributes"]["type"], "hidden");
    assert_eq!(node(&sent, "code")["meta"]["label"]["id"], 1070013);
    let mail = smtp.wait_for("new@example.com", 2).await.remove(1);
    assert!(
        mail.subject().contains("sign-in code"),
        "{}",
        mail.subject()
    );
    let code = mail.code();
    let wrong = json_with_status(
        submit_json(app, &sent, json!({"method": "code", "code": "999999"})).await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&wrong), [4010008]);
    let signed_in = json_with_status(
        submit_json(app, &sent, json!({"method": "code", "code": code})).await,
        200,
    )
    .await;
    assert_eq!(
        signed_in["session"]["identity"]["id"],
        done["identity"]["id"]
    );
    assert_eq!(
        signed_in["session"]["authenticator_assurance_level"],
        "aal1"
    );
    assert_eq!(
        signed_in["session"]["authentication_methods"][0]["method"],
        "code"
    );
    // The code is spent with its flow.
    let again = submit_json(app, &sent, json!({"method": "code", "code": code})).await;
    assert_ne!(again.status(), 200);
}

async fn resends_expiry_and_the_attempt_limit(app: &TestApp, smtp: &SmtpCapture) {
    create_user(app, "resend@example.com").await;
    let flow = api_flow(app, "login").await;
    let sent = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "code", "identifier": "resend@example.com"}),
        )
        .await,
        400,
    )
    .await;
    let first = smtp
        .wait_for("resend@example.com", 1)
        .await
        .remove(0)
        .code();

    // A second code within the resend interval is refused, with how long to wait.
    let early = submit_json(app, &sent, json!({"method": "code", "resend": "code"})).await;
    assert_eq!(early.status(), 429);
    assert!(early.headers().get("retry-after").is_some());

    // Later it goes out, and only the newest code works.
    app.state.clock.advance(Duration::from_secs(31));
    let resent = json_with_status(
        submit_json(app, &sent, json!({"method": "code", "resend": "code"})).await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&resent), [1010014]);
    let second = smtp
        .wait_for("resend@example.com", 2)
        .await
        .remove(1)
        .code();
    let old = json_with_status(
        submit_json(app, &resent, json!({"method": "code", "code": first})).await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&old), [4010008]);

    // Past its lifespan (10 minutes here) the newest code is refused too.
    app.state.clock.advance(Duration::from_secs(11 * 60));
    let expired = json_with_status(
        submit_json(app, &resent, json!({"method": "code", "code": second})).await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&expired), [4010008]);

    // After five wrong codes even the right one is refused: the flow needs a new code.
    let resent = json_with_status(
        submit_json(app, &resent, json!({"method": "code", "resend": "code"})).await,
        400,
    )
    .await;
    let third = smtp
        .wait_for("resend@example.com", 3)
        .await
        .remove(2)
        .code();
    for _ in 0..5 {
        submit_json(app, &resent, json!({"method": "code", "code": "123456"})).await;
    }
    let spent = json_with_status(
        submit_json(app, &resent, json!({"method": "code", "code": third})).await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&spent), [4000001]);
    assert!(
        spent["ui"]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("submitted too often")
    );
}

async fn unknown_identifiers_get_the_same_answers(app: &TestApp, smtp: &SmtpCapture) {
    create_user(app, "known@example.com").await;
    let mut answers = Vec::new();
    for identifier in ["known@example.com", "nobody@example.com"] {
        let flow = api_flow(app, "login").await;
        let sent = json_with_status(
            submit_json(
                app,
                &flow,
                json!({"method": "code", "identifier": identifier}),
            )
            .await,
            400,
        )
        .await;
        let wrong = json_with_status(
            submit_json(app, &sent, json!({"method": "code", "code": "000000"})).await,
            400,
        )
        .await;
        answers.push((
            sent["state"].clone(),
            ui_message_ids(&sent),
            ui_message_ids(&wrong),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[1].2, [4010008]);
    smtp.wait_for("known@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        smtp.mails()
            .iter()
            .all(|mail| !mail.to.iter().any(|to| to.contains("nobody")))
    );

    // With mitigation off, Kratos's answer: no such account.
    let mut env = ENV.to_vec();
    env.push(("SECURITY_ACCOUNT_ENUMERATION_MITIGATE", "false"));
    let (plain, _smtp) = spawn(ward::store::Dialect::Sqlite, &env).await.unwrap();
    let flow = api_flow(&plain, "login").await;
    let refused = json_with_status(
        submit_json(
            &plain,
            &flow,
            json!({"method": "code", "identifier": "nobody@example.com"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(refused["state"], "choose_method");
    assert_eq!(ui_message_ids(&refused), [4000035]);
    plain.stop().await;
}

async fn the_code_as_a_second_factor(app: &TestApp, smtp: &SmtpCapture) {
    create_user(app, "mfa@example.com").await;
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "password", "identifier": "mfa@example.com", "password": PASSWORD});
    let signed_in = json_with_status(submit_json(app, &flow, body).await, 200).await;
    let token = signed_in["session_token"].as_str().unwrap().to_string();
    // With codes as a second factor, an address is one: whoami asks for it (highest_available).
    let refused = json_with_status(whoami(app, &token).await, 403).await;
    assert_eq!(refused["error"]["id"], "session_aal2_required");

    // The step-up offers one button per address of the identity.
    let flow = aal2_flow(app, &token).await;
    let address = button(&flow, "address", "mfa@example.com");
    assert_eq!(address["group"], "code");
    assert_eq!(address["meta"]["label"]["id"], 1010023);
    assert_eq!(
        address["meta"]["label"]["context"]["address"],
        "mfa@example.com"
    );

    // Another address is refused, the identity's own gets a code.
    let foreign = json_with_status(
        post_with_token(
            app,
            &flow,
            json!({"address": "stranger@example.com"}),
            &token,
        )
        .await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&foreign), [4000035]);
    let sent = json_with_status(
        post_with_token(app, &flow, json!({"address": "mfa@example.com"}), &token).await,
        400,
    )
    .await;
    assert_eq!(sent["state"], "sent_email");
    assert_eq!(ui_message_ids(&sent), [1010025]);
    let code = smtp.wait_for("mfa@example.com", 1).await.remove(0).code();
    let done = json_with_status(
        post_with_token(app, &sent, json!({"method": "code", "code": code}), &token).await,
        200,
    )
    .await;
    assert_eq!(done["session"]["authenticator_assurance_level"], "aal2");
    let methods: Vec<&str> = done["session"]["authentication_methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|method| method["method"].as_str())
        .collect();
    assert_eq!(methods, ["password", "code"]);
    json_with_status(whoami(app, &token).await, 200).await;
}

/// One text message as the gateway received it: its `Authorization` header and JSON body.
type Text = (Option<String>, Value);

/// Text messages the SMS gateway received: the JSON bodies Ward's channel program made.
#[derive(Clone, Default)]
struct Gateway(std::sync::Arc<std::sync::Mutex<Vec<Text>>>);

impl Gateway {
    async fn start() -> (Self, String) {
        let gateway = Self::default();
        let shared = gateway.clone();
        let app = axum::Router::new().route(
            "/sms",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                    let shared = shared.clone();
                    async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|value| value.to_str().ok())
                            .map(str::to_string);
                        shared.0.lock().unwrap().push((auth, body));
                        axum::http::StatusCode::ACCEPTED
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (gateway, format!("http://{address}/sms"))
    }

    /// The code in the newest text to `to`, once `count` texts went there.
    async fn code_for(&self, to: &str, count: usize) -> (Option<String>, String) {
        for _ in 0..300 {
            let texts: Vec<Text> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, body)| body["To"] == to)
                .cloned()
                .collect();
            if let Some((auth, body)) = texts.get(count - 1) {
                let text = body["Body"].as_str().unwrap_or_default();
                let code = text
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|part| part.len() == 6)
                    .unwrap_or_default()
                    .to_string();
                return (auth.clone(), code);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no text {count} to {to}");
    }
}

const PHONE_SCHEMA: &str = r#"{
  "$id": "https://ward.invalid/schemas/phone.schema.json",
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "traits": {
      "type": "object",
      "properties": {
        "phone": {
          "type": "string",
          "format": "tel",
          "title": "Phone number",
          "ory.sh/kratos": {
            "credentials": { "code": { "identifier": true, "via": "sms" } },
            "verification": { "via": "sms" }
          }
        }
      },
      "required": ["phone"],
      "additionalProperties": false
    }
  }
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_codes_go_by_text_message_through_the_http_gateway() {
    codes_go_by_text_message_through_the_http_gateway(ward::store::Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_codes_go_by_text_message_through_the_http_gateway() {
    codes_go_by_text_message_through_the_http_gateway(ward::store::Dialect::Postgres).await;
}

async fn codes_go_by_text_message_through_the_http_gateway(dialect: ward::store::Dialect) {
    use base64::Engine;
    let (gateway, url) = Gateway::start().await;
    let encode = |text: &str| {
        format!(
            "base64://{}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    };
    let schemas = json!([{"id": "default", "url": encode(PHONE_SCHEMA)}]).to_string();
    let body =
        encode("function(ctx) { To: ctx.recipient, Body: ctx.body, Kind: ctx.template_type }");
    let channels = json!([{"id": "sms", "type": "http", "request_config": {
        "url": url, "method": "POST", "body": body,
        "auth": {"type": "basic_auth", "config": {"user": "ward", "password": "gateway-secret"}},
    }}])
    .to_string();
    let Some(app) = TestApp::spawn_with(
        dialect,
        &[
            ("IDENTITY_SCHEMAS", schemas.as_str()),
            ("COURIER_CHANNELS", channels.as_str()),
            ("SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED", "true"),
        ],
    )
    .await
    else {
        return;
    };

    // Sign-up with a number as people type it: stored, and texted, in E.164.
    let traits = json!({"phone": "+1 (650) 253-0000"});
    let flow = credentials_screen(&app, traits.clone()).await;
    let sent = json_with_status(
        submit_json(&app, &flow, json!({"method": "code", "traits": traits})).await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&sent), [1040005]);
    let (auth, code) = gateway.code_for("+16502530000", 1).await;
    let expected = base64::engine::general_purpose::STANDARD.encode("ward:gateway-secret");
    assert_eq!(auth, Some(format!("Basic {expected}")));
    assert_eq!(code.len(), 6);
    let done = json_with_status(
        submit_json(
            &app,
            &sent,
            json!({"method": "code", "traits": traits, "code": code}),
        )
        .await,
        200,
    )
    .await;
    let address = &done["identity"]["verifiable_addresses"][0];
    assert_eq!(address["value"], "+16502530000");
    assert_eq!(address["via"], "sms");
    assert_eq!(address["verified"], true);

    // Sign-in with the number written another way.
    let flow = api_flow(&app, "login").await;
    let sent = json_with_status(
        submit_json(
            &app,
            &flow,
            json!({"method": "code", "identifier": "+1 650 253 0000"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&sent), [1010014]);
    let (_, code) = gateway.code_for("+16502530000", 2).await;
    let signed_in = json_with_status(
        submit_json(&app, &sent, json!({"method": "code", "code": code})).await,
        200,
    )
    .await;
    assert_eq!(
        signed_in["session"]["identity"]["id"],
        done["identity"]["id"]
    );
    let texts = gateway.0.lock().unwrap().clone();
    assert_eq!(texts[0].1["Kind"], "registration_code_valid");
    assert_eq!(texts[1].1["Kind"], "login_code_valid");
    app.stop().await;
}
