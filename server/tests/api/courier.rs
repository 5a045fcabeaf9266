//! The courier: retries, leases and the admin view of the queue, over real SMTP (reference §10).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use ward::store::Dialect;

use crate::account::create_user;
use crate::flows::{api_flow, submit_json};
use crate::harness::{TestApp, json_with_status};
use crate::mail::{SmtpCapture, spawn};
use crate::mail_tests;

mail_tests!(courier_retries_refused_mail);

async fn courier_retries_refused_mail(app: &TestApp, smtp: &SmtpCapture) {
    create_user(app, "retry@example.com").await;
    smtp.refuse_next(1);
    let flow = api_flow(app, "recovery").await;
    submit_json(
        app,
        &flow,
        json!({"method": "code", "email": "retry@example.com"}),
    )
    .await;
    let mails = smtp.wait_for("retry@example.com", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.mails().len(), 1, "delivered once: {mails:?}");
    let messages = json_with_status(
        app.admin_request(Method::GET, "/admin/courier/messages?status=sent", None)
            .await,
        200,
    )
    .await;
    let message = &messages[0];
    assert_eq!(message["recipient"], "retry@example.com");
    assert_eq!(message["template_type"], "recovery_code_valid");
    assert_eq!(message["send_count"], 2);
    let dispatches: Vec<&str> = message["dispatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dispatch| dispatch["status"].as_str().unwrap())
        .collect();
    assert_eq!(dispatches, ["failed", "success"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_stalled_worker_loses_nothing() {
    stalled_worker_loses_nothing(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stalled_worker_loses_nothing() {
    stalled_worker_loses_nothing(Dialect::Postgres).await;
}

/// Ward's own worker claims a message and then hangs on an SMTP server that never answers.
/// While its lease holds (its heartbeat renews it), no other worker sends the message; once the
/// lease lapsed (the test clock moves past it, as it would pass a worker that was killed and
/// renews nothing), another worker delivers it exactly once.
async fn stalled_worker_loses_nothing(dialect: Dialect) {
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled_uri = format!(
        "smtp://127.0.0.1:{}/?disable_starttls=true",
        blackhole.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = blackhole.accept().await {
            held.push(socket);
        }
    });
    let Some((app, smtp)) = spawn(
        dialect,
        &[("COURIER_SMTP_CONNECTION_URI", stalled_uri.as_str())],
    )
    .await
    else {
        return;
    };
    create_user(&app, "stall@example.com").await;
    let flow = api_flow(&app, "recovery").await;
    submit_json(
        &app,
        &flow,
        json!({"method": "code", "email": "stall@example.com"}),
    )
    .await;
    let mut status = Value::Null;
    for _ in 0..100 {
        let messages = json_with_status(
            app.admin_request(Method::GET, "/admin/courier/messages", None)
                .await,
            200,
        )
        .await;
        status = messages[0]["status"].clone();
        if status == "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "processing");

    let mut config = (*app.state.config).clone();
    config.courier.smtp.connection_uri = Some(smtp.uri());
    let delivery = ward::courier::Delivery::from_config(&config)
        .await
        .unwrap()
        .unwrap();
    let rescuer = ward::courier::worker::Worker::new(app.state.clone(), delivery);
    assert_eq!(rescuer.process_batch().await.unwrap(), 0, "the lease holds");
    app.state
        .clock
        .advance(ward::courier::worker::LEASE + Duration::from_secs(60));
    assert_eq!(rescuer.process_batch().await.unwrap(), 1);
    assert_eq!(smtp.wait_for("stall@example.com", 1).await.len(), 1);
    let sent = json_with_status(
        app.admin_request(Method::GET, "/admin/courier/messages?status=sent", None)
            .await,
        200,
    )
    .await;
    assert_eq!(sent.as_array().unwrap().len(), 1);
    assert_eq!(sent[0]["send_count"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_waiting_mail_is_claimed_first() {
    waiting_mail_is_claimed_first(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_waiting_mail_is_claimed_first() {
    waiting_mail_is_claimed_first(Dialect::Postgres).await;
}

/// A code someone waits for is claimed before older mail nobody waits for, and a worker's
/// heartbeat renews only leases it still holds.
async fn waiting_mail_is_claimed_first(dialect: Dialect) {
    let Some(app) = TestApp::spawn_with(dialect, &[]).await else {
        return;
    };
    let queue = &app.state.courier_queue;
    let now = app.state.clock.now();
    // Due in an hour, so Ward's own worker leaves them alone.
    let later = now + time::Duration::HOUR;
    let message = |kind: ward::courier::TemplateType, to: &str, at: time::OffsetDateTime| {
        let vars = json!({"LoginCode": "123456", "ChangedAt": "now", "NewAddress": "x"});
        let mut message = app
            .state
            .courier
            .email(kind, Default::default(), to, vars, at)
            .unwrap();
        message.next_attempt_at = later;
        message
    };
    for n in 0..3 {
        let notice = message(
            ward::courier::TemplateType::VerifiableAddressChanged,
            &format!("old{n}@example.com"),
            now,
        );
        queue.enqueue(&notice).await.unwrap();
    }
    let code = message(
        ward::courier::TemplateType::LoginCodeValid,
        "waiting@example.com",
        now + time::Duration::SECOND,
    );
    queue.enqueue(&code).await.unwrap();

    let at = later + time::Duration::SECOND;
    let lease = time::Duration::seconds(15);
    let claimed = queue.claim_due(at, at + lease, 2).await.unwrap();
    let recipients: Vec<&str> = claimed.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(recipients, ["waiting@example.com", "old0@example.com"]);

    // A renewed lease holds past the first one; a lapsed one is not taken back.
    let ids: Vec<uuid::Uuid> = claimed.iter().map(|m| m.id).collect();
    queue
        .extend_leases(&ids, at + time::Duration::SECOND, at + lease * 2)
        .await
        .unwrap();
    let past_first = at + lease + time::Duration::SECOND;
    let others = queue
        .claim_due(past_first, past_first + lease, 10)
        .await
        .unwrap();
    assert_eq!(others.len(), 2, "only the two unclaimed notices");
    let lapsed = at + lease * 3;
    queue
        .extend_leases(&ids, lapsed, lapsed + lease)
        .await
        .unwrap();
    let rescued = queue.claim_due(lapsed, lapsed + lease, 10).await.unwrap();
    assert_eq!(rescued.len(), 4, "every lease lapsed");
    app.stop().await;
}

/// On PostgreSQL a mail queued anywhere wakes every courier at once: here it is queued through
/// a connection of its own (as another replica would), and Ward's worker, which would otherwise
/// not look for an hour, delivers it within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_mail_queued_by_another_replica_wakes_the_courier() {
    use ward::store::CourierStore;
    let Some((app, smtp)) = spawn(Dialect::Postgres, &[("COURIER_WORKER_PULL_WAIT", "1h")]).await
    else {
        return;
    };
    // Let the worker finish its first look at the queue and start waiting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other = ward::store::SqlStore::connect(app.state.config.dsn())
        .await
        .unwrap();
    let message = app
        .state
        .courier
        .email(
            ward::courier::TemplateType::LoginCodeValid,
            Default::default(),
            "woken@example.com",
            json!({"LoginCode": "123456", "ExpiresInMinutes": 10}),
            app.state.clock.now(),
        )
        .unwrap();
    other.enqueue(&message).await.unwrap();
    let mail = smtp.wait_for("woken@example.com", 1).await.remove(0);
    assert!(mail.subject().contains("123456"));
    other.close().await;
    app.stop().await;
}
