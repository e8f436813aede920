//! Domain events in tests: a stream of the test's own on the machine's NATS server, a tap
//! that reads it as any consumer would, and a local webhook receiver.
//!
//! Every test gets its own stream and subject prefix ([`test_stream`]), so tests sharing the
//! NATS server never read each other's events; the streams keep events for an hour.

use activities::events::relay::StreamConfig;
use async_nats::jetstream::{self, consumer};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt as _;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The NATS server tests use (the bootstrap starts it).
pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// A stream and subject prefix of the test's own.
pub fn test_stream() -> StreamConfig {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    StreamConfig {
        url: NATS_URL.to_owned(),
        stream: format!("T{}_EVENTS", tag.to_ascii_uppercase()),
        subject_prefix: format!("t{tag}"),
        duplicate_window: Duration::from_secs(600),
        max_age: Duration::from_secs(3600),
    }
}

/// Reads a stream from its start, as an outside consumer does.
pub struct EventTap {
    messages: consumer::pull::Stream,
}

impl EventTap {
    /// A tap on `config`'s stream (created if the relays have not yet).
    pub async fn open(config: &StreamConfig) -> Self {
        let context = activities::events::relay::connect(config)
            .await
            .expect("NATS with JetStream answers (the bootstrap starts it)");
        Self::on(&context, &config.stream).await
    }

    async fn on(context: &jetstream::Context, stream: &str) -> Self {
        let consumer = context
            .get_stream(stream)
            .await
            .expect("the stream")
            .create_consumer(consumer::pull::Config {
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::None,
                ..Default::default()
            })
            .await
            .expect("a consumer");
        Self {
            messages: consumer.messages().await.expect("reading the stream"),
        }
    }

    /// The next event, as `(subject, envelope)`, or `None` after `wait` without one.
    pub async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        let message = tokio::time::timeout(wait, self.messages.next())
            .await
            .ok()??
            .ok()?;
        let envelope = serde_json::from_slice(&message.payload).expect("events are JSON");
        Some((message.subject.to_string(), envelope))
    }
}

/// A request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body, as sent.
    pub body: Bytes,
}

#[derive(Default)]
struct Script {
    answers: VecDeque<u16>,
    otherwise: u16,
    received: Vec<Received>,
}

/// A local HTTP receiver of webhooks that answers as scripted and keeps every request.
#[derive(Clone)]
pub struct WebhookReceiver {
    /// Its URL (`http://127.0.0.1:<port>/hooks`).
    pub url: String,
    script: Arc<Mutex<Script>>,
}

impl WebhookReceiver {
    /// A receiver answering `answers` in turn, then `otherwise` for ever.
    pub async fn start(answers: &[u16], otherwise: u16) -> Self {
        let script = Arc::new(Mutex::new(Script {
            answers: answers.iter().copied().collect(),
            otherwise,
            received: Vec::new(),
        }));
        let shared = script.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let script = shared.clone();
                async move {
                    let mut script = script.lock().expect("the script");
                    script.received.push(Received { headers, body });
                    let answer = script.answers.pop_front().unwrap_or(script.otherwise);
                    StatusCode::from_u16(answer).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the receiver");
        let url = format!(
            "http://{}/hooks",
            listener.local_addr().expect("its address")
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, script }
    }

    /// What it received so far.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().expect("the script").received.clone()
    }

    /// Waits until it received `count` requests (or panics after `patience`).
    pub async fn wait_for(&self, count: usize, patience: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} of {count} requests",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Answers `status` to everything from now on.
    pub fn answer_from_now(&self, status: u16) {
        let mut script = self.script.lock().expect("the script");
        script.answers.clear();
        script.otherwise = status;
    }
}
