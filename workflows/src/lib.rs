//! Emporium's workflows: the business processes, as deterministic Temporal workflow code.
//!
//! Workflow code runs again from the start whenever a worker replays its history, so it must
//! take every decision from its input, its history and its own state: no clocks, no randomness,
//! no I/O, no tokio. It reaches the outside world only by calling activities, through the
//! definitions in `contracts`, on the task queue of the service that owns them.
//!
//! - [`PlaceOrder`] (`order-<id>`, queue `orders`): the order saga.
//! - [`FollowParcel`] (`shipment-<order id>`, queue `shipping`): a parcel, from its label to its
//!   end.
//! - [`FulfillShipment`] (`shipment-<order id>`, queue `shipping`): label and tracking, for the
//!   orders from before the weeks-long patch.
//! - [`RefundPayment`] (`refund-<id>`, queue `payments`): money back, restock, notify.
//! - [`SendNotification`] (`notification-<id>`, queue `notifications`): one message, once.
//! - [`Cart`] (`cart-<customer id>`, queue `orders`): a customer's cart, until checkout.
//! - [`AdjustStock`] (`stock-adjustment-<id>`, queue `inventory`): an admin's stock change.
//! - [`DailySalesReport`] (schedule `daily-sales-report`, queue `reporting`): yesterday's sales,
//!   emailed to the admins.
//! - [`DeliverWebhook`] (`webhook-<delivery id>`, queue `notifications`): one domain event to
//!   one merchant endpoint, signed, retried over hours.

pub mod adjust_stock;
pub mod cart;
mod clock;
pub mod daily_sales_report;
pub mod deliver_webhook;
pub mod follow_parcel;
pub mod fulfill_shipment;
mod notify;
pub mod options;
pub mod place_order;
pub mod refund_payment;
pub mod send_notification;

pub use adjust_stock::AdjustStock;
pub use cart::Cart;
pub use daily_sales_report::DailySalesReport;
pub use deliver_webhook::DeliverWebhook;
pub use follow_parcel::FollowParcel;
pub use fulfill_shipment::FulfillShipment;
pub use place_order::PlaceOrder;
pub use refund_payment::RefundPayment;
pub use send_notification::SendNotification;
