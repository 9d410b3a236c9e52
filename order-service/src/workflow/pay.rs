//! The payment steps of the saga: the calls each one makes through the [`PaymentClient`] (and,
//! for the holds they give back or take anew, through the course client), handed to
//! [`crate::domain::checkout`] to decide; and what a webhook's event does to its order.
//!
//! A payment step runs only when a provider is configured ([`Payments`]); an order that reached
//! one without (the provider was switched off while it waited) waits, logged, until one is.

use super::Workflow;
use crate::{
    course_client::CallContext,
    domain::{
        Failure, Order, OrderId, Payment, Step, Transition,
        checkout::{self, Closing},
        payment::Session,
        rules::{self, Outcome},
        saga::{Decision, Next},
    },
    payment_client::{CheckoutRequest, PaymentClient},
    repo::{Note, RepoError},
};
use chrono::TimeDelta;
use prometheus_client::metrics::counter::Counter;
use shared_types::PaymentStatus;
use std::sync::Arc;

/// The payment provider and how often a waiting order looks at its checkout.
#[derive(Debug, Clone)]
pub struct Payments {
    pub client: Arc<dyn PaymentClient>,
    /// How long an order waiting for its payment rests before reading its session again (in
    /// case the webhook is lost); it is read at the hold's end in any case.
    pub poll: TimeDelta,
}

/// What the payment steps count, for the metrics.
#[derive(Debug, Clone, Default)]
pub struct PaymentMetrics {
    pub sessions_created: Counter,
    /// Payments learned (from a webhook or a read).
    pub paid: Counter,
    /// Checkouts closed unpaid.
    pub expired: Counter,
    pub refunds: Counter,
    /// Payments that arrived after their order failed or was cancelled.
    pub late_payments: Counter,
    /// Webhook deliveries refused for their signature.
    pub webhook_rejected: Counter,
}

/// What a webhook's event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApplied {
    /// The order moved (or was woken to look at its checkout).
    Applied,
    /// The event was applied before.
    Duplicate,
    /// Not about an order of this service, or a type that changes nothing.
    Ignored,
}

impl Workflow {
    fn provider(&self) -> Option<&Arc<dyn PaymentClient>> {
        let provider = self.payments.as_ref().map(|p| &p.client);
        if provider.is_none() {
            tracing::error!("an order is at a payment step but PAYMENT_PROVIDER=none");
        }
        provider
    }

    /// `Checkout`: opens a session for the held seat, ending with the hold.
    pub(super) async fn open_checkout(&self, order: &Order, request_id: &str) -> Next {
        let (Some(client), Some(price)) = (self.provider(), &order.price) else {
            return Next::to(Decision::Wait);
        };
        let hold_end = order
            .hold_expires_at
            .unwrap_or_else(|| self.clock.now() + TimeDelta::minutes(5));
        let request = CheckoutRequest {
            order_id: order.id.to_string(),
            course_id: order.course.to_string(),
            student_id: order.student.as_str().to_owned(),
            product_name: format!("Seat in course {}", order.course),
            amount_cents: price.cents,
            currency: price.currency.clone(),
            expires_at: checkout::session_end(hold_end),
            request_id: request_id.to_owned(),
        };
        let answer = client.create_checkout(&request).await;
        match &answer {
            Ok(session) => {
                self.payment_metrics.sessions_created.inc();
                tracing::info!(session = %session.id, "checkout opened");
            }
            Err(e) => tracing::warn!(error = %e, "no checkout opened; giving the seat back"),
        }
        checkout::after_checkout(answer, hold_end)
    }

    /// `AwaitingPayment`: reads the session (the order was due, or woken by a webhook).
    pub(super) async fn look_at_checkout(&self, order: &Order, request_id: &str) -> Next {
        let (Some(client), Some(payment)) = (self.provider(), &order.payment) else {
            return Next::to(Decision::Wait);
        };
        let poll = self
            .payments
            .as_ref()
            .map_or(TimeDelta::seconds(30), |p| p.poll);
        let answer = client.get_checkout(&payment.session_id, request_id).await;
        let next = checkout::after_wait(answer, payment, self.clock.now(), poll);
        if next.decision == Decision::Paid {
            self.payment_metrics.paid.inc();
        }
        next
    }

    /// Makes the provider close the order's checkout (reading it when the provider refuses).
    async fn close_checkout(&self, payment: &Payment, request_id: &str) -> Closing {
        let Some(client) = self.provider() else {
            return Closing::Unknown;
        };
        let id = &payment.session_id;
        match checkout::after_expire(client.expire_checkout(id, request_id).await, payment) {
            Closing::Read => {
                checkout::after_close_read(client.get_checkout(id, request_id).await, payment)
            }
            closing => closing,
        }
    }

    /// `Expiring`: closes the checkout, then gives the hold back; the order fails unpaid. A
    /// payment found while closing goes on to the confirm instead.
    pub(super) async fn expire_checkout(
        &self,
        order: &Order,
        ctx: &CallContext,
        request_id: &str,
    ) -> Next {
        let payment = match &order.payment {
            Some(payment) if payment.status == PaymentStatus::Open => {
                match self.close_checkout(payment, request_id).await {
                    Closing::Expired(payment) => payment,
                    Closing::Paid(payment) => {
                        self.payment_metrics.paid.inc();
                        return Next::to(Decision::Paid).with_payment(payment);
                    }
                    Closing::Read | Closing::Unknown => return Next::to(Decision::Wait),
                }
            }
            Some(payment) if payment.holds_money() => {
                return Next::to(Decision::Paid).with_payment(payment.clone());
            }
            Some(payment) => payment.clone(),
            None => {
                return self
                    .give_back_then(order, ctx, Failure::PaymentNotCompleted)
                    .await;
            }
        };
        if self.return_seat(order, ctx).await.is_err() {
            return Next::to(Decision::Wait);
        }
        self.payment_metrics.expired.inc();
        tracing::info!(session = %payment.session_id, "checkout closed unpaid; seat given back");
        checkout::expired_unpaid(payment)
    }

    /// Gives the hold back, then fails the order with `failure` (`Abandoning`, or an expiry with
    /// no checkout saved).
    pub(super) async fn give_back_then(
        &self,
        order: &Order,
        ctx: &CallContext,
        failure: Failure,
    ) -> Next {
        match self.return_seat(order, ctx).await {
            Ok(()) => Next::to(Decision::Settle(Outcome::Failed(failure))),
            Err(_) => Next::to(Decision::Wait),
        }
    }

    /// `Reholding`: a new hold, under the order's new reservation id, at the price paid.
    pub(super) async fn rehold(&self, order: &Order, ctx: &CallContext) -> Next {
        let price = order.price.as_ref().map(|p| p.cents);
        let answer = self.course.reserve(ctx, &order.student, price).await;
        let next = checkout::after_rehold(answer);
        match next.decision {
            Decision::Refund(failure) => {
                tracing::warn!(failure = ?failure, "no seat for a late payment; refunding it");
            }
            Decision::MoveTo(_) => tracing::info!("a late payment took a new seat"),
            _ => {}
        }
        next
    }

    /// `Refunding`: gives the order's money back (one refund per order, whatever repeats).
    pub(super) async fn refund(&self, order: &Order, request_id: &str) -> Next {
        let (Some(client), Some(payment)) = (self.provider(), &order.payment) else {
            return Next::to(Decision::Wait);
        };
        let intent = match &payment.payment_intent {
            Some(intent) => intent.clone(),
            None => match client.get_checkout(&payment.session_id, request_id).await {
                Ok(Session {
                    payment_intent: Some(intent),
                    ..
                }) => intent,
                _ => {
                    tracing::warn!("the payment to refund is not known yet");
                    return Next::to(Decision::Wait);
                }
            },
        };
        let answer = client
            .refund(&intent, &order.id.to_string(), request_id)
            .await;
        if let Err(e) = &answer {
            tracing::warn!(error = %e, "refund not made yet");
        }
        let next = checkout::after_refund(answer, payment);
        if matches!(next.decision, Decision::Settle(_)) {
            self.payment_metrics.refunds.inc();
        }
        next
    }

    /// `Cancelling` of an order with a checkout: closes it first (a payment found meanwhile is
    /// refunded after the seat is back), then gives the seat back.
    pub(super) async fn cancel_with_checkout(
        &self,
        order: &Order,
        ctx: &CallContext,
        request_id: &str,
    ) -> Next {
        let mut payment = order.payment.clone();
        if let Some(open) = payment.as_ref().filter(|p| p.status == PaymentStatus::Open) {
            match self.close_checkout(open, request_id).await {
                Closing::Expired(closed) | Closing::Paid(closed) => payment = Some(closed),
                Closing::Read | Closing::Unknown => return Next::to(Decision::Wait),
            }
        }
        if self.return_seat(order, ctx).await.is_err() {
            return Next::to(Decision::Wait);
        }
        let paid = payment.as_ref().is_some_and(Payment::holds_money);
        let next = Next::to(if paid {
            Decision::Refund(None)
        } else {
            Decision::Cancelled
        });
        match payment {
            Some(payment) => next.with_payment(payment),
            None => next,
        }
    }

    /// A webhook's `checkout.session.completed` (or `async_payment_succeeded`) with the money
    /// collected: records the payment on its order, durably, and moves the order on (see
    /// [`rules::after_paid`]); the confirm (or the new hold, or the refund) follows in the
    /// background. A failed order whose student has another live order refunds instead.
    pub async fn payment_arrived(
        &self,
        event_id: &str,
        session: &Session,
        request_id: &str,
    ) -> Result<EventApplied, RepoError> {
        let Some(id) = order_of(session) else {
            return Ok(EventApplied::Ignored);
        };
        if self.repo.event_seen(event_id).await? {
            return Ok(EventApplied::Duplicate);
        }
        let Some(order) = self.repo.get(id).await? else {
            tracing::warn!(order_id = %id, "payment for an order this service does not know");
            return Ok(EventApplied::Ignored);
        };
        let payment = match &order.payment {
            Some(saved) => saved.seen(session),
            None => Payment::from_session(session),
        };
        let late = !rules::is_live(order.status);
        let mut applied = self.paid(&order, payment.clone()).await?;
        if !applied.applied && applied.order.status == crate::domain::Status::Failed {
            // The student holds another live order of the course: this money goes back.
            let refund = Transition::Refund {
                from: applied.order.state(),
                failure: Some(Failure::AlreadyEnrolled),
            };
            let note = Note {
                payment: Some(payment),
                ..Note::none()
            };
            applied = self
                .repo
                .apply(id, refund, note)
                .await?
                .ok_or(RepoError::Gone(id))?;
        }
        if applied.applied {
            self.payment_metrics.paid.inc();
            if late {
                self.payment_metrics.late_payments.inc();
                tracing::warn!(order_id = %id, "payment arrived after the order ended");
            }
        }
        self.repo.note_event(event_id).await?;
        self.wake(id, request_id);
        Ok(EventApplied::Applied)
    }

    async fn paid(&self, order: &Order, payment: Payment) -> Result<super::Applied, RepoError> {
        let transition = Transition::Paid {
            from: order.state(),
        };
        let note = self.note_for(
            order,
            transition,
            Note {
                payment: Some(payment),
                ..Note::none()
            },
        );
        self.repo
            .apply(order.id, transition, note)
            .await?
            .ok_or(RepoError::Gone(order.id))
    }

    /// A webhook's `checkout.session.expired`: the order looks at its checkout now rather than
    /// at its next due time.
    pub async fn checkout_expired(
        &self,
        event_id: &str,
        session: &Session,
        request_id: &str,
    ) -> Result<EventApplied, RepoError> {
        let Some(id) = order_of(session) else {
            return Ok(EventApplied::Ignored);
        };
        if self.repo.event_seen(event_id).await? {
            return Ok(EventApplied::Duplicate);
        }
        let waiting = self
            .repo
            .get(id)
            .await?
            .is_some_and(|o| o.step == Step::AwaitingPayment);
        self.repo.note_event(event_id).await?;
        if waiting {
            self.wake(id, request_id);
        }
        Ok(EventApplied::Applied)
    }

    /// Drives the order now, in the background, if nobody else is: its parked lease is let go
    /// first (a lease held by a driver at work is shared for a moment; both make idempotent
    /// calls and each move applies once).
    fn wake(&self, id: OrderId, request_id: &str) {
        let (this, request_id) = (self.clone(), request_id.to_owned());
        let work = async move {
            if let Err(e) = this.repo.release_lease(id).await {
                tracing::warn!(error = %e, order_id = %id, "order not woken");
                return;
            }
            this.visit_as(id, &request_id).await;
        };
        tokio::spawn(tracing::Instrument::in_current_span(work));
    }
}

/// The order a session was opened for: `client_reference_id`, else `metadata[order_id]`.
fn order_of(session: &Session) -> Option<OrderId> {
    let named = session
        .client_reference_id
        .as_deref()
        .or(session.order_id.as_deref())?;
    let id = uuid::Uuid::parse_str(named).ok().map(OrderId::from_uuid);
    if id.is_none() {
        tracing::warn!(session = %session.id, "payment for a session of no order of this service");
    }
    id
}
