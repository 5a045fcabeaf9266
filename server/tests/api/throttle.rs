//! Account protection (`security.brute_force`): counters shared through the database, counted
//! before each check, per identifier and network, per identity, per address; refusals as 429
//! for API clients and as a form message for browsers.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use ward::store::Dialect;

use crate::browser_flows::{browser_flow, csrf_of, get_browser_flow};
use crate::flows::{PASSWORD, register, ui_message_ids};
use crate::harness::{TestApp, json_with_status};

const TOO_MANY: u64 = 4009001;

macro_rules! both_dialects {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(ward::store::Dialect::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if crate::harness::TestDatabase::new(ward::store::Dialect::Postgres).await.is_none() {
                        return;
                    }
                    super::$name(ward::store::Dialect::Postgres).await;
                }
            )*
        }
    };
}

both_dialects!(
    a_blocked_pair_spares_other_networks,
    concurrent_guesses_cannot_exceed_the_budget,
    browsers_are_told_how_long_to_wait,
    identifiers_are_slowed_then_locked_when_configured,
    networks_are_limited_across_identifiers,
    second_factors_are_limited_per_identity,
    a_code_raced_by_two_requests_is_accepted_once,
    mails_are_limited_per_address_and_network,
    registrations_per_network_when_configured,
    replicas_share_their_counters,
    forwarded_addresses_count_only_from_trusted_proxies,
);

async fn app_with(dialect: Dialect, env: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_with(dialect, env).await.unwrap()
}

/// A password sign-in over a new API flow from `client`.
async fn sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    identifier: &str,
    password: &str,
) -> reqwest::Response {
    sign_in_at(&app.public, client, identifier, password).await
}

async fn sign_in_at(
    public: &str,
    client: &reqwest::Client,
    identifier: &str,
    password: &str,
) -> reqwest::Response {
    let body = json!({"method": "password", "identifier": identifier, "password": password});
    submit_new(public, client, "login", body).await
}

/// Starts an API flow of `kind` from `client` and submits `body` to it.
async fn submit_new(
    public: &str,
    client: &reqwest::Client,
    kind: &str,
    body: Value,
) -> reqwest::Response {
    let flow: Value = client
        .get(format!("{public}/self-service/{kind}/api"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    client
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn assert_refused(response: reqwest::Response) -> u64 {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a refusal says when to retry")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = json_with_status(response, 429).await;
    assert_eq!(body["error"]["id"], "too_many_requests");
    assert_eq!(body["error"]["code"], 429);
    assert!(retry_after >= 1);
    retry_after
}

async fn throttle_of(app: &TestApp, identity: &str) -> Value {
    let path = format!("/admin/identities/{identity}/throttle");
    json_with_status(app.admin_request(Method::GET, &path, None).await, 200).await
}

async fn a_blocked_pair_spares_other_networks(dialect: Dialect) {
    let app = app_with(dialect, &[]).await;
    let registered = register(&app, "pair@example.com").await;
    let id = registered["identity"]["id"].as_str().unwrap();
    let attacker = app.client_from("127.0.0.2");
    for _ in 0..5 {
        let wrong = sign_in(&app, &attacker, "pair@example.com", "wrong password!").await;
        let flow = json_with_status(wrong, 400).await;
        assert_eq!(ui_message_ids(&flow), [4000006]);
    }
    // Past the budget even the right password is refused from that network.
    let retry_after =
        assert_refused(sign_in(&app, &attacker, "pair@example.com", PASSWORD).await).await;
    assert!(
        retry_after > 14 * 60 && retry_after <= 15 * 60,
        "{retry_after}"
    );
    // An unknown identifier is refused the same way after as many tries.
    for _ in 0..5 {
        let wrong = sign_in(&app, &attacker, "nobody@example.com", "wrong password!").await;
        json_with_status(wrong, 400).await;
    }
    assert_refused(sign_in(&app, &attacker, "nobody@example.com", PASSWORD).await).await;

    let counters = throttle_of(&app, id).await;
    let password = counters
        .as_array()
        .unwrap()
        .iter()
        .find(|counter| counter["scope"] == "password")
        .unwrap_or_else(|| panic!("no password counter in {counters}"));
    assert_eq!(password["failures"], 6);
    assert!(password["blocked_until"].is_string(), "{password}");

    // The owner, on another network, signs in; that resets the identifier's counters.
    let owner = app.client_from("127.0.0.3");
    json_with_status(
        sign_in(&app, &owner, "pair@example.com", PASSWORD).await,
        200,
    )
    .await;
    let left = throttle_of(&app, id).await;
    assert!(
        left.as_array()
            .unwrap()
            .iter()
            .all(|counter| counter["scope"] != "identifier"),
        "{left}"
    );

    // An operator unblocks the identity; or the window ends.
    let path = format!("/admin/identities/{id}/throttle");
    let cleared = app.admin_request(Method::DELETE, &path, None).await;
    assert_eq!(cleared.status(), 204);
    assert_eq!(throttle_of(&app, id).await, json!([]));
    json_with_status(
        sign_in(&app, &attacker, "pair@example.com", PASSWORD).await,
        200,
    )
    .await;
    for _ in 0..6 {
        sign_in(&app, &attacker, "pair@example.com", "wrong password!").await;
    }
    assert_refused(sign_in(&app, &attacker, "pair@example.com", PASSWORD).await).await;
    app.state.clock.advance(Duration::from_secs(15 * 60));
    json_with_status(
        sign_in(&app, &attacker, "pair@example.com", PASSWORD).await,
        200,
    )
    .await;

    let unknown = format!("/admin/identities/{}/throttle", uuid::Uuid::new_v4());
    assert_eq!(
        app.admin_request(Method::GET, &unknown, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.admin_request(Method::DELETE, &unknown, None)
            .await
            .status(),
        404
    );
    let metrics = app
        .client
        .get(format!("{}/metrics/prometheus", app.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("ward_throttle_refusals_total{scope=\"password\"} 4"),
        "{metrics}"
    );
    app.stop().await;
}

async fn concurrent_guesses_cannot_exceed_the_budget(dialect: Dialect) {
    let app = app_with(dialect, &[]).await;
    register(&app, "race@example.com").await;
    let attacker = app.client_from("127.0.0.4");
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (public, attacker) = (app.public.clone(), attacker.clone());
        guesses.spawn(async move {
            let guess = format!("guess number {n}");
            sign_in_at(&public, &attacker, "race@example.com", &guess)
                .await
                .status()
                .as_u16()
        });
    }
    let statuses: Vec<u16> = guesses.join_all().await;
    let judged = statuses.iter().filter(|status| **status == 400).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!((judged, refused), (5, 15), "{statuses:?}");
    app.stop().await;
}

async fn browsers_are_told_how_long_to_wait(dialect: Dialect) {
    let app = app_with(
        dialect,
        &[("SECURITY_BRUTE_FORCE_PASSWORD_MAX_FAILURES", "1")],
    )
    .await;
    register(&app, "browser@example.com").await;
    let browser = app.browser();
    let flow_id = browser_flow(&app, &browser, "login", "").await;
    let flow = get_browser_flow(&app, &browser, "login", &flow_id).await;
    let csrf = csrf_of(&flow);
    let mut last = None;
    for _ in 0..2 {
        let form = [
            ("method", "password"),
            ("identifier", "browser@example.com"),
            ("password", "not the password"),
            ("csrf_token", csrf.as_str()),
        ];
        let answer = browser
            .post(flow["ui"]["action"].as_str().unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
        // Back to the form, never a 429 page.
        assert_eq!(answer.status(), 303);
        last = Some(get_browser_flow(&app, &browser, "login", &flow_id).await);
    }
    let shown = last.unwrap();
    assert_eq!(ui_message_ids(&shown), [TOO_MANY], "{shown}");
    let context = &shown["ui"]["messages"][0]["context"];
    assert_eq!(context["retry_after_minutes"], 15);
    assert!(
        shown["ui"]["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("15 minutes")
    );
    app.stop().await;
}

async fn identifiers_are_slowed_then_locked_when_configured(dialect: Dialect) {
    let app = app_with(
        dialect,
        &[
            ("SECURITY_BRUTE_FORCE_IDENTIFIER_MAX_FAILURES", "2"),
            ("SECURITY_BRUTE_FORCE_IDENTIFIER_MAX_DELAY", "2s"),
        ],
    )
    .await;
    register(&app, "slow@example.com").await;
    // Attempts from many networks: none reaches the per-pair budget.
    for n in 0..2 {
        let client = app.client_from(&format!("127.0.1.{n}"));
        let started = Instant::now();
        json_with_status(
            sign_in(&app, &client, "slow@example.com", "wrong guess!!").await,
            400,
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    // Past the identifier's budget every answer waits, right or wrong.
    let client = app.client_from("127.0.1.9");
    let started = Instant::now();
    json_with_status(
        sign_in(&app, &client, "slow@example.com", "wrong guess!!").await,
        400,
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    json_with_status(
        sign_in(&app, &client, "slow@example.com", PASSWORD).await,
        200,
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    app.stop().await;

    // With lockout on, the identifier is refused everywhere instead.
    let app = app_with(
        dialect,
        &[
            ("SECURITY_BRUTE_FORCE_IDENTIFIER_MAX_FAILURES", "2"),
            ("SECURITY_BRUTE_FORCE_LOCKOUT_ENABLED", "true"),
            ("SECURITY_BRUTE_FORCE_LOCKOUT_DURATION", "2h"),
        ],
    )
    .await;
    register(&app, "locked@example.com").await;
    for n in 0..2 {
        let client = app.client_from(&format!("127.0.2.{n}"));
        json_with_status(
            sign_in(&app, &client, "locked@example.com", "wrong guess!!").await,
            400,
        )
        .await;
    }
    let owner = app.client_from("127.0.2.200");
    let retry_after =
        assert_refused(sign_in(&app, &owner, "locked@example.com", PASSWORD).await).await;
    assert!(retry_after > 3600 && retry_after <= 7200, "{retry_after}");
    app.state.clock.advance(Duration::from_secs(2 * 3600));
    json_with_status(
        sign_in(&app, &owner, "locked@example.com", PASSWORD).await,
        200,
    )
    .await;
    app.stop().await;
}

async fn networks_are_limited_across_identifiers(dialect: Dialect) {
    let app = app_with(dialect, &[("SECURITY_BRUTE_FORCE_IP_MAX_FAILURES", "3")]).await;
    register(&app, "net@example.com").await;
    let client = app.client_from("127.0.3.1");
    for n in 0..3 {
        let identifier = format!("someone{n}@example.com");
        json_with_status(
            sign_in(&app, &client, &identifier, "wrong guess!!").await,
            400,
        )
        .await;
    }
    assert_refused(sign_in(&app, &client, "net@example.com", PASSWORD).await).await;
    // Right passwords do not use the network's budget up.
    let office = app.client_from("127.0.3.2");
    for _ in 0..5 {
        json_with_status(
            sign_in(&app, &office, "net@example.com", PASSWORD).await,
            200,
        )
        .await;
    }
    app.stop().await;
}

async fn totp_app(dialect: Dialect, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![("SELFSERVICE_METHODS_TOTP_ENABLED", "true")];
    env.extend_from_slice(extra);
    app_with(dialect, &env).await
}

/// Registers, enrols TOTP and returns (identity id, TOTP secret).
async fn with_totp(app: &TestApp, email: &str) -> (String, String) {
    let registered = register(app, email).await;
    let token = registered["session_token"].as_str().unwrap();
    let secret = crate::second_factor::set_up_totp(app, token).await;
    (
        registered["identity"]["id"].as_str().unwrap().to_string(),
        secret,
    )
}

async fn second_factors_are_limited_per_identity(dialect: Dialect) {
    let app = totp_app(
        dialect,
        &[("SECURITY_BRUTE_FORCE_SECOND_FACTOR_MAX_FAILURES", "3")],
    )
    .await;
    let (id, secret) = with_totp(&app, "mfa@example.com").await;
    let token = crate::second_factor::password_login(&app, "mfa@example.com").await;
    // Wrong codes spread over new flows still count against the identity.
    for _ in 0..3 {
        let flow = crate::second_factor::aal2_flow(&app, &token).await;
        let wrong = json!({"method": "totp", "totp_code": "000000"});
        let answer = crate::second_factor::post_with_token(&app, &flow, wrong, &token).await;
        json_with_status(answer, 400).await;
    }
    let flow = crate::second_factor::aal2_flow(&app, &token).await;
    // The next step's code: enrolment used the current one.
    let right =
        json!({"method": "totp", "totp_code": crate::second_factor::code(&app, &secret, 1)});
    let answer = crate::second_factor::post_with_token(&app, &flow, right.clone(), &token).await;
    assert_refused(answer).await;
    let counters = throttle_of(&app, &id).await;
    assert_eq!(counters[0]["scope"], "second_factor", "{counters}");
    assert_eq!(counters[0]["failures"], 4);
    assert!(counters[0]["blocked_until"].is_string());

    let path = format!("/admin/identities/{id}/throttle");
    assert_eq!(
        app.admin_request(Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    let answer = crate::second_factor::post_with_token(&app, &flow, right, &token).await;
    let upgraded = json_with_status(answer, 200).await;
    assert_eq!(upgraded["session"]["authenticator_assurance_level"], "aal2");
    app.stop().await;
}

async fn a_code_raced_by_two_requests_is_accepted_once(dialect: Dialect) {
    let app = totp_app(dialect, &[]).await;
    let (_, secret) = with_totp(&app, "racer@example.com").await;
    // Two signed-in sessions step up with the same code at the same time.
    let first = crate::second_factor::password_login(&app, "racer@example.com").await;
    let second = crate::second_factor::password_login(&app, "racer@example.com").await;
    let first_flow = crate::second_factor::aal2_flow(&app, &first).await;
    let second_flow = crate::second_factor::aal2_flow(&app, &second).await;
    // The next step's code: enrolment used the current one.
    let code = crate::second_factor::code(&app, &secret, 1);
    let body = json!({"method": "totp", "totp_code": code});
    let (a, b) = tokio::join!(
        crate::second_factor::post_with_token(&app, &first_flow, body.clone(), &first),
        crate::second_factor::post_with_token(&app, &second_flow, body, &second),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
    app.stop().await;
}

async fn recovery_request(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
) -> reqwest::Response {
    let body = json!({"method": "code", "email": email});
    submit_new(&app.public, client, "recovery", body).await
}

async fn queued_for(app: &TestApp, email: &str) -> usize {
    let path = format!("/admin/courier/messages?recipient={email}");
    let messages = json_with_status(app.admin_request(Method::GET, &path, None).await, 200).await;
    messages.as_array().unwrap().len()
}

async fn mails_are_limited_per_address_and_network(dialect: Dialect) {
    let app = app_with(
        dialect,
        &[
            ("SELFSERVICE_FLOWS_RECOVERY_ENABLED", "true"),
            ("SECURITY_BRUTE_FORCE_MAIL_PER_IP", "7"),
        ],
    )
    .await;
    register(&app, "mail@example.com").await;
    let client = app.client_from("127.0.4.1");
    let mut answers = Vec::new();
    for _ in 0..6 {
        let answer = json_with_status(
            recovery_request(&app, &client, "mail@example.com").await,
            200,
        )
        .await;
        answers.push(ui_message_ids(&answer));
    }
    // Six answers alike; five mails.
    assert!(answers.iter().all(|ids| ids == &[1060003]), "{answers:?}");
    assert_eq!(queued_for(&app, "mail@example.com").await, 5);
    json_with_status(
        recovery_request(&app, &client, "other@example.com").await,
        200,
    )
    .await;
    // The network's eighth request is refused.
    assert_refused(recovery_request(&app, &client, "other@example.com").await).await;
    app.state.clock.advance(Duration::from_secs(15 * 60));
    json_with_status(
        recovery_request(&app, &client, "mail@example.com").await,
        200,
    )
    .await;
    assert_eq!(queued_for(&app, "mail@example.com").await, 6);
    app.stop().await;
}

async fn sign_up(app: &TestApp, client: &reqwest::Client, traits: Value) -> reqwest::Response {
    let body = json!({"method": "password", "traits": traits, "password": PASSWORD});
    submit_new(&app.public, client, "registration", body).await
}

async fn registrations_per_network_when_configured(dialect: Dialect) {
    let app = app_with(
        dialect,
        &[("SECURITY_BRUTE_FORCE_REGISTRATION_PER_IP", "2")],
    )
    .await;
    let client = app.client_from("127.0.5.1");
    // A refused sign-up does not count.
    json_with_status(
        sign_up(&app, &client, json!({"email": "not an address"})).await,
        400,
    )
    .await;
    for n in 0..2 {
        let traits = json!({"email": format!("new{n}@example.com")});
        json_with_status(sign_up(&app, &client, traits).await, 200).await;
    }
    assert_refused(sign_up(&app, &client, json!({"email": "new2@example.com"})).await).await;
    let elsewhere = app.client_from("127.0.5.2");
    json_with_status(
        sign_up(&app, &elsewhere, json!({"email": "new2@example.com"})).await,
        200,
    )
    .await;
    app.stop().await;

    // Off by default.
    let app = app_with(dialect, &[]).await;
    for n in 0..4 {
        let traits = json!({"email": format!("many{n}@example.com")});
        json_with_status(sign_up(&app, &app.client, traits).await, 200).await;
    }
    app.stop().await;
}

async fn replicas_share_their_counters(dialect: Dialect) {
    let first = app_with(dialect, &[]).await;
    let second = first.replica().await;
    register(&first, "shared@example.com").await;
    let attacker = first.client_from("127.0.6.1");
    for n in 0..5 {
        let replica = if n % 2 == 0 { &first } else { &second };
        json_with_status(
            sign_in(replica, &attacker, "shared@example.com", "wrong guess!!").await,
            400,
        )
        .await;
    }
    assert_refused(sign_in(&second, &attacker, "shared@example.com", PASSWORD).await).await;
    assert_refused(sign_in(&first, &attacker, "shared@example.com", PASSWORD).await).await;
    second.stop().await;
    first.stop().await;
}

/// A client on `ip` that says it forwards for `forwarded_for`.
fn forwarding(ip: &str, forwarded_for: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", forwarded_for.parse().unwrap());
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn forwarded_addresses_count_only_from_trusted_proxies(dialect: Dialect) {
    let app = app_with(
        dialect,
        &[
            ("SERVE_PUBLIC_TRUSTED_PROXIES", r#"["127.0.8.0/24"]"#),
            ("SECURITY_BRUTE_FORCE_PASSWORD_MAX_FAILURES", "1"),
        ],
    )
    .await;
    register(&app, "proxied@example.com").await;
    // Behind the trusted proxy, each forwarded client has its own budget.
    let first = forwarding("127.0.8.1", "203.0.113.5");
    json_with_status(
        sign_in(&app, &first, "proxied@example.com", "wrong guess!!").await,
        400,
    )
    .await;
    assert_refused(sign_in(&app, &first, "proxied@example.com", PASSWORD).await).await;
    let second = forwarding("127.0.8.1", "203.0.113.6");
    json_with_status(
        sign_in(&app, &second, "proxied@example.com", PASSWORD).await,
        200,
    )
    .await;
    // Anyone else's header is ignored: changing it does not buy a new budget.
    let stranger = forwarding("127.0.9.1", "203.0.113.7");
    json_with_status(
        sign_in(&app, &stranger, "proxied@example.com", "wrong guess!!").await,
        400,
    )
    .await;
    let disguised = forwarding("127.0.9.1", "203.0.113.8");
    assert_refused(sign_in(&app, &disguised, "proxied@example.com", PASSWORD).await).await;
    app.stop().await;
}
