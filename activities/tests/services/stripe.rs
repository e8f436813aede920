//! The Stripe gateway: the real async-stripe client against a fake Stripe over HTTP.

use activities::payments::stripe::StripeGateway;
use activities::payments::{AuthorizeRequest, GatewayError, PaymentGateway};
use contracts::{Currency, Money, OrderId};
use secrecy::SecretString;
use testkit::fake_stripe::FakeStripe;

fn eur(cents: i64) -> Money {
    Money::new(cents, Currency::new("EUR").expect("EUR"))
}

async fn gateway() -> (FakeStripe, StripeGateway) {
    let fake = FakeStripe::start().await;
    let gateway = StripeGateway::new(&SecretString::from(fake.secret_key.clone()), &fake.base_url)
        .expect("a client");
    (fake, gateway)
}

fn request<'a>(
    order_id: OrderId,
    amount: &'a Money,
    method: &'a str,
    key: &'a str,
) -> AuthorizeRequest<'a> {
    AuthorizeRequest {
        order_id,
        amount,
        payment_method: method,
        idempotency_key: key,
    }
}

#[tokio::test]
async fn an_authorisation_is_a_manual_capture_payment_intent_tagged_with_its_order() {
    let (fake, gateway) = gateway().await;
    let order = OrderId::new();
    let amount = eur(2500);

    let id = gateway
        .authorize(request(order, &amount, "pm_card_visa", "k-auth"))
        .await
        .expect("ok");

    let intents = fake.intents_of(&order.to_string());
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0].id, id);
    assert_eq!(
        (intents[0].amount, intents[0].currency.as_str()),
        (2500, "eur")
    );
    assert_eq!(intents[0].status, "requires_capture");
}

#[tokio::test]
async fn a_retried_call_with_the_same_key_charges_once() {
    let (fake, gateway) = gateway().await;
    let order = OrderId::new();
    let amount = eur(2500);

    let first = gateway
        .authorize(request(order, &amount, "pm_card_visa", "k-1"))
        .await
        .expect("ok");
    let again = gateway
        .authorize(request(order, &amount, "pm_card_visa", "k-1"))
        .await
        .expect("ok");
    gateway
        .capture(&first, &amount, "k-capture")
        .await
        .expect("captured");
    gateway
        .capture(&first, &amount, "k-capture")
        .await
        .expect("replayed");

    assert_eq!(first, again);
    assert_eq!(
        fake.operations(),
        [format!("create {first}"), format!("capture {first}")]
    );
    assert_eq!(fake.intents()[0].amount_received, 2500);
}

#[tokio::test]
async fn reusing_a_key_for_another_request_is_refused_and_not_retried() {
    let (fake, gateway) = gateway().await;
    let order = OrderId::new();

    gateway
        .authorize(request(order, &eur(2500), "pm_card_visa", "k-1"))
        .await
        .expect("ok");
    let other = gateway
        .authorize(request(order, &eur(9900), "pm_card_visa", "k-1"))
        .await;

    assert!(
        matches!(other, Err(GatewayError::Rejected(ref m)) if m.contains("idempotency_error")),
        "{other:?}"
    );
    assert_eq!(fake.intents().len(), 1);
}

#[tokio::test]
async fn a_card_error_is_a_decline_with_stripes_decline_code() {
    let (_fake, gateway) = gateway().await;
    let amount = eur(2500);

    let declined = gateway
        .authorize(request(
            OrderId::new(),
            &amount,
            "pm_card_chargeDeclinedInsufficientFunds",
            "k-1",
        ))
        .await;

    assert_eq!(
        declined,
        Err(GatewayError::Declined {
            code: "insufficient_funds".into(),
            message: "Your card has insufficient funds.".into()
        })
    );
}

#[tokio::test]
async fn an_outage_is_retryable_and_the_retry_finds_one_payment() {
    let (fake, gateway) = gateway().await;
    let order = OrderId::new();
    let amount = eur(2500);
    fake.fail_next(1);

    let during = gateway
        .authorize(request(order, &amount, "pm_card_visa", "k-1"))
        .await;
    let after = gateway
        .authorize(request(order, &amount, "pm_card_visa", "k-1"))
        .await;

    assert!(
        matches!(during, Err(GatewayError::Unavailable(_))),
        "{during:?}"
    );
    assert!(after.is_ok());
    assert_eq!(fake.intents().len(), 1);
}

#[tokio::test]
async fn voiding_cancels_before_capture_and_is_refused_after() {
    let (fake, gateway) = gateway().await;
    let amount = eur(1000);
    let held = gateway
        .authorize(request(OrderId::new(), &amount, "pm_card_visa", "a"))
        .await
        .expect("ok");
    let taken = gateway
        .authorize(request(OrderId::new(), &amount, "pm_card_visa", "b"))
        .await
        .expect("ok");
    gateway
        .capture(&taken, &amount, "b-capture")
        .await
        .expect("captured");

    gateway.void(&held, "a-void").await.expect("cancelled");
    let too_late = gateway.void(&taken, "b-void").await;

    assert!(
        matches!(too_late, Err(GatewayError::Rejected(_))),
        "{too_late:?}"
    );
    let statuses: Vec<_> = fake
        .intents()
        .into_iter()
        .map(|i| (i.id, i.status))
        .collect();
    assert!(statuses.contains(&(held, "canceled".to_owned())));
    assert!(statuses.contains(&(taken, "succeeded".to_owned())));
}

#[tokio::test]
async fn a_wrong_secret_key_is_refused() {
    let fake = FakeStripe::start().await;
    let gateway = StripeGateway::new(
        &SecretString::from("sk_test_wrong".to_owned()),
        &fake.base_url,
    )
    .expect("a client");

    let refused = gateway
        .authorize(request(OrderId::new(), &eur(100), "pm_card_visa", "k"))
        .await;

    assert!(
        matches!(refused, Err(GatewayError::Rejected(ref m)) if m.contains("401")),
        "{refused:?}"
    );
}

/// An authorised and captured PaymentIntent of `cents`.
async fn captured(gateway: &StripeGateway, cents: i64, key: &str) -> String {
    let amount = eur(cents);
    let id = gateway
        .authorize(request(OrderId::new(), &amount, "pm_card_visa", key))
        .await
        .expect("authorised");
    gateway
        .capture(&id, &amount, &format!("{key}/capture"))
        .await
        .expect("captured");
    id
}

#[tokio::test]
async fn refunds_are_partial_or_full_and_never_more_than_was_captured() {
    let (fake, gateway) = gateway().await;
    let intent = captured(&gateway, 2500, "order-1").await;

    let first = gateway
        .refund(&intent, &eur(1000), "refund-1")
        .await
        .expect("a partial refund");
    let again = gateway
        .refund(&intent, &eur(1000), "refund-1")
        .await
        .expect("replayed");
    let too_much = gateway.refund(&intent, &eur(1501), "refund-2").await;
    let rest = gateway
        .refund(&intent, &eur(1500), "refund-3")
        .await
        .expect("the rest");
    let beyond = gateway.refund(&intent, &eur(1), "refund-4").await;

    assert_eq!(first, again, "the same key is the same refund");
    assert_ne!(first, rest);
    assert!(
        matches!(too_much, Err(GatewayError::Rejected(ref m)) if m.contains("greater than")),
        "{too_much:?}"
    );
    assert!(
        matches!(beyond, Err(GatewayError::Rejected(ref m)) if m.contains("already been refunded")),
        "{beyond:?}"
    );
    assert_eq!(fake.refunded(&intent), 2500);
    let refunds = fake.refunds();
    assert_eq!(
        refunds
            .iter()
            .map(|r| (r.amount, r.currency.as_str()))
            .collect::<Vec<_>>(),
        [(1000, "eur"), (1500, "eur")]
    );
}

#[tokio::test]
async fn a_refund_before_capture_is_refused() {
    let (fake, gateway) = gateway().await;
    let held = gateway
        .authorize(request(OrderId::new(), &eur(900), "pm_card_visa", "held"))
        .await
        .expect("authorised");

    let refused = gateway.refund(&held, &eur(900), "refund-held").await;

    assert!(
        matches!(refused, Err(GatewayError::Rejected(_))),
        "{refused:?}"
    );
    assert!(fake.refunds().is_empty());
}

#[tokio::test]
async fn each_call_whose_answer_was_lost_replays_on_retry_instead_of_charging_again() {
    let (fake, gateway) = gateway().await;
    let order = OrderId::new();
    let amount = eur(2500);
    let lost = |result: Result<(), GatewayError>| {
        assert!(
            matches!(result, Err(GatewayError::Unavailable(_))),
            "a lost answer is retryable: {result:?}"
        );
    };

    fake.drop_next(1);
    lost(
        gateway
            .authorize(request(order, &amount, "pm_card_visa", "o/authorize"))
            .await
            .map(drop),
    );
    let intent = gateway
        .authorize(request(order, &amount, "pm_card_visa", "o/authorize"))
        .await
        .expect("the retry finds the first authorisation");

    fake.drop_next(1);
    lost(gateway.capture(&intent, &amount, "o/capture").await);
    gateway
        .capture(&intent, &amount, "o/capture")
        .await
        .expect("the retry finds the capture");

    fake.drop_next(1);
    lost(
        gateway
            .refund(&intent, &eur(700), "o/refund")
            .await
            .map(drop),
    );
    let refund = gateway
        .refund(&intent, &eur(700), "o/refund")
        .await
        .expect("the retry finds the refund");

    let other = gateway
        .authorize(request(
            OrderId::new(),
            &amount,
            "pm_card_visa",
            "p/authorize",
        ))
        .await
        .expect("authorised");
    fake.drop_next(1);
    lost(gateway.void(&other, "p/void").await);
    gateway
        .void(&other, "p/void")
        .await
        .expect("the retry finds the void");

    assert_eq!(
        fake.operations(),
        [
            format!("create {intent}"),
            format!("capture {intent}"),
            format!("refund {intent} 700"),
            format!("create {other}"),
            format!("cancel {other}"),
        ],
        "each state change happened once"
    );
    assert_eq!(fake.refunds().len(), 1);
    assert_eq!(fake.refunds()[0].id, refund);
    assert_eq!(fake.intents_of(&order.to_string())[0].amount_received, 2500);
}
