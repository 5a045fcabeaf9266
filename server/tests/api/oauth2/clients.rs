//! Client registration, discovery and signing keys.

use super::*;

pub(super) async fn clients_are_managed_as_hydra_manages_them(app: &TestApp) {
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

pub(super) async fn discovery_and_keys(app: &TestApp) {
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

pub(super) async fn id_tokens_are_signed_with_the_newest_key_of_any_algorithm(app: &TestApp) {
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
