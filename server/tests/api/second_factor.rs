//! Second factors: TOTP set up in settings, aal2 step-up at login, replayed and guessed codes,
//! and where whoami and settings insist on the second factor (reference §6, §7).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};
use ward::store::Dialect;

use crate::flows::{PASSWORD, api_flow, node, node_message_ids, register, ui_message_ids, whoami};
use crate::harness::{TestApp, json_with_status};

const TOTP_ON: (&str, &str) = ("SELFSERVICE_METHODS_TOTP_ENABLED", "true");

async fn with_totp(dialect: Dialect, extra: &[(&str, &str)]) -> Option<TestApp> {
    let mut env = vec![
        TOTP_ON,
        ("SELFSERVICE_METHODS_LOOKUP_SECRET_ENABLED", "true"),
        ("SELFSERVICE_FLOWS_RECOVERY_ENABLED", "true"),
    ];
    env.extend_from_slice(extra);
    TestApp::spawn_with(dialect, &env).await
}

macro_rules! totp_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = super::with_totp(ward::store::Dialect::Sqlite, &[]).await.unwrap();
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = super::with_totp(ward::store::Dialect::Postgres, &[]).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}

totp_tests!(
    totp_set_up_then_step_up,
    backup_codes_are_shown_once_and_work_once,
    browsers_go_on_to_the_second_factor,
    codes_work_once_and_guesses_are_capped,
    settings_and_recovery_sessions_need_the_second_factor,
);

pub(crate) async fn get_with_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.public))
        .header("X-Session-Token", token)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn post_with_token(
    app: &TestApp,
    flow: &Value,
    body: Value,
    token: &str,
) -> reqwest::Response {
    app.client
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("X-Session-Token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The code an authenticator app shows at `offset` steps from Ward's clock.
pub(crate) fn code(app: &TestApp, secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let key = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".into()).unwrap();
    let now = app.state.clock.now().unix_timestamp() + offset * 30;
    key.generate(u64::try_from(now).unwrap())
}

/// Sets TOTP up for the session `token` belongs to; returns the secret.
pub(crate) async fn set_up_totp(app: &TestApp, token: &str) -> String {
    let flow = json_with_status(
        get_with_token(app, "/self-service/settings/api", token).await,
        200,
    )
    .await;
    let qr = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["id"] == "totp_qr")
        .unwrap();
    assert_eq!(qr["type"], "img");
    assert_eq!(qr["group"], "totp");
    assert!(
        qr["attributes"]["src"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert_eq!(qr["meta"]["label"]["id"], 1050005);
    let text = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["id"] == "totp_secret_key")
        .unwrap();
    assert_eq!(text["attributes"]["text"]["id"], 1050006);
    let secret = text["attributes"]["text"]["context"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(node(&flow, "totp_code")["meta"]["label"]["id"], 1070006);

    let wrong = post_with_token(
        app,
        &flow,
        json!({"method": "totp", "totp_code": "000000"}),
        token,
    )
    .await;
    let wrong = json_with_status(wrong, 400).await;
    assert_eq!(node_message_ids(&wrong, "totp_code"), [4000008]);

    let body = json!({"method": "totp", "totp_code": code(app, &secret, 0)});
    let done = json_with_status(post_with_token(app, &flow, body, token).await, 200).await;
    assert_eq!(done["state"], "success");
    assert!(node(&done, "totp_unlink")["attributes"]["value"] == "true");
    secret
}

pub(crate) async fn password_login(app: &TestApp, email: &str) -> String {
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "password", "identifier": email, "password": PASSWORD});
    let response = app
        .client
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    let signed_in = json_with_status(response, 200).await;
    assert_eq!(
        signed_in["session"]["authenticator_assurance_level"],
        "aal1"
    );
    signed_in["session_token"].as_str().unwrap().to_string()
}

pub(crate) async fn aal2_flow(app: &TestApp, token: &str) -> Value {
    json_with_status(
        get_with_token(app, "/self-service/login/api?aal=aal2", token).await,
        200,
    )
    .await
}

async fn totp_set_up_then_step_up(app: &TestApp) {
    let registered = register(app, "two@example.com").await;
    let token = registered["session_token"].as_str().unwrap().to_string();
    let id = registered["identity"]["id"].as_str().unwrap().to_string();
    // No second factor yet: whoami is satisfied with aal1, and an aal2 flow offers nothing.
    assert_eq!(whoami(app, &token).await.status(), 200);
    let empty = aal2_flow(app, &token).await;
    assert_eq!(ui_message_ids(&empty), [1010004]);
    assert_eq!(empty["ui"]["nodes"].as_array().unwrap().len(), 1, "{empty}");

    let secret = set_up_totp(app, &token).await;
    // Setting it up proved it: this session reached aal2.
    let session = json_with_status(whoami(app, &token).await, 200).await;
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    let methods: Vec<&str> = session["authentication_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|method| method["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["password", "totp"]);
    let identity = json_with_status(
        app.admin_request(
            Method::GET,
            &format!("/admin/identities/{id}?include_credential=totp"),
            None,
        )
        .await,
        200,
    )
    .await;
    // The key is stored sealed with the cipher, not as an `otpauth://` URL.
    let sealed = identity["credentials"]["totp"]["config"]["totp_url"]
        .as_str()
        .unwrap();
    assert!(
        sealed.starts_with("v1.") && !sealed.contains(&secret),
        "{sealed}"
    );
    let url = app.state.cipher.decrypt(sealed).unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(
        url.contains("two%40example.com") || url.contains("two@example.com"),
        "{url}"
    );

    // A new sign-in with the password alone is aal1, which whoami now refuses.
    app.state.clock.advance(Duration::from_secs(60));
    let token = password_login(app, "two@example.com").await;
    let refused = json_with_status(whoami(app, &token).await, 403).await;
    assert_eq!(refused["error"]["id"], "session_aal2_required");
    let step_up = refused["redirect_browser_to"].as_str().unwrap();
    assert!(
        step_up.ends_with("/self-service/login/browser?aal=aal2"),
        "{step_up}"
    );
    assert_eq!(refused["error"]["details"]["redirect_browser_to"], step_up);

    // The step-up flow offers the code and nothing of the first factor.
    let flow = aal2_flow(app, &token).await;
    assert_eq!(flow["requested_aal"], "aal2");
    assert_eq!(ui_message_ids(&flow), [1010004]);
    assert_eq!(node(&flow, "totp_code")["meta"]["label"]["id"], 1010006);
    assert!(
        flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["attributes"]["name"] != "password")
    );
    let body = json!({"method": "totp", "totp_code": code(app, &secret, 0)});
    let done = json_with_status(post_with_token(app, &flow, body, &token).await, 200).await;
    assert_eq!(done["session"]["authenticator_assurance_level"], "aal2");
    // Native apps keep their token; the session is the same one, now at aal2.
    assert_eq!(done["session_token"], token.as_str());
    let session = json_with_status(whoami(app, &token).await, 200).await;
    assert_eq!(session["id"], done["session"]["id"]);
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    // Already at aal2: another step-up is refused.
    let again = get_with_token(app, "/self-service/login/api?aal=aal2", &token).await;
    assert_eq!(
        json_with_status(again, 400).await["error"]["id"],
        "session_already_available"
    );
}

async fn codes_work_once_and_guesses_are_capped(app: &TestApp) {
    let registered = register(app, "replay@example.com").await;
    let token = registered["session_token"].as_str().unwrap().to_string();
    let secret = set_up_totp(app, &token).await;

    // The code that set TOTP up is spent for its whole window.
    let token = password_login(app, "replay@example.com").await;
    let flow = aal2_flow(app, &token).await;
    let replay = json!({"method": "totp", "totp_code": code(app, &secret, 0)});
    let refused = json_with_status(post_with_token(app, &flow, replay, &token).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000008]);
    // The next step's code is good, once.
    app.state.clock.advance(Duration::from_secs(30));
    let fresh = json!({"method": "totp", "totp_code": code(app, &secret, 0)});
    json_with_status(
        post_with_token(app, &flow, fresh.clone(), &token).await,
        200,
    )
    .await;
    let other = password_login(app, "replay@example.com").await;
    let flow = aal2_flow(app, &other).await;
    let refused = json_with_status(post_with_token(app, &flow, fresh, &other).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000008]);

    // Five wrong codes spend the flow: even the right one is refused after them.
    for _ in 0..5 {
        let guess = json!({"method": "totp", "totp_code": "123456"});
        json_with_status(post_with_token(app, &flow, guess, &other).await, 400).await;
    }
    app.state.clock.advance(Duration::from_secs(30));
    let right = json!({"method": "totp", "totp_code": code(app, &secret, 0)});
    let refused = json_with_status(
        post_with_token(app, &flow, right.clone(), &other).await,
        400,
    )
    .await;
    assert_eq!(ui_message_ids(&refused), [4000008]);
    // A new flow takes it.
    let flow = aal2_flow(app, &other).await;
    json_with_status(post_with_token(app, &flow, right, &other).await, 200).await;
}

async fn settings_and_recovery_sessions_need_the_second_factor(app: &TestApp) {
    let registered = register(app, "guarded@example.com").await;
    let token = registered["session_token"].as_str().unwrap().to_string();
    set_up_totp(app, &token).await;
    let token = password_login(app, "guarded@example.com").await;
    let refused = get_with_token(app, "/self-service/settings/api", &token).await;
    let refused = json_with_status(refused, 403).await;
    assert_eq!(refused["error"]["id"], "session_aal2_required");
    assert!(
        refused["redirect_browser_to"]
            .as_str()
            .unwrap()
            .contains("aal=aal2")
    );

    // An administrator's recovery code signs in at aal1 only.
    let id = registered["identity"]["id"].as_str().unwrap();
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
    let body = json!({"method": "code", "code": created["recovery_code"]});
    let recovered = json_with_status(
        app.client
            .post(flow["ui"]["action"].as_str().unwrap())
            .json(&body)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let recovery_token = recovered["continue_with"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["action"] == "set_ory_session_token")
        .unwrap()["ory_session_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = json_with_status(whoami(app, &recovery_token).await, 403).await;
    assert_eq!(refused["error"]["id"], "session_aal2_required");
}

/// With `required_aal: aal1` whoami and settings accept a first factor alone.
async fn aal1_is_enough_when_configured(dialect: Dialect) {
    let extra = [
        ("SESSION_WHOAMI_REQUIRED_AAL", "aal1"),
        ("SELFSERVICE_FLOWS_SETTINGS_REQUIRED_AAL", "aal1"),
    ];
    let Some(app) = with_totp(dialect, &extra).await else {
        return;
    };
    let registered = register(&app, "relaxed@example.com").await;
    let token = registered["session_token"].as_str().unwrap().to_string();
    set_up_totp(&app, &token).await;
    let token = password_login(&app, "relaxed@example.com").await;
    assert_eq!(whoami(&app, &token).await.status(), 200);
    assert_eq!(
        get_with_token(&app, "/self-service/settings/api", &token)
            .await
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aal1_is_enough_when_configured_sqlite() {
    aal1_is_enough_when_configured(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aal1_is_enough_when_configured_postgres() {
    aal1_is_enough_when_configured(Dialect::Postgres).await;
}

/// The session cookie a response sets, if any.
fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|cookie| cookie.starts_with("ory_kratos_session="))
        .map(|cookie| cookie.split(';').next().unwrap_or_default().to_string())
}

async fn browsers_go_on_to_the_second_factor(app: &TestApp) {
    use crate::browser_flows::{browser_flow, csrf_of, get_browser_flow, sign_up};
    let browser = app.browser();
    sign_up(app, &browser, "web@example.com").await;
    // Set TOTP up as an SPA would.
    let settings = browser
        .get(format!("{}/self-service/settings/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let settings = json_with_status(settings, 200).await;
    let secret = settings["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["id"] == "totp_secret_key")
        .unwrap()["attributes"]["text"]["context"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"csrf_token": csrf_of(&settings), "method": "totp", "totp_code": code(app, &secret, 0)});
    let response = browser
        .post(settings["ui"]["action"].as_str().unwrap())
        .header("accept", "application/json")
        .json(&body)
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await;

    // Another browser signs in with the password and is sent on to the second factor.
    app.state.clock.advance(Duration::from_secs(30));
    let other = app.browser();
    let id = browser_flow(app, &other, "login", "?return_to=").await;
    let flow = get_browser_flow(app, &other, "login", &id).await;
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("identifier", "web@example.com".to_string()),
        ("password", PASSWORD.to_string()),
        ("method", "password".to_string()),
    ];
    let response = other
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let first_cookie = session_cookie(&response).unwrap();
    let next = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        next.starts_with(&format!(
            "{}/self-service/login/browser?aal=aal2&return_to=",
            app.public
        )),
        "{next}"
    );

    let response = other.get(&next).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    let id = location.split("flow=").nth(1).unwrap().to_string();
    let flow = get_browser_flow(app, &other, "login", &id).await;
    assert_eq!(flow["requested_aal"], "aal2");
    let form = [
        ("csrf_token", csrf_of(&flow)),
        ("totp_code", code(app, &secret, 0)),
        ("method", "totp".to_string()),
    ];
    let response = other
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    // The step-up gave the browser a new session token; the first one no longer works.
    let second_cookie = session_cookie(&response).unwrap();
    assert_ne!(first_cookie, second_cookie);
    let whoami_with = |cookie: String| async move {
        app.client
            .get(format!("{}/sessions/whoami", app.public))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    };
    let session = json_with_status(whoami_with(second_cookie).await, 200).await;
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    assert_eq!(whoami_with(first_cookie).await.status(), 401);
}

/// `session.whoami.enforce_mfa_enrolment` (Ward only): an identity without a second factor is
/// sent to settings, and its sessions are refused until it has one.
async fn enrolment_is_enforced_when_configured(dialect: Dialect) {
    let extra = [("SESSION_WHOAMI_ENFORCE_MFA_ENROLMENT", "true")];
    let Some(app) = with_totp(dialect, &extra).await else {
        return;
    };
    let registered = register(&app, "must@example.com").await;
    let token = registered["session_token"].as_str().unwrap().to_string();
    let refused = json_with_status(whoami(&app, &token).await, 403).await;
    assert_eq!(refused["error"]["id"], "session_mfa_enrolment_required");
    let settings_url = refused["redirect_browser_to"].as_str().unwrap();
    assert!(
        settings_url.ends_with("/self-service/settings/browser"),
        "{settings_url}"
    );
    let flow = json_with_status(
        get_with_token(&app, "/self-service/settings/api", &token).await,
        200,
    )
    .await;
    assert_eq!(ui_message_ids(&flow), [1059001]);
    set_up_totp(&app, &token).await;
    let session = json_with_status(whoami(&app, &token).await, 200).await;
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_is_enforced_when_configured_sqlite() {
    enrolment_is_enforced_when_configured(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_is_enforced_when_configured_postgres() {
    enrolment_is_enforced_when_configured(Dialect::Postgres).await;
}

async fn backup_codes_are_shown_once_and_work_once(app: &TestApp) {
    let registered = register(app, "codes@example.com").await;
    let token = registered["session_token"].as_str().unwrap().to_string();
    let id = registered["identity"]["id"].as_str().unwrap().to_string();
    let flow = json_with_status(
        get_with_token(app, "/self-service/settings/api", &token).await,
        200,
    )
    .await;
    // Confirming before generating is refused.
    let early = post_with_token(app, &flow, json!({"lookup_secret_confirm": true}), &token).await;
    json_with_status(early, 400).await;
    let shown = post_with_token(
        app,
        &flow,
        json!({"lookup_secret_regenerate": true}),
        &token,
    )
    .await;
    let shown = json_with_status(shown, 200).await;
    let codes_node = shown["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["id"] == "lookup_secret_codes")
        .unwrap()
        .clone();
    assert_eq!(codes_node["attributes"]["text"]["id"], 1050015);
    let codes: Vec<String> = codes_node["attributes"]["text"]["context"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|secret| secret["context"]["secret"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 12);
    let confirmed =
        post_with_token(app, &shown, json!({"lookup_secret_confirm": true}), &token).await;
    let confirmed = json_with_status(confirmed, 200).await;
    assert_eq!(confirmed["state"], "success");
    // Stored as keyed hashes only, and never shown again.
    let identity = json_with_status(
        app.admin_request(
            Method::GET,
            &format!("/admin/identities/{id}?include_credential=lookup_secret"),
            None,
        )
        .await,
        200,
    )
    .await;
    let stored = identity["credentials"]["lookup_secret"]["config"].to_string();
    assert!(
        codes.iter().all(|code| !stored.contains(code.as_str())),
        "{stored}"
    );
    assert!(!confirmed.to_string().contains(codes[0].as_str()));
    // Setting them up proved them: the session is aal2.
    let session = json_with_status(whoami(app, &token).await, 200).await;
    assert_eq!(session["authenticator_assurance_level"], "aal2");

    let token = password_login(app, "codes@example.com").await;
    let flow = aal2_flow(app, &token).await;
    assert_eq!(node(&flow, "lookup_secret")["meta"]["label"]["id"], 1010007);
    let wrong = json!({"method": "lookup_secret", "lookup_secret": "aaaaaaaa"});
    let refused = json_with_status(post_with_token(app, &flow, wrong, &token).await, 400).await;
    assert_eq!(ui_message_ids(&refused), [4000016]);
    let right = json!({"method": "lookup_secret", "lookup_secret": codes[3].to_uppercase()});
    let done = json_with_status(
        post_with_token(app, &flow, right.clone(), &token).await,
        200,
    )
    .await;
    assert_eq!(done["session"]["authenticator_assurance_level"], "aal2");
    // The same code a second time is refused, as used.
    let other = password_login(app, "codes@example.com").await;
    let flow = aal2_flow(app, &other).await;
    let reused = json_with_status(post_with_token(app, &flow, right, &other).await, 400).await;
    assert_eq!(ui_message_ids(&reused), [4000012]);
    let identity = json_with_status(
        app.admin_request(
            Method::GET,
            &format!("/admin/identities/{id}?include_credential=lookup_secret"),
            None,
        )
        .await,
        200,
    )
    .await;
    let used: Vec<&Value> = identity["credentials"]["lookup_secret"]["config"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|code| !code["used_at"].is_null())
        .collect();
    assert_eq!(used.len(), 1);

    // Disabling removes them.
    let flow = json_with_status(
        get_with_token(app, "/self-service/settings/api", &token).await,
        200,
    )
    .await;
    let disabled =
        post_with_token(app, &flow, json!({"lookup_secret_disable": true}), &token).await;
    json_with_status(disabled, 200).await;
    let identity = json_with_status(
        app.admin_request(Method::GET, &format!("/admin/identities/{id}"), None)
            .await,
        200,
    )
    .await;
    assert!(
        identity["credentials"].get("lookup_secret").is_none(),
        "{identity}"
    );
}
