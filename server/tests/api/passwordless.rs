//! Sign-in and sign-up by e-mail code, and the code as a second factor (Kratos's `code`
//! method with `passwordless_enabled` and `mfa_enabled`), with mail over real SMTP.

use std::time::Duration;

use serde_json::{Value, json};

use crate::account::create_user;
use crate::flows::{PASSWORD, api_flow, credentials_screen, node, submit_json, ui_message_ids};
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
}
