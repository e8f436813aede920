//! Cart (`cart-<customer id>`, task queue `orders`): a customer's cart, long-running.
//!
//! Every change is an update whose validator refuses bad input (quantity bounds, mixed
//! currencies, an expired coupon, a checkout whose prices do not match the cart) before it
//! enters history; the `cart` query answers lines and totals. A checkout takes two updates
//! around the API's order intake, the one way every order is placed: `begin_checkout` holds the
//! cart still and reserves the order's id (the same id when tried again), `end_checkout`
//! closes the cart with its order (empties it, since the patch below), or opens it again when
//! the intake refused the order. The one-step `checkout` of carts from before the intake stays
//! for their replay. A cart left alone with items in it for the configured idle time sends one
//! abandoned-cart reminder through SendNotification per idle spell. A long-lived cart
//! continues as new when Temporal suggests it, carrying its content.
//!
//! Since [`patches::CARTS_OUTLIVE_CHECKOUT`] a checkout empties the cart instead of closing it,
//! and the cart keeps what the order held until the next checkout: when PlaceOrder finds the
//! card declined it signals `order_declined`, and the cart takes the lines (and the coupon)
//! back, so a declined card keeps the cart.

use crate::PlaceOrder;
use crate::clock::now_ms;
use crate::notify::notify;
use crate::options::child;
use contracts::cart::{
    AddItem, BeginCheckout, CART_WORKFLOW, CartInput, CartLine, CartView, Checkout, CheckoutEnd,
    CheckoutTicket, Coupon, Discount, EndCheckout, MAX_LINES, MAX_QUANTITY, OrderDeclined,
    PricedProduct, QUERY_CART, SIGNAL_ORDER_DECLINED, SetQuantity, UPDATE_ADD_ITEM,
    UPDATE_APPLY_COUPON, UPDATE_BEGIN_CHECKOUT, UPDATE_CHECKOUT, UPDATE_END_CHECKOUT,
    UPDATE_SET_QUANTITY,
};
use contracts::notifications::{Recipient, Template, TemplateData};
use contracts::orders::{OrderLine, PlaceOrderInput};
use contracts::{CustomerId, Money, OrderId, Service, TaskQueues, Uuid};
use std::time::{Duration, UNIX_EPOCH};
use temporalio_workflow::{
    CancellableFuture as _, ContinueAsNewOptions, ParentClosePolicy, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// The patches of Cart (docs/VERSIONING.md).
pub mod patches {
    /// Since this patch a cart closes after its idle expiry, cancels the idle timer it no
    /// longer needs when it changes, and keeps one reminder per idle spell across
    /// continue-as-new. Carts from before keep waiting the old way.
    pub const CARTS_EXPIRE: &str = "carts-expire";
    /// Since this patch a checkout empties the cart and the cart goes on (until its idle
    /// expiry), remembering what the order held, so that a declined card puts it back. Carts
    /// from before close at their checkout.
    pub const CARTS_OUTLIVE_CHECKOUT: &str = "carts-outlive-checkout";
}

/// A cart run continues as new once its history has this many events (or sooner, when
/// Temporal suggests it).
pub const EVENTS_PER_RUN: u32 = 1_000;

/// The Cart workflow's state.
#[workflow]
pub struct Cart {
    customer_id: CustomerId,
    customer_email: String,
    reminder_after_secs: u64,
    lines: Vec<CartLine>,
    coupon: Option<Coupon>,
    reminders_sent: u32,
    /// Bumped on every change; the idle timer restarts with it.
    version: u64,
    /// The version a reminder was last sent for.
    reminded_version: Option<u64>,
    /// Set when checked out: the order the cart became.
    order_id: Option<OrderId>,
    /// A one-step `checkout` is starting the order.
    checking_out: bool,
    /// A two-step checkout holds the cart for this order.
    checkout: Option<OrderId>,
    /// After how long without a change the cart closes, in seconds (0: never).
    expire_after_secs: u64,
    /// When the cart last changed, by the workflow's clock (Unix milliseconds).
    changed_at_ms: u64,
    /// Closed after its idle expiry.
    expired: bool,
    /// The last order the cart became, with what it held (see the module's doc).
    placed: Option<CheckoutTicket>,
}

fn money_sum(amounts: impl IntoIterator<Item = Money>) -> Option<Money> {
    let mut total: Option<Money> = None;
    for amount in amounts {
        total = Some(match total {
            None => amount,
            Some(sum) => sum.checked_add(&amount).ok()?,
        });
    }
    total
}

impl Cart {
    fn subtotal(&self) -> Option<Money> {
        money_sum(self.lines.iter().map(|l| l.line_total.clone()))
    }

    fn discount(&self) -> Option<Money> {
        let subtotal = self.subtotal()?;
        Some(self.coupon.as_ref()?.discount.amount_off(&subtotal))
    }

    fn view(&self) -> CartView {
        let subtotal = self.subtotal();
        let discount = self.discount();
        let total = match (&subtotal, &discount) {
            (Some(sub), Some(off)) => Some(Money::new(
                sub.amount_minor - off.amount_minor,
                sub.currency.clone(),
            )),
            (Some(sub), None) => Some(sub.clone()),
            _ => None,
        };
        CartView {
            customer_id: self.customer_id,
            lines: self.lines.clone(),
            coupon: self.coupon.clone(),
            subtotal,
            discount,
            total,
            order_id: self.order_id,
            expired: self.expired,
        }
    }

    fn open(&self) -> Result<(), HandlerError> {
        if self.expired {
            Err("the cart expired".into())
        } else if self.checking_out || self.order_id.is_some() {
            Err("the cart was checked out".into())
        } else if self.checkout.is_some() {
            Err("a checkout of this cart is under way; check out again to finish it".into())
        } else {
            Ok(())
        }
    }

    fn line(product: PricedProduct, quantity: u32) -> Result<CartLine, HandlerError> {
        let line_total = product
            .unit_price
            .checked_mul(quantity)
            .map_err(|e| format!("line total: {e}"))?;
        Ok(CartLine {
            product,
            quantity,
            line_total,
        })
    }

    fn changed(&mut self, ctx: &SyncWorkflowContext<Self>) {
        self.version += 1;
        self.changed_at_ms = ctx
            .workflow_time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }

    /// How long the cart has been left alone at `now_ms`.
    fn idle_for(&self, now_ms: u64) -> Duration {
        Duration::from_millis(now_ms.saturating_sub(self.changed_at_ms))
    }

    /// Whether the customer should be reminded of the cart now.
    fn reminder_due(&self, now_ms: u64) -> bool {
        !self.lines.is_empty()
            && self.reminded_version != Some(self.version)
            && self.idle_for(now_ms) >= Duration::from_secs(self.reminder_after_secs.max(1))
    }

    /// Whether the cart has been idle past its expiry.
    fn idle_past_expiry(&self, now_ms: u64) -> bool {
        self.expire_after_secs > 0
            && self.idle_for(now_ms) >= Duration::from_secs(self.expire_after_secs)
    }

    /// How long until the next reminder or the expiry, whichever comes first; `None` when
    /// neither will come without a change.
    fn next_wake(&self, now_ms: u64) -> Option<Duration> {
        let idle = self.idle_for(now_ms);
        let remind = (!self.lines.is_empty() && self.reminded_version != Some(self.version))
            .then(|| Duration::from_secs(self.reminder_after_secs.max(1)));
        let expire =
            (self.expire_after_secs > 0).then(|| Duration::from_secs(self.expire_after_secs));
        [remind, expire]
            .into_iter()
            .flatten()
            .map(|at| at.saturating_sub(idle).max(Duration::from_secs(1)))
            .min()
    }

    /// What the next run starts from when this one continues as new.
    fn carried(&self) -> CartInput {
        CartInput {
            customer_id: self.customer_id,
            customer_email: self.customer_email.clone(),
            reminder_after_secs: self.reminder_after_secs,
            lines: self.lines.clone(),
            coupon: self.coupon.clone(),
            reminders_sent: self.reminders_sent,
            expire_after_secs: self.expire_after_secs,
            changed_at_ms: Some(self.changed_at_ms),
            reminded: self.reminded_version == Some(self.version),
            checkout: self.checkout,
            placed: self.placed.clone(),
        }
    }

    /// After a checkout: the cart, emptied, goes on and remembers what the order held.
    fn start_over(&mut self, now_ms: u64) {
        if let Some(order_id) = self.order_id.take() {
            self.placed = Some(CheckoutTicket {
                order_id,
                lines: std::mem::take(&mut self.lines),
                coupon: self.coupon.take(),
            });
            self.version += 1;
            self.changed_at_ms = now_ms;
        }
    }

    /// Takes back the lines of a declined order, as far as the cart's limits allow (a line
    /// that no longer fits stays out), and its coupon when the cart has none.
    fn take_back(&mut self, placed: CheckoutTicket) {
        for returned in placed.lines {
            let same_currency = self.lines.first().is_none_or(|first| {
                first.product.unit_price.currency == returned.product.unit_price.currency
            });
            let existing = self
                .lines
                .iter()
                .position(|l| l.product.sku == returned.product.sku);
            let fits = existing.is_some() || self.lines.len() < MAX_LINES;
            if !same_currency || !fits {
                continue;
            }
            let before = existing.map_or(0, |at| self.lines[at].quantity);
            let quantity = (before + returned.quantity).min(MAX_QUANTITY);
            let Ok(line) = Self::line(returned.product, quantity) else {
                continue;
            };
            match existing {
                Some(at) => self.lines[at] = line,
                None => self.lines.push(line),
            }
        }
        if self.coupon.is_none() {
            self.coupon = placed.coupon;
        }
    }
}

#[workflow_methods]
impl Cart {
    #[init]
    fn new(_ctx: &WorkflowContextView, input: CartInput) -> Self {
        Self {
            customer_id: input.customer_id,
            customer_email: input.customer_email,
            reminder_after_secs: input.reminder_after_secs,
            lines: input.lines,
            coupon: input.coupon,
            reminders_sent: input.reminders_sent,
            version: 0,
            reminded_version: input.reminded.then_some(0),
            order_id: None,
            checking_out: false,
            checkout: input.checkout,
            placed: input.placed,
            expire_after_secs: input.expire_after_secs,
            changed_at_ms: input.changed_at_ms.unwrap_or_default(),
            expired: false,
        }
    }

    /// Waits for changes and a checkout, reminding about an abandoned cart, and closes the
    /// cart after its idle expiry.
    #[run(name = CART_WORKFLOW)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CartView> {
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Orders);
        if ctx.patched(patches::CARTS_EXPIRE) {
            Self::wait_expiring(ctx, &queues).await?;
        } else {
            Self::wait_legacy(ctx, &queues).await?;
        }
        let handlers = ctx.clone();
        ctx.wait_condition(move |_| handlers.all_handlers_finished())
            .await?;
        Ok(ctx.state(Self::view))
    }

    /// The cart's lines and totals.
    #[query(name = QUERY_CART)]
    pub fn cart(&self, _ctx: &WorkflowContextView) -> CartView {
        self.view()
    }

    #[update_validator(add_item)]
    fn validate_add_item(
        &self,
        _ctx: &WorkflowContextView,
        add: &AddItem,
    ) -> Result<(), HandlerError> {
        self.open()?;
        let existing = self
            .lines
            .iter()
            .find(|l| l.product.sku == add.product.sku)
            .map_or(0, |l| l.quantity);
        if add.quantity == 0 || existing + add.quantity > MAX_QUANTITY {
            return Err(format!("quantity must keep the line between 1 and {MAX_QUANTITY}").into());
        }
        if existing == 0 && self.lines.len() >= MAX_LINES {
            return Err(format!("a cart holds at most {MAX_LINES} different products").into());
        }
        if let Some(first) = self.lines.first()
            && first.product.unit_price.currency != add.product.unit_price.currency
        {
            return Err("every product in a cart must be priced in the same currency".into());
        }
        Self::line(add.product.clone(), existing + add.quantity).map(|_| ())
    }

    /// Adds units of a product.
    #[update(name = UPDATE_ADD_ITEM)]
    pub fn add_item(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        add: AddItem,
    ) -> Result<CartView, HandlerError> {
        match self
            .lines
            .iter_mut()
            .find(|l| l.product.sku == add.product.sku)
        {
            Some(line) => *line = Self::line(add.product, line.quantity + add.quantity)?,
            None => self.lines.push(Self::line(add.product, add.quantity)?),
        }
        self.changed(ctx);
        Ok(self.view())
    }

    #[update_validator(set_quantity)]
    fn validate_set_quantity(
        &self,
        _ctx: &WorkflowContextView,
        set: &SetQuantity,
    ) -> Result<(), HandlerError> {
        self.open()?;
        if !self.lines.iter().any(|l| l.product.sku == set.sku) {
            return Err(format!("`{}` is not in the cart", set.sku).into());
        }
        if set.quantity > MAX_QUANTITY {
            return Err(format!("quantity must be between 0 and {MAX_QUANTITY}").into());
        }
        Ok(())
    }

    /// Sets a line's quantity; 0 removes the line.
    #[update(name = UPDATE_SET_QUANTITY)]
    pub fn set_quantity(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        set: SetQuantity,
    ) -> Result<CartView, HandlerError> {
        if set.quantity == 0 {
            self.lines.retain(|l| l.product.sku != set.sku);
        } else if let Some(line) = self.lines.iter_mut().find(|l| l.product.sku == set.sku) {
            *line = Self::line(line.product.clone(), set.quantity)?;
        }
        self.changed(ctx);
        Ok(self.view())
    }

    #[update_validator(apply_coupon)]
    fn validate_apply_coupon(
        &self,
        _ctx: &WorkflowContextView,
        coupon: &Coupon,
    ) -> Result<(), HandlerError> {
        self.open()?;
        if let (Discount::Fixed(amount), Some(first)) = (&coupon.discount, self.lines.first())
            && amount.currency != first.product.unit_price.currency
        {
            return Err(format!("coupon {} is for {}", coupon.code, amount.currency).into());
        }
        Ok(())
    }

    /// Applies a coupon (replacing any other), unless it has expired by the workflow's clock.
    #[update(name = UPDATE_APPLY_COUPON)]
    pub fn apply_coupon(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        coupon: Coupon,
    ) -> Result<CartView, HandlerError> {
        let now_ms = ctx
            .workflow_time()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if coupon.expires_at_ms <= now_ms {
            return Err(format!("coupon {} has expired", coupon.code).into());
        }
        self.coupon = Some(coupon);
        self.changed(ctx);
        Ok(self.view())
    }

    #[update_validator(begin_checkout)]
    fn validate_begin_checkout(
        &self,
        _ctx: &WorkflowContextView,
        _begin: &BeginCheckout,
    ) -> Result<(), HandlerError> {
        if self.checkout.is_some() {
            return Ok(());
        }
        self.open()?;
        if self.lines.is_empty() {
            return Err("the cart is empty".into());
        }
        Ok(())
    }

    /// Holds the cart still for a checkout and answers what to order, under the order id
    /// the cart reserved first (so a checkout tried again places the same order).
    #[update(name = UPDATE_BEGIN_CHECKOUT)]
    pub fn begin_checkout(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        begin: BeginCheckout,
    ) -> Result<CheckoutTicket, HandlerError> {
        let order_id = *self.checkout.get_or_insert(begin.order_id);
        Ok(CheckoutTicket {
            order_id,
            lines: self.lines.clone(),
            coupon: self.coupon.clone(),
        })
    }

    #[update_validator(end_checkout)]
    fn validate_end_checkout(
        &self,
        _ctx: &WorkflowContextView,
        end: &EndCheckout,
    ) -> Result<(), HandlerError> {
        let placed = self.placed.as_ref().map(|placed| placed.order_id);
        let ended = end.end == CheckoutEnd::Placed
            && (self.order_id == Some(end.order_id) || placed == Some(end.order_id));
        if ended || self.checkout == Some(end.order_id) {
            Ok(())
        } else {
            Err(format!("no checkout of order {} holds this cart", end.order_id).into())
        }
    }

    /// Ends a checkout: the cart closes with the order placed (since `CARTS_OUTLIVE_CHECKOUT`:
    /// empties and goes on), or opens again.
    #[update(name = UPDATE_END_CHECKOUT)]
    pub fn end_checkout(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        end: EndCheckout,
    ) -> Result<CartView, HandlerError> {
        if self.checkout.take().is_some() {
            match end.end {
                CheckoutEnd::Placed => self.order_id = Some(end.order_id),
                CheckoutEnd::Refused => self.changed(ctx),
            }
        }
        Ok(self.view())
    }

    /// The card of an order this cart became was declined: the cart takes its lines back,
    /// unless it is checking out again or closed.
    #[signal(name = SIGNAL_ORDER_DECLINED)]
    pub fn order_declined(&mut self, ctx: &mut SyncWorkflowContext<Self>, declined: OrderDeclined) {
        if self.expired || self.checkout.is_some() || self.order_id.is_some() {
            return;
        }
        if let Some(placed) = self.placed.take_if(|p| p.order_id == declined.order_id) {
            self.take_back(placed);
            self.changed(ctx);
        }
    }

    #[update_validator(checkout)]
    fn validate_checkout(
        &self,
        _ctx: &WorkflowContextView,
        checkout: &Checkout,
    ) -> Result<(), HandlerError> {
        self.open()?;
        if self.lines.is_empty() {
            return Err("the cart is empty".into());
        }
        let priced = |sku: &contracts::Sku| checkout.prices.iter().any(|p| &p.sku == sku);
        if checkout.prices.len() != self.lines.len()
            || !self.lines.iter().all(|l| priced(&l.product.sku))
        {
            return Err("the cart changed while checking out; try again".into());
        }
        Ok(())
    }

    /// Places the order for the cart at today's prices as a PlaceOrder child and closes the
    /// cart, in one step: how carts were checked out before the order intake, kept for their
    /// replay; the API sends `begin_checkout` and `end_checkout` instead. Long, and left so:
    /// frozen with the histories that hold it.
    #[update(name = UPDATE_CHECKOUT)]
    pub async fn checkout(
        ctx: &mut WorkflowContext<Self>,
        checkout: Checkout,
    ) -> Result<OrderId, HandlerError> {
        ctx.state_mut(|s| {
            s.checking_out = true;
            for line in &mut s.lines {
                if let Some(price) = checkout.prices.iter().find(|p| p.sku == line.product.sku)
                    && let Ok(repriced) = Self::line(price.clone(), line.quantity)
                {
                    *line = repriced;
                }
            }
        });
        let view = ctx.state(Self::view);
        let (subtotal, total) = match (view.subtotal.clone(), view.total.clone()) {
            (Some(subtotal), Some(total)) => (subtotal, total),
            _ => {
                ctx.state_mut(|s| s.checking_out = false);
                return Err("the cart's total could not be computed".into());
            }
        };
        let order_id = Uuid::parse_str(&ctx.uuid4())
            .map(OrderId)
            .map_err(|err| format!("the workflow's random UUID did not parse: {err}"))?;
        let input = ctx.state(|s| PlaceOrderInput {
            order_id,
            customer_id: s.customer_id,
            customer_email: s.customer_email.clone(),
            customer_phone: checkout.customer_phone.clone(),
            shipping_address: checkout.shipping_address.clone(),
            lines: s
                .lines
                .iter()
                .map(|line| OrderLine {
                    sku: line.product.sku.clone(),
                    name: line.product.name.clone(),
                    quantity: line.quantity,
                    unit_price: line.product.unit_price.clone(),
                    line_total: line.line_total.clone(),
                })
                .collect(),
            discount: view.discount.clone().filter(|d| d.amount_minor > 0),
            total: total.clone(),
            payment_method: checkout.payment_method.clone(),
        });
        let _ = subtotal;
        let queues = TaskQueues::from_workflow_queue(ctx.task_queue(), Service::Orders);
        let started = ctx
            .start_child_workflow(
                PlaceOrder::run,
                input,
                child(
                    &queues,
                    Service::Orders,
                    contracts::orders::workflow_id(order_id),
                    // The order lives on after the cart closes.
                    ParentClosePolicy::Abandon,
                ),
            )
            .await;
        match started {
            Ok(_) => {
                ctx.state_mut(|s| s.order_id = Some(order_id));
                Ok(order_id)
            }
            Err(err) => {
                ctx.state_mut(|s| s.checking_out = false);
                Err(format!("the order could not be started: {err}").into())
            }
        }
    }
}

impl Cart {
    /// Waits for a checkout or the expiry, reminding once per idle spell. The idle timer is
    /// cancelled when the cart changes (a dropped timer would still fire, and cost history).
    async fn wait_expiring(ctx: &WorkflowContext<Self>, queues: &TaskQueues) -> WorkflowResult<()> {
        let started = now_ms(ctx);
        ctx.state_mut(|s| {
            if s.changed_at_ms == 0 {
                s.changed_at_ms = started;
            }
        });
        loop {
            let now = now_ms(ctx);
            let expired = ctx.state_mut(|s| {
                s.expired = s.order_id.is_none() && s.idle_past_expiry(now);
                s.expired
            });
            if expired {
                return Ok(());
            }
            if ctx.state(|s| s.order_id.is_some()) {
                if !ctx.patched(patches::CARTS_OUTLIVE_CHECKOUT) {
                    return Ok(());
                }
                ctx.state_mut(|s| s.start_over(now));
                continue;
            }
            if ctx.state(|s| s.reminder_due(now)) {
                Self::remind(ctx, queues).await;
            }
            if (ctx.continue_as_new_suggested() || ctx.history_length() >= EVENTS_PER_RUN)
                && ctx.all_handlers_finished()
            {
                ctx.continue_as_new(ctx.state(Self::carried), ContinueAsNewOptions::default())?;
            }
            let (version, wake) = ctx.state(|s| (s.version, s.next_wake(now)));
            let changed = move |s: &Self| s.version != version || s.order_id.is_some();
            match wake {
                Some(wait) => {
                    let mut timer = Box::pin(ctx.timer(wait));
                    let woke_by_change = temporalio_workflow::select! {
                        _ = ctx.wait_condition(changed) => true,
                        _ = timer => false,
                    };
                    if woke_by_change {
                        timer.cancel();
                    }
                }
                None => ctx.wait_condition(changed).await?,
            }
        }
    }

    /// Sends the abandoned-cart reminder for the cart as it is (a SendNotification child:
    /// a standalone message).
    async fn remind(ctx: &WorkflowContext<Self>, queues: &TaskQueues) {
        let (customer_id, email, number, view) = ctx.state_mut(|s| {
            s.reminded_version = Some(s.version);
            s.reminders_sent += 1;
            (
                s.customer_id,
                s.customer_email.clone(),
                s.reminders_sent,
                s.view(),
            )
        });
        notify(
            ctx,
            queues,
            format!("cart-{customer_id}-reminder-{number}"),
            Recipient {
                email: Some(email),
                // Only the child's input gains it (no command changes): replay-safe.
                customer_id: Some(customer_id),
                ..Recipient::default()
            },
            Template::AbandonedCart,
            TemplateData {
                amount: view.total,
                ..TemplateData::default()
            },
        )
        .await;
    }

    /// The waiting of carts from before `CARTS_EXPIRE`, unchanged.
    async fn wait_legacy(ctx: &WorkflowContext<Self>, queues: &TaskQueues) -> WorkflowResult<()> {
        loop {
            let (version, idle) =
                ctx.state(|s| (s.version, Duration::from_secs(s.reminder_after_secs.max(1))));
            let idle_elapsed = temporalio_workflow::select! {
                _ = ctx.wait_condition(move |s: &Self| s.version != version || s.order_id.is_some()) => false,
                _ = ctx.timer(idle) => true,
            };
            if ctx.state(|s| s.order_id.is_some()) {
                return Ok(());
            }
            let remind = ctx.state(|s| {
                idle_elapsed && !s.lines.is_empty() && s.reminded_version != Some(s.version)
            });
            if remind {
                Self::remind(ctx, queues).await;
            }
            if ctx.continue_as_new_suggested() && ctx.all_handlers_finished() {
                ctx.continue_as_new(ctx.state(Self::carried), ContinueAsNewOptions::default())?;
            }
        }
    }
}
