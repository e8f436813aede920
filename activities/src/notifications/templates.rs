//! The messages: one template per kind of news, rendered with minijinja.
//!
//! Each template has a subject, an email body and a short SMS text. They see the notification's
//! `TemplateData` (`order_id`, `amount`, `carrier`, `tracking_number`, `reason`, `subject`,
//! `body`); money is pre-formatted as `amount` (for example `24.00 EUR`).

use contracts::notifications::{Template, TemplateData};
use minijinja::{Environment, context};
use std::sync::OnceLock;

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Email subject.
    pub subject: String,
    /// Email body (plain text).
    pub body: String,
    /// SMS text.
    pub sms: String,
}

/// `(template, subject, body, sms)`.
const SOURCES: &[(Template, &str, &str, &str)] = &[
    (
        Template::OrderConfirmed,
        "Your order {{ short_id }} is confirmed",
        "Thank you for your order!\n\nOrder {{ order_id }} is confirmed and paid for with {{ amount }}.\nWe will let you know as soon as it ships.\n",
        "Emporium: order {{ short_id }} confirmed ({{ amount }}).",
    ),
    (
        Template::PaymentFailed,
        "We could not take the payment for order {{ short_id }}",
        "Your payment for order {{ order_id }} did not go through: {{ reason }}.\nNothing was charged and the items were released. You are welcome to try again with another card.\n",
        "Emporium: payment for order {{ short_id }} failed. Nothing was charged.",
    ),
    (
        Template::LabelCreated,
        "Order {{ short_id }} is being packed",
        "Your order {{ order_id }} is being packed. It will travel with {{ carrier }}, tracking number {{ tracking_number }}.\n",
        "Emporium: order {{ short_id }} is being packed ({{ carrier }} {{ tracking_number }}).",
    ),
    (
        Template::Shipped,
        "Order {{ short_id }} has shipped",
        "Good news: {{ carrier }} has your parcel for order {{ order_id }}.\nTracking number: {{ tracking_number }}.\n",
        "Emporium: order {{ short_id }} shipped with {{ carrier }}, tracking {{ tracking_number }}.",
    ),
    (
        Template::OutForDelivery,
        "Order {{ short_id }} is out for delivery",
        "Your parcel for order {{ order_id }} is out for delivery today (tracking {{ tracking_number }}).\n",
        "Emporium: order {{ short_id }} is out for delivery today.",
    ),
    (
        Template::Delivered,
        "Order {{ short_id }} was delivered",
        "Your parcel for order {{ order_id }} was delivered. Enjoy!\n",
        "Emporium: order {{ short_id }} was delivered.",
    ),
    (
        Template::ShipmentException,
        "A problem with the delivery of order {{ short_id }}",
        "The carrier could not deliver your parcel for order {{ order_id }}: {{ reason }}.\nWe are refunding you; you will receive a confirmation.\n",
        "Emporium: delivery problem with order {{ short_id }}; we are refunding you.",
    ),
    (
        Template::Refunded,
        "Refund of {{ amount }} for order {{ short_id }}",
        "We refunded {{ amount }} for order {{ order_id }}.\nReason: {{ reason }}.\nIt reaches your account within a few days.\n",
        "Emporium: {{ amount }} refunded for order {{ short_id }}.",
    ),
    (
        Template::Cancelled,
        "Order {{ short_id }} is cancelled",
        "Order {{ order_id }} is cancelled ({{ reason }}). Nothing was charged.\n",
        "Emporium: order {{ short_id }} cancelled. Nothing was charged.",
    ),
    (
        Template::AbandonedCart,
        "Your cart is waiting",
        "You left items worth {{ amount }} in your cart. They are still there when you come back.\n",
        "Emporium: your cart ({{ amount }}) is waiting.",
    ),
    (
        Template::Custom,
        "{{ subject }}",
        "{{ body }}\n",
        "{{ subject }}: {{ body }}",
    ),
    (
        Template::DailySalesReport,
        "Emporium sales report for {{ subject }}",
        "Sales on {{ subject }} (UTC), as the reporting service saw them this morning.\n\n{{ body }}\nThe same numbers for any range: GET /report/sales and GET /analytics/overview.\n",
        "Emporium: the sales report for {{ subject }} is in your mailbox.",
    ),
    (
        Template::SupportReply,
        "About your order {{ short_id }}: we answered",
        "We answered your message about order {{ order_id }}:\n\n{{ body }}\n\nReply on the order's page; the whole conversation is there.\n",
        "Emporium: we answered your message about order {{ short_id }}.",
    ),
    (
        Template::PasswordReset,
        "Set a new password for Emporium",
        "Someone (we hope you) asked to set a new password for your Emporium account.\n\nFollow this link to choose one (it works once, and only for a while):\n{{ body }}\n\nIf it was not you, ignore this message: your password stays as it is.\n",
        "Emporium: set a new password at {{ body }}",
    ),
    (
        Template::EmailChange,
        "Confirm your new email address for Emporium",
        "Follow this link to make this address your Emporium login:\n{{ body }}\n\nIf you did not ask for it, ignore this message.\n",
        "Emporium: confirm your new email at {{ body }}",
    ),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for &(template, subject, body, sms) in SOURCES {
            let name = template.as_str();
            for (part, source) in [("subject", subject), ("body", body), ("sms", sms)] {
                // The sources are constants checked by the tests below.
                let _ = env.add_template_owned(format!("{name}.{part}"), source.to_owned());
            }
        }
        env
    })
}

/// Renders the template with the data.
pub fn render(template: Template, data: &TemplateData) -> Result<Rendered, minijinja::Error> {
    let order_id = data.order_id.map(|id| id.to_string()).unwrap_or_default();
    let short_id = order_id
        .split('-')
        .next_back()
        .unwrap_or_default()
        .to_owned();
    let ctx = context! {
        order_id => order_id,
        short_id => short_id,
        amount => data.amount.as_ref().map(ToString::to_string).unwrap_or_default(),
        carrier => data.carrier.clone().unwrap_or_default(),
        tracking_number => data.tracking_number.clone().unwrap_or_default(),
        reason => data.reason.clone().unwrap_or_default(),
        subject => data.subject.clone().unwrap_or_default(),
        body => data.body.clone().unwrap_or_default(),
    };
    let env = environment();
    let part = |part: &str| -> Result<String, minijinja::Error> {
        env.get_template(&format!("{}.{part}", template.as_str()))?
            .render(&ctx)
    };
    Ok(Rendered {
        subject: part("subject")?,
        body: part("body")?,
        sms: part("sms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use contracts::{Currency, Money, OrderId};

    #[test]
    fn every_template_renders_with_its_data() {
        let data = TemplateData {
            order_id: Some(OrderId::new()),
            amount: Some(Money::new(2400, Currency::new("EUR").expect("EUR"))),
            carrier: Some("simulated".into()),
            tracking_number: Some("SIM-N-1-abc".into()),
            reason: Some("card declined".into()),
            subject: Some("Hello".into()),
            body: Some("World".into()),
        };
        for &(template, ..) in SOURCES {
            let rendered = render(template, &data).expect("renders");
            assert!(
                !rendered.subject.is_empty() && !rendered.body.is_empty(),
                "{template}"
            );
        }
        let shipped = render(Template::Shipped, &data).expect("renders");
        assert!(shipped.body.contains("SIM-N-1-abc"));
        assert!(
            render(Template::OrderConfirmed, &data)
                .expect("renders")
                .body
                .contains("24.00 EUR")
        );
    }

    #[test]
    fn every_template_kind_has_sources() {
        use Template::*;
        for template in [
            OrderConfirmed,
            PaymentFailed,
            LabelCreated,
            Shipped,
            OutForDelivery,
            Delivered,
            ShipmentException,
            Refunded,
            Cancelled,
            AbandonedCart,
            Custom,
            DailySalesReport,
            SupportReply,
            PasswordReset,
            EmailChange,
        ] {
            assert!(
                SOURCES.iter().any(|(t, ..)| *t == template),
                "{template} has no source"
            );
        }
    }
}
