//! Security keys (`webauthn`, a second factor) and passkeys (`passkey`, a first factor) through
//! the API flows, with a software authenticator answering the options the flows carry.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use ward::store::Dialect;

use crate::authenticator::SoftAuthenticator;
use crate::flows::{
    PASSWORD, api_flow, credentials_screen, node, register, submit_json, ui_message_ids, whoami,
};
use crate::harness::{TestApp, json_with_status};
use crate::second_factor::{aal2_flow, get_with_token, password_login, post_with_token};

const ORIGIN: &str = "http://localhost:4455";

async fn app(dialect: Dialect) -> Option<TestApp> {
    TestApp::spawn_with(
        dialect,
        &[
            ("SELFSERVICE_METHODS_WEBAUTHN_ENABLED", "true"),
            ("SELFSERVICE_METHODS_WEBAUTHN_CONFIG_RP_ID", "localhost"),
            (
                "SELFSERVICE_METHODS_WEBAUTHN_CONFIG_RP_ORIGINS",
                r#"["http://localhost:4455"]"#,
            ),
            ("SELFSERVICE_METHODS_PASSKEY_ENABLED", "true"),
            ("SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ID", "localhost"),
            (
                "SELFSERVICE_METHODS_PASSKEY_CONFIG_RP_ORIGINS",
                r#"["http://localhost:4455"]"#,
            ),
        ],
    )
    .await
}

/// Kratos's passwordless mode: security keys as the first factor, no passkeys.
async fn passwordless_app(dialect: Dialect) -> Option<TestApp> {
    TestApp::spawn_with(
        dialect,
        &[
            ("SELFSERVICE_METHODS_WEBAUTHN_ENABLED", "true"),
            ("SELFSERVICE_METHODS_WEBAUTHN_CONFIG_PASSWORDLESS", "true"),
            ("SELFSERVICE_METHODS_WEBAUTHN_CONFIG_RP_ID", "localhost"),
            (
                "SELFSERVICE_METHODS_WEBAUTHN_CONFIG_RP_ORIGINS",
                r#"["http://localhost:4455"]"#,
            ),
        ],
    )
    .await
}

macro_rules! webauthn_tests {
    ($module:ident, $app:ident: $($name:ident),* $(,)?) => {
        mod $module {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let app = super::super::$app(ward::store::Dialect::Sqlite).await.unwrap();
                        super::super::$name(&app).await;
                        app.stop().await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let Some(app) = super::super::$app(ward::store::Dialect::Postgres).await else { return };
                        super::super::$name(&app).await;
                        app.stop().await;
                    }
                )*
            }
        }
    };
}

webauthn_tests!(
    second_factor, app:
    security_keys_step_up_and_are_checked,
    passkeys_sign_up_sign_in_and_are_managed,
    the_script_is_served_as_the_nodes_promise,
);
webauthn_tests!(passwordless, passwordless_app: passwordless_security_keys_sign_up_and_sign_in);

/// The options a trigger node or hidden node carries, parsed.
fn options_in(flow: &Value, name: &str) -> Value {
    let text = node(flow, name)["attributes"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no options: {flow}"));
    serde_json::from_str(text).unwrap()
}

async fn settings_flow(app: &TestApp, token: &str) -> Value {
    json_with_status(
        get_with_token(app, "/self-service/settings/api", token).await,
        200,
    )
    .await
}

async fn security_keys_step_up_and_are_checked(app: &TestApp) {
    let registered = register(app, "keys@example.com").await;
    let token = registered["session_token"].as_str().unwrap();
    let flow = settings_flow(app, token).await;
    let trigger = node(&flow, "webauthn_register_trigger");
    assert_eq!(trigger["group"], "webauthn");
    assert_eq!(trigger["attributes"]["type"], "button");
    assert_eq!(trigger["meta"]["label"]["id"], 1050012);
    // Native apps run the ceremony themselves: no script to call.
    assert!(trigger["attributes"].get("onclick").is_none(), "{trigger}");
    assert_eq!(
        node(&flow, "webauthn_register_displayname")["meta"]["label"]["id"],
        1050013
    );
    let options = options_in(&flow, "webauthn_register_trigger");
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");

    // A name is required.
    let mut key = SoftAuthenticator::new(7, ORIGIN);
    let created = key.create(&options);
    let nameless = json!({"method": "webauthn", "webauthn_register": created});
    let refused = json_with_status(post_with_token(app, &flow, nameless, token).await, 400).await;
    assert_eq!(
        crate::flows::node_message_ids(&refused, "webauthn_register_displayname"),
        [4000002]
    );
    let flow = settings_flow(app, token).await;
    let options = options_in(&flow, "webauthn_register_trigger");
    let body = json!({
        "webauthn_register": key.create(&options),
        "webauthn_register_displayname": "Blue key",
    });
    let saved = json_with_status(post_with_token(app, &flow, body, token).await, 200).await;
    assert_eq!(ui_message_ids(&saved), [1050001]);
    let remove = node(&saved, "webauthn_remove");
    assert_eq!(remove["meta"]["label"]["id"], 1050018);
    assert_eq!(
        remove["meta"]["label"]["context"]["display_name"],
        "Blue key"
    );
    let hex: String = key
        .credential_id
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(remove["attributes"]["value"], hex.as_str());

    // A later password sign-in must step up with the key.
    let token = password_login(app, "keys@example.com").await;
    let refused = json_with_status(whoami(app, &token).await, 403).await;
    assert_eq!(refused["error"]["id"], "session_aal2_required");
    let flow = aal2_flow(app, &token).await;
    let options = options_in(&flow, "webauthn_login_trigger");
    assert_eq!(
        node(&flow, "webauthn_login_trigger")["meta"]["label"]["id"],
        1010008
    );
    let allowed = options["publicKey"]["allowCredentials"][0]["id"]
        .as_str()
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(allowed)
            .unwrap(),
        key.credential_id
    );

    // The wrong site's answer, an answer to another flow's challenge, and a cloned key are
    // refused; the flow offers a new challenge each time.
    let mut phished = SoftAuthenticator::new(7, "http://evil.example");
    phished.counter = key.counter;
    let wrong_origin = json!({"webauthn_login": phished.get(&options, "localhost")});
    let refused =
        json_with_status(post_with_token(app, &flow, wrong_origin, &token).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000043]);
    let other_flow = aal2_flow(app, &token).await;
    let foreign = json!({"webauthn_login": key.get(&options_in(&other_flow, "webauthn_login_trigger"), "localhost")});
    let refused =
        json_with_status(post_with_token(app, &refused, foreign, &token).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000043]);

    let answer = json!({"webauthn_login": key.get(&options_in(&refused, "webauthn_login_trigger"), "localhost")});
    let upgraded =
        json_with_status(post_with_token(app, &refused, answer, &token).await, 200).await;
    let session = &upgraded["session"];
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    let methods: Vec<&str> = session["authentication_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| method["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["password", "webauthn"]);
    json_with_status(whoami(app, &token).await, 200).await;

    // A copy of the key, its counter behind the stored one, is refused.
    let token = password_login(app, "keys@example.com").await;
    let flow = aal2_flow(app, &token).await;
    let mut clone = SoftAuthenticator::new(7, ORIGIN);
    clone.counter = 0;
    let cloned = json!({"webauthn_login": clone.get(&options_in(&flow, "webauthn_login_trigger"), "localhost")});
    let refused = json_with_status(post_with_token(app, &flow, cloned, &token).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000043]);

    // Removing the key (from an aal2 session) leaves no second factor.
    let aal2 = upgraded["session_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let aal2 = if aal2.is_empty() { token.clone() } else { aal2 };
    let flow = settings_flow(app, &aal2).await;
    let removed = post_with_token(
        app,
        &flow,
        json!({"method": "webauthn", "webauthn_remove": hex}),
        &aal2,
    )
    .await;
    let removed = json_with_status(removed, 200).await;
    assert!(
        removed["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|node| node["attributes"]["name"] != "webauthn_remove")
    );
    let token = password_login(app, "keys@example.com").await;
    json_with_status(whoami(app, &token).await, 200).await;
}

async fn passkeys_sign_up_sign_in_and_are_managed(app: &TestApp) {
    let flow = credentials_screen(app, json!({"email": "passkey@example.com"})).await;
    let data = options_in(&flow, "passkey_create_data");
    assert_eq!(data["displayNameFieldName"], "traits.email");
    let selection = &data["credentialOptions"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(
        node(&flow, "passkey_register_trigger")["meta"]["label"]["id"],
        1040007
    );
    // Traits serve both methods' forms, so they are in the default group (as in Kratos).
    assert_eq!(node(&flow, "traits.email")["group"], "default");
    assert_eq!(node(&flow, "password")["group"], "password");

    let mut phone = SoftAuthenticator::new(21, ORIGIN);
    let body = json!({
        "traits": {"email": "passkey@example.com"},
        "passkey_register": phone.create(&data["credentialOptions"]),
    });
    let registered = json_with_status(submit_json(app, &flow, body).await, 200).await;
    let id = registered["identity"]["id"].as_str().unwrap().to_string();

    // Signing in needs no identifier: the passkey names its account.
    let flow = api_flow(app, "login").await;
    assert_eq!(
        node(&flow, "identifier")["attributes"]["autocomplete"],
        "username webauthn"
    );
    assert_eq!(
        node(&flow, "passkey_login_trigger")["meta"]["label"]["id"],
        1010021
    );
    let options = options_in(&flow, "passkey_challenge");
    let signed_in = submit_json(
        app,
        &flow,
        json!({"passkey_login": phone.get(&options, "localhost")}),
    )
    .await;
    let signed_in = json_with_status(signed_in, 200).await;
    assert_eq!(signed_in["session"]["identity"]["id"], id.as_str());
    assert_eq!(
        signed_in["session"]["authenticator_assurance_level"],
        "aal1"
    );
    assert_eq!(
        signed_in["session"]["authentication_methods"][0]["method"],
        "passkey"
    );
    let token = signed_in["session_token"].as_str().unwrap().to_string();

    // A passkey Ward does not know.
    let flow = api_flow(app, "login").await;
    let mut stranger = SoftAuthenticator::new(22, ORIGIN);
    stranger.user_handle = phone.user_handle.clone();
    let unknown = submit_json(app, &flow, json!({"passkey_login": stranger.get(&options_in(&flow, "passkey_challenge"), "localhost")})).await;
    let unknown = json_with_status(unknown, 400).await;
    assert_eq!(ui_message_ids(&unknown), [4000015]);

    // The only way to sign in cannot be removed; with a second passkey it can.
    let flow = settings_flow(app, &token).await;
    let remove = node(&flow, "passkey_remove");
    assert_eq!(remove["attributes"]["disabled"], true);
    assert_eq!(remove["meta"]["label"]["id"], 1050020);
    let hex = remove["attributes"]["value"].as_str().unwrap().to_string();
    let refused = post_with_token(
        app,
        &flow,
        json!({"method": "passkey", "passkey_remove": hex}),
        &token,
    )
    .await;
    let refused = json_with_status(refused, 400).await;
    assert_eq!(
        crate::flows::node_message_ids(&refused, "passkey_remove"),
        [4000001]
    );

    let flow = settings_flow(app, &token).await;
    let mut laptop = SoftAuthenticator::new(23, ORIGIN);
    let create = options_in(&flow, "passkey_create_data");
    let added = post_with_token(
        app,
        &flow,
        json!({"passkey_settings_register": laptop.create(&create)}),
        &token,
    )
    .await;
    let added = json_with_status(added, 200).await;
    let removes: Vec<&Value> = added["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|node| node["attributes"]["name"] == "passkey_remove")
        .collect();
    assert_eq!(removes.len(), 2);
    assert!(
        removes
            .iter()
            .all(|node| node["attributes"]["disabled"] == false)
    );
    let removed = post_with_token(
        app,
        &added,
        json!({"method": "passkey", "passkey_remove": hex}),
        &token,
    )
    .await;
    json_with_status(removed, 200).await;

    // The removed passkey no longer signs in; the one added does.
    let flow = api_flow(app, "login").await;
    let gone = submit_json(
        app,
        &flow,
        json!({"passkey_login": phone.get(&options_in(&flow, "passkey_challenge"), "localhost")}),
    )
    .await;
    assert_eq!(
        ui_message_ids(&json_with_status(gone, 400).await),
        [4000015]
    );
    let flow = api_flow(app, "login").await;
    let ok = submit_json(
        app,
        &flow,
        json!({"passkey_login": laptop.get(&options_in(&flow, "passkey_challenge"), "localhost")}),
    )
    .await;
    json_with_status(ok, 200).await;

    // The sign-in stored the passkey's counter: a copy of it, still at the old count, is
    // refused as a possible clone.
    let mut clone = SoftAuthenticator::new(23, ORIGIN);
    clone.user_handle = laptop.user_handle.clone();
    let flow = api_flow(app, "login").await;
    let cloned = submit_json(
        app,
        &flow,
        json!({"passkey_login": clone.get(&options_in(&flow, "passkey_challenge"), "localhost")}),
    )
    .await;
    assert_eq!(
        ui_message_ids(&json_with_status(cloned, 400).await),
        [4000043]
    );

    // The credential ids are the passkey credential's identifiers.
    let path = format!("/admin/identities/{id}?include_credential=passkey");
    let identity = json_with_status(app.admin_request(Method::GET, &path, None).await, 200).await;
    let identifiers = &identity["credentials"]["passkey"]["identifiers"];
    assert_eq!(identifiers.as_array().map(Vec::len), Some(1), "{identity}");
    let _ = PASSWORD;
}

async fn the_script_is_served_as_the_nodes_promise(app: &TestApp) {
    let browser = app.browser();
    let id = crate::browser_flows::browser_flow(app, &browser, "login", "").await;
    let flow = crate::browser_flows::get_browser_flow(app, &browser, "login", &id).await;
    let script = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["type"] == "script")
        .unwrap_or_else(|| panic!("no script node in {flow}"));
    assert_eq!(script["group"], "webauthn");
    assert_eq!(script["attributes"]["id"], "webauthn_script");
    assert_eq!(
        node(&flow, "passkey_login_trigger")["attributes"]["onclick"],
        "window.oryPasskeyLogin()"
    );
    assert_eq!(
        node(&flow, "passkey_login")["attributes"]["onloadTrigger"],
        "oryPasskeyLoginAutocompleteInit"
    );
    let src = script["attributes"]["src"].as_str().unwrap();
    let response = app.client.get(src).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = response.bytes().await.unwrap();
    let integrity = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&body))
    );
    assert_eq!(script["attributes"]["integrity"], integrity.as_str());
}

async fn passwordless_security_keys_sign_up_and_sign_in(app: &TestApp) {
    // Sign-up: the traits, a name for the key, and a key that must verify its user.
    let flow = credentials_screen(app, json!({"email": "Keyholder@Example.com"})).await;
    assert_eq!(node(&flow, "traits.email")["group"], "default");
    let trigger = node(&flow, "webauthn_register_trigger");
    assert_eq!(trigger["group"], "webauthn");
    assert_eq!(trigger["meta"]["label"]["id"], 1040004);
    let options = options_in(&flow, "webauthn_register_trigger");
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let mut key = SoftAuthenticator::new(31, ORIGIN);
    let body = json!({
        "method": "webauthn",
        "traits": {"email": "Keyholder@Example.com"},
        "webauthn_register_displayname": "Yellow key",
        "webauthn_register": key.create(&options),
    });
    let registered = json_with_status(submit_json(app, &flow, body).await, 200).await;
    let id = registered["identity"]["id"].as_str().unwrap().to_string();
    let path = format!("/admin/identities/{id}?include_credential=webauthn");
    let identity = json_with_status(app.admin_request(Method::GET, &path, None).await, 200).await;
    let credential = &identity["credentials"]["webauthn"];
    assert_eq!(credential["identifiers"], json!(["keyholder@example.com"]));
    assert_eq!(
        credential["config"]["credentials"][0]["is_passwordless"],
        true
    );

    // Sign-in: the identifier first, then that identity's keys.
    let flow = api_flow(app, "login").await;
    let submit = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["value"] == "webauthn")
        .unwrap_or_else(|| panic!("no webauthn button in {flow}"));
    assert_eq!(submit["attributes"]["name"], "method");
    assert_eq!(submit["group"], "webauthn");
    assert_eq!(submit["meta"]["label"]["id"], 1010008);
    let unknown = json!({"method": "webauthn", "identifier": "nobody@example.com"});
    let refused = json_with_status(submit_json(app, &flow, unknown).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000015]);
    let known = json!({"method": "webauthn", "identifier": "KeyHolder@example.com"});
    let step = json_with_status(submit_json(app, &refused, known).await, 400).await;
    assert_eq!(ui_message_ids(&step), [1010012]);
    assert_eq!(node(&step, "identifier")["attributes"]["type"], "hidden");
    assert!(
        step["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|node| node["attributes"]["name"] != "password"),
        "{step}"
    );
    let options = options_in(&step, "webauthn_login_trigger");
    let allowed = options["publicKey"]["allowCredentials"][0]["id"]
        .as_str()
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(allowed)
            .unwrap(),
        key.credential_id
    );
    let answer = key.get(&options, "localhost");
    let signed_in = submit_json(app, &step, json!({"webauthn_login": answer})).await;
    let signed_in = json_with_status(signed_in, 200).await;
    let session = &signed_in["session"];
    assert_eq!(session["identity"]["id"], id.as_str());
    assert_eq!(session["authenticator_assurance_level"], "aal1");
    assert_eq!(session["authentication_methods"][0]["method"], "webauthn");
    // A first factor, not a second: the session is enough.
    let token = signed_in["session_token"].as_str().unwrap().to_string();
    json_with_status(whoami(app, &token).await, 200).await;

    // The answer is spent: its flow is done, and another flow's challenge is another.
    let replayed = submit_json(app, &step, json!({"webauthn_login": answer})).await;
    let replayed = json_with_status(replayed, 400).await;
    assert_eq!(ui_message_ids(&replayed), [4010007]);
    let flow = api_flow(app, "login").await;
    let known = json!({"method": "webauthn", "identifier": "keyholder@example.com"});
    let step = json_with_status(submit_json(app, &flow, known).await, 400).await;
    let replayed = submit_json(app, &step, json!({"webauthn_login": answer})).await;
    let replayed = json_with_status(replayed, 400).await;
    assert_eq!(ui_message_ids(&replayed), [4000043]);
    // After a refusal the form offers a new challenge.
    let options = options_in(&replayed, "webauthn_login_trigger");
    let again = submit_json(
        app,
        &replayed,
        json!({"webauthn_login": key.get(&options, "localhost")}),
    )
    .await;
    json_with_status(again, 200).await;

    // The only way to sign in cannot be removed.
    let flow = settings_flow(app, &token).await;
    let remove = node(&flow, "webauthn_remove");
    assert_eq!(remove["attributes"]["disabled"], true);
    let hex = remove["attributes"]["value"].as_str().unwrap().to_string();
    let refused = post_with_token(
        app,
        &flow,
        json!({"method": "webauthn", "webauthn_remove": hex}),
        &token,
    )
    .await;
    let refused = json_with_status(refused, 400).await;
    assert_eq!(
        crate::flows::node_message_ids(&refused, "webauthn_remove"),
        [4000001]
    );
}
