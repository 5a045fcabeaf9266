//! Flow styles (reference §9): two-step registration (`profile_first`, Kratos's default) and
//! its `unified` alternative, and identifier-first login.

use serde_json::{Value, json};
use ward::store::Dialect;

use crate::account::create_user;
use crate::flows::{PASSWORD, api_flow, credentials_screen, node, submit_json, ui_message_ids};
use crate::harness::{TestApp, json_with_status};

crate::dialect_tests!(two_step_registration_goes_back_and_forth);

fn names(flow: &Value) -> Vec<String> {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|node| node["attributes"]["name"].as_str().map(str::to_string))
        .collect()
}

fn has(flow: &Value, name: &str) -> bool {
    names(flow).iter().any(|n| n == name)
}

async fn two_step_registration_goes_back_and_forth(app: &TestApp) {
    // The traits alone first, with `method=profile`.
    let flow = api_flow(app, "registration").await;
    assert!(!has(&flow, "password"));
    let profile = node(&flow, "method");
    assert_eq!(profile["attributes"]["value"], "profile");
    assert_eq!(profile["group"], "profile");
    assert_eq!(profile["meta"]["label"]["id"], 1040001);

    // Traits that do not validate stay on the first screen, with their message.
    let invalid = json_with_status(
        submit_json(
            app,
            &flow,
            json!({"method": "profile", "traits": {"email": "not an address"}}),
        )
        .await,
        400,
    )
    .await;
    assert!(!has(&invalid, "password"));
    assert!(
        !node(&invalid, "traits.email")["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Valid traits: the credentials, the traits hidden and kept, a way back.
    let traits = json!({"email": "steps@example.com", "name": {"first": "Ada"}});
    let chosen = credentials_screen(app, traits.clone()).await;
    assert_eq!(chosen["state"], "choose_method");
    assert_eq!(node(&chosen, "password")["group"], "password");
    let email = node(&chosen, "traits.email");
    assert_eq!(email["attributes"]["type"], "hidden");
    assert_eq!(email["attributes"]["value"], "steps@example.com");
    let back = node(&chosen, "screen");
    assert_eq!(back["attributes"]["value"], "previous");
    assert_eq!(back["meta"]["label"]["id"], 1040008);

    // Back: the traits screen again, with what was typed.
    let previous = json_with_status(
        submit_json(
            app,
            &chosen,
            json!({"screen": "previous", "traits": traits}),
        )
        .await,
        400,
    )
    .await;
    assert!(!has(&previous, "password"));
    assert_eq!(
        node(&previous, "traits.name.first")["attributes"]["value"],
        "Ada"
    );
    assert_eq!(
        node(&previous, "traits.email")["attributes"]["type"],
        "email"
    );

    // Forth again, and a password signs up.
    let chosen = json_with_status(
        submit_json(
            app,
            &previous,
            json!({"method": "profile", "traits": traits}),
        )
        .await,
        400,
    )
    .await;
    let body = json!({"method": "password", "traits": traits, "password": PASSWORD});
    let done = json_with_status(submit_json(app, &chosen, body).await, 200).await;
    assert_eq!(done["identity"]["traits"], traits);

    // Native apps may still send traits and password at once; a refusal lands on the
    // credentials screen, where the password field carries its message.
    let flow = api_flow(app, "registration").await;
    let body =
        json!({"method": "password", "traits": {"email": "once@example.com"}, "password": "short"});
    let refused = json_with_status(submit_json(app, &flow, body).await, 400).await;
    assert!(
        !node(&refused, "password")["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let body = json!({"method": "password", "traits": {"email": "once@example.com"}, "password": PASSWORD});
    json_with_status(
        submit_json(app, &api_flow(app, "registration").await, body).await,
        200,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unified_registration_shows_every_method_at_once() {
    for setting in [
        ("SELFSERVICE_FLOWS_REGISTRATION_STYLE", "unified"),
        (
            "SELFSERVICE_FLOWS_REGISTRATION_ENABLE_LEGACY_ONE_STEP",
            "true",
        ),
    ] {
        let app = TestApp::spawn_with(Dialect::Sqlite, &[setting])
            .await
            .unwrap();
        let flow = api_flow(&app, "registration").await;
        assert!(has(&flow, "password"), "{setting:?}");
        assert!(has(&flow, "traits.email"));
        assert!(!has(&flow, "screen"));
        assert!(
            flow["ui"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|node| node["attributes"]["value"] != "profile")
        );
        app.stop().await;
    }
}

async fn identifier_first_app(mitigate: &str) -> TestApp {
    TestApp::spawn_with(
        Dialect::Sqlite,
        &[
            ("SELFSERVICE_FLOWS_LOGIN_STYLE", "identifier_first"),
            ("SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED", "true"),
            ("SECURITY_ACCOUNT_ENUMERATION_MITIGATE", mitigate),
        ],
    )
    .await
    .unwrap()
}

async fn second_screen(app: &TestApp, identifier: &str) -> Value {
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "identifier_first", "identifier": identifier});
    json_with_status(submit_json(app, &flow, body).await, 400).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifier_first_login_offers_the_identitys_methods() {
    let app = identifier_first_app("true").await;
    create_user(&app, "first@example.com").await;
    // No password: this identity signs in with codes only.
    app.create_identity(json!({"schema_id": "default", "traits": {"email": "codes@example.com"}}))
        .await;

    // The first screen: the identifier alone.
    let flow = api_flow(&app, "login").await;
    let identifier = node(&flow, "identifier");
    assert_eq!(identifier["group"], "identifier_first");
    assert_eq!(identifier["attributes"]["type"], "text");
    let next = node(&flow, "method");
    assert_eq!(next["attributes"]["value"], "identifier_first");
    assert_eq!(next["meta"]["label"]["id"], 1070009);
    assert!(!has(&flow, "password"));
    let empty = json_with_status(
        submit_json(
            &app,
            &flow,
            json!({"method": "identifier_first", "identifier": " "}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(node(&empty, "identifier")["messages"][0]["id"], 4000002);

    // A password account: its methods (password and codes), the identifier fixed.
    let known = second_screen(&app, "first@example.com").await;
    let hidden = node(&known, "identifier");
    assert_eq!(hidden["attributes"]["type"], "hidden");
    assert_eq!(hidden["attributes"]["value"], "first@example.com");
    assert!(has(&known, "password"));
    let body =
        json!({"method": "password", "identifier": "first@example.com", "password": PASSWORD});
    let signed_in = json_with_status(submit_json(&app, &known, body).await, 200).await;
    assert!(signed_in["session_token"].is_string());

    // Under mitigation every identifier gets that screen: a code-only account's and nobody's
    // look like a password account's, then the usual invalid-credentials answer.
    let codes = second_screen(&app, "codes@example.com").await;
    assert_eq!(
        names(&codes),
        names(&known),
        "the screen tells nothing about the account"
    );
    let unknown = second_screen(&app, "nobody@example.com").await;
    assert_eq!(
        names(&unknown),
        names(&known),
        "an unknown identifier looks like a known one"
    );
    let body =
        json!({"method": "password", "identifier": "nobody@example.com", "password": PASSWORD});
    let refused = json_with_status(submit_json(&app, &unknown, body).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000006]);
    app.stop().await;

    // Without mitigation the screen is the account's own: a code-only account has no password
    // field, a password account has one; an unknown identifier gets Kratos's answer.
    let app = identifier_first_app("false").await;
    create_user(&app, "first@example.com").await;
    app.create_identity(json!({"schema_id": "default", "traits": {"email": "codes@example.com"}}))
        .await;
    let codes = second_screen(&app, "codes@example.com").await;
    assert!(!has(&codes, "password"));
    assert!(
        codes["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|node| node["attributes"]["value"] == "code")
    );
    assert!(has(
        &second_screen(&app, "first@example.com").await,
        "password"
    ));
    let flow = api_flow(&app, "login").await;
    let body = json!({"method": "identifier_first", "identifier": "nobody@example.com"});
    let refused = json_with_status(submit_json(&app, &flow, body).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000037]);
    assert_eq!(
        node(&refused, "identifier")["attributes"]["value"],
        "nobody@example.com"
    );
    app.stop().await;
}
