//! `emporium events tail`: prints the domain events stream, one event per line, as a consumer
//! sees it (`<subject> <envelope JSON>`).

use activities::events::relay;
use anyhow::Context as _;
use async_nats::jetstream::consumer;
use futures::StreamExt as _;
use platform::Settings;

/// Where to start, and which events.
pub(crate) struct Tail {
    /// From the stream's first event instead of the next one.
    pub from_start: bool,
    /// Only subjects matching this NATS filter after the prefix (`order.>`, `*.failed`).
    pub filter: Option<String>,
}

/// Follows the stream until interrupted.
pub(crate) async fn tail(settings: &Settings, options: Tail) -> anyhow::Result<()> {
    let config = workers::stream_config(settings).unwrap_or_else(|| {
        let mut local = settings.clone();
        local.events.nats_url = Some("nats://127.0.0.1:4222".to_owned());
        workers::stream_config(&local).expect("a NATS URL was just set")
    });
    let context = relay::connect(&config)
        .await
        .with_context(|| format!("connecting to NATS at {}", config.url))?;
    let filter_subject = options
        .filter
        .map(|filter| format!("{}.{filter}", config.subject_prefix))
        .unwrap_or_default();
    let deliver_policy = if options.from_start {
        consumer::DeliverPolicy::All
    } else {
        consumer::DeliverPolicy::New
    };
    let consumer = context
        .get_stream(&config.stream)
        .await
        .context("the event stream")?
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy,
            filter_subject,
            ..Default::default()
        })
        .await
        .context("a consumer of the stream")?;
    tracing::info!(stream = %config.stream, url = %config.url, "following the events (Ctrl-C stops)");
    let mut messages = consumer.messages().await.context("reading the stream")?;
    while let Some(message) = messages.next().await {
        let message = message.context("reading an event")?;
        println!(
            "{} {}",
            message.subject,
            String::from_utf8_lossy(&message.payload)
        );
    }
    Ok(())
}
