//! Security keys (`webauthn`, a second factor) and passkeys (`passkey`, a first factor) through
//! the API flows, with a software authenticator answering the options the flows carry.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};
use ward::store::Dialect;

use crate::authenticator::SoftAuthenticator;
use crate::flows::{PASSWORD, api_flow, node, register, submit_json, ui_message_ids, whoami};
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

macro_rules! webauthn_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = super::app(ward::store::Dialect::Sqlite).await.unwrap();
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = super::app(ward::store::Dialect::Postgres).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

webauthn_tests!(
    security_keys_step_up_and_are_checked,
    passkeys_sign_up_sign_in_and_are_managed,
    the_script_is_served_as_the_nodes_promise,
);

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
    let flow = api_flow(app, "registration").await;
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
