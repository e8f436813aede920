//! Payment gateways for tests that need a provider to misbehave on purpose.

use activities::payments::{AuthorizeRequest, GatewayError, PaymentGateway};
use async_trait::async_trait;
use contracts::Money;
use std::sync::{Arc, Mutex, PoisonError};

/// How a [`ScriptedGateway`] misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Refuse every authorisation outright (not a decline).
    pub refuse_authorize: bool,
    /// Decline every authorisation after this many approved ones (a card that stops working).
    pub decline_authorize_after: Option<usize>,
    /// Refuse every capture outright.
    pub refuse_capture: bool,
    /// Answer this many voids with an outage before letting them through.
    pub void_outages: usize,
    /// Refuse every refund outright.
    pub refuse_refund: bool,
}

/// Wraps a real gateway, follows a [`Script`], and records every call.
pub struct ScriptedGateway {
    inner: Arc<dyn PaymentGateway>,
    script: Mutex<Script>,
    calls: Mutex<Vec<String>>,
}

impl ScriptedGateway {
    /// A gateway in front of `inner`.
    pub fn new(inner: Arc<dyn PaymentGateway>, script: Script) -> Arc<Self> {
        Arc::new(Self {
            inner,
            script: Mutex::new(script),
            calls: Mutex::new(Vec::new()),
        })
    }

    /// Every call so far: `authorize`, `capture`, `void`, each with `!` when it failed.
    pub fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, call: &str, failed: bool) {
        let entry = if failed {
            format!("{call}!")
        } else {
            call.to_owned()
        };
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    /// How many authorisations the provider approved so far.
    fn approved_authorizations(&self) -> usize {
        self.calls()
            .iter()
            .filter(|call| *call == "authorize")
            .count()
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PaymentGateway for ScriptedGateway {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    fn authorization_validity(&self) -> std::time::Duration {
        self.inner.authorization_validity()
    }

    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<String, GatewayError> {
        if self.script().refuse_authorize {
            self.record("authorize", true);
            return Err(GatewayError::Rejected(
                "the provider refused the request".into(),
            ));
        }
        let limit = self.script().decline_authorize_after;
        if limit.is_some_and(|limit| self.approved_authorizations() >= limit) {
            self.record("authorize", true);
            return Err(GatewayError::Declined {
                code: "card_declined".into(),
                message: "Your card was declined.".into(),
            });
        }
        let result = self.inner.authorize(request).await;
        self.record("authorize", result.is_err());
        result
    }

    async fn capture(
        &self,
        provider_ref: &str,
        amount: &Money,
        key: &str,
    ) -> Result<(), GatewayError> {
        if self.script().refuse_capture {
            self.record("capture", true);
            return Err(GatewayError::Rejected(
                "the provider refused the capture".into(),
            ));
        }
        let result = self.inner.capture(provider_ref, amount, key).await;
        self.record("capture", result.is_err());
        result
    }

    async fn void(&self, provider_ref: &str, key: &str) -> Result<(), GatewayError> {
        let outage = {
            let mut script = self.script();
            let outage = script.void_outages > 0;
            script.void_outages = script.void_outages.saturating_sub(1);
            outage
        };
        if outage {
            self.record("void", true);
            return Err(GatewayError::Unavailable("the provider is down".into()));
        }
        let result = self.inner.void(provider_ref, key).await;
        self.record("void", result.is_err());
        result
    }

    async fn refund(
        &self,
        provider_ref: &str,
        amount: &Money,
        key: &str,
    ) -> Result<String, GatewayError> {
        if self.script().refuse_refund {
            self.record("refund", true);
            return Err(GatewayError::Rejected(
                "the provider refused the refund".into(),
            ));
        }
        let result = self.inner.refund(provider_ref, amount, key).await;
        self.record("refund", result.is_err());
        result
    }
}
