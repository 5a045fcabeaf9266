//! The OpenID Connect provider: clients, discovery and keys, the grants, and the browser's way
//! through sign-in and consent, as Hydra's clients expect them.

use base64::Engine;
use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ward::store::Dialect;

use crate::browser_flows::sign_up;
use crate::harness::{TestApp, json_with_status};

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

async fn clients_are_managed_as_hydra_manages_them(app: &TestApp) {
    let created = create_client(
        app,
        json!({"client_name": "Acme", "redirect_uris": [REDIRECT], "scope": "openid email"}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{created}");
    assert_eq!(created["client_secret"].as_str().map(str::len), Some(32));
    assert_eq!(created["grant_types"], json!(["authorization_code"]));
    assert_eq!(created["response_types"], json!(["code"]));
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");

    // The secret is shown once.
    let path = format!("/admin/clients/{id}");
    let read = json_with_status(app.admin_request(Method::GET, &path, None).await, 200).await;
    assert!(read.get("client_secret").is_none(), "{read}");
    assert_eq!(read["client_name"], "Acme");

    // A second client, then pages of one.
    create_client(app, json!({"client_id": "second", "token_endpoint_auth_method": "none", "redirect_uris": [REDIRECT]})).await;
    let duplicate = app
        .admin_request(
            Method::POST,
            "/admin/clients",
            Some(json!({"client_id": "second"})),
        )
        .await;
    assert_eq!(duplicate.status(), 409);
    let page = app
        .admin_request(Method::GET, "/admin/clients?page_size=1", None)
        .await;
    let link = page.headers()["link"].to_str().unwrap().to_string();
    let first = json_with_status(page, 200).await;
    assert_eq!(first.as_array().map(Vec::len), Some(1));
    let next = link
        .split(", ")
        .find(|part| part.ends_with("rel=\"next\""))
        .unwrap_or_else(|| panic!("no next page in {link}"));
    let next = next.trim_start_matches('<').split('>').next().unwrap();
    let second = json_with_status(app.admin_request(Method::GET, next, None).await, 200).await;
    assert_eq!(second.as_array().map(Vec::len), Some(1));
    assert_ne!(first[0]["client_id"], second[0]["client_id"]);
    let named = app
        .admin_request(Method::GET, "/admin/clients?client_name=Acme", None)
        .await;
    assert_eq!(
        json_with_status(named, 200).await.as_array().map(Vec::len),
        Some(1)
    );

    // Patch and replace keep the id and the secret.
    let patch = json!([{"op": "replace", "path": "/client_name", "value": "Acme Shop"}]);
    let patched = json_with_status(
        app.admin_request(Method::PATCH, &path, Some(patch)).await,
        200,
    )
    .await;
    assert_eq!(patched["client_name"], "Acme Shop");
    let moved = json!([{"op": "replace", "path": "/client_id", "value": "other"}]);
    assert_eq!(
        app.admin_request(Method::PATCH, &path, Some(moved))
            .await
            .status(),
        400
    );
    let replaced = json_with_status(
        app.admin_request(Method::PUT, &path, Some(json!({"client_name": "Acme", "redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}))).await,
        200,
    )
    .await;
    assert_eq!(replaced["grant_types"], json!(["client_credentials"]));
    assert!(replaced.get("client_secret").is_none());
    let secret = created["client_secret"].as_str().unwrap();
    let granted = token(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", secret),
        ],
    )
    .await;
    // The secret still works, but only with the registered method (Basic).
    assert_eq!(
        json_with_status(granted, 401).await["error"],
        "invalid_client"
    );

    // Unsafe or unknown metadata is refused with Hydra's errors.
    for (body, error) in [
        (
            json!({"grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (json!({"client_secret": "short"}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": ["https://app.example/cb#frag"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "post_logout_redirect_uris": ["https://elsewhere.example/"]}),
            "invalid_client_metadata",
        ),
    ] {
        let refused = app
            .admin_request(Method::POST, "/admin/clients", Some(body.clone()))
            .await;
        assert_eq!(
            json_with_status(refused, 400).await["error"],
            error,
            "{body}"
        );
    }

    assert_eq!(
        app.admin_request(Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    let gone = json_with_status(app.admin_request(Method::GET, &path, None).await, 404).await;
    assert_eq!(gone["error"], "Unable to locate the resource");
}

async fn discovery_and_keys(app: &TestApp) {
    let issuer = app.state.urls.public.to_string();
    for path in ["openid-configuration", "oauth-authorization-server"] {
        let response = app
            .client
            .get(format!("{}/.well-known/{path}", app.public))
            .send()
            .await
            .unwrap();
        let document = json_with_status(response, 200).await;
        assert_eq!(document["issuer"], issuer.as_str());
        assert_eq!(document["token_endpoint"], format!("{issuer}oauth2/token"));
        assert_eq!(
            document["authorization_endpoint"],
            format!("{issuer}oauth2/auth")
        );
        assert_eq!(
            document["jwks_uri"],
            format!("{issuer}.well-known/jwks.json")
        );
        assert_eq!(
            document["end_session_endpoint"],
            format!("{issuer}oauth2/sessions/logout")
        );
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(document["response_types_supported"], json!(["code"]));
        assert_eq!(
            document["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        let grants = document["grant_types_supported"].as_array().unwrap();
        assert!(!grants.contains(&json!("implicit")) && !grants.contains(&json!("password")));
    }
    let jwks = json_with_status(
        app.client
            .get(format!("{}/.well-known/jwks.json", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        assert!(key.get("d").is_none(), "no private part: {key}");
    }

    // Rotation adds a key; the JWKS keeps the old one, and the new one signs.
    let set = "/admin/keys/hydra.openid.id-token";
    let added = json_with_status(
        app.admin_request(
            Method::POST,
            set,
            Some(json!({"alg": "RS256", "use": "sig", "kid": "rotated"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(added["keys"][0]["kid"], "rotated");
    let listed = json_with_status(app.admin_request(Method::GET, set, None).await, 200).await;
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed["keys"][0]["kid"], "rotated");
    let refused = app
        .admin_request(Method::POST, set, Some(json!({"alg": "HS256"})))
        .await;
    assert_eq!(
        json_with_status(refused, 400).await["error"],
        "invalid_request"
    );
    assert_eq!(
        app.admin_request(Method::GET, "/admin/keys/other", None)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.admin_request(Method::DELETE, &format!("{set}/rotated"), None)
            .await
            .status(),
        204
    );
}

async fn client_credentials_introspection_and_revocation(app: &TestApp) {
    let created = create_client(
        app,
        json!({"grant_types": ["client_credentials"], "scope": "read write", "audience": ["https://api.example"]}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    let grant = |form: Vec<(&'static str, &'static str)>, authorization: String| {
        app.client
            .post(format!("{}/oauth2/token", app.public))
            .header("authorization", authorization)
            .form(&form)
            .send()
    };
    let response = grant(
        vec![
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("audience", "https://api.example"),
        ],
        basic(id, secret),
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let issued = json_with_status(response, 200).await;
    let access = issued["access_token"].as_str().unwrap().to_string();
    assert!(access.starts_with("ory_at_"), "{issued}");
    assert_eq!(issued["token_type"], "bearer");
    assert_eq!(issued["expires_in"], 3600);
    assert_eq!(issued["scope"], "read");
    assert!(issued.get("refresh_token").is_none() && issued.get("id_token").is_none());

    // Wrong secret, unknown client, a scope or audience the client may not have.
    let wrong = grant(
        vec![("grant_type", "client_credentials")],
        basic(id, "wrong-secret"),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        json_with_status(wrong, 401).await["error"],
        "invalid_client"
    );
    let unknown = grant(
        vec![("grant_type", "client_credentials")],
        basic("nobody", "x"),
    )
    .await
    .unwrap();
    assert_eq!(
        json_with_status(unknown, 401).await["error"],
        "invalid_client"
    );
    let scope = grant(
        vec![("grant_type", "client_credentials"), ("scope", "admin")],
        basic(id, secret),
    )
    .await
    .unwrap();
    assert_eq!(json_with_status(scope, 400).await["error"], "invalid_scope");
    let audience = grant(
        vec![
            ("grant_type", "client_credentials"),
            ("audience", "https://other.example"),
        ],
        basic(id, secret),
    )
    .await
    .unwrap();
    assert_eq!(
        json_with_status(audience, 400).await["error"],
        "invalid_request"
    );
    let implicit = grant(vec![("grant_type", "password")], basic(id, secret))
        .await
        .unwrap();
    assert_eq!(
        json_with_status(implicit, 400).await["error"],
        "invalid_request"
    );
    let code = grant(
        vec![("grant_type", "authorization_code"), ("code", "ory_ac_x")],
        basic(id, secret),
    )
    .await
    .unwrap();
    assert_eq!(
        json_with_status(code, 400).await["error"],
        "unauthorized_client"
    );

    // Introspection (admin) sees the token; the client's own revocation ends it.
    let introspect = |token: String| async move {
        let response = app
            .client
            .post(format!("{}/admin/oauth2/introspect", app.admin))
            .form(&[("token", token.as_str()), ("client_id", "ignored")])
            .send()
            .await
            .unwrap();
        json_with_status(response, 200).await
    };
    let active = introspect(access.clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], id);
    assert_eq!(active["client_id"], id);
    assert_eq!(active["scope"], "read");
    assert_eq!(active["aud"], json!(["https://api.example"]));
    assert_eq!(active["token_use"], "access_token");
    assert_eq!(
        introspect("ory_at_unknown".into()).await,
        json!({"active": false})
    );

    let other = create_client(app, json!({"grant_types": ["client_credentials"]})).await;
    let revoke = |id: String, secret: String, token: String| async move {
        app.client
            .post(format!("{}/oauth2/revoke", app.public))
            .header("authorization", basic(&id, &secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
    };
    // Another client's revocation is a silent no-op.
    let foreign = revoke(
        other["client_id"].as_str().unwrap().into(),
        other["client_secret"].as_str().unwrap().into(),
        access.clone(),
    )
    .await;
    assert_eq!(foreign.status(), 200);
    assert_eq!(introspect(access.clone()).await["active"], true);
    let revoked = revoke(id.into(), secret.into(), access.clone()).await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(access).await, json!({"active": false}));

    // A public client cannot use client credentials.
    let public = create_client(app, json!({"client_id": "spa", "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]})).await;
    let refused = token(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", public["client_id"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        json_with_status(refused, 400).await["error"],
        "invalid_grant"
    );
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

async fn authorization_code_with_pkce_consent_refresh_and_logout(app: &TestApp) {
    let created = create_client(
        app,
        json!({
            "client_name": "Acme",
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [LOGGED_OUT],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid offline_access email profile",
            "token_endpoint_auth_method": "client_secret_post",
        }),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let browser = app.browser();

    // Not signed in: off to Ward's login, which comes back to the request.
    let started = authorize(app, &browser, &id, &[]).await;
    assert_eq!(started.status(), 303);
    let login = location(&started);
    assert!(
        login.starts_with(&format!(
            "{}/self-service/login/browser?return_to=",
            app.public
        )),
        "{login}"
    );
    let resume = query_of(&login)["return_to"].clone();
    assert!(resume.starts_with(&format!("{}/oauth2/auth/resume?challenge=", app.public)));
    // The return_to is one Ward accepts.
    let login_flow = browser.get(&login).send().await.unwrap();
    assert_eq!(login_flow.status(), 303);

    sign_up(app, &browser, "oidc@example.com").await;
    let consent = browser.get(&resume).send().await.unwrap();
    assert_eq!(consent.status(), 303);
    let consent_url = location(&consent);
    assert!(
        consent_url.starts_with(&format!("{}/consent?consent_challenge=", app.ui)),
        "{consent_url}"
    );

    // The consent page names the client and the scopes; its form posts back with a token.
    let page = browser
        .get(&consent_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Allow Acme to use your account?"), "{page}");
    assert!(page.contains("See your e-mail address"));
    assert!(page.contains("oidc@example.com"));
    let challenge_id = hidden_value(&page, "consent_challenge");
    let csrf = hidden_value(&page, "csrf_token");
    let forged = browser
        .post(format!("{}/oauth2/auth/consent", app.public))
        .form(&[
            ("consent_challenge", challenge_id.as_str()),
            ("csrf_token", "forged"),
            ("consent_action", "accept"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&forged).starts_with(&format!("{}/error?id=", app.ui)));
    // Another browser cannot see or answer it.
    let stranger = app
        .browser()
        .get(&consent_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(stranger.contains("consent-missing"), "{stranger}");

    let accepted = browser
        .post(format!("{}/oauth2/auth/consent", app.public))
        .form(&[
            ("consent_challenge", challenge_id.as_str()),
            ("csrf_token", csrf.as_str()),
            ("remember", "true"),
            ("consent_action", "accept"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 303);
    let callback = location(&accepted);
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let answer = query_of(&callback);
    assert_eq!(answer["state"], "state-1234567");
    assert_eq!(answer["scope"], "openid offline_access email profile");
    let code = answer["code"].clone();
    assert!(code.starts_with("ory_ac_"));

    // The exchange checks PKCE and the redirect URI.
    let exchange = |code: String, verifier: &'static str, redirect: &'static str| {
        let (id, secret) = (id.clone(), secret.clone());
        async move {
            token(
                app,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await
        }
    };
    let wrong = exchange(
        code.clone(),
        "a-wrong-verifier-that-is-long-enough-for-pkce-000000000",
        REDIRECT,
    )
    .await;
    assert_eq!(json_with_status(wrong, 400).await["error"], "invalid_grant");
    let elsewhere = exchange(code.clone(), VERIFIER, "http://127.0.0.1:9999/other").await;
    assert_eq!(
        json_with_status(elsewhere, 400).await["error"],
        "invalid_grant"
    );
    let tokens = json_with_status(exchange(code.clone(), VERIFIER, REDIRECT).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    assert!(refresh.starts_with("ory_rt_"), "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_string();

    // The id_token verifies against the JWKS, with the claims relying parties read.
    let jwks: openidconnect::core::CoreJsonWebKeySet =
        reqwest::get(format!("{}/.well-known/jwks.json", app.public))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let verifier = openidconnect::core::CoreIdTokenVerifier::new_confidential_client(
        openidconnect::ClientId::new(id.clone()),
        openidconnect::ClientSecret::new(secret.clone()),
        openidconnect::IssuerUrl::new(app.state.urls.public.to_string()).unwrap(),
        jwks,
    );
    let parsed: openidconnect::core::CoreIdToken = id_token.parse().unwrap();
    let nonce = openidconnect::Nonce::new("nonce-1234567".into());
    parsed
        .claims(&verifier, &nonce)
        .expect("the id_token verifies");
    let claims = claims_of(&id_token);
    let identity = json_with_status(
        browser
            .get(format!("{}/sessions/whoami", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(claims["sub"], identity["identity"]["id"]);
    assert_eq!(claims["sid"], identity["id"]);
    assert_eq!(claims["aud"], json!([id]));
    assert_eq!(claims["email"], "oidc@example.com");
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["acr"], "aal1");
    assert_eq!(claims["amr"], json!(["password"]));
    assert!(claims["at_hash"].is_string() && claims["auth_time"].is_i64());

    let userinfo = |token: String| async move {
        app.client
            .get(format!("{}/userinfo", app.public))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    };
    let info = json_with_status(userinfo(access.clone()).await, 200).await;
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["email"], "oidc@example.com");
    let garbage = userinfo("ory_at_garbage".into()).await;
    assert!(
        garbage.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    assert_eq!(garbage.status(), 401);

    // Refresh rotates: the new pair works, the old access token is gone; replaying the old
    // refresh token revokes the whole grant, the newest tokens included.
    let refreshed = |refresh: String| {
        let (id, secret) = (id.clone(), secret.clone());
        async move {
            token(
                app,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await
        }
    };
    let rotated = json_with_status(refreshed(refresh.clone()).await, 200).await;
    let new_access = rotated["access_token"].as_str().unwrap().to_string();
    let new_refresh = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, refresh);
    assert_eq!(
        claims_of(rotated["id_token"].as_str().unwrap())["nonce"],
        "nonce-1234567"
    );
    assert_eq!(userinfo(access.clone()).await.status(), 401);
    assert_eq!(userinfo(new_access.clone()).await.status(), 200);
    let replayed = json_with_status(refreshed(refresh).await, 400).await;
    assert_eq!(replayed["error"], "invalid_grant");
    assert_eq!(userinfo(new_access).await.status(), 401);
    assert_eq!(
        json_with_status(refreshed(new_refresh).await, 400).await["error"],
        "invalid_grant"
    );

    // The consent is remembered: the next request comes straight back with a code, even
    // with prompt=none. Replaying that code revokes what it gave.
    let again = authorize(app, &browser, &id, &[("prompt", "none")]).await;
    let callback = location(&again);
    assert!(callback.starts_with(REDIRECT), "{callback}");
    let code = query_of(&callback)["code"].clone();
    let tokens = json_with_status(exchange(code.clone(), VERIFIER, REDIRECT).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let replayed = exchange(code, VERIFIER, REDIRECT).await;
    assert_eq!(
        json_with_status(replayed, 400).await["error"],
        "invalid_grant"
    );
    assert_eq!(userinfo(access).await.status(), 401);

    // The admin sees and revokes the remembered consent; then consent is asked again.
    let subject = identity["identity"]["id"].as_str().unwrap();
    let consents = json_with_status(
        app.admin_request(
            Method::GET,
            &format!("/admin/oauth2/auth/sessions/consent?subject={subject}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        consents[0]["consent_request"]["client"]["client_id"],
        id.as_str()
    );
    assert_eq!(
        consents[0]["grant_scope"],
        json!(["openid", "offline_access", "email", "profile"])
    );
    let forgotten = app
        .admin_request(
            Method::DELETE,
            &format!("/admin/oauth2/auth/sessions/consent?subject={subject}&client={id}"),
            None,
        )
        .await;
    assert_eq!(forgotten.status(), 204);
    let asks = authorize(app, &browser, &id, &[("prompt", "none")]).await;
    assert_eq!(query_of(&location(&asks))["error"], "consent_required");

    // RP-initiated logout with the id_token as hint ends the Ward session.
    let logout = browser
        .get(format!("{}/oauth2/sessions/logout", app.public))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", LOGGED_OUT),
            ("state", "bye-1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&logout), format!("{LOGGED_OUT}?state=bye-1234"));
    let whoami = browser
        .get(format!("{}/sessions/whoami", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), 401);
    let unregistered = browser
        .get(format!("{}/oauth2/sessions/logout", app.public))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(location(&unregistered).starts_with(&format!("{}/error?id=", app.ui)));
}

async fn authorization_errors_go_to_the_right_place(app: &TestApp) {
    let created = create_client(
        app,
        json!({"client_id": "native", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "scope": "openid offline_access email profile"}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap();
    let browser = app.browser();
    let error_page = format!("{}/error?id=", app.ui);

    // Never redirected to: an unknown client, an unregistered redirect URI.
    for extra in [
        vec![("client_id", "nobody")],
        vec![("redirect_uri", "https://evil.example/cb")],
    ] {
        let response = authorize(app, &browser, id, &extra).await;
        assert_eq!(response.status(), 303);
        assert!(location(&response).starts_with(&error_page), "{extra:?}");
    }
    // A loopback redirect URI may use any port (native apps).
    let loopback = authorize(
        app,
        &browser,
        id,
        &[
            ("redirect_uri", "http://127.0.0.1:50123/callback"),
            ("prompt", "none"),
        ],
    )
    .await;
    assert!(
        location(&loopback).starts_with("http://127.0.0.1:50123/callback?error=login_required")
    );

    // Back to the client with the error and the state.
    for (extra, error) in [
        (vec![("state", "short")], "invalid_state"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("nonce", "short")], "insufficient_entropy"),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let response = authorize(app, &browser, id, &extra).await;
        let answer = query_of(&location(&response));
        assert_eq!(answer["error"], error, "{extra:?}");
        assert!(answer.contains_key("error_description"));
    }

    // A resume link from another browser leads nowhere.
    let resume = app
        .browser()
        .get(format!(
            "{}/oauth2/auth/resume?challenge=unknown",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert!(location(&resume).starts_with(&error_page));
    // Without an id_token_hint, logout asks the user on Ward's page.
    let logout = browser
        .get(format!("{}/oauth2/sessions/logout", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&logout), format!("{}/welcome", app.ui));
    let refused = browser
        .get(format!(
            "{}/oauth2/sessions/logout?state=abcdefgh",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert!(location(&refused).starts_with(&error_page));
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

async fn codes_tokens_and_requests_expire(app: &TestApp) {
    let created = create_client(
        app,
        json!({
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid offline_access email profile",
        }),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let post_token = |form: Vec<(&'static str, String)>| {
        app.client
            .post(format!("{}/oauth2/token", app.public))
            .header("authorization", basic.clone())
            .form(&form)
            .send()
    };
    let browser = app.browser();
    sign_up(app, &browser, "expiry@example.com").await;
    let clock = &app.state.clock;
    let minutes = |n: u64| std::time::Duration::from_secs(n * 60);

    // A parked request lasts 30 minutes (ttl.login_consent_request).
    let consent_url = location(&authorize(app, &browser, &id, &[]).await);
    clock.advance(minutes(31));
    let page = browser
        .get(&consent_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("consent-missing"), "{page}");

    // A code lasts 10 minutes (ttl.auth_code).
    let consent_url = location(&authorize(app, &browser, &id, &[]).await);
    let code = consent_and_code(app, &browser, &consent_url).await;
    clock.advance(minutes(11));
    let exchange = |code: String| {
        post_token(vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", REDIRECT.into()),
            ("code_verifier", VERIFIER.into()),
        ])
    };
    let late = json_with_status(exchange(code).await.unwrap(), 400).await;
    assert_eq!(late["error"], "invalid_grant");
    assert!(
        late["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // An access token lasts an hour (ttl.access_token), a refresh token 30 days.
    let consent_url = location(&authorize(app, &browser, &id, &[]).await);
    let code = consent_and_code(app, &browser, &consent_url).await;
    let tokens = json_with_status(exchange(code).await.unwrap(), 200).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    clock.advance(minutes(61));
    let userinfo = app
        .client
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let introspected = app
        .client
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(introspected, 200).await,
        json!({"active": false})
    );
    let refreshed = post_token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
    ])
    .await
    .unwrap();
    let refreshed = json_with_status(refreshed, 200).await;
    clock.advance(minutes(721 * 60));
    let stale = post_token(vec![
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            refreshed["refresh_token"].as_str().unwrap().to_string(),
        ),
    ])
    .await
    .unwrap();
    assert_eq!(json_with_status(stale, 400).await["error"], "invalid_grant");
}

/// `oauth2_server.claims_mapper_url`: a Jsonnet program adds claims from traits and public
/// metadata, per scope; it cannot replace the standard ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claims_mapper_adds_custom_claims() {
    let mapper = r#"
        local ctx = std.extVar('ctx');
        {
          [if std.member(ctx.scopes, 'profile') then 'team']: ctx.identity.metadata_public.team,
          client: ctx.client_id,
          email: 'someone-else@example.com',
        }
    "#;
    let url = format!(
        "base64://{}",
        base64::engine::general_purpose::STANDARD.encode(mapper)
    );
    let app = TestApp::spawn_with(
        Dialect::Sqlite,
        &[
            ("OAUTH2_SERVER_ENABLED", "true"),
            ("OAUTH2_SERVER_CLAIMS_MAPPER_URL", url.as_str()),
        ],
    )
    .await
    .unwrap();
    let created = create_client(
        &app,
        json!({"redirect_uris": [REDIRECT], "scope": "openid email profile", "skip_consent": true}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let browser = app.browser();
    sign_up(&app, &browser, "mapped@example.com").await;
    let whoami = json_with_status(
        browser
            .get(format!("{}/sessions/whoami", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let identity = whoami["identity"]["id"].as_str().unwrap();
    let patch = json!([{"op": "add", "path": "/metadata_public", "value": {"team": "red"}}]);
    let patched = app
        .admin_request(
            Method::PATCH,
            &format!("/admin/identities/{identity}"),
            Some(patch),
        )
        .await;
    json_with_status(patched, 200).await;

    // skip_consent: straight back with a code.
    let callback =
        location(&authorize(&app, &browser, &id, &[("scope", "openid email profile")]).await);
    let tokens = exchange_with_basic(&app, &id, &secret, &callback).await;
    let claims = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["team"], "red", "{claims}");
    assert_eq!(claims["client"], id.as_str());
    assert_eq!(claims["email"], "mapped@example.com");
    let info = app
        .client
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let info = json_with_status(info, 200).await;
    assert_eq!(info["team"], "red");
    assert_eq!(info["email"], "mapped@example.com");
    app.stop().await;
}

async fn id_tokens_are_signed_with_the_newest_key_of_any_algorithm(app: &TestApp) {
    let created = create_client(
        app,
        json!({"redirect_uris": [REDIRECT], "scope": "openid email", "skip_consent": true}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let browser = app.browser();
    sign_up(app, &browser, "keys@example.com").await;
    for (alg, expected) in [
        (
            "ES256",
            openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ),
        ("EdDSA", openidconnect::core::CoreJwsSigningAlgorithm::EdDsa),
        (
            "RS256",
            openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
    ] {
        let rotated = app
            .admin_request(
                Method::POST,
                "/admin/keys/hydra.openid.id-token",
                Some(json!({"alg": alg})),
            )
            .await;
        let kid = json_with_status(rotated, 201).await["keys"][0]["kid"]
            .as_str()
            .unwrap()
            .to_string();
        let discovery = json_with_status(
            app.client
                .get(format!("{}/.well-known/openid-configuration", app.public))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(
            discovery["id_token_signing_alg_values_supported"],
            json!([alg])
        );

        let callback = location(&authorize(app, &browser, &id, &[("scope", "openid email")]).await);
        let id_token = exchange_with_basic(app, &id, &secret, &callback).await["id_token"]
            .as_str()
            .unwrap()
            .to_string();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(id_token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], alg);
        assert_eq!(header["kid"], kid.as_str());
        // A relying party checks it against the JWKS, which has every key.
        let jwks: openidconnect::core::CoreJsonWebKeySet =
            reqwest::get(format!("{}/.well-known/jwks.json", app.public))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let verifier = openidconnect::core::CoreIdTokenVerifier::new_confidential_client(
            openidconnect::ClientId::new(id.clone()),
            openidconnect::ClientSecret::new(secret.clone()),
            openidconnect::IssuerUrl::new(app.state.urls.public.to_string()).unwrap(),
            jwks,
        )
        .set_allowed_algs(vec![expected]);
        let parsed: openidconnect::core::CoreIdToken = id_token.parse().unwrap();
        parsed
            .claims(&verifier, |_: Option<&openidconnect::Nonce>| Ok(()))
            .unwrap_or_else(|error| panic!("{alg}: {error}"));
    }
}

async fn max_age_and_prompt_login_ask_for_a_fresh_sign_in_once(app: &TestApp) {
    let created = create_client(
        app,
        json!({"redirect_uris": [REDIRECT], "scope": "openid", "skip_consent": true}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_string();
    let browser = app.browser();
    sign_up(app, &browser, "fresh@example.com").await;
    for extra in [("max_age", "0"), ("prompt", "login")] {
        // Signed in, but not since the request began (and, for max_age=0, not within the
        // same second): sign in again (a refresh login).
        app.state.clock.advance(std::time::Duration::from_secs(2));
        let started = authorize(app, &browser, &id, &[("scope", "openid"), extra]).await;
        let login = location(&started);
        assert!(login.contains("refresh=true"), "{extra:?}: {login}");
        let flow_id = crate::browser_flows::browser_flow(
            app,
            &browser,
            "login",
            &login[login.find('?').unwrap()..],
        )
        .await;
        let flow = crate::browser_flows::get_browser_flow(app, &browser, "login", &flow_id).await;
        let signed_in = browser
            .post(flow["ui"]["action"].as_str().unwrap())
            .form(&[
                ("csrf_token", crate::browser_flows::csrf_of(&flow).as_str()),
                ("identifier", "fresh@example.com"),
                ("password", crate::flows::PASSWORD),
                ("method", "password"),
            ])
            .send()
            .await
            .unwrap();
        let resume = location(&signed_in);
        assert!(
            resume.contains("/oauth2/auth/resume"),
            "{extra:?}: {resume}"
        );
        // Back at the request, the new sign-in is enough (even seconds later): the code, not
        // another login.
        app.state.clock.advance(std::time::Duration::from_secs(2));
        let answered = browser.get(&resume).send().await.unwrap();
        assert!(
            location(&answered).starts_with(REDIRECT),
            "{extra:?}: {}",
            location(&answered)
        );
    }
}
