//! Social sign-in against a real upstream: panva's oidc-provider (end2end/fixtures), driven
//! through its development login and consent pages as a browser would.

use std::process::Stdio;

use base64::Engine;
use reqwest::{Client, Method};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use ward::store::Dialect;

use crate::account::{create_user, message_ids};
use crate::browser_flows::{browser_flow, csrf_of, get_browser_flow};
use crate::flows::{PASSWORD, api_flow, submit_json};
use crate::harness::{TestApp, json_with_status};

/// The upstream, a node process that lives as long as the test.
struct Upstream {
    issuer: String,
    _process: tokio::process::Child,
}

impl Upstream {
    async fn start() -> Self {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
        assert!(
            root.join("node_modules/oidc-provider").exists(),
            "the upstream needs end2end's npm packages: run scripts/setup.sh --test"
        );
        let mut process = tokio::process::Command::new("node")
            .arg("fixtures/oidc-upstream.mjs")
            .current_dir(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (the upstream is panva's oidc-provider)");
        let stdout = process.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the upstream starts within 20 s")
            .unwrap()
            .unwrap();
        let issuer = line.strip_prefix("issuer ").unwrap().to_string();
        // The provider keeps writing notices: read them, or it dies of a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            issuer,
            _process: process,
        }
    }
}

/// A native app's own address, where the system browser returns to it.
const APP_CALLBACK: &str = "https://app.example/callback";

const MAPPER: &str = r#"
local claims = std.extVar('claims');
{
  identity: {
    traits: {
      [if 'email' in claims then 'email']: claims.email,
      name: { first: claims.given_name, last: claims.family_name },
    },
    verified_addresses: if 'email' in claims && claims.email_verified then
      [{ value: claims.email, via: 'email' }] else [],
    metadata_public: { upstream_subject: claims.sub },
  },
}
"#;

fn base64_url(code: &str) -> String {
    format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(code)
    )
}

async fn app(dialect: Dialect, upstream: &Upstream) -> Option<TestApp> {
    let providers = json!([
        {
            "id": "upstream",
            "provider": "generic",
            "label": "Upstream",
            "client_id": "ward",
            "client_secret": "ward-upstream-secret",
            "issuer_url": upstream.issuer,
            "scope": ["email", "profile"],
            "mapper_url": base64_url(MAPPER),
        },
        {
            "id": "keeper",
            "provider": "generic",
            "client_id": "ward",
            "client_secret": "ward-upstream-secret",
            "issuer_url": upstream.issuer,
            "scope": ["email", "profile"],
            "mapper_url": base64_url(MAPPER),
            "store_tokens": true,
        },
        {
            "id": "broken",
            "provider": "generic",
            "client_id": "ward",
            "client_secret": "ward-upstream-secret",
            "issuer_url": upstream.issuer,
            "scope": ["email"],
            "mapper_url": base64_url("error 'this mapper always fails'"),
        },
    ])
    .to_string();
    TestApp::spawn_with(
        dialect,
        &[
            ("SELFSERVICE_METHODS_OIDC_ENABLED", "true"),
            ("SELFSERVICE_METHODS_OIDC_CONFIG_PROVIDERS", &providers),
            // Room for the expiry test to move the clock past the id_token's hour.
            ("SELFSERVICE_FLOWS_LOGIN_LIFESPAN", "3h"),
            ("SELFSERVICE_FLOWS_REGISTRATION_LIFESPAN", "3h"),
            ("SELFSERVICE_ALLOWED_RETURN_URLS", APP_CALLBACK),
        ],
    )
    .await
}

macro_rules! social_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let upstream = super::Upstream::start().await;
                    let app = super::app(ward::store::Dialect::Sqlite, &upstream).await.unwrap();
                    super::$name(&app, &upstream).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let upstream = super::Upstream::start().await;
                    let Some(app) = super::app(ward::store::Dialect::Postgres, &upstream).await else { return };
                    super::$name(&app, &upstream).await;
                    app.stop().await;
                }
            )*
        }
    };
}

social_tests!(
    sign_up_then_sign_in_through_the_upstream,
    answers_that_do_not_match_the_request_are_refused,
    an_address_of_an_existing_account_links_only_after_its_owner_signs_in,
    missing_traits_are_asked_for_and_mapper_failures_are_messages,
    settings_link_and_unlink,
    native_apps_submit_the_upstream_id_token,
    native_apps_sign_in_through_the_system_browser,
);

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Submits `form` on a browser flow; the answer is not followed.
async fn submit(browser: &Client, flow: &Value, form: &[(&str, &str)]) -> reqwest::Response {
    let csrf = csrf_of(flow);
    let mut fields: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
    fields.extend_from_slice(form);
    browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Clicks the upstream's button on a new browser flow of `kind`; returns the flow and the
/// upstream's authorization URL.
async fn start(app: &TestApp, browser: &Client, kind: &str, provider: &str) -> (Value, String) {
    let id = browser_flow(app, browser, kind, "").await;
    let flow = get_browser_flow(app, browser, kind, &id).await;
    let response = submit(browser, &flow, &[("provider", provider)]).await;
    assert_eq!(response.status(), 303);
    (flow, location(&response))
}

/// Signs in at the upstream as `login` (its development pages: the login form, then consent)
/// and returns the address it sends the browser back to.
async fn upstream_sign_in(browser: &Client, upstream: &Upstream, url: &str, login: &str) -> String {
    let mut url = url.to_string();
    for _ in 0..12 {
        if !url.starts_with(&upstream.issuer) {
            return url;
        }
        let response = browser.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            url = absolute(upstream, &location(&response));
            continue;
        }
        let page = response.text().await.unwrap();
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("an upstream page with a form");
        let form: Vec<(&str, &str)> = if page.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "any")]
        } else {
            vec![("prompt", "consent")]
        };
        let response = browser
            .post(absolute(upstream, action))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_redirection(), "{}", response.status());
        url = absolute(upstream, &location(&response));
    }
    panic!("the upstream did not send the browser back");
}

fn absolute(upstream: &Upstream, url: &str) -> String {
    if url.starts_with('/') {
        format!("{}{url}", upstream.issuer)
    } else {
        url.to_string()
    }
}

async fn whoami(app: &TestApp, browser: &Client) -> Value {
    let response = browser
        .get(format!("{}/sessions/whoami", app.public))
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await
}

async fn identity_with_credentials(app: &TestApp, id: &str) -> Value {
    let response = app
        .admin_request(
            Method::GET,
            &format!("/admin/identities/{id}?include_credential=oidc"),
            None,
        )
        .await;
    json_with_status(response, 200).await
}

/// The flow a browser was sent to (`<ui>/<kind>?flow=<id>`).
async fn flow_at(app: &TestApp, browser: &Client, kind: &str, url: &str) -> Value {
    let prefix = format!("{}/{kind}?flow=", app.ui);
    assert!(url.starts_with(&prefix), "{url}");
    get_browser_flow(app, browser, kind, &url[prefix.len()..]).await
}

fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

async fn sign_up_then_sign_in_through_the_upstream(app: &TestApp, upstream: &Upstream) {
    let browser = app.browser();
    let (flow, authorize) = start(app, &browser, "registration", "upstream").await;
    // The buttons: one per provider, Kratos's node and label.
    let button = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["group"] == "oidc" && node["attributes"]["value"] == "upstream")
        .unwrap();
    assert_eq!(button["attributes"]["name"], "provider");
    assert_eq!(button["attributes"]["type"], "submit");
    assert_eq!(button["meta"]["label"]["id"], 1040002);
    assert_eq!(button["meta"]["label"]["text"], "Sign up with Upstream");
    assert_eq!(
        button["meta"]["label"]["context"],
        json!({"provider": "Upstream", "provider_id": "upstream"})
    );
    // The request: code flow, state, nonce and PKCE S256, Ward's callback.
    assert!(authorize.starts_with(&format!("{}/auth?", upstream.issuer)));
    assert_eq!(param(&authorize, "response_type").unwrap(), "code");
    assert_eq!(param(&authorize, "client_id").unwrap(), "ward");
    assert_eq!(param(&authorize, "code_challenge_method").unwrap(), "S256");
    assert!(param(&authorize, "nonce").is_some_and(|nonce| nonce.len() >= 32));
    assert!(
        param(&authorize, "state")
            .unwrap()
            .contains(&flow["id"].as_str().unwrap().to_string())
    );
    assert_eq!(
        param(&authorize, "redirect_uri").unwrap(),
        format!("{}/self-service/methods/oidc/callback/upstream", app.public)
    );
    let scope = param(&authorize, "scope").unwrap();
    assert!(
        scope.contains("openid") && scope.contains("email"),
        "{scope}"
    );

    let back = upstream_sign_in(&browser, upstream, &authorize, "ann@example.com").await;
    assert!(back.starts_with(&format!(
        "{}/self-service/methods/oidc/callback/upstream?",
        app.public
    )));
    let response = browser.get(&back).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "http://127.0.0.1:4455/welcome");

    let session = whoami(app, &browser).await;
    let identity = &session["identity"];
    assert_eq!(
        identity["traits"],
        json!({"email": "ann@example.com", "name": {"first": "Ann", "last": "Upstream"}})
    );
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);
    assert_eq!(identity["verifiable_addresses"][0]["status"], "completed");
    assert_eq!(
        identity["metadata_public"]["upstream_subject"],
        "ann@example.com"
    );
    assert_eq!(session["authentication_methods"][0]["method"], "oidc");
    assert_eq!(session["authentication_methods"][0]["provider"], "upstream");
    let id = identity["id"].as_str().unwrap().to_string();
    let stored = identity_with_credentials(app, &id).await;
    let oidc = &stored["credentials"]["oidc"];
    assert_eq!(oidc["identifiers"], json!(["upstream:ann@example.com"]));
    assert_eq!(oidc["config"]["providers"][0]["provider"], "upstream");
    assert_eq!(oidc["config"]["providers"][0]["subject"], "ann@example.com");
    // Tokens are not kept unless the provider says so.
    assert_eq!(oidc["config"]["providers"][0]["initial_access_token"], "");

    // A provider that keeps the upstream's tokens keeps them sealed; the admin API opens them.
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "registration", "keeper").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "kim@example.com").await;
    browser.get(&back).send().await.unwrap();
    let kim = whoami(app, &browser).await;
    let kim_id = kim["identity"]["id"].as_str().unwrap();
    let stored = app
        .state
        .identities
        .get_identity(kim_id.parse().unwrap())
        .await
        .unwrap();
    let sealed = stored.credentials[&ward::identity::CredentialType::Oidc].config["providers"][0]
        ["initial_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sealed.starts_with("v1."), "{sealed}");
    let opened = identity_with_credentials(app, kim_id).await;
    let link = &opened["credentials"]["oidc"]["config"]["providers"][0];
    let access_token = link["initial_access_token"].as_str().unwrap();
    assert!(!access_token.is_empty() && access_token != sealed);
    assert_eq!(
        link["initial_id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .count(),
        3
    );

    // Apple answers with a POST (form_post); the browser is sent to the same address with
    // the answer in the query, where its SameSite cookies go along.
    let posted = browser
        .post(format!(
            "{}/self-service/methods/oidc/callback/upstream",
            app.public
        ))
        .form(&[("code", "c"), ("state", "s"), ("user", "{}")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);
    assert_eq!(
        location(&posted),
        format!(
            "{}/self-service/methods/oidc/callback/upstream?code=c&state=s&user=%7B%7D",
            app.public
        )
    );

    // The callback works once.
    let replay = browser.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), 303);
    assert!(
        !location(&replay).ends_with("/welcome"),
        "{}",
        location(&replay)
    );

    // A new browser signs in from the login page: the same identity.
    let browser = app.browser();
    let (flow, authorize) = start(app, &browser, "login", "upstream").await;
    let button = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "provider")
        .unwrap();
    assert_eq!(button["meta"]["label"]["id"], 1010002);
    assert_eq!(button["meta"]["label"]["text"], "Sign in with Upstream");
    let back = upstream_sign_in(&browser, upstream, &authorize, "ann@example.com").await;
    let response = browser.get(&back).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(whoami(app, &browser).await["identity"]["id"], id.as_str());

    // A first sign-in from the login page is a sign-up.
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "login", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "ben@example.com").await;
    let response = browser.get(&back).send().await.unwrap();
    assert_eq!(location(&response), "http://127.0.0.1:4455/welcome");
    let session = whoami(app, &browser).await;
    assert_eq!(session["identity"]["traits"]["email"], "ben@example.com");
    assert_ne!(session["identity"]["id"], id.as_str());

    // A deactivated identity does not sign in through its upstream either.
    let ben = session["identity"]["id"].as_str().unwrap().to_string();
    let patch = json!([{"op": "replace", "path": "/state", "value": "inactive"}]);
    let patched = app
        .admin_request(
            Method::PATCH,
            &format!("/admin/identities/{ben}"),
            Some(patch),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "login", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "ben@example.com").await;
    let response = browser.get(&back).send().await.unwrap();
    let flow = flow_at(app, &browser, "login", &location(&response)).await;
    assert_eq!(flow["ui"]["messages"][0]["id"], 4010011);
    assert_eq!(whoami_status(app, &browser).await, 401);

    // An SPA is told where the browser must go.
    let browser = app.browser();
    let id = browser_flow(app, &browser, "login", "").await;
    let flow = get_browser_flow(app, &browser, "login", &id).await;
    let response = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("accept", "application/json")
        .json(&json!({"method": "oidc", "provider": "upstream", "csrf_token": csrf_of(&flow)}))
        .send()
        .await
        .unwrap();
    let body = json_with_status(response, 422).await;
    assert_eq!(body["error"]["id"], "browser_location_change_required");
    assert!(
        body["redirect_browser_to"]
            .as_str()
            .unwrap()
            .starts_with(&upstream.issuer)
    );
}

async fn answers_that_do_not_match_the_request_are_refused(app: &TestApp, upstream: &Upstream) {
    // A tampered state: the error page, nothing signed in.
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "login", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "cat@example.com").await;
    let tampered = back.replace("state=login.", "state=login.0");
    let response = browser.get(&tampered).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with(&format!("{}/error?id=", app.ui)));
    // The answer in another browser (no CSRF cookie of the flow): refused too.
    let other = app.browser();
    let response = other.get(&back).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert!(!location(&response).ends_with("/welcome"));
    let me = other
        .get(format!("{}/sessions/whoami", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);

    // An answer that names another issuer (RFC 9207's mix-up defence).
    let (_, authorize) = start(app, &browser, "login", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "cat@example.com").await;
    let issuer = param(&back, "iss").expect("oidc-provider names itself in its answers");
    let mixed_up = back.replace(
        &url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fother.example",
    );
    assert_ne!(mixed_up, back);
    let response = browser.get(&mixed_up).send().await.unwrap();
    let flow = flow_at(app, &browser, "login", &location(&response)).await;
    assert!(
        flow["ui"]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("issuer"),
        "{}",
        flow["ui"]["messages"][0]
    );
    assert_eq!(whoami_status(app, &browser).await, 401);

    // The upstream's refusal is a message on the flow.
    let (_, authorize) = start(app, &browser, "login", "upstream").await;
    let state = param(&authorize, "state").unwrap();
    let refused = format!(
        "{}/self-service/methods/oidc/callback/upstream?error=access_denied&error_description=no&state={state}",
        app.public
    );
    let response = browser.get(&refused).send().await.unwrap();
    let flow = flow_at(app, &browser, "login", &location(&response)).await;
    assert_eq!(flow["ui"]["messages"][0]["id"], 4000001);
    assert!(
        flow["ui"]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("access_denied"),
        "{}",
        flow["ui"]["messages"][0]
    );

    // A nonce or PKCE verifier that is not the request's: the exchange or the id_token fails.
    for tamper in ["nonce", "pkce_verifier"] {
        let (flow, authorize) = start(app, &browser, "login", "upstream").await;
        let id: uuid::Uuid = flow["id"].as_str().unwrap().parse().unwrap();
        let mut stored = app
            .state
            .flows
            .get_flow(ward::flow::FlowKind::Login, id)
            .await
            .unwrap();
        stored.internal["oidc"]["pending"]["started"][tamper] =
            json!("not-the-value-sent-with-the-request-0123456789");
        app.state.flows.update_flow(&stored).await.unwrap();
        let back = upstream_sign_in(&browser, upstream, &authorize, "cat@example.com").await;
        let response = browser.get(&back).send().await.unwrap();
        let flow = flow_at(app, &browser, "login", &location(&response)).await;
        assert_eq!(flow["ui"]["messages"][0]["id"], 4000001, "{tamper}");
        assert_eq!(whoami_status(app, &browser).await, 401, "{tamper}");
    }

    // An id_token that expired before it reached Ward (the clock moves past its hour).
    let (_, authorize) = start(app, &browser, "login", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "cat@example.com").await;
    app.state
        .clock
        .advance(std::time::Duration::from_secs(2 * 3600));
    let response = browser.get(&back).send().await.unwrap();
    let flow = flow_at(app, &browser, "login", &location(&response)).await;
    let text = flow["ui"]["messages"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("expired"), "{text}");
    assert_eq!(whoami_status(app, &browser).await, 401);

    // An unknown provider.
    let id = browser_flow(app, &browser, "login", "").await;
    let flow = get_browser_flow(app, &browser, "login", &id).await;
    let response = submit(&browser, &flow, &[("provider", "nowhere")]).await;
    let flow = flow_at(app, &browser, "login", &location(&response)).await;
    assert_eq!(flow["ui"]["messages"][0]["id"], 4000001);
}

async fn whoami_status(app: &TestApp, browser: &Client) -> u16 {
    browser
        .get(format!("{}/sessions/whoami", app.public))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn an_address_of_an_existing_account_links_only_after_its_owner_signs_in(
    app: &TestApp,
    upstream: &Upstream,
) {
    // An account that never verified the address is not offered for linking: it may have been
    // set up by someone waiting for the address's owner (pre-hijacking).
    create_user(app, "squatted@example.com").await;
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "registration", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "squatted@example.com").await;
    let response = browser.get(&back).send().await.unwrap();
    let flow = flow_at(app, &browser, "registration", &location(&response)).await;
    assert_eq!(flow["ui"]["messages"][0]["id"], 4000007);
    assert_eq!(whoami_status(app, &browser).await, 401);

    let owner = app
        .create_identity(json!({
            "schema_id": "default",
            "traits": {"email": "dora@example.com"},
            "verifiable_addresses": [{"value": "dora@example.com", "via": "email", "verified": true, "status": "completed"}],
            "credentials": {"password": {"config": {"password": PASSWORD}}},
        }))
        .await;
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "registration", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "dora@example.com").await;
    let response = browser.get(&back).send().await.unwrap();
    // Not signed in, and no second account: a login flow that explains.
    assert_eq!(whoami_status(app, &browser).await, 401);
    let flow = flow_at(app, &browser, "login", &location(&response)).await;
    let message = &flow["ui"]["messages"][0];
    assert_eq!(message["id"], 1010016);
    assert_eq!(
        message["context"]["duplicate_identifier"],
        "dora@example.com"
    );
    assert_eq!(message["context"]["provider"], "Upstream");
    let identifier = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "identifier")
        .unwrap();
    assert_eq!(identifier["attributes"]["value"], "dora@example.com");
    assert_eq!(identifier["attributes"]["type"], "hidden");
    let password_button = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| {
            node["attributes"]["name"] == "method" && node["attributes"]["value"] == "password"
        })
        .unwrap();
    assert_eq!(password_button["meta"]["label"]["id"], 1010017);
    // The upstream being linked is not offered as a way to prove the account; others are,
    // with Kratos's "Confirm with" label.
    let providers: Vec<&Value> = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|node| node["attributes"]["name"] == "provider")
        .collect();
    assert!(
        !providers
            .iter()
            .any(|node| node["attributes"]["value"] == "upstream")
    );
    assert!(
        providers
            .iter()
            .any(|node| node["attributes"]["value"] == "broken")
    );
    assert_eq!(providers[0]["meta"]["label"]["id"], 1010018);
    let list = app
        .admin_request(Method::GET, "/admin/identities", None)
        .await;
    assert_eq!(
        json_with_status(list, 200).await.as_array().unwrap().len(),
        2
    );

    // A wrong password links nothing; the right one signs in and links.
    let response = submit(
        &browser,
        &flow,
        &[
            ("method", "password"),
            ("identifier", "dora@example.com"),
            ("password", "wrong-password-1"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let response = submit(
        &browser,
        &flow,
        &[
            ("method", "password"),
            ("identifier", "dora@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let session = whoami(app, &browser).await;
    assert_eq!(session["identity"]["id"], owner["id"]);
    let stored = identity_with_credentials(app, owner["id"].as_str().unwrap()).await;
    assert_eq!(
        stored["credentials"]["oidc"]["identifiers"],
        json!(["upstream:dora@example.com"])
    );

    // From now on the upstream signs in to that account.
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "login", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "dora@example.com").await;
    browser.get(&back).send().await.unwrap();
    assert_eq!(whoami(app, &browser).await["identity"]["id"], owner["id"]);
}

async fn missing_traits_are_asked_for_and_mapper_failures_are_messages(
    app: &TestApp,
    upstream: &Upstream,
) {
    // The upstream has no address for "eve": the form asks for it, filled with the rest.
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "registration", "upstream").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "eve").await;
    let response = browser.get(&back).send().await.unwrap();
    let flow = flow_at(app, &browser, "registration", &location(&response)).await;
    assert!(
        message_ids(&flow).contains(&4000002),
        "{:?}",
        message_ids(&flow)
    );
    let nodes = flow["ui"]["nodes"].as_array().unwrap();
    let value_of = |name: &str| {
        nodes
            .iter()
            .find(|node| node["attributes"]["name"] == name)
            .map(|node| node["attributes"]["value"].clone())
    };
    assert_eq!(value_of("traits.name.first"), Some(json!("Eve")));
    let proceed = nodes
        .iter()
        .find(|node| node["attributes"]["name"] == "provider")
        .unwrap();
    assert_eq!(proceed["meta"]["label"]["id"], 1040003);
    assert!(!nodes.iter().any(|node| node["group"] == "password"));
    // Filling it in finishes the sign-up without another trip to the upstream.
    let response = submit(
        &browser,
        &flow,
        &[
            ("provider", "upstream"),
            ("traits.email", "eve@example.com"),
            ("traits.name.first", "Eve"),
        ],
    )
    .await;
    assert_eq!(location(&response), "http://127.0.0.1:4455/welcome");
    let session = whoami(app, &browser).await;
    assert_eq!(session["identity"]["traits"]["email"], "eve@example.com");
    // The address came from the form, not the upstream: not verified.
    assert_eq!(
        session["identity"]["verifiable_addresses"][0]["verified"],
        false
    );

    // A mapper that fails is a message, not a 500.
    let browser = app.browser();
    let (_, authorize) = start(app, &browser, "registration", "broken").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "fay@example.com").await;
    let response = browser.get(&back).send().await.unwrap();
    let flow = flow_at(app, &browser, "registration", &location(&response)).await;
    assert_eq!(flow["ui"]["messages"][0]["id"], 4000001);
    assert_eq!(whoami_status(app, &browser).await, 401);
}

async fn settings_link_and_unlink(app: &TestApp, upstream: &Upstream) {
    create_user(app, "gus@example.com").await;
    let browser = app.browser();
    let id = browser_flow(app, &browser, "login", "").await;
    let flow = get_browser_flow(app, &browser, "login", &id).await;
    let response = submit(
        &browser,
        &flow,
        &[
            ("method", "password"),
            ("identifier", "gus@example.com"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);

    let id = browser_flow(app, &browser, "settings", "").await;
    let flow = get_browser_flow(app, &browser, "settings", &id).await;
    let link = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| {
            node["attributes"]["name"] == "link" && node["attributes"]["value"] == "upstream"
        })
        .unwrap();
    assert_eq!(link["meta"]["label"]["id"], 1050002);
    assert_eq!(
        link["meta"]["label"]["context"],
        json!({"provider": "Upstream"})
    );
    let response = submit(&browser, &flow, &[("link", "upstream")]).await;
    assert_eq!(response.status(), 303);
    let back = upstream_sign_in(&browser, upstream, &location(&response), "gus-elsewhere").await;
    let response = browser.get(&back).send().await.unwrap();
    let flow = flow_at(app, &browser, "settings", &location(&response)).await;
    assert_eq!(flow["state"], "success");
    assert!(message_ids(&flow).contains(&1050001));
    let unlink = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "unlink")
        .unwrap();
    assert_eq!(unlink["meta"]["label"]["id"], 1050003);
    assert_eq!(unlink["attributes"]["disabled"], false);
    let session = whoami(app, &browser).await;
    let identity =
        identity_with_credentials(app, session["identity"]["id"].as_str().unwrap()).await;
    assert_eq!(
        identity["credentials"]["oidc"]["identifiers"],
        json!(["upstream:gus-elsewhere"])
    );
    // The linked upstream account now signs in to this identity.
    let other = app.browser();
    let (_, authorize) = start(app, &other, "login", "upstream").await;
    let back = upstream_sign_in(&other, upstream, &authorize, "gus-elsewhere").await;
    other.get(&back).send().await.unwrap();
    assert_eq!(
        whoami(app, &other).await["identity"]["id"],
        session["identity"]["id"]
    );

    // Unlinking removes it.
    let response = submit(&browser, &flow, &[("unlink", "upstream")]).await;
    let flow = flow_at(app, &browser, "settings", &location(&response)).await;
    assert!(message_ids(&flow).contains(&1050001));
    let identity =
        identity_with_credentials(app, session["identity"]["id"].as_str().unwrap()).await;
    assert!(
        identity["credentials"].get("oidc").is_none(),
        "{}",
        identity["credentials"]
    );

    // An account whose only way in is the upstream cannot unlink it.
    let lone = app.browser();
    let (_, authorize) = start(app, &lone, "registration", "upstream").await;
    let back = upstream_sign_in(&lone, upstream, &authorize, "hal@example.com").await;
    lone.get(&back).send().await.unwrap();
    let id = browser_flow(app, &lone, "settings", "").await;
    let flow = get_browser_flow(app, &lone, "settings", &id).await;
    let unlink = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["attributes"]["name"] == "unlink")
        .unwrap();
    assert_eq!(unlink["attributes"]["disabled"], true);
    let response = submit(&lone, &flow, &[("unlink", "upstream")]).await;
    let flow = flow_at(app, &lone, "settings", &location(&response)).await;
    assert_eq!(flow["ui"]["messages"][0]["id"], 4000001);
}

/// An id_token the upstream issued to `login` for client `ward` with `nonce`, as a native app
/// gets one on the device (here: through the code flow, done by the test itself).
async fn upstream_id_token(upstream: &Upstream, login: &str, nonce: &str) -> String {
    let device = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = "http://127.0.0.1:1/self-service/methods/oidc/callback/upstream";
    let verifier = "a-native-apps-code-verifier-0123456789-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    let mut authorize = url::Url::parse(&format!("{}/auth", upstream.issuer)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", "ward")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "device")
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let back = upstream_sign_in(&device, upstream, authorize.as_str(), login).await;
    let code = param(&back, "code").unwrap();
    let response = device
        .post(format!("{}/token", upstream.issuer))
        .basic_auth("ward", Some("ward-upstream-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    json_with_status(response, 200).await["id_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn native_apps_submit_the_upstream_id_token(app: &TestApp, upstream: &Upstream) {
    // The first time signs up (through the login flow, as Kratos does).
    let id_token = upstream_id_token(upstream, "ivy@example.com", "device-nonce-1").await;
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "oidc", "provider": "upstream", "id_token": id_token, "id_token_nonce": "device-nonce-1"});
    let answer = json_with_status(submit_json(app, &flow, body).await, 200).await;
    assert!(
        answer["session_token"]
            .as_str()
            .is_some_and(|token| !token.is_empty())
    );
    assert_eq!(answer["identity"]["traits"]["email"], "ivy@example.com");
    let id = answer["identity"]["id"].clone();

    // Then signs in, to the same identity.
    let id_token = upstream_id_token(upstream, "ivy@example.com", "device-nonce-2").await;
    let flow = api_flow(app, "login").await;
    let body = json!({"method": "oidc", "provider": "upstream", "id_token": id_token, "id_token_nonce": "device-nonce-2"});
    let answer = json_with_status(submit_json(app, &flow, body).await, 200).await;
    assert_eq!(answer["session"]["identity"]["id"], id);
    assert_eq!(
        answer["session"]["authentication_methods"][0]["provider"],
        "upstream"
    );

    // A token whose nonce is not the one submitted, or a forged one, is refused.
    let id_token = upstream_id_token(upstream, "ivy@example.com", "device-nonce-3").await;
    let forged = {
        let mut parts: Vec<String> = id_token.split('.').map(str::to_string).collect();
        let mut claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&parts[1])
                .unwrap(),
        )
        .unwrap();
        claims["sub"] = json!("someone-else@example.com");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        parts.join(".")
    };
    for (token, nonce) in [
        (id_token.as_str(), "another-nonce"),
        (forged.as_str(), "device-nonce-3"),
    ] {
        let flow = api_flow(app, "login").await;
        let body = json!({"method": "oidc", "provider": "upstream", "id_token": token, "id_token_nonce": nonce});
        let refused = json_with_status(submit_json(app, &flow, body).await, 400).await;
        assert_eq!(refused["ui"]["messages"][0]["id"], 4000001, "{refused}");
    }
}

async fn native_apps_sign_in_through_the_system_browser(app: &TestApp, upstream: &Upstream) {
    let response = app
        .client
        .get(format!(
            "{}/self-service/login/api?return_session_token_exchange_code=true&return_to={APP_CALLBACK}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    let flow = json_with_status(response, 200).await;
    let init_code = flow["session_token_exchange_code"]
        .as_str()
        .unwrap()
        .to_string();
    // Only the answer that creates the flow carries the code.
    let again = app
        .client
        .get(format!(
            "{}/self-service/login/flows?id={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert!(
        json_with_status(again, 200)
            .await
            .get("session_token_exchange_code")
            .is_none()
    );

    let answer = submit_json(
        app,
        &flow,
        json!({"method": "oidc", "provider": "upstream"}),
    )
    .await;
    let answer = json_with_status(answer, 422).await;
    assert_eq!(answer["error"]["id"], "browser_location_change_required");
    let authorize = answer["redirect_browser_to"].as_str().unwrap().to_string();

    // The system browser, which has cookies of its own from Ward: they play no part.
    let browser = app.browser();
    browser_flow(app, &browser, "login", "").await;
    let back = upstream_sign_in(&browser, upstream, &authorize, "jon@example.com").await;
    let response = browser.get(&back).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let to_app = location(&response);
    assert!(
        to_app.starts_with(&format!("{APP_CALLBACK}?code=")),
        "{to_app}"
    );
    let return_to_code = param(&to_app, "code").unwrap();
    assert_eq!(
        whoami_status(app, &browser).await,
        401,
        "the browser is not signed in"
    );

    let exchange = |init: String, code: String| async move {
        app.client
            .get(format!("{}/sessions/token-exchange", app.public))
            .query(&[("init_code", init), ("return_to_code", code)])
            .send()
            .await
            .unwrap()
    };
    let wrong = exchange(init_code.clone(), "not-the-code".into()).await;
    assert_eq!(wrong.status(), 404);
    let missing = app
        .client
        .get(format!(
            "{}/sessions/token-exchange?init_code={init_code}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let traded = exchange(init_code.clone(), return_to_code.clone()).await;
    let traded = json_with_status(traded, 200).await;
    assert_eq!(
        traded["session"]["identity"]["traits"]["email"],
        "jon@example.com"
    );
    let token = traded["session_token"].as_str().unwrap();
    let me = app
        .client
        .get(format!("{}/sessions/whoami", app.public))
        .header("X-Session-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(me, 200).await["identity"]["traits"]["email"],
        "jon@example.com"
    );
    // The codes work once.
    let replayed = exchange(init_code, return_to_code).await;
    assert_eq!(replayed.status(), 404);
    // Whoever holds the app's flow cannot reuse the upstream's answer in it: a submission
    // goes to the upstream again.
    let again = submit_json(
        app,
        &flow,
        json!({"method": "oidc", "provider": "upstream"}),
    )
    .await;
    let again = json_with_status(again, 422).await;
    assert_eq!(again["error"]["id"], "browser_location_change_required");
}
