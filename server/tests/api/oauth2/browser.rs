//! The browser's way through sign-in and consent to a code, and back out by RP-initiated logout.

use super::*;

pub(super) async fn authorization_code_with_pkce_consent_refresh_and_logout(app: &TestApp) {
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

pub(super) async fn authorization_errors_go_to_the_right_place(app: &TestApp) {
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

pub(super) async fn max_age_and_prompt_login_ask_for_a_fresh_sign_in_once(app: &TestApp) {
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

/// Login and registration flows started for an OAuth2 request carry it as Kratos carries
/// Hydra's (`oauth2_login_challenge`, `oauth2_login_request`), their pages name the application
/// and keep the request across "sign up" and "sign in" links, and either flow ends at the
/// request.
pub(super) async fn sign_in_and_sign_up_flows_carry_the_oauth2_request(app: &TestApp) {
    use crate::browser_flows::{browser_flow, csrf_of, get_browser_flow};
    let created = create_client(
        app,
        json!({"client_name": "Acme", "redirect_uris": [REDIRECT], "scope": "openid email",
               "skip_consent": true}),
    )
    .await;
    let id = created["client_id"].as_str().unwrap().to_string();
    let browser = app.browser();
    let extra = [
        ("scope", "openid email"),
        ("login_hint", "ann@example.com"),
        ("ui_locales", "de fr"),
    ];
    let started = authorize(app, &browser, &id, &extra).await;
    let login = location(&started);
    let challenge = query_of(&login)["login_challenge"].clone();
    let flow_id = browser_flow(app, &browser, "login", &login[login.find('?').unwrap()..]).await;
    let flow = get_browser_flow(app, &browser, "login", &flow_id).await;
    assert_eq!(flow["oauth2_login_challenge"], challenge.as_str());
    let request = &flow["oauth2_login_request"];
    assert_eq!(request["challenge"], challenge.as_str());
    assert_eq!(request["client"]["client_id"], id.as_str());
    assert_eq!(request["client"]["client_name"], "Acme");
    assert!(request["client"].get("client_secret").is_none());
    assert_eq!(request["requested_scope"], json!(["openid", "email"]));
    assert_eq!(request["requested_access_token_audience"], json!([]));
    assert_eq!(request["skip"], false);
    assert_eq!(request["subject"], "");
    assert_eq!(request["oidc_context"]["login_hint"], "ann@example.com");
    assert_eq!(request["oidc_context"]["ui_locales"], json!(["de", "fr"]));
    let request_url = request["request_url"].as_str().unwrap();
    assert!(request_url.starts_with(&format!("{}/oauth2/auth?", app.public)));
    assert_eq!(query_of(request_url)["client_id"], id);
    let resume = format!("{}/oauth2/auth/resume?challenge={challenge}", app.public);
    assert_eq!(flow["return_to"], resume.as_str());

    // The page names the application, and its sign-up link keeps the request.
    let page = browser
        .get(format!("{}/login?flow={flow_id}", app.ui))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("to continue to Acme"), "{page}");
    assert!(
        page.contains(&format!(
            "href=\"/registration?login_challenge={challenge}\""
        )),
        "{page}"
    );

    // A request this browser did not park starts nothing; an empty challenge names none.
    let elsewhere = app
        .browser()
        .get(format!(
            "{}/self-service/login/browser?login_challenge={challenge}",
            app.public
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json_with_status(elsewhere, 404).await["error"]["code"], 404);
    let empty = browser
        .get(format!(
            "{}/self-service/registration/browser?login_challenge=",
            app.public
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        json_with_status(empty, 200)
            .await
            .get("oauth2_login_request")
            .is_none()
    );

    // Signing up instead: the registration flow carries the request and ends at it, and the
    // request ends at the client with a code.
    let query = format!("?login_challenge={challenge}");
    let flow_id = browser_flow(app, &browser, "registration", &query).await;
    let flow = get_browser_flow(app, &browser, "registration", &flow_id).await;
    assert_eq!(
        flow["oauth2_login_request"]["client"]["client_name"],
        "Acme"
    );
    assert_eq!(flow["return_to"], resume.as_str());
    let signed_up = browser
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&[
            ("csrf_token", csrf_of(&flow).as_str()),
            ("traits.email", "ann@example.com"),
            ("password", crate::flows::PASSWORD),
            ("method", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&signed_up), resume);
    let answered = browser.get(&resume).send().await.unwrap();
    let callback = location(&answered);
    assert!(callback.starts_with(REDIRECT), "{callback}");
    assert!(query_of(&callback).contains_key("code"));
}

/// Without the provider, `login_challenge` is refused rather than ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_challenge_needs_the_provider() {
    let app = TestApp::spawn(Dialect::Sqlite).await;
    let refused = app
        .browser()
        .get(format!(
            "{}/self-service/login/browser?login_challenge=abc",
            app.public
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let body = json_with_status(refused, 400).await;
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("oauth2_server.enabled"),
        "{body}"
    );
    app.stop().await;
}
