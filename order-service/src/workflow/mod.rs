//! The order workflow: placing an order (record it, then drive its saga within the request
//! deadline), taking a waitlist offer (record its order, then drive it, [`offer`]), cancelling
//! one (record the request, then give the seat back), and the reconciler's visit of an order with
//! work left. Every path drives the saga the same way ([`advance`]), from the step the order has
//! saved, and gives back the lease it took when its work ends.
//!
//! A request waits for its saga up to the order deadline and answers 202 with the pending order if
//! it is not settled by then; the saga keeps running and settles it, and gives the lease back when
//! it ends. A lease never given back (the process stopped) lapses, and the reconciler picks the
//! order up where it was saved.
//!
//! Time is read by the repository's clock when a step is saved. It decides nothing itself (the saga's decisions and the status rules are in
//! [`crate::domain`]) and answers in domain values: [`crate::error::ApiError`] maps them to HTTP.

pub mod advance;
pub mod offer;
pub mod pay;

pub use advance::Driven;
pub use offer::OfferTaken;
pub use pay::{EventApplied, PaymentMetrics, Payments};

use crate::{
    clock::{Clock, SystemClock},
    course_client::CourseClient,
    domain::{Failure, NewOrder, Order, OrderId, Status, Step, StudentId, rules},
    repo::{AlreadyLive, Applied, OrderRepo, RepoError},
};
use chrono::{DateTime, Utc};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use std::{sync::Arc, time::Duration};
use tracing::Instrument;
use uuid::Uuid;

/// How a placed order stood when its request answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Confirmed,
    /// The seat is held and a checkout open: the student pays next.
    AwaitingPayment,
    /// `price_cents`: the current price a `price_changed` refusal quoted.
    Failed {
        failure: Failure,
        price_cents: Option<i64>,
    },
    /// Cancelled by its student before its request answered.
    Cancelled,
    /// The outcome could not be learned yet; the order stays pending.
    Unsettled,
}

impl Settlement {
    fn of(driven: &Driven) -> Settlement {
        match (driven.order.status, driven.order.failure) {
            (Status::Confirmed, _) => Settlement::Confirmed,
            (Status::AwaitingPayment, _) => Settlement::AwaitingPayment,
            (Status::Failed | Status::Refunded, failure) => Settlement::Failed {
                failure: failure.unwrap_or(Failure::CourseServiceUnavailable),
                price_cents: driven.quoted_price_cents,
            },
            (Status::Cancelled, _) => Settlement::Cancelled,
            (Status::Pending, _) => Settlement::Unsettled,
        }
    }
}

/// The result of placing an order: the order as it stands, and how it stood.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: Order,
    pub settlement: Settlement,
}

/// Why an order could not be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("the student already has a live order for this course")]
    AlreadyLive(AlreadyLive),
    #[error("the order could not be stored")]
    Storage,
}

/// Why an order could not be cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    #[error("order not found")]
    NotFound,
    #[error("a failed order cannot be cancelled")]
    NotCancellable,
    #[error("course-service could not confirm the seat was returned")]
    Unavailable,
    #[error("the order store failed")]
    Storage,
}

/// Runs sagas; cheap to clone.
#[derive(Debug, Clone)]
pub struct Workflow {
    repo: Arc<dyn OrderRepo>,
    course: Arc<dyn CourseClient>,
    deadline: Duration,
    metrics: WorkflowMetrics,
    /// The payment provider; `None` confirms seats without collecting money.
    payments: Option<Payments>,
    payment_metrics: PaymentMetrics,
    clock: Arc<dyn Clock>,
}

/// A counter label: how something ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

/// What the workflow counts for the metrics.
#[derive(Debug, Clone, Default)]
pub struct WorkflowMetrics {
    /// New orders recorded by `POST /api/orders`, by their status when it answered.
    pub placed: Family<Outcome, Counter>,
    /// Orders reaching a final status (by a request or the reconciler).
    pub settled: Family<Outcome, Counter>,
    /// Compensating calls: ids cancelled so that a late hold cannot land, seats given back.
    pub compensations: Counter,
}

impl Workflow {
    pub fn new(
        repo: Arc<dyn OrderRepo>,
        course: Arc<dyn CourseClient>,
        deadline: Duration,
    ) -> Self {
        Workflow {
            repo,
            course,
            deadline,
            metrics: WorkflowMetrics::default(),
            payments: None,
            payment_metrics: PaymentMetrics::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Collects payments through `payments` for courses with a price.
    pub fn with_payments(mut self, payments: Payments) -> Self {
        self.payments = Some(payments);
        self
    }

    /// Reads "now" (a waiting order's due times) from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The workflow's counters (shared handles, for the metrics registry).
    pub fn metrics(&self) -> WorkflowMetrics {
        self.metrics.clone()
    }

    /// The payment steps' counters.
    pub fn payment_metrics(&self) -> PaymentMetrics {
        self.payment_metrics.clone()
    }

    /// Places an order, unless the student already has a live order for this course.
    pub async fn place(&self, request: &NewOrder, request_id: &str) -> Result<Placed, PlaceError> {
        // The order is durable before course-service hears of it: after a crash, every hold has
        // an order to settle it.
        let order = self
            .repo
            .begin(request)
            .await
            .map_err(|_| PlaceError::Storage)?
            .map_err(PlaceError::AlreadyLive)?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let saga = {
            let (this, order, request_id) = (self.clone(), order.clone(), request_id.to_owned());
            async move {
                let id = order.id;
                let driven = this.drive(order, &request_id).await;
                let after = LeaseAfter::of(&driven);
                // Whoever waits is answered first; the lease goes back after.
                drop(answer.send(driven));
                this.give_back_lease(id, after).await;
            }
        };
        // Its logs and spans stay under the request that placed the order.
        tokio::spawn(saga.in_current_span());
        let driven = match tokio::time::timeout(self.deadline, answered).await {
            Ok(Ok(Ok(driven))) => driven,
            Ok(Ok(Err(_))) => return Err(PlaceError::Storage),
            Ok(Err(_)) => {
                tracing::error!(order_id = %order.id, "order saga aborted; the reconciler settles it");
                self.unsettled(order).await?
            }
            Err(_) => self.unsettled(order).await?,
        };
        let outcome = driven.order.status.as_str();
        self.metrics
            .placed
            .get_or_create(&Outcome { outcome })
            .inc();
        Ok(Placed {
            settlement: Settlement::of(&driven),
            order: driven.order,
        })
    }

    /// Cancels a student's order and gives its seat back. The cancellation is recorded durably
    /// first, so that if the service stops before the seat is back, the reconciler finishes it.
    pub async fn cancel(
        &self,
        student: &StudentId,
        id: OrderId,
        request_id: &str,
    ) -> Result<Order, CancelError> {
        let order = self
            .repo
            .get_owned(id, student)
            .await
            .map_err(|_| CancelError::Storage)?
            .ok_or(CancelError::NotFound)?;
        match order.status {
            Status::Cancelled | Status::Refunded => return Ok(order),
            Status::Failed => return Err(CancelError::NotCancellable),
            Status::Pending | Status::AwaitingPayment | Status::Confirmed => {}
        }
        let asked = self
            .repo
            .request_cancel(id)
            .await
            .map_err(|_| CancelError::Storage)?;
        let Some((order, leased)) = asked else {
            // It became final meanwhile.
            let now = self.repo.get(id).await.map_err(|_| CancelError::Storage)?;
            return match now {
                Some(order) if matches!(order.status, Status::Cancelled | Status::Refunded) => {
                    Ok(order)
                }
                _ => Err(CancelError::NotCancellable),
            };
        };
        let driven = self.drive(order, request_id).await;
        if leased {
            let after = match LeaseAfter::of(&driven) {
                LeaseAfter::Park(..) => LeaseAfter::GiveBack,
                after => after,
            };
            self.give_back_lease(id, after).await;
        }
        let order = driven.map_err(|_| CancelError::Storage)?.order;
        match order.status {
            Status::Cancelled | Status::Refunded => Ok(order),
            Status::Failed => Err(CancelError::NotCancellable),
            Status::Pending | Status::AwaitingPayment | Status::Confirmed => {
                Err(CancelError::Unavailable)
            }
        }
    }

    /// One visit of the reconciler to an order with work left: takes its lease (skipping an
    /// order someone works on), drives it from its saved step, and gives the lease back.
    pub async fn visit(&self, id: OrderId) {
        self.visit_as(id, &format!("reconcile-{}", Uuid::now_v7()))
            .await;
    }

    /// A visit on behalf of request `request_id` (a webhook's, or the reconciler's).
    async fn visit_as(&self, id: OrderId, request_id: &str) {
        if !self.repo.try_lease(id).await.unwrap_or(false) {
            return;
        }
        let mut after = LeaseAfter::GiveBack;
        match self.repo.get(id).await {
            Ok(Some(order)) => {
                let driven = self.drive(order, request_id).await;
                match &driven {
                    Ok(d) if d.order.step == Step::Cancelling => {
                        tracing::warn!(order_id = %id, "cancellation not finished yet");
                    }
                    Ok(_) => after = LeaseAfter::of(&driven),
                    Err(e) => tracing::error!(error = %e, order_id = %id, "order not moved on"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, order_id = %id, "order not read"),
        }
        self.give_back_lease(id, after).await;
    }

    /// Ends the lease as `after` says: parks it until the order is due (when it still rests at
    /// the step it parked at), or gives it back; a settled order's lease ended with the step
    /// that settled it.
    async fn give_back_lease(&self, id: OrderId, after: LeaseAfter) {
        let parked = match after {
            LeaseAfter::Settled => return,
            LeaseAfter::Park(step, until) => Some((step, until)),
            LeaseAfter::GiveBack => None,
        };
        if let Some((step, until)) = parked {
            match self.repo.park(id, step, until).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, order_id = %id, "order not parked"),
            }
        }
        if let Err(e) = self.repo.release_lease(id).await {
            tracing::warn!(error = %e, order_id = %id, "lease not given back; it lapses");
        }
    }

    /// The order as stored now, its saga not settled in time; when the store cannot answer in
    /// time, the pending order as recorded (durably) at the start, unless the store has failed for
    /// good (fail-stop).
    async fn unsettled(&self, seen: Order) -> Result<Driven, PlaceError> {
        let order = match self.repo.get(seen.id).await {
            Ok(Some(order)) => order,
            _ if self.repo.live() => seen,
            _ => return Err(PlaceError::Storage),
        };
        Ok(Driven {
            order,
            quoted_price_cents: None,
            parked: None,
        })
    }
}

/// What becomes of an order's lease once its driver is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeaseAfter {
    /// The order is settled: the step that settled it ended the lease.
    Settled,
    /// It rests at this step until then.
    Park(Step, DateTime<Utc>),
    /// It goes back, for the next driver.
    GiveBack,
}

impl LeaseAfter {
    fn of(driven: &Result<Driven, RepoError>) -> LeaseAfter {
        match driven {
            Ok(d) if !rules::has_work(d.order.state()) => LeaseAfter::Settled,
            Ok(Driven {
                parked: Some((step, until)),
                ..
            }) => LeaseAfter::Park(*step, *until),
            _ => LeaseAfter::GiveBack,
        }
    }
}
