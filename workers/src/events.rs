//! Domain events beside the workers: each service's outbox relay, and the notifications
//! service's reader of the event stream that turns events into webhook deliveries.
//!
//! Both run only when `events.nats_url` is set; without it, each outbox's day-old events are
//! discarded hourly instead (nobody will publish them). A process relays the outbox of each service
//! it runs a worker for (several processes of one service take turns; see
//! `activities::events::relay`). The webhook reader is a durable JetStream consumer
//! (`webhooks`) shared by every notifications worker: each event is handed to one of them,
//! which records a delivery per matching endpoint and starts a DeliverWebhook workflow per
//! delivery (its id makes a second start a no-op), then acknowledges the event. An event not
//! acknowledged (the process died, the database failed) is handed out again.

use activities::events::relay::{self, Relay, StreamConfig};
use activities::notifications::webhooks::record_deliveries;
use anyhow::Context as _;
use async_nats::jetstream::{self, AckKind, consumer};
use contracts::webhooks::{DeliverWebhookInput, workflow_id};
use contracts::{Service, TaskQueues};
use futures::StreamExt as _;
use sea_orm::DatabaseConnection;
use std::time::Duration;
use temporalio_client::errors::WorkflowStartError;
use temporalio_client::{Client, WorkflowStartOptions};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workflows::DeliverWebhook;

/// The durable consumer the notifications workers share.
pub const WEBHOOK_CONSUMER: &str = "webhooks";

/// Starts the relays of `services`' outboxes (those that keep one), and the webhook reader if
/// the notifications service is among them. Each task reconnects until `stop`.
pub fn spawn(
    config: &StreamConfig,
    pools: impl IntoIterator<Item = (Service, DatabaseConnection)>,
    webhooks: Option<WebhookReader>,
    stop: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut tasks: Vec<JoinHandle<()>> = pools
        .into_iter()
        .filter(|(service, _)| activities::events::OWNERS.contains(service))
        .map(|(service, db)| {
            let (config, stop) = (config.clone(), stop.clone());
            tokio::spawn(async move {
                let Some(context) = connected(&config, &stop).await else {
                    return;
                };
                Relay::new(db, service, context, &config.subject_prefix)
                    .run(stop)
                    .await;
            })
        })
        .collect();
    if let Some(reader) = webhooks {
        let (config, stop) = (config.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                if let Some(context) = connected(&config, &stop).await
                    && let Err(err) = reader.read(&context, &config.stream, &stop).await
                {
                    tracing::warn!(error = %format!("{err:#}"), "webhook reader stopped; reconnecting");
                }
                pause(&stop).await;
            }
        }));
    }
    tasks
}

/// Without publishing, deletes each outbox's day-old events every hour until `stop`.
pub fn spawn_discarding(
    pools: impl IntoIterator<Item = (Service, DatabaseConnection)>,
    stop: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    pools
        .into_iter()
        .filter(|(service, _)| activities::events::OWNERS.contains(service))
        .map(|(service, db)| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut hourly = tokio::time::interval(Duration::from_secs(3600));
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        _ = hourly.tick() => {}
                    }
                    if let Err(err) = activities::events::discard_stale(&db, service).await {
                        tracing::warn!(%service, %err, "discarding day-old events failed");
                    }
                }
            })
        })
        .collect()
}

/// A JetStream context with the stream in place, retrying every few seconds until `stop`.
async fn connected(config: &StreamConfig, stop: &CancellationToken) -> Option<jetstream::Context> {
    loop {
        match relay::connect(config).await {
            Ok(context) => return Some(context),
            Err(err) => tracing::warn!(%err, url = %config.url, "events: NATS not reachable yet"),
        }
        pause(stop).await;
        if stop.is_cancelled() {
            return None;
        }
    }
}

async fn pause(stop: &CancellationToken) {
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(Duration::from_secs(3)) => {}
    }
}

/// What the webhook reader needs: where deliveries are recorded and how their workflows start.
pub struct WebhookReader {
    /// The notifications service's database.
    pub db: DatabaseConnection,
    /// Temporal, to start DeliverWebhook.
    pub client: Client,
    /// The deployment's queues.
    pub queues: TaskQueues,
    /// Waits between attempts, for each workflow's input.
    pub retry_schedule_secs: Vec<u64>,
}

impl WebhookReader {
    /// Reads the stream until `stop` or an error.
    async fn read(
        &self,
        context: &jetstream::Context,
        stream: &str,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let consumer = context
            .get_stream(stream)
            .await
            .context("the event stream")?
            .get_or_create_consumer(
                WEBHOOK_CONSUMER,
                consumer::pull::Config {
                    durable_name: Some(WEBHOOK_CONSUMER.to_owned()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(60),
                    ..Default::default()
                },
            )
            .await
            .context("the webhooks consumer")?;
        let mut messages = consumer.messages().await.context("reading events")?;
        tracing::info!("webhook reader started");
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                next = messages.next() => match next {
                    Some(message) => message.context("reading an event")?,
                    None => return Ok(()),
                },
            };
            let ack = match self.hand_out(&message.payload).await {
                Ok(()) => AckKind::Ack,
                Err(err) => {
                    tracing::warn!(error = %format!("{err:#}"), "an event's webhooks wait");
                    AckKind::Nak(Some(Duration::from_secs(5)))
                }
            };
            if let Err(err) = message.ack_with(ack).await {
                tracing::warn!(%err, "acknowledging an event failed");
            }
        }
    }

    /// Records the event's deliveries and starts their workflows.
    async fn hand_out(&self, payload: &[u8]) -> anyhow::Result<()> {
        let envelope: serde_json::Value = match serde_json::from_slice(payload) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(%err, "an event that is not JSON is skipped");
                return Ok(());
            }
        };
        for delivery_id in record_deliveries(&self.db, &envelope).await? {
            let input = DeliverWebhookInput {
                delivery_id,
                retry_schedule_secs: self.retry_schedule_secs.clone(),
            };
            let options = WorkflowStartOptions::new(
                self.queues.of(Service::Notifications),
                workflow_id(delivery_id),
            )
            .build();
            match self
                .client
                .start_workflow(DeliverWebhook::run, input, options)
                .await
            {
                Ok(_) => {}
                Err(WorkflowStartError::AlreadyStarted { .. }) => {}
                Err(err) => return Err(err).context("starting DeliverWebhook"),
            }
        }
        Ok(())
    }
}
