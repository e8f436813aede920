//! The channels' senders: email through lettre (SMTP, or files in development), SMS through an
//! HTTP gateway, and webhooks — each call carrying the notification id so a receiver can
//! recognise a repeat.

use contracts::notifications::{Notification, Template};
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// How a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// This channel cannot reach the recipient at all (no address, not configured).
    #[error("channel unavailable: {0}")]
    Unavailable(String),
    /// The send failed; it may work later.
    #[error("send failed: {0}")]
    Failed(String),
}

/// Where email goes.
#[derive(Clone)]
pub enum EmailTransport {
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder (development).
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// SMTP connection settings.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Use STARTTLS (and refuse a server that does not offer it).
    pub starttls: bool,
    /// Username, with the password.
    pub username: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
}

/// The email sender.
#[derive(Clone)]
pub struct EmailSender {
    transport: EmailTransport,
    from: Mailbox,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl EmailSender {
    /// Email over SMTP.
    pub fn smtp(config: &SmtpConfig, from: &str) -> Result<Self, SendError> {
        let builder = if config.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| SendError::Unavailable(e.to_string()))?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: EmailTransport::Smtp(builder.build()),
            from: parse_mailbox(from)?,
        })
    }

    /// Email written as files into `dir`.
    pub fn files(dir: PathBuf, from: &str) -> Result<Self, SendError> {
        std::fs::create_dir_all(&dir).map_err(|e| SendError::Unavailable(e.to_string()))?;
        Ok(Self {
            transport: EmailTransport::Files(AsyncFileTransport::new(&dir), dir),
            from: parse_mailbox(from)?,
        })
    }

    /// Sends one message; the Message-ID is derived from the notification id.
    pub async fn send(
        &self,
        notification_id: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<String, SendError> {
        let message_id = format!("<{notification_id}@emporium>");
        let message = Message::builder()
            .from(self.from.clone())
            .to(parse_mailbox(to)?)
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| SendError::Unavailable(format!("cannot build the message: {e}")))?;
        match &self.transport {
            EmailTransport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| message_id)
                .map_err(|e| SendError::Failed(e.to_string())),
            EmailTransport::Files(files, dir) => files
                .send(message)
                .await
                .map(|id| dir.join(format!("{id}.eml")).display().to_string())
                .map_err(|e| SendError::Failed(e.to_string())),
        }
    }
}

fn parse_mailbox(address: &str) -> Result<Mailbox, SendError> {
    address
        .parse()
        .map_err(|e| SendError::Unavailable(format!("`{address}` is not an email address: {e}")))
}

/// The SMS gateway: `POST {base}/v1/messages` `{"to", "text", "reference"}` with an
/// `Idempotency-Key`, answering `{"id"}`.
#[derive(Clone)]
pub struct SmsGateway {
    base_url: String,
    api_key: SecretString,
    http: reqwest::Client,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SmsGateway {
    /// A gateway at `base_url`.
    pub fn new(base_url: &str, api_key: SecretString) -> Result<Self, SendError> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            http: http_client()?,
        })
    }

    /// Sends one text message.
    pub async fn send(
        &self,
        notification_id: &str,
        to: &str,
        text: &str,
    ) -> Result<String, SendError> {
        let response = self
            .http
            .post(format!("{}/v1/messages", self.base_url))
            .bearer_auth(self.api_key.expose_secret())
            .header("Idempotency-Key", notification_id)
            .json(&json!({ "to": to, "text": text, "reference": notification_id }))
            .send()
            .await
            .map_err(|e| SendError::Failed(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SendError::Failed(format!(
                "the SMS gateway answered {status}"
            )));
        }
        let answer: serde_json::Value = response
            .json()
            .await
            .map_err(|e| SendError::Failed(e.to_string()))?;
        Ok(answer["id"].as_str().unwrap_or(notification_id).to_owned())
    }
}

/// Posts a notification as JSON to the recipient's URL.
pub async fn send_webhook(
    http: &reqwest::Client,
    url: &str,
    notification: &Notification,
    subject: &str,
    text: &str,
) -> Result<String, SendError> {
    let template: Template = notification.template;
    let response = http
        .post(url)
        .header("Idempotency-Key", &notification.notification_id)
        .json(&json!({
            "notification_id": notification.notification_id,
            "template": template.as_str(),
            "subject": subject,
            "text": text,
            "data": notification.data,
        }))
        .send()
        .await
        .map_err(|e| SendError::Failed(e.to_string()))?;
    if response.status().is_success() {
        Ok(url.to_owned())
    } else {
        Err(SendError::Failed(format!(
            "{url} answered {}",
            response.status()
        )))
    }
}

/// The HTTP client the channels use.
pub fn http_client() -> Result<reqwest::Client, SendError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| SendError::Unavailable(e.to_string()))
}
