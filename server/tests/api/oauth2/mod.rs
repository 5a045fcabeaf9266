//! The OpenID Connect provider: clients, discovery and keys, the grants, and the browser's way
//! through sign-in and consent, as Hydra's clients expect them.

use base64::Engine;
use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ward::store::Dialect;

use crate::browser_flows::sign_up;
use crate::harness::{TestApp, json_with_status};

mod browser;
mod clients;
mod tokens;

use browser::*;
use clients::*;
use tokens::*;

const REDIRECT: &str = "http://127.0.0.1:9999/callback";
const LOGGED_OUT: &str = "http://127.0.0.1:9999/logged-out";
const VERIFIER: &str = "a-code-verifier-that-is-long-enough-for-pkce-0123456789";

async fn app(dialect: Dialect) -> Option<TestApp> {
    TestApp::spawn_with(dialect, &[("OAUTH2_SERVER_ENABLED", "true")]).await
}

macro_rules! oauth2_tests {
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

oauth2_tests!(
    clients_are_managed_as_hydra_manages_them,
    discovery_and_keys,
    client_credentials_introspection_and_revocation,
    authorization_code_with_pkce_consent_refresh_and_logout,
    authorization_errors_go_to_the_right_place,
    codes_tokens_and_requests_expire,
    id_tokens_are_signed_with_the_newest_key_of_any_algorithm,
    max_age_and_prompt_login_ask_for_a_fresh_sign_in_once,
    sign_in_and_sign_up_flows_carry_the_oauth2_request,
    private_key_jwt_authenticates_clients_with_their_keys,
);

async fn create_client(app: &TestApp, body: Value) -> Value {
    json_with_status(
        app.admin_request(Method::POST, "/admin/clients", Some(body))
            .await,
        201,
    )
    .await
}

async fn token(app: &TestApp, form: &[(&str, &str)]) -> Response {
    app.client
        .post(format!("{}/oauth2/token", app.public))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The claims of a JWT, unverified.
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Starts an authorization request in `browser`; returns the response.
async fn authorize(
    app: &TestApp,
    browser: &Client,
    client_id: &str,
    extra: &[(&str, &str)],
) -> Response {
    let code_challenge = challenge(VERIFIER);
    let mut query = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access email profile"),
        ("state", "state-1234567"),
        ("nonce", "nonce-1234567"),
        ("code_challenge", code_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (key, value) in extra {
        query.retain(|(existing, _)| existing != key);
        query.push((key, value));
    }
    browser
        .get(format!("{}/oauth2/auth", app.public))
        .query(&query)
        .send()
        .await
        .unwrap()
}

/// The hidden input `name` of an HTML page.
fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The tokens for the code in `callback`, the client authenticating with HTTP Basic.
async fn exchange_with_basic(app: &TestApp, id: &str, secret: &str, callback: &str) -> Value {
    let code = query_of(callback)["code"].clone();
    let tokens = app
        .client
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    json_with_status(tokens, 200).await
}

/// Accepts the consent page the browser was sent to; returns the code.
async fn consent_and_code(app: &TestApp, browser: &Client, consent_url: &str) -> String {
    let page = browser
        .get(consent_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let accepted = browser
        .post(format!("{}/oauth2/auth/consent", app.public))
        .form(&[
            (
                "consent_challenge",
                hidden_value(&page, "consent_challenge").as_str(),
            ),
            ("csrf_token", hidden_value(&page, "csrf_token").as_str()),
            ("consent_action", "accept"),
        ])
        .send()
        .await
        .unwrap();
    query_of(&location(&accepted))["code"].clone()
}
