//! A real SMTP server for the tests: aiosmtpd (Python), started once per test binary, writing
//! every message it accepts into a Maildir that tests read back.
//!
//! `scripts/bootstrap` installs aiosmtpd into `.tools/` and exports `AIOSMTPD_PYTHONPATH`; when
//! that is unset, the `python3` on the `PATH` must be able to import `aiosmtpd` itself.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test binary's SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The Maildir it delivers into.
    pub maildir: PathBuf,
}

/// One message as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// `To:`.
    pub to: String,
    /// `Subject:`.
    pub subject: String,
    /// `Message-ID:`.
    pub message_id: String,
    /// The plain-text body.
    pub body: String,
}

/// The test binary's SMTP server, started on first use.
pub fn smtp_server() -> &'static SmtpServer {
    static SERVER: OnceLock<SmtpServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = crate::free_port();
        let maildir =
            std::env::temp_dir().join(format!("emporium-mail-{}-{port}", std::process::id()));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let dir = maildir.clone();
        // Started from a thread that lives as long as the process, with a parent-death signal,
        // so the server stops exactly when the tests do.
        std::thread::Builder::new()
            .name("smtp-server".to_owned())
            .spawn(move || {
                let mut command = Command::new("setpriv");
                command.args([
                    "--pdeathsig",
                    "KILL",
                    "--",
                    "python3",
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                ]);
                command.arg(format!("127.0.0.1:{port}"));
                command.args(["-c", "aiosmtpd.handlers.Mailbox"]);
                command.arg(&dir);
                if let Ok(path) = std::env::var("AIOSMTPD_PYTHONPATH") {
                    command.env("PYTHONPATH", path);
                }
                let child = command
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn();
                let _ = started_tx.send(child.map(|_| ()).map_err(|e| e.to_string()));
                loop {
                    std::thread::park();
                }
            })
            .expect("spawning the SMTP server thread");
        started_rx
            .recv()
            .expect("the SMTP thread answers")
            .unwrap_or_else(|err| {
                panic!("cannot start aiosmtpd (scripts/bootstrap installs it): {err}")
            });
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start; is it installed? (scripts/bootstrap)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, maildir }
    })
}

/// How many messages a delivered order sends its customer.
pub const MESSAGES_PER_DELIVERED_ORDER: usize = 4;

/// The subjects of the messages a delivered order sends its customer, sorted: confirmed,
/// shipped, out for delivery, delivered (the bought label is no message of its own).
pub fn delivered_order_subjects(order_id: &str) -> Vec<String> {
    let short = order_id.rsplit('-').next().unwrap_or_default();
    let mut subjects = vec![
        format!("Order {short} has shipped"),
        format!("Order {short} is out for delivery"),
        format!("Order {short} was delivered"),
        format!("Your order {short} is confirmed"),
    ];
    subjects.sort();
    subjects
}

impl SmtpServer {
    /// Every message delivered to `address` so far.
    pub fn messages_to(&self, address: &str) -> Vec<ReceivedMail> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return found;
        };
        for entry in entries.flatten() {
            let Ok(raw) = std::fs::read(entry.path()) else {
                continue;
            };
            let Ok(mail) = mailparse::parse_mail(&raw) else {
                continue;
            };
            let header = |name: &str| {
                mail.headers
                    .iter()
                    .find(|h| h.get_key().eq_ignore_ascii_case(name))
                    .map(|h| h.get_value())
                    .unwrap_or_default()
            };
            let to = header("To");
            if to.contains(address) {
                found.push(ReceivedMail {
                    subject: header("Subject"),
                    message_id: header("Message-ID"),
                    body: mail.get_body().unwrap_or_default(),
                    to,
                });
            }
        }
        found
    }

    /// Waits until `address` has received `count` messages (or fails the test).
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let messages = self.messages_to(address);
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{address} received {} of {count} messages: {:?}",
                messages.len(),
                messages.iter().map(|m| &m.subject).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
