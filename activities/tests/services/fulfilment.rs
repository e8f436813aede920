//! Refunds, labels and notifications at the service level: idempotent per natural key, never
//! more money back than was taken, never a message sent twice.

use crate::{RISK, eur};
use activities::PaymentsActivities;
use activities::notifications::{EmailSender, NotificationsActivities, SmtpConfig};
use activities::payments::PaymentsError;
use activities::payments::sandbox::SandboxGateway;
use activities::shipping::simulated::SimulatedCarrier;
use activities::shipping::{Carriers, ShippingActivities, TrackingPolicy};
use contracts::inventory::StockLine;
use contracts::notifications::{Channel, Notification, Recipient, Template, TemplateData};
use contracts::payments::{AuthorizePayment, IssueRefund, SettlePayment};
use contracts::shipping::{
    Address, BuyLabel, RecordTracking, ShipmentRequest, ShipmentStatus, TrackingEvent,
};
use contracts::{OrderId, Sku, Uuid};
use std::sync::Arc;
use std::time::Duration;
use testkit::TestDb;

async fn captured_order(payments: &PaymentsActivities, cents: i64) -> OrderId {
    let order_id = OrderId::new();
    let authorization = payments
        .authorize(&AuthorizePayment {
            order_id,
            attempt: 1,
            amount: eur(cents),
            payment_method: "pm_card_visa".parse().expect("a token"),
            idempotency_key: format!("{order_id}/authorize"),
        })
        .await
        .expect("authorised");
    payments
        .capture(&SettlePayment {
            authorization,
            idempotency_key: format!("{order_id}/capture"),
        })
        .await
        .expect("captured");
    order_id
}

fn refund(order_id: OrderId, refund_id: Uuid, cents: Option<i64>) -> IssueRefund {
    IssueRefund {
        refund_id,
        order_id,
        amount: cents.map(eur),
        reason: "test".into(),
        idempotency_key: format!("refund-{refund_id}/issue"),
    }
}

#[tokio::test]
async fn a_refund_is_issued_once_per_refund_id() {
    let test_db = TestDb::create().await;
    let payments = PaymentsActivities::new(
        test_db.db.clone(),
        Arc::new(SandboxGateway::default()),
        RISK,
    );
    let order = captured_order(&payments, 3000).await;
    let id = Uuid::now_v7();

    let first = payments
        .refund(&refund(order, id, Some(1000)))
        .await
        .expect("refunded");
    let again = payments
        .refund(&refund(order, id, Some(1000)))
        .await
        .expect("same refund");

    assert_eq!(first, again);
    let balance = activities::payments::queries::refund_balance(&test_db.db, order)
        .await
        .expect("read")
        .expect("captured");
    assert_eq!(balance.refundable.amount_minor, 2000);
}

#[tokio::test]
async fn concurrent_refunds_never_return_more_than_was_captured() {
    let test_db = TestDb::create().await;
    let payments = Arc::new(PaymentsActivities::new(
        test_db.db.clone(),
        Arc::new(SandboxGateway::default()),
        RISK,
    ));
    let order = captured_order(&payments, 3000).await;

    let attempts = (0..10).map(|_| {
        let payments = payments.clone();
        tokio::spawn(async move {
            payments
                .refund(&refund(order, Uuid::now_v7(), Some(1000)))
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;

    let refunded = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(PaymentsError::RefundExceedsCaptured { .. }))))
        .count();
    assert_eq!((refunded, refused), (3, 7));
    let full = payments.refund(&refund(order, Uuid::now_v7(), None)).await;
    assert!(
        matches!(full, Err(PaymentsError::RefundExceedsCaptured { .. })),
        "nothing left"
    );
}

fn shipment(order_id: OrderId) -> ShipmentRequest {
    ShipmentRequest {
        order_id,
        notify_workflow_id: format!("order-{order_id}"),
        address: Address {
            name: "Ada".into(),
            line1: "1 Street".into(),
            line2: None,
            city: "London".into(),
            postal_code: "N1".into(),
            country: "GB".into(),
        },
        lines: vec![StockLine {
            sku: Sku::from("MUG"),
            quantity: 1,
        }],
    }
}

#[tokio::test]
async fn a_label_is_bought_once_per_order_and_tracking_recorded_once_per_event() {
    let test_db = TestDb::create().await;
    let shipping = ShippingActivities::new(
        test_db.db.clone(),
        Carriers::default().with(Arc::new(SimulatedCarrier::new(Duration::from_secs(60)))),
        TrackingPolicy {
            poll_interval: Duration::from_secs(5),
            poll_max_interval: Duration::from_secs(5),
            delivery_deadline: Duration::from_secs(600),
        },
    );
    let order = OrderId::new();
    let rates = shipping.rates(&shipment(order)).await.expect("rates");
    assert_eq!(rates[0].service, "standard", "cheapest first");
    let buy = BuyLabel {
        request: shipment(order),
        rate: rates[0].clone(),
        idempotency_key: "k".into(),
    };

    let first = shipping.label(&buy).await.expect("bought");
    let again = shipping.label(&buy).await.expect("same label");
    let event = TrackingEvent {
        event_id: "e1".into(),
        tracking_number: first.tracking_number.clone(),
        status: ShipmentStatus::InTransit,
        description: "picked up".into(),
        occurred_at: "now".into(),
        location: None,
    };
    for _ in 0..2 {
        shipping
            .record(&RecordTracking {
                order_id: order,
                event: event.clone(),
            })
            .await
            .expect("recorded");
    }

    assert_eq!(first, again);
    let view = activities::shipping::queries::shipment_of(&test_db.db, order)
        .await
        .expect("read")
        .expect("a shipment");
    assert_eq!((view.status.as_str(), view.events.len()), ("in_transit", 1));
    shipping
        .cancel(&first)
        .await
        .expect("not picked up yet: cancelled");
    let view = activities::shipping::queries::shipment_of(&test_db.db, order)
        .await
        .expect("read")
        .expect("a shipment");
    assert_eq!(view.status, "cancelled");
}

#[tokio::test]
async fn the_simulated_carrier_refuses_to_cancel_a_parcel_it_has_picked_up() {
    let test_db = TestDb::create().await;
    let shipping = ShippingActivities::new(
        test_db.db.clone(),
        Carriers::default().with(Arc::new(SimulatedCarrier::new(Duration::from_millis(50)))),
        TrackingPolicy {
            poll_interval: Duration::from_secs(5),
            poll_max_interval: Duration::from_secs(5),
            delivery_deadline: Duration::from_secs(600),
        },
    );
    let order = OrderId::new();
    let rate = shipping
        .rates(&shipment(order))
        .await
        .expect("rates")
        .remove(0);
    let label = shipping
        .label(&BuyLabel {
            request: shipment(order),
            rate,
            idempotency_key: "k".into(),
        })
        .await
        .expect("bought");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let refused = shipping.cancel(&label).await;
    let events = shipping
        .track(&label, std::time::SystemTime::now())
        .await
        .expect("tracking");

    assert!(refused.is_err());
    let statuses: Vec<_> = events.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            ShipmentStatus::InTransit,
            ShipmentStatus::OutForDelivery,
            ShipmentStatus::Delivered
        ]
    );
}

#[tokio::test]
async fn a_sent_notification_is_not_sent_again() {
    let test_db = TestDb::create().await;
    let smtp = testkit::smtp::smtp_server();
    let email = EmailSender::smtp(
        &SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp.port,
            starttls: false,
            username: None,
            password: None,
        },
        "Emporium <orders@emporium.test>",
    )
    .expect("sender");
    let notifications =
        NotificationsActivities::new(test_db.db.clone(), email, None).expect("service");
    let to = format!("once-{}@example.com", Uuid::now_v7().simple());
    let notification = Notification {
        notification_id: format!("test-{}", Uuid::now_v7()),
        recipient: Recipient {
            email: Some(to.clone()),
            ..Recipient::default()
        },
        template: Template::Custom,
        data: TemplateData {
            subject: Some("Once".into()),
            body: Some("only once".into()),
            ..TemplateData::default()
        },
        channels: vec![Channel::Email],
    };

    let first = notifications
        .send(&notification, Channel::Email, 1)
        .await
        .expect("sent");
    let again = notifications
        .send(&notification, Channel::Email, 2)
        .await
        .expect("already sent");

    assert_eq!(first, again);
    let received = smtp.wait_for(&to, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages_to(&to).len(), 1);
    assert_eq!(received[0].subject, "Once");
    let sms = notifications.send(&notification, Channel::Sms, 1).await;
    assert!(
        sms.is_ok(),
        "already delivered: the SMS is not tried either"
    );
}
