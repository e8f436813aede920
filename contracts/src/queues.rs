//! Services and their task queues.
//!
//! Each service polls exactly one task queue named after it, so each can be scaled alone
//! (`emporium worker --service inventory`). A deployment may put a prefix in front of every
//! name (tests give each test its own prefix, so tests sharing one Temporal server never pick up
//! each other's tasks). Workflows find their sibling queues from their own queue name, which is
//! recorded in history and therefore deterministic.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A business service: one Postgres schema, one set of activities, one task queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// PlaceOrder workflows and the order read model.
    Orders,
    /// Stock levels and reservations.
    Inventory,
    /// Payment authorisation, capture, void and refunds through a payment gateway.
    Payments,
    /// FollowParcel (and FulfillShipment) workflows; rate shopping, labels and tracking across
    /// carriers.
    Shipping,
    /// SendNotification workflows; email, SMS and webhook delivery.
    Notifications,
    /// The DailySalesReport workflow; sales reports read through its own views.
    Reporting,
}

impl Service {
    /// Every service that runs a worker, in start-up order.
    pub const ALL: [Service; 6] = [
        Service::Orders,
        Service::Inventory,
        Service::Payments,
        Service::Shipping,
        Service::Notifications,
        Service::Reporting,
    ];

    /// The service's name, which is also its task-queue name (before any prefix).
    pub const fn as_str(self) -> &'static str {
        match self {
            Service::Orders => "orders",
            Service::Inventory => "inventory",
            Service::Payments => "payments",
            Service::Shipping => "shipping",
            Service::Notifications => "notifications",
            Service::Reporting => "reporting",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given was not one of [`Service::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown service `{0}` (expected one of: orders, inventory, payments, shipping, notifications, reporting)"
)]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.as_str() == s)
            .ok_or_else(|| UnknownService(s.to_owned()))
    }
}

/// Task-queue names for one deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskQueues {
    prefix: String,
}

impl TaskQueues {
    /// Queue names with the given prefix (`""` in a normal deployment).
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix in front of every queue name.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The task queue a service's worker polls.
    pub fn of(&self, service: Service) -> String {
        format!("{}{}", self.prefix, service.as_str())
    }

    /// Recovers the deployment's queue names from the queue a workflow runs on. Workflows call
    /// this with their own task queue to route activities to sibling services.
    pub fn from_workflow_queue(own_queue: &str, own_service: Service) -> Self {
        let prefix = own_queue
            .strip_suffix(own_service.as_str())
            .unwrap_or_default();
        Self::with_prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_prefixed_service_names() {
        let queues = TaskQueues::with_prefix("t42-");
        assert_eq!(queues.of(Service::Inventory), "t42-inventory");
        assert_eq!(TaskQueues::default().of(Service::Orders), "orders");
    }

    #[test]
    fn a_workflow_finds_its_siblings_from_its_own_queue() {
        let queues = TaskQueues::from_workflow_queue("t42-orders", Service::Orders);
        assert_eq!(queues.of(Service::Payments), "t42-payments");
        let plain = TaskQueues::from_workflow_queue("orders", Service::Orders);
        assert_eq!(plain.of(Service::Payments), "payments");
    }

    #[test]
    fn services_parse_from_their_names_only() {
        for service in Service::ALL {
            assert_eq!(service.as_str().parse::<Service>(), Ok(service));
        }
        assert!("billing".parse::<Service>().is_err());
    }
}
