//! The net under every workflow change: each history recorded in `workflows/tests/histories/`
//! (one real run of every workflow path, see `scripts/record-histories`) must replay against
//! today's workflow code without nondeterminism. And proof that the net catches what it should:
//! a workflow whose steps were reordered fails to replay the same history. And every patch
//! (`ctx.patched`) replays workflows from both sides of it.

use contracts::inventory::{InventoryActivities, Restock};
use contracts::payments::{
    IssueRefund, PaymentsActivities, REFUND_PAYMENT_WORKFLOW, RefundOutcome, RefundRequest,
};
use contracts::{Service, TaskQueues};
use std::path::{Path, PathBuf};
use std::time::Duration;
use temporalio_common::protos::temporal::api::history::v1::History;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_sdk::workflow_replayer::{
    WorkflowReplayError, WorkflowReplayFailure, WorkflowReplayerOptions,
};
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult, workflow,
    workflow_methods,
};
use workers::history::{self, ReplayError};

/// Every path the histories must cover; a missing file fails the test.
const PATHS: &[&str] = &[
    "place_order/completed",
    "place_order/payment_declined",
    "place_order/out_of_stock",
    "place_order/cancelled",
    "place_order/cancelled_after_label",
    "place_order/review_approved",
    "place_order/review_rejected",
    "place_order/review_timed_out",
    "place_order/shipment_exception_refunded",
    "place_order/needs_attention_retried",
    "place_order/needs_attention_refunded",
    "place_order/shipment_failed_before_pickup",
    "place_order/authorization_renewed",
    "place_order/captured_before_pickup",
    "follow_parcel/delivered",
    "follow_parcel/exception",
    "follow_parcel/cancelled",
    "follow_parcel/continued_as_new",
    "follow_parcel/delivered_after_continuing",
    "follow_parcel/lost_at_deadline",
    // Shipments of orders from before the weeks-long patch (FulfillShipment buys the label).
    "fulfill_shipment/delivered",
    "fulfill_shipment/exception",
    "refund_payment/full",
    "refund_payment/partial_with_restock",
    "send_notification/first_try",
    "send_notification/retried",
    "send_notification/fell_back",
    "send_notification/abandoned_cart_reminder",
    "cart/checkout",
    "cart/checkout_refused_then_placed",
    "cart/declined_then_taken_back",
    "place_order/declined_from_cart",
    "cart/abandoned",
    "cart/expired",
    "daily_sales_report/scheduled",
    "adjust_stock/adjusted",
    "adjust_stock/below_reserved",
    "deliver_webhook/retried_then_delivered",
    "deliver_webhook/rejected",
    "deliver_webhook/endpoint_disabled",
    // From before the weeks-long patch: orders, shipments, carts and refunds of that time.
    "place_order/before_weeks_long_orders/completed",
    "place_order/before_weeks_long_orders/shipment_exception_refunded",
    // Orders that announced their label in a message of its own, before the leaner orders.
    "place_order/before_leaner_orders/completed",
    "place_order/before_leaner_orders/cancelled_after_label",
    "place_order/before_leaner_orders/needs_attention_retried",
    "cart/before_carts_expire/abandoned",
    "refund_payment/before_notifications_as_activities/full",
    // A cart checked out in one step, its PlaceOrder a child, before the order intake.
    "cart/before_order_intake/checkout",
    // Carts that closed at their checkout, before they outlived it.
    "cart/before_carts_outlive_checkout/checkout",
    "cart/before_carts_outlive_checkout/checkout_refused_then_placed",
];

fn histories_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows/tests/histories")
}

fn json_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            json_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            found.push(path);
        }
    }
}

/// Replays a recorded history of `path` against today's workflows; panics on nondeterminism.
async fn replays(path: &str, recorded: History, info: &history::HistoryInfo) {
    history::replay_with(
        recorded,
        history::options(&info.task_queue).expect("options"),
    )
    .await
    .unwrap_or_else(|err| panic!("{path} replays: {err}"));
}

fn read(path: &str) -> Vec<u8> {
    let file = histories_dir().join(format!("{path}.json"));
    std::fs::read(&file).unwrap_or_else(|err| panic!("{}: {err}", file.display()))
}

#[tokio::test]
async fn every_recorded_history_replays_against_todays_workflows() {
    let mut files = Vec::new();
    json_files(&histories_dir(), &mut files);
    files.sort();
    for path in PATHS {
        let file = histories_dir().join(format!("{path}.json"));
        assert!(files.contains(&file), "{path} has a recorded history");
    }

    let mut failures = Vec::new();
    for file in &files {
        let json = std::fs::read(file).expect("readable");
        match history::replay(&json).await {
            Ok(info) => assert!(info.events > 3, "{} is a real run", file.display()),
            Err(err) => failures.push(format!("{}: {err}", file.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} histories no longer replay; a running workflow on one of these paths \
         would be stuck after a deploy. Guard the change with ctx.patched (docs/VERSIONING.md):\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// RefundPayment with two steps swapped: restock before the refund is issued. Registered
/// under RefundPayment's name, as a careless edit of the real workflow would be.
#[workflow]
pub struct ReorderedRefundPayment {
    request: RefundRequest,
}

#[workflow_methods]
impl ReorderedRefundPayment {
    #[init]
    fn new(_ctx: &WorkflowContextView, request: RefundRequest) -> Self {
        Self { request }
    }

    #[run(name = REFUND_PAYMENT_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<RefundOutcome> {
        let request = ctx.state(|s| s.request.clone());
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Payments);
        let options = |service| {
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
                .task_queue(queues.of(service))
                .build()
        };
        ctx.execute_activity(
            InventoryActivities::restock,
            Restock {
                refund_id: request.refund_id,
                lines: request.restock.clone(),
            },
            options(Service::Inventory),
        )
        .await?;
        let refunded = ctx
            .execute_activity(
                PaymentsActivities::issue_refund,
                IssueRefund {
                    refund_id: request.refund_id,
                    order_id: request.order_id,
                    amount: request.amount.clone(),
                    reason: request.reason.clone(),
                    idempotency_key: format!("{}/issue", ctx.workflow_id()),
                },
                options(Service::Payments),
            )
            .await?;
        Ok(RefundOutcome {
            refund_id: request.refund_id,
            order_id: request.order_id,
            status: contracts::payments::RefundResult::Refunded,
            amount: Some(refunded.amount),
            reason: None,
        })
    }
}

#[tokio::test]
async fn a_reordered_workflow_fails_to_replay_with_a_nondeterminism_error() {
    let (recorded, info) =
        history::parse(&read("refund_payment/partial_with_restock")).expect("a history");
    assert_eq!(info.workflow_type, REFUND_PAYMENT_WORKFLOW);

    history::replay_with(
        recorded.clone(),
        history::options(&info.task_queue).expect("options"),
    )
    .await
    .expect("the real workflow replays its own history");

    let reordered = WorkflowReplayerOptions::new()
        .task_queue(info.task_queue.clone())
        .register_workflow::<ReorderedRefundPayment>()
        .expect("registered")
        .build();
    let err = history::replay_with(recorded, reordered)
        .await
        .expect_err("the reordered workflow must not replay the recorded history");
    assert!(
        matches!(
            err,
            ReplayError::Replay(WorkflowReplayError::Replay(
                WorkflowReplayFailure::Nondeterminism { .. }
            ))
        ),
        "a nondeterminism error, not {err:?}"
    );
}

/// Whether a history carries the marker `ctx.patched(id)` records, and whether it upserts the
/// `TrackingNumber` search attribute.
fn patch_and_upsert(recorded: &History, patch_id: &str) -> (bool, bool) {
    let mut marked = false;
    let mut upserted = false;
    for event in &recorded.events {
        match &event.attributes {
            Some(Attributes::MarkerRecordedEventAttributes(marker)) => {
                marked |= marker
                    .details
                    .values()
                    .flat_map(|p| &p.payloads)
                    .any(|payload| String::from_utf8_lossy(&payload.data).contains(patch_id));
            }
            Some(Attributes::UpsertWorkflowSearchAttributesEventAttributes(upsert)) => {
                upserted |= upsert
                    .search_attributes
                    .as_ref()
                    .is_some_and(|s| s.indexed_fields.contains_key("TrackingNumber"));
            }
            _ => {}
        }
    }
    (marked, upserted)
}

#[tokio::test]
async fn orders_from_before_and_after_the_tracking_number_patch_both_replay() {
    let patch = workflows::place_order::patches::TRACKING_NUMBER_SEARCH_ATTRIBUTE;
    for (path, expected) in [
        (
            "place_order/before_tracking_number_patch/completed",
            (false, false),
        ),
        (
            "place_order/before_weeks_long_orders/completed",
            (true, true),
        ),
    ] {
        let (recorded, info) = history::parse(&read(path)).expect("a history");
        assert_eq!(
            patch_and_upsert(&recorded, patch),
            expected,
            "{path}: (patch marker, TrackingNumber upsert)"
        );
        replays(path, recorded, &info).await;
    }
}

/// The activities a history scheduled through the server's task queues.
fn remote_activities(recorded: &History) -> usize {
    count_events(recorded, |attributes| {
        matches!(
            attributes,
            Attributes::ActivityTaskScheduledEventAttributes(_)
        )
    })
}

#[tokio::test]
async fn orders_from_before_and_after_the_local_read_model_writes_patch_both_replay() {
    let patch = workflows::place_order::patches::LOCAL_READ_MODEL_WRITES;
    // (path, has the patch marker, activities through the server)
    for (path, marked, remote) in [
        (
            "place_order/before_local_read_model_writes/completed",
            false,
            13,
        ),
        ("place_order/before_weeks_long_orders/completed", true, 5),
        (
            "place_order/before_local_read_model_writes/payment_declined",
            false,
            6,
        ),
        // reserve, authorise (declined), release
        (
            "place_order/before_weeks_long_orders/payment_declined",
            true,
            3,
        ),
    ] {
        let (recorded, info) = history::parse(&read(path)).expect("a history");
        assert_eq!(
            patch_and_upsert(&recorded, patch).0,
            marked,
            "{path}: marker"
        );
        assert_eq!(
            remote_activities(&recorded),
            remote,
            "{path}: read-model writes are local after the patch, remote before"
        );
        replays(path, recorded, &info).await;
    }
}

/// How many child workflows a history started.
fn children(recorded: &History) -> usize {
    child_types(recorded).len()
}

/// The workflow types of the children a history started, in order.
fn child_types(recorded: &History) -> Vec<String> {
    recorded
        .events
        .iter()
        .filter_map(|event| match &event.attributes {
            Some(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(started)) => {
                started.workflow_type.as_ref().map(|kind| kind.name.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn orders_from_before_the_weeks_long_patch_ship_with_fulfill_shipment_and_newer_with_follow_parcel()
{
    let before = history::parse(&read("place_order/before_weeks_long_orders/completed"))
        .expect("a history")
        .0;
    let after = history::parse(&read("place_order/completed"))
        .expect("a history")
        .0;
    let before = child_types(&before);
    assert_eq!(
        before
            .iter()
            .filter(|kind| *kind == "FulfillShipment")
            .count(),
        1,
        "{before:?}"
    );
    assert_eq!(child_types(&after), ["FollowParcel"]);
}

#[tokio::test]
async fn workflows_from_before_and_after_each_patch_both_replay() {
    use workflows::{cart, place_order, refund_payment};
    // (path, its patch, marked, child workflows started)
    let cases = [
        // A shipment and a SendNotification per message (five) before; the shipment alone after.
        (
            "place_order/before_weeks_long_orders/completed",
            place_order::patches::WEEKS_LONG_ORDERS,
            false,
            6,
        ),
        (
            "place_order/before_leaner_orders/completed",
            place_order::patches::WEEKS_LONG_ORDERS,
            true,
            1,
        ),
        (
            "cart/before_carts_expire/abandoned",
            cart::patches::CARTS_EXPIRE,
            false,
            1,
        ),
        ("cart/abandoned", cart::patches::CARTS_EXPIRE, true, 1),
        (
            "refund_payment/before_notifications_as_activities/full",
            refund_payment::patches::NOTIFICATIONS_AS_ACTIVITIES,
            false,
            1,
        ),
        (
            "refund_payment/full",
            refund_payment::patches::NOTIFICATIONS_AS_ACTIVITIES,
            true,
            0,
        ),
        // A cart closed at its checkout before; runs on after it since.
        (
            "cart/before_carts_outlive_checkout/checkout",
            cart::patches::CARTS_OUTLIVE_CHECKOUT,
            false,
            0,
        ),
        (
            "cart/checkout",
            cart::patches::CARTS_OUTLIVE_CHECKOUT,
            true,
            0,
        ),
        // A declined order told no cart before; tells its cart since.
        (
            "place_order/payment_declined",
            place_order::patches::DECLINE_TELLS_CART,
            false,
            0,
        ),
        (
            "place_order/declined_from_cart",
            place_order::patches::DECLINE_TELLS_CART,
            true,
            0,
        ),
    ];
    for (path, patch, marked, started) in cases {
        let (recorded, info) = history::parse(&read(path)).expect("a history");
        assert_eq!(
            patch_and_upsert(&recorded, patch).0,
            marked,
            "{path}: marker"
        );
        assert_eq!(children(&recorded), started, "{path}: child workflows");
        replays(path, recorded, &info).await;
    }
}

/// How many events of a history `matches` picks.
fn count_events(recorded: &History, matches: impl Fn(&Attributes) -> bool) -> usize {
    recorded
        .events
        .iter()
        .filter(|event| event.attributes.as_ref().is_some_and(&matches))
        .count()
}

/// The customer messages a history sent as `NotifyCustomer` activities.
fn customer_messages(recorded: &History) -> usize {
    count_events(recorded, |attributes| {
        matches!(attributes, Attributes::ActivityTaskScheduledEventAttributes(scheduled)
            if scheduled.activity_type.as_ref().is_some_and(|kind| kind.name == "NotifyCustomer"))
    })
}

/// The patch markers a history recorded.
fn patch_markers(recorded: &History) -> usize {
    count_events(recorded, |attributes| {
        matches!(attributes, Attributes::MarkerRecordedEventAttributes(marker)
            if marker.marker_name == "core_patch")
    })
}

/// The upserts of a history that set `CustomerId` (the order's first search attributes).
fn initial_upserts(recorded: &History) -> usize {
    count_events(recorded, |attributes| {
        matches!(attributes, Attributes::UpsertWorkflowSearchAttributesEventAttributes(upsert)
            if upsert.search_attributes.as_ref()
                .is_some_and(|s| s.indexed_fields.contains_key("CustomerId")))
    })
}

#[tokio::test]
async fn orders_from_before_the_leaner_orders_patch_announce_their_label_and_newer_do_not() {
    use workflows::place_order::patches::{LEANER_ORDERS, WEEKS_LONG_ORDERS};
    // (path, (weeks-long marker, leaner-orders marker), customer messages, initial upserts)
    for (path, markers, messages, upserts) in [
        (
            "place_order/before_leaner_orders/completed",
            (true, false),
            5,
            1,
        ),
        // Started by the intake with its search attributes: no upsert of its own.
        ("place_order/completed", (false, true), 4, 0),
    ] {
        let (recorded, info) = history::parse(&read(path)).expect("a history");
        assert_eq!(
            (
                patch_and_upsert(&recorded, WEEKS_LONG_ORDERS).0,
                patch_and_upsert(&recorded, LEANER_ORDERS).0
            ),
            markers,
            "{path}: markers"
        );
        assert_eq!(
            patch_markers(&recorded),
            1,
            "{path}: one patch marker per order"
        );
        assert_eq!(customer_messages(&recorded), messages, "{path}: messages");
        assert_eq!(
            initial_upserts(&recorded),
            upserts,
            "{path}: first attributes upserted"
        );
        replays(path, recorded, &info).await;
    }
}
