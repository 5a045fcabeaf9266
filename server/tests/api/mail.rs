//! A capturing SMTP server (mailin-embedded) for the courier tests: it records every message it
//! accepts and can be told to refuse the next ones.

use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{INTERNAL_ERROR, OK, Response};
use mailin_embedded::{Handler, Server};
use ward::store::Dialect;

use crate::harness::TestApp;

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    /// The raw message with quoted-printable soft breaks and `=3D` undone.
    pub data: String,
}

impl Mail {
    pub fn subject(&self) -> String {
        self.data
            .lines()
            .find_map(|line| line.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_string()
    }

    /// The first run of six digits after `marker` in the message.
    pub fn code(&self) -> String {
        let text = self.subject();
        text.split(|c: char| !c.is_ascii_digit())
            .find(|part| part.len() == 6)
            .unwrap_or_default()
            .to_string()
    }

    /// The first URL in the plaintext part that contains `needle`.
    pub fn link(&self, needle: &str) -> String {
        self.data
            .split_whitespace()
            .find(|word| word.starts_with("http") && word.contains(needle))
            .map(|word| word.trim_end_matches(['"', '<', '>']).to_string())
            .unwrap_or_else(|| panic!("no link with {needle} in {}", self.data))
    }
}

#[derive(Clone, Default)]
struct Shared {
    mails: Arc<Mutex<Vec<Mail>>>,
    refuse: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Capture {
    shared: Shared,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Capture {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }

    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        let refuse = &self.shared.refuse;
        if refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return INTERNAL_ERROR;
        }
        OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = String::from_utf8_lossy(&self.data).to_string();
        let data = raw.replace("=\r\n", "").replace("=3D", "=");
        self.shared.mails.lock().unwrap().push(Mail {
            to: self.to.clone(),
            data,
        });
        OK
    }
}

pub struct SmtpCapture {
    pub port: u16,
    shared: Shared,
}

impl SmtpCapture {
    /// Listens on a free loopback port; the server thread lives as long as the test process.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Shared::default();
        let handler = Capture {
            shared: shared.clone(),
            to: Vec::new(),
            data: Vec::new(),
        };
        std::thread::spawn(move || {
            let mut server = Server::new(handler);
            server.with_name("capture.test").with_tcp_listener(listener);
            let _ = server.serve();
        });
        Self { port, shared }
    }

    pub fn uri(&self) -> String {
        format!("smtp://127.0.0.1:{}/?disable_starttls=true", self.port)
    }

    /// The next `count` deliveries are refused (451 to MAIL FROM).
    pub fn refuse_next(&self, count: usize) {
        self.shared.refuse.store(count, Ordering::SeqCst);
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.shared.mails.lock().unwrap().clone()
    }

    /// Waits (up to 15 s) until `count` mails reached `to`, and returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Mail> {
        for _ in 0..300 {
            let mails: Vec<Mail> = self
                .mails()
                .into_iter()
                .filter(|mail| mail.to.iter().any(|recipient| recipient.contains(to)))
                .collect();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} after 15 s; got {:?}", self.mails());
    }
}

/// Runs each test on SQLite and PostgreSQL with a capturing SMTP server and the account flows on;
/// `env = super::ENV;` first adds settings (Kratos-style variable names).
#[macro_export]
macro_rules! mail_tests {
    ($($name:ident),* $(,)?) => { $crate::mail_tests!(env = &[]; $($name),*); };
    (env = $env:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (app, smtp) = $crate::mail::spawn(ward::store::Dialect::Sqlite, $env).await.unwrap();
                    super::$name(&app, &smtp).await;
                    app.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((app, smtp)) = $crate::mail::spawn(ward::store::Dialect::Postgres, $env).await else { return };
                    super::$name(&app, &smtp).await;
                    app.stop().await;
                }
            )*
        }
    };
}

/// Ward with the account flows on, its courier delivering to a fresh capturing SMTP server.
pub async fn spawn(dialect: Dialect, extra: &[(&str, &str)]) -> Option<(TestApp, SmtpCapture)> {
    let smtp = SmtpCapture::start();
    let uri = smtp.uri();
    let mut env: Vec<(&str, &str)> = vec![
        ("COURIER_SMTP_CONNECTION_URI", uri.as_str()),
        ("COURIER_WORKER_PULL_WAIT", "50ms"),
        ("SELFSERVICE_FLOWS_RECOVERY_ENABLED", "true"),
        ("SELFSERVICE_FLOWS_VERIFICATION_ENABLED", "true"),
    ];
    env.extend_from_slice(extra);
    let app = TestApp::spawn_with(dialect, &env).await?;
    Some((app, smtp))
}
