//! Worker wiring: which service's activities and workflows poll which task queue.
//!
//! Each [`Service`] gets one Temporal worker on its own task queue, so any service can run in
//! its own process and be scaled alone (`emporium worker --service inventory`), or all of them
//! can share one process (`emporium dev`). Nothing here decides business behaviour; it only
//! connects implementations to queues. [`history`] exports workflow histories and replays them
//! through the same workflow code.

pub mod events;
pub mod history;
pub mod ops;
pub mod schedules;

use activities::events::relay::StreamConfig;
use activities::notifications::webhooks::{Destinations, WebhookActivities, WebhookPolicy};
use activities::notifications::{EmailSender, SmsGateway, SmtpConfig};
use activities::payments::stripe::StripeGateway;
use activities::payments::{PaymentGateway, RenewalSettings, RiskPolicy, sandbox::SandboxGateway};
use activities::shipping::http::HttpCarrier;
use activities::shipping::simulated::SimulatedCarrier;
use activities::shipping::simulated_webhooks::{SimulatedWebhooks, WebhookSender};
use activities::shipping::{Carriers, TrackingPolicy};
use activities::{
    InventoryActivities, NotificationsActivities, OrdersActivities, PaymentsActivities,
    ReportingActivities, ShippingActivities,
};
use anyhow::Context as _;
use contracts::orders::OrderTerms;
use contracts::payments::RenewalPolicy;
use contracts::{Service, TaskQueues};
use platform::Settings;
use platform::db::ServicePools;
use platform::settings::{AuthorizationRenewal, PaymentProvider};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::Client;
use temporalio_common::telemetry::TelemetryOptions;
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use tokio_util::sync::CancellationToken;
use workflows::{
    AdjustStock, Cart, DailySalesReport, DeliverWebhook, FollowParcel, FulfillShipment, PlaceOrder,
    RefundPayment, SendNotification,
};

/// More workflows and activities to serve beside a service's own, for tools built into the
/// binary (the benchmark's ceiling): called with each service's worker options.
pub type ExtraRegistrations = fn(Service, &mut WorkerOptions) -> anyhow::Result<()>;

/// What the services' activities need from the outside world.
#[derive(Clone)]
pub struct ServiceDeps {
    /// The database: a pool per service, each working as that service's role, which may
    /// touch only its own schema.
    pub dbs: ServicePools,
    /// The payment provider.
    pub payment_gateway: Arc<dyn PaymentGateway>,
    /// How long a reservation holds stock.
    pub reservation_ttl: Duration,
    /// How often expired reservations are reclaimed.
    pub sweep_interval: Duration,
    /// Which orders wait for a manual review.
    pub risk: RiskPolicy,
    /// What orders do before their authorisation lapses.
    pub renewal: RenewalSettings,
    /// The orders service's terms for new orders.
    pub order_terms: OrderTerms,
    /// The carriers parcels can ship with.
    pub carriers: Carriers,
    /// How parcels are followed.
    pub tracking: TrackingPolicy,
    /// The simulated carrier and where it posts its webhooks, when it does.
    pub simulated_webhooks: Option<(SimulatedCarrier, SimulatedWebhooks)>,
    /// Where email goes.
    pub email: EmailSender,
    /// The SMS gateway, if any.
    pub sms: Option<SmsGateway>,
    /// Anything else the workers serve (see [`ExtraRegistrations`]).
    pub extra: Option<ExtraRegistrations>,
    /// Where domain events are published, if anywhere: the services' outbox relays and the
    /// webhook reader run only then.
    pub events: Option<StreamConfig>,
    /// How merchant webhooks are delivered.
    pub webhooks: WebhookPolicy,
    /// Workflow runs each worker keeps cached between their tasks.
    pub max_cached_workflows: usize,
    /// How long activities in flight may run on after shutdown begins.
    pub shutdown_grace: Duration,
}

impl ServiceDeps {
    /// The dependencies the settings ask for.
    pub fn from_settings(dbs: ServicePools, settings: &Settings) -> anyhow::Result<Self> {
        let payment_gateway: Arc<dyn PaymentGateway> = match settings.payments.provider {
            PaymentProvider::Sandbox => Arc::new(SandboxGateway::new(Duration::from_secs(
                settings.payments.sandbox_authorization_validity_secs,
            ))),
            PaymentProvider::Stripe => {
                let stripe = &settings.payments.stripe;
                let key = stripe
                    .secret_key
                    .as_ref()
                    .context("payments.provider is stripe but STRIPE_SECRET_KEY is not set")?;
                Arc::new(StripeGateway::new(key, &stripe.api_base)?)
            }
        };
        Ok(Self {
            dbs,
            payment_gateway,
            reservation_ttl: Duration::from_secs(settings.inventory.reservation_ttl_secs),
            sweep_interval: Duration::from_secs(settings.inventory.sweep_interval_secs.max(1)),
            risk: RiskPolicy {
                review_threshold_minor: settings.payments.review_threshold_minor,
                review_timeout: Duration::from_secs(settings.payments.review_timeout_secs),
            },
            renewal: RenewalSettings {
                renew_before: Duration::from_secs(settings.payments.renew_before_lapse_secs),
                policy: match settings.payments.authorization_renewal {
                    AuthorizationRenewal::Reauthorize => RenewalPolicy::Reauthorize,
                    AuthorizationRenewal::Capture => RenewalPolicy::Capture,
                },
            },
            order_terms: OrderTerms {
                attention_timeout_secs: settings.orders.attention_timeout_secs,
            },
            carriers: carriers(settings)?,
            tracking: TrackingPolicy {
                poll_interval: Duration::from_secs(settings.shipping.poll_interval_secs.max(1)),
                poll_max_interval: Duration::from_secs(settings.shipping.poll_max_interval_secs),
                delivery_deadline: settings.shipping.delivery_deadline(),
            },
            simulated_webhooks: settings
                .shipping
                .simulated_webhooks
                .as_ref()
                .filter(|_| settings.shipping.simulated)
                .map(|hooks| {
                    (
                        simulated_carrier(settings),
                        SimulatedWebhooks {
                            url: hooks.url.clone(),
                            secret: hooks.secret.clone(),
                        },
                    )
                }),
            email: email_sender(settings)?,
            sms: settings
                .notifications
                .sms
                .as_ref()
                .map(|sms| SmsGateway::new(&sms.base_url, sms.api_key.clone()))
                .transpose()?,
            events: stream_config(settings),
            webhooks: webhook_policy(settings),
            max_cached_workflows: settings.worker.max_cached_workflows,
            shutdown_grace: Duration::from_secs(settings.worker.shutdown_grace_secs),
            extra: None,
        })
    }
}

impl ServiceDeps {
    /// The pool of `service`, which this process must have connected.
    pub fn db(&self, service: Service) -> anyhow::Result<DatabaseConnection> {
        self.dbs
            .of(service)
            .cloned()
            .with_context(|| format!("no database pool for the {service} service"))
    }
}

/// Where events go, when `events.nats_url` is set.
pub fn stream_config(settings: &Settings) -> Option<StreamConfig> {
    let events = &settings.events;
    events.nats_url.as_ref().map(|url| StreamConfig {
        url: url.clone(),
        stream: events.stream.clone(),
        subject_prefix: events.subject_prefix.clone(),
        duplicate_window: Duration::from_secs(events.duplicate_window_secs),
        max_age: Duration::from_secs(events.max_age_secs),
    })
}

/// How webhooks are delivered, as the settings say.
pub fn webhook_policy(settings: &Settings) -> WebhookPolicy {
    let webhooks = &settings.webhooks;
    WebhookPolicy {
        destinations: Destinations::new(&webhooks.allowed_private_hosts),
        timeout: Duration::from_secs(webhooks.timeout_secs.max(1)),
        disable_after: Duration::from_secs(webhooks.disable_after_secs),
        retry_schedule_secs: webhooks.retry_schedule_secs.clone(),
    }
}

fn carriers(settings: &Settings) -> anyhow::Result<Carriers> {
    let mut carriers = Carriers::default();
    if settings.shipping.simulated {
        carriers = carriers.with(Arc::new(simulated_carrier(settings)));
    }
    if let Some(http) = &settings.shipping.http_carrier {
        carriers = carriers.with(Arc::new(HttpCarrier::new(
            &http.name,
            &http.base_url,
            http.api_key.clone(),
        )?));
    }
    Ok(carriers)
}

fn simulated_carrier(settings: &Settings) -> SimulatedCarrier {
    SimulatedCarrier::new(Duration::from_secs(
        settings.shipping.simulated_step_secs.max(1),
    ))
}

fn email_sender(settings: &Settings) -> anyhow::Result<EmailSender> {
    let from = &settings.notifications.from;
    Ok(match &settings.notifications.smtp {
        Some(smtp) => EmailSender::smtp(
            &SmtpConfig {
                host: smtp.host.clone(),
                port: smtp.port,
                starttls: smtp.starttls,
                username: smtp.username.clone(),
                password: smtp.password.clone(),
            },
            from,
        )?,
        None => EmailSender::files(settings.data_dir.join("mail"), from)?,
    })
}

/// The worker options of one service: its queue, its workflows, its activities.
pub fn worker_options(
    service: Service,
    queues: &TaskQueues,
    deps: &ServiceDeps,
) -> anyhow::Result<WorkerOptions> {
    let db = deps.db(service)?;
    let builder = WorkerOptions::new(queues.of(service))
        .max_cached_workflows(deps.max_cached_workflows)
        .graceful_shutdown_period(deps.shutdown_grace);
    let mut options = match service {
        Service::Orders => builder
            .register_workflow::<PlaceOrder>()
            .context("registering PlaceOrder")?
            .register_workflow::<Cart>()
            .context("registering Cart")?
            .register_activities(OrdersActivities::new(db).with_terms(deps.order_terms))
            .build(),
        Service::Shipping => builder
            .register_workflow::<FollowParcel>()
            .context("registering FollowParcel")?
            .register_workflow::<FulfillShipment>()
            .context("registering FulfillShipment")?
            .register_activities(ShippingActivities::new(
                db,
                deps.carriers.clone(),
                deps.tracking,
            ))
            .build(),
        Service::Notifications => builder
            .register_workflow::<SendNotification>()
            .context("registering SendNotification")?
            .register_workflow::<DeliverWebhook>()
            .context("registering DeliverWebhook")?
            .register_activities(WebhookActivities::new(db.clone(), &deps.webhooks))
            .register_activities(NotificationsActivities::new(
                db,
                deps.email.clone(),
                deps.sms.clone(),
            )?)
            .build(),
        Service::Inventory => builder
            .register_workflow::<AdjustStock>()
            .context("registering AdjustStock")?
            .register_activities(InventoryActivities::new(db, deps.reservation_ttl))
            .build(),
        Service::Payments => builder
            .register_workflow::<RefundPayment>()
            .context("registering RefundPayment")?
            .register_activities(
                PaymentsActivities::new(db, deps.payment_gateway.clone(), deps.risk)
                    .with_renewal(deps.renewal),
            )
            .build(),
        Service::Reporting => builder
            .register_workflow::<DailySalesReport>()
            .context("registering DailySalesReport")?
            .register_activities(ReportingActivities::new(db))
            .build(),
    };
    if let Some(extra) = deps.extra {
        extra(service, &mut options)?;
    }
    Ok(options)
}

/// Runs one worker per service until `shutdown` is cancelled, then drains them.
///
/// The returned future is not `Send` (workflow state lives in `Rc`s): await it from `main`, a
/// `LocalSet`, or a current-thread runtime.
pub async fn run(
    client: Client,
    services: &[Service],
    queues: &TaskQueues,
    deps: &ServiceDeps,
    shutdown: CancellationToken,
    sdk_metrics: Option<&ops::SdkMetrics>,
) -> anyhow::Result<()> {
    let mut telemetry = TelemetryOptions::builder().build();
    telemetry.metrics = sdk_metrics.map(|m| m.meter.clone());
    let options = RuntimeOptions::builder()
        .telemetry_options(telemetry)
        .build()
        .map_err(|err| anyhow::anyhow!("Temporal runtime options: {err}"))?;
    let runtime = Runtime::from_current_tokio(options).context("creating the Temporal runtime")?;
    let mut workers = services
        .iter()
        .map(|&service| {
            let options = worker_options(service, queues, deps)?;
            Worker::new(&runtime, client.clone(), options)
                .with_context(|| format!("creating the {service} worker"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let stop_handles: Vec<_> = workers.iter().map(Worker::shutdown_handle).collect();
    for worker in &workers {
        tracing::info!(task_queue = worker.task_queue(), "worker started");
    }

    let running = futures::future::try_join_all(workers.iter_mut().map(Worker::run));
    tokio::pin!(running);
    let sweeping = deps.dbs.of(Service::Inventory).map(|db| {
        let inventory = InventoryActivities::new(db.clone(), deps.reservation_ttl);
        let interval = deps.sweep_interval;
        let stop = shutdown.clone();
        tokio::spawn(async move { sweep_expired_reservations(inventory, interval, stop).await })
    });
    let posting = deps
        .dbs
        .of(Service::Shipping)
        .zip(deps.simulated_webhooks.clone())
        .map(|(db, (carrier, target))| {
            let stop = shutdown.clone();
            let tick = Duration::from_millis(500);
            WebhookSender::new(db.clone(), carrier, target)
                .map(|sender| tokio::spawn(sender.run(tick, stop)))
        })
        .transpose()
        .context("the simulated carrier's webhook client")?;
    let relaying = relay_events(&client, services, queues, deps, &shutdown);
    let result = tokio::select! {
        result = &mut running => result,
        () = shutdown.cancelled() => {
            tracing::info!("stopping workers");
            for stop in &stop_handles {
                stop();
            }
            running.await
        }
    };
    for task in [sweeping, posting].into_iter().flatten().chain(relaying) {
        task.abort();
    }
    result.context("worker failed")?;
    tracing::info!("workers stopped");
    Ok(())
}

/// The outbox relays of `services`, and the webhook reader with the notifications service,
/// when events are published; else what keeps the outboxes from only growing.
fn relay_events(
    client: &Client,
    services: &[Service],
    queues: &TaskQueues,
    deps: &ServiceDeps,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let pools = services
        .iter()
        .filter_map(|&service| Some((service, deps.dbs.of(service)?.clone())));
    let Some(config) = &deps.events else {
        return events::spawn_discarding(pools, stop);
    };
    let webhooks = services
        .contains(&Service::Notifications)
        .then(|| deps.dbs.of(Service::Notifications))
        .flatten()
        .map(|db| events::WebhookReader {
            db: db.clone(),
            client: client.clone(),
            queues: queues.clone(),
            retry_schedule_secs: deps.webhooks.retry_schedule_secs.clone(),
        });
    events::spawn(config, pools, webhooks, stop)
}

/// Reclaims expired reservations every `interval` until `stop`. Runs beside the inventory
/// worker: an order whose workflow was terminated, or that somehow outlived its hold, cannot
/// keep stock locked forever.
async fn sweep_expired_reservations(
    inventory: InventoryActivities,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {
                if let Err(err) = inventory.release_expired().await {
                    tracing::warn!(%err, "sweeping expired reservations failed; will retry");
                }
            }
        }
    }
}
