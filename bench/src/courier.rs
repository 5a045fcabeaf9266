//! `courier`: how fast codes reach an SMTP server while older mail waits in the queue.
//!
//! A capturing SMTP server in this process takes every mail and notes when it accepted it. The
//! baseline is lettre itself sending to that server as Ward's courier does (pooled connections,
//! ten at a time, as many as a default batch), so the throughput figure is a ratio to what the SMTP exchange alone allows
//! on this machine. Then a Ward in this process, whose queue already holds QUEUED mails nobody
//! waits for, is asked for CODES sign-in codes, one every 20 ms: the latency of each is from the
//! request to the SMTP server accepting its mail.
//!
//! The SMTP server is written here rather than taken from a crate: a benchmark's sink must cost
//! less than what it measures, and it needs no more than the few commands lettre sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// lettre's own senders: as many as Ward's courier delivers at once with its default batch.
const SENDERS: usize = 10;

/// When the sink accepted the mails to each recipient.
#[derive(Clone, Default)]
struct Accepted(Arc<Mutex<HashMap<String, Vec<Instant>>>>);

impl Accepted {
    fn count(&self) -> usize {
        self.0
            .lock()
            .map(|map| map.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    fn first_at(&self, recipient: &str) -> Option<Instant> {
        self.0.lock().ok()?.get(recipient)?.first().copied()
    }

    async fn wait_for(&self, count: usize, limit: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.count() < count {
            if started.elapsed() > limit {
                anyhow::bail!("the SMTP server got {} of {count} mails", self.count());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

/// Listens on a free loopback port and accepts every mail.
async fn sink() -> anyhow::Result<(u16, Accepted)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepted = Accepted::default();
    let shared = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                let _ = session(socket, shared).await;
            });
        }
    });
    Ok((port, accepted))
}

async fn session(socket: tokio::net::TcpStream, accepted: Accepted) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut recipient = String::new();
    while let Some(line) = lines.next_line().await? {
        let command = line.to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250 sink\r\n"
        } else if command.starts_with("RCPT TO:") {
            recipient = line[8..]
                .trim()
                .trim_matches(['<', '>'])
                .to_ascii_lowercase();
            b"250 OK\r\n"
        } else if command == "DATA" {
            write.write_all(b"354 go on\r\n").await?;
            while let Some(body) = lines.next_line().await? {
                if body == "." {
                    break;
                }
            }
            if let Ok(mut map) = accepted.0.lock() {
                map.entry(recipient.clone())
                    .or_default()
                    .push(Instant::now());
            }
            b"250 OK\r\n"
        } else if command == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // MAIL FROM, RSET, NOOP
            b"250 OK\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

fn mail(to: &str) -> anyhow::Result<lettre::Message> {
    Ok(lettre::Message::builder()
        .from("bench@bench.example".parse()?)
        .to(to.parse()?)
        .subject("A notice")
        .body("Something changed on your account.\n".to_string())?)
}

/// Mails/s lettre alone delivers to the sink: `count` mails, ten at a time, pooled.
async fn lettre_rate(port: u16, accepted: &Accepted, count: usize) -> anyhow::Result<f64> {
    let transport = Arc::new(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build(),
    );
    let before = accepted.count();
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..SENDERS {
        let transport = transport.clone();
        senders.spawn(async move {
            for n in (sender..count).step_by(SENDERS) {
                transport
                    .send(mail(&format!("raw{n}@bench.example"))?)
                    .await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(done) = senders.join_next().await {
        done??;
    }
    accepted
        .wait_for(before + count, Duration::from_secs(60))
        .await?;
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Prints "p50_ms p95_ms mails_per_s lettre_mails_per_s".
pub async fn run(dsn: &str, queued: usize, codes: usize) -> anyhow::Result<()> {
    use ward::store::{CourierStore, IdentityStore, SqlStore};

    let (port, accepted) = sink().await?;
    let baseline = lettre_rate(port, &accepted, queued).await?;
    let baseline_count = accepted.count();

    // The queue holds mail nobody waits for, and CODES identities can sign in by code.
    let store = SqlStore::connect(dsn).await?;
    store.migrate().await?;
    let schema = ward::identity::IdentitySchema::compile(
        "default",
        serde_json::from_str(ward::identity::schema::DEV_SCHEMA)?,
    )?;
    let now = ward::clock::Clock::default().now();
    for n in 0..codes {
        let mut identity = ward::identity::Identity::new(
            "default".into(),
            json!({"email": format!("code{n}@bench.example")}),
            now,
        );
        ward::identity::apply_schema(&mut identity, &schema, now)
            .map_err(|violations| anyhow::anyhow!("{violations:?}"))?;
        store.create_identity(&identity).await?;
    }
    for n in 0..queued {
        let rendered = ward::courier::Rendered {
            template_type: "verifiable_address_changed",
            channel: "email",
            template_data: json!({}),
            recipient: format!("bulk{n}@bench.example"),
            subject: "A notice".into(),
            plaintext: "Something changed on your account.".into(),
            html: "<p>Something changed on your account.</p>".into(),
        };
        store
            .enqueue(&ward::courier::Message::new(rendered, now))
            .await?;
    }
    store.close().await;

    let smtp = format!("smtp://127.0.0.1:{port}/?disable_starttls=true");
    let ward = crate::InProcessWard::start(
        "courier",
        &[
            ("DSN", dsn),
            ("COURIER_SMTP_CONNECTION_URI", smtp.as_str()),
            ("SELFSERVICE_METHODS_CODE_PASSWORDLESS_ENABLED", "true"),
            // The courier is measured, not the limits on asking for mail.
            ("SECURITY_BRUTE_FORCE_ENABLED", "false"),
            ("OAUTH2_SERVER_ENABLED", "false"),
        ],
    )
    .await?;
    let public = ward.public.clone();

    // Codes are asked for while the queued mail drains.
    let client = reqwest::Client::new();
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..codes {
        let (client, public) = (client.clone(), public.clone());
        requests.spawn(async move {
            tokio::time::sleep(Duration::from_millis(20 * n as u64)).await;
            let flow: serde_json::Value = client
                .get(format!("{public}/self-service/login/api"))
                .send()
                .await?
                .json()
                .await?;
            let action = flow["ui"]["action"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let identifier = format!("code{n}@bench.example");
            let asked = Instant::now();
            let answer = client
                .post(action)
                .json(&json!({"method": "code", "identifier": identifier}))
                .send()
                .await?;
            anyhow::ensure!(
                answer.status() == 400,
                "asking for a code answered {}",
                answer.status()
            );
            Ok::<_, anyhow::Error>((identifier, asked))
        });
    }
    let mut asked = Vec::new();
    while let Some(done) = requests.join_next().await {
        asked.push(done??);
    }
    accepted
        .wait_for(baseline_count + queued + codes, Duration::from_secs(120))
        .await?;
    ward.stop().await;

    let mut latencies: Vec<f64> = asked
        .iter()
        .filter_map(|(identifier, at)| {
            let accepted_at = accepted.first_at(identifier)?;
            Some(accepted_at.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    anyhow::ensure!(latencies.len() == codes, "some codes never arrived");
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    // Ward's rate: its mails (queued and codes) over the time it took to hand them over.
    let ward_rate = {
        let map = accepted.0.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let times: Vec<Instant> = map
            .iter()
            .filter(|(recipient, _)| !recipient.starts_with("raw"))
            .flat_map(|(_, times)| times.iter().copied())
            .collect();
        let first = times.iter().min().copied();
        let last = times.iter().max().copied();
        match (first, last) {
            (Some(first), Some(last)) if last > first => {
                times.len() as f64 / (last - first).as_secs_f64()
            }
            _ => 0.0,
        }
    };
    println!(
        "{:.1} {:.1} {:.0} {:.0}",
        at(0.5),
        at(0.95),
        ward_rate,
        baseline
    );
    Ok(())
}
