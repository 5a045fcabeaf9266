//! The token endpoint: client credentials, introspection, revocation, expiry, and the claims of id_tokens.

use super::*;

pub(super) async fn client_credentials_introspection_and_revocation(app: &TestApp) {
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

pub(super) async fn codes_tokens_and_requests_expire(app: &TestApp) {
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

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A P-256 key and its public JWK with `kid`.
fn es256_key(kid: &str) -> (p256::ecdsa::SigningKey, Value) {
    let key = loop {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&seed) {
            break key;
        }
    };
    let point = key.verifying_key().to_sec1_point(false);
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": encode(point.x().unwrap()), "y": encode(point.y().unwrap()),
    });
    (key, jwk)
}

/// A compact JWS of `claims`, ES256 with `kid`.
fn es256_jwt(key: &p256::ecdsa::SigningKey, kid: &str, claims: &Value) -> String {
    use p256::ecdsa::signature::Signer as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"});
    let signed = format!(
        "{}.{}",
        encode(header.to_string().as_bytes()),
        encode(claims.to_string().as_bytes())
    );
    let signature: p256::ecdsa::Signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", encode(&signature.to_bytes()))
}

/// `private_key_jwt`: a client registered with its public keys (inline or at a URL) signs an
/// assertion per request instead of sending a secret; each assertion works once, for this
/// provider only, and not after it expired.
pub(super) async fn private_key_jwt_authenticates_clients_with_their_keys(app: &TestApp) {
    let (key, jwk) = es256_key("k1");
    let base = json!({
        "grant_types": ["client_credentials"],
        "scope": "read",
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
    });
    let with = |extra: Value| {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // Registration needs the keys, in one place, and an algorithm Ward verifies.
    for (extra, problem) in [
        (json!({}), "jwks or jwks_uri"),
        (
            json!({"jwks": {"keys": [jwk]}, "jwks_uri": "https://keys.example.com/jwks"}),
            "cannot both",
        ),
        (
            json!({"jwks": {"keys": [{"d": "c2VjcmV0", "kty": "EC", "crv": "P-256",
                "x": jwk["x"], "y": jwk["y"]}]}}),
            "public keys only",
        ),
        (
            json!({"jwks": {"keys": [jwk]}, "token_endpoint_auth_signing_alg": "HS256"}),
            "token_endpoint_auth_signing_alg",
        ),
    ] {
        let refused = app
            .admin_request(Method::POST, "/admin/clients", Some(with(extra)))
            .await;
        let body = json_with_status(refused, 400).await;
        assert_eq!(body["error"], "invalid_client_metadata");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(problem),
            "{body}"
        );
    }
    let created = create_client(app, with(json!({"jwks": {"keys": [jwk]}}))).await;
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["jwks"]["keys"][0]["kid"], "k1");
    let id = created["client_id"].as_str().unwrap().to_string();

    let now = app.state.clock.now().unix_timestamp();
    let token_url = format!("{}/oauth2/token", app.public);
    let claims = |jti: &str, aud: &str, exp: i64| json!({"iss": id, "sub": id, "aud": aud, "exp": exp, "iat": now, "jti": jti});
    let grant = |assertion: String| async move {
        token(
            app,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
            ],
        )
        .await
    };
    let first = es256_jwt(&key, "k1", &claims("jti-1", &token_url, now + 60));
    let granted = json_with_status(grant(first.clone()).await, 200).await;
    assert!(
        granted["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ory_at_")
    );
    // The issuer is an audience as good as the token endpoint (openid-client sends it).
    let issuer = json_with_status(
        app.client
            .get(format!("{}/.well-known/openid-configuration", app.public))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(
        issuer["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt"))
    );
    assert!(
        issuer["token_endpoint_auth_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256"))
    );
    let by_issuer = es256_jwt(
        &key,
        "k1",
        &claims("jti-2", issuer["issuer"].as_str().unwrap(), now + 60),
    );
    json_with_status(grant(by_issuer).await, 200).await;

    let (stranger, _) = es256_key("k1");
    let refusals = [
        (first, "used before"),
        (
            es256_jwt(
                &key,
                "k1",
                &claims("jti-3", "https://elsewhere.example.com", now + 60),
            ),
            "aud",
        ),
        (
            es256_jwt(&key, "k1", &claims("jti-4", &token_url, now - 1)),
            "expired",
        ),
        (
            es256_jwt(&key, "k1", &claims("jti-5", &token_url, now + 7200)),
            "within an hour",
        ),
        (
            es256_jwt(&stranger, "k1", &claims("jti-6", &token_url, now + 60)),
            "verifies",
        ),
        (
            es256_jwt(
                &key,
                "k1",
                &json!({"iss": id, "sub": id, "aud": token_url, "exp": now + 60}),
            ),
            "jti",
        ),
        (
            es256_jwt(
                &key,
                "k1",
                &json!({"iss": id, "sub": "someone", "aud": token_url, "exp": now + 60, "jti": "x"}),
            ),
            "iss and sub",
        ),
        ("not.a.jwt".to_string(), "not a JWS"),
    ];
    for (assertion, problem) in refusals {
        let body = json_with_status(grant(assertion).await, 401).await;
        assert_eq!(body["error"], "invalid_client");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(problem),
            "{problem}: {body}"
        );
    }
    // A secret is not how this client signs in.
    let with_secret = token(
        app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", "a-secret-it-never-had-0123456789abcdef"),
        ],
    )
    .await;
    let body = json_with_status(with_secret, 401).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("private_key_jwt")
    );

    // Keys published at a URL are fetched from there.
    let (published, published_jwk) = es256_key("k2");
    let keys = json!({"keys": [published_jwk]});
    let server = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, server).await });
    let created = create_client(
        app,
        with(json!({"jwks_uri": format!("http://{address}/jwks.json")})),
    )
    .await;
    let id = created["client_id"].as_str().unwrap();
    let assertion = es256_jwt(
        &published,
        "k2",
        &json!({"iss": id, "sub": id, "aud": token_url, "exp": now + 60, "jti": "uri-1"}),
    );
    json_with_status(grant(assertion).await, 200).await;
}
