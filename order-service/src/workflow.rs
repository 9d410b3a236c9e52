//! The order saga: record the order -> hold a seat -> confirm it, with compensation, and the
//! "find out" step that settles any order whose outcome became uncertain.
//!
//! 1. `begin`: the order is stored `pending` with a reservation id chosen now, before any call, so
//!    that every retry of every call names the same reservation.
//! 2. `PUT` the hold. A business refusal (`sold_out`, `price_changed`, ...) fails the order. If no
//!    attempt reached course-service the order fails as `course_service_unavailable` (nothing can
//!    be held). If the outcome is unknown (a timeout after sending, a 5xx), find out.
//! 3. `confirm`. If its outcome is unknown, find out.
//!
//! *Finding out* reads the reservation: `held` is confirmed, `confirmed` settles the order,
//! `cancelled`/`expired`/`released` fail it, and *not found* cancels the id first, leaving a
//! tombstone so that a hold still travelling the network cannot land later, then fails the order.
//! When course-service cannot answer, the order stays `pending` and the reconciler repeats the step
//! until it can: every order ends `confirmed` with a sold seat, or `failed`/`cancelled` with none.
//!
//! A request waits for its saga up to the order deadline and answers 202 with the pending order
//! if it is not settled by then; the saga keeps running and settles it.

use crate::{
    course_client::{CallContext, CourseClient, CourseError},
    orders::{AlreadyLive, Finish},
    repo::{OrderRepo, Unavailable},
};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use shared_types::{CreateOrder, ErrorCode, Order, OrderStatus, Reservation, ReservationStatus};
use std::{sync::Arc, time::Duration};
use tracing::Instrument;
use uuid::Uuid;

/// How far a saga got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Confirmed,
    /// The order failed; `status` is the HTTP status to answer with.
    Failed {
        code: ErrorCode,
        status: u16,
        price_cents: Option<i64>,
    },
    /// The outcome could not be learned yet; the order stays pending.
    Unsettled,
}

impl Settlement {
    fn failed(code: ErrorCode, status: u16) -> Self {
        Settlement::Failed {
            code,
            status,
            price_cents: None,
        }
    }

    fn unavailable() -> Self {
        Settlement::failed(ErrorCode::CourseServiceUnavailable, 503)
    }

    /// The order's failure for a refusal by course-service.
    fn from_refusal(status: u16, code: ErrorCode, price_cents: Option<i64>) -> Self {
        let (code, status) = match code {
            ErrorCode::SoldOut | ErrorCode::PriceChanged | ErrorCode::HoldLimitReached => {
                (code, 409)
            }
            ErrorCode::CourseNotFound => (code, 404),
            ErrorCode::AlreadyHolding => (ErrorCode::AlreadyEnrolled, 409),
            ErrorCode::ReservationExpired | ErrorCode::ReservationCancelled => (code, 409),
            _ => {
                tracing::error!(status, code = %code, "unexpected refusal from course-service");
                (ErrorCode::CourseServiceUnavailable, 503)
            }
        };
        Settlement::Failed {
            code,
            status,
            price_cents,
        }
    }

    fn from_final_status(status: ReservationStatus) -> Self {
        match status {
            ReservationStatus::Confirmed => Settlement::Confirmed,
            ReservationStatus::Expired => Settlement::failed(ErrorCode::ReservationExpired, 409),
            _ => Settlement::failed(ErrorCode::ReservationCancelled, 409),
        }
    }
}

/// The result of placing an order: the order as it stands, and how its saga ended.
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
}

/// Runs sagas; cheap to clone.
#[derive(Debug, Clone)]
pub struct Workflow {
    store: Arc<dyn OrderRepo>,
    client: Arc<dyn CourseClient>,
    deadline: Duration,
    metrics: WorkflowMetrics,
}

/// A counter label: how something ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

/// What the workflow counts for the metrics.
#[derive(Debug, Clone, Default)]
pub struct WorkflowMetrics {
    /// `POST /api/orders` answers, by outcome.
    pub placed: Family<Outcome, Counter>,
    /// Orders reaching a final status (by a request or the reconciler).
    pub settled: Family<Outcome, Counter>,
    /// Compensating calls: ids cancelled so that a late hold cannot land, seats given back.
    pub compensations: Counter,
}

impl Workflow {
    pub fn new(
        store: Arc<dyn OrderRepo>,
        client: Arc<dyn CourseClient>,
        deadline: Duration,
    ) -> Self {
        Workflow {
            store,
            client,
            deadline,
            metrics: WorkflowMetrics::default(),
        }
    }

    /// The workflow's counters (shared handles, for the metrics registry).
    pub fn metrics(&self) -> WorkflowMetrics {
        self.metrics.clone()
    }

    pub fn store(&self) -> &Arc<dyn OrderRepo> {
        &self.store
    }

    pub fn client(&self) -> &Arc<dyn CourseClient> {
        &self.client
    }

    /// Places an order, unless the student already has a live order for this course.
    pub async fn place(
        &self,
        student: &str,
        body: &CreateOrder,
        request_id: &str,
    ) -> Result<Placed, PlaceError> {
        // The pending order is durable before course-service hears of it: after a crash, every
        // hold has an order to settle it.
        let order = self
            .store
            .begin(student, body, now())
            .await
            .map_err(|_| PlaceError::Storage)?
            .map_err(PlaceError::AlreadyLive)?;
        let ctx = call_context(&order, request_id);
        let saga = {
            let this = self.clone();
            let (id, student, expected) = (
                order.id,
                order.student_id.clone(),
                body.expected_price_cents,
            );
            tokio::spawn(
                async move {
                    let _lease = LeaseGuard {
                        store: this.store.clone(),
                        id,
                    };
                    let settlement = this.run(id, &ctx, &student, expected).await;
                    (this.apply(id, &settlement).await, settlement)
                }
                // Its logs and spans stay under the request that placed the order.
                .in_current_span(),
            )
        };
        let (order, settlement) = match tokio::time::timeout(self.deadline, saga).await {
            Ok(Ok((Ok(order), settlement))) => (order, settlement),
            Ok(Ok((Err(_), _))) => return Err(PlaceError::Storage),
            Ok(Err(e)) => {
                tracing::error!(error = %e, order_id = %order.id, "order saga aborted; the reconciler settles it");
                (self.current(order).await, Settlement::Unsettled)
            }
            Err(_) => (self.current(order).await, Settlement::Unsettled),
        };
        let outcome = match order.status {
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Pending => "pending",
            OrderStatus::Failed => "failed",
            OrderStatus::Cancelled => "cancelled",
        };
        self.metrics
            .placed
            .get_or_create(&Outcome { outcome })
            .inc();
        Ok(Placed { order, settlement })
    }

    /// One reconciliation attempt for an order with work left: finish its cancellation if one
    /// was asked for, otherwise find out how its saga ended and settle it if possible.
    pub async fn reconcile(&self, id: Uuid) {
        if !self.store.try_lease(id, now()).await.unwrap_or(false) {
            return;
        }
        let _lease = LeaseGuard {
            store: Arc::clone(&self.store),
            id,
        };
        let Ok(Some(order)) = self.store.get(id).await else {
            return;
        };
        let request_id = format!("reconcile-{}", Uuid::now_v7());
        if self.store.cancel_requested(id).await.unwrap_or(false) {
            if let Err(e) = self.complete_cancel(&order, &request_id).await {
                tracing::warn!(error = %e, order_id = %id, "cancellation not finished yet");
            }
            return;
        }
        if order.status != OrderStatus::Pending {
            return;
        }
        let settlement = self.find_out(id, &call_context(&order, &request_id)).await;
        if let Err(e) = self.apply(id, &settlement).await {
            tracing::error!(error = %e, order_id = %id, "could not record a settled order");
        }
    }

    /// Cancels a student's order and gives its seat back. The cancellation is recorded durably
    /// first, so that if the service stops before the seat is back, the reconciler finishes it.
    pub async fn cancel(
        &self,
        student: &str,
        id: Uuid,
        request_id: &str,
    ) -> Result<Order, CancelError> {
        let order = self
            .store
            .get_owned(id, student)
            .await
            .map_err(|_| CancelError::Unavailable)?
            .ok_or(CancelError::NotFound)?;
        match order.status {
            OrderStatus::Cancelled => return Ok(order),
            OrderStatus::Failed => return Err(CancelError::NotCancellable),
            _ => {}
        }
        let asked = self
            .store
            .request_cancel(id)
            .await
            .map_err(|_| CancelError::Unavailable)?;
        let Some((order, leased)) = asked else {
            // It became final meanwhile.
            let now = self
                .store
                .get(id)
                .await
                .map_err(|_| CancelError::Unavailable)?;
            return match now.map(|o| (o.status, o)) {
                Some((OrderStatus::Cancelled, o)) => Ok(o),
                _ => Err(CancelError::NotCancellable),
            };
        };
        let _lease = leased.then(|| LeaseGuard {
            store: Arc::clone(&self.store),
            id,
        });
        self.complete_cancel(&order, request_id).await
    }

    /// Gives the order's seat back and records the order cancelled.
    async fn complete_cancel(&self, order: &Order, request_id: &str) -> Result<Order, CancelError> {
        self.return_seat(&call_context(order, request_id)).await?;
        let order = self
            .store
            .finish(order.id, Finish::Cancelled, now())
            .await
            .map_err(|_| CancelError::Unavailable)?
            .ok_or(CancelError::NotFound)?;
        if order.status == OrderStatus::Failed {
            return Err(CancelError::NotCancellable);
        }
        self.metrics
            .settled
            .get_or_create(&Outcome {
                outcome: "cancelled",
            })
            .inc();
        Ok(order)
    }

    /// Makes sure the reservation holds no seat: cancel it, or release it if it was confirmed.
    async fn return_seat(&self, ctx: &CallContext) -> Result<(), CancelError> {
        self.metrics.compensations.inc();
        match self.client.cancel(ctx).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_refusal(ErrorCode::CourseNotFound) => Ok(()),
            Err(e) if e.is_refusal(ErrorCode::ReservationConfirmed) => {
                match self.client.release(ctx).await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        tracing::warn!(error = %e, "release failed while cancelling an order");
                        Err(CancelError::Unavailable)
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cancel failed while cancelling an order");
                Err(CancelError::Unavailable)
            }
        }
    }

    async fn run(
        &self,
        id: Uuid,
        ctx: &CallContext,
        student: &str,
        expected: Option<i64>,
    ) -> Settlement {
        match self.client.reserve(ctx, student, expected).await {
            Ok(reservation) => self.after_hold(id, ctx, &reservation).await,
            Err(CourseError::Refused {
                status,
                code,
                price_cents,
            }) => Settlement::from_refusal(status, code, price_cents),
            Err(CourseError::NotDelivered) => Settlement::unavailable(),
            Err(CourseError::Unknown(why)) => {
                tracing::warn!(%why, "hold outcome unknown; reading the reservation");
                self.find_out(id, ctx).await
            }
        }
    }

    async fn after_hold(
        &self,
        id: Uuid,
        ctx: &CallContext,
        reservation: &Reservation,
    ) -> Settlement {
        self.note_price(id, reservation).await;
        if reservation.status != ReservationStatus::Held {
            return Settlement::from_final_status(reservation.status);
        }
        match self.try_confirm(ctx).await {
            Some(settlement) => settlement,
            None => self.find_out(id, ctx).await,
        }
    }

    /// Confirms a hold; `None` when the outcome is unknown.
    async fn try_confirm(&self, ctx: &CallContext) -> Option<Settlement> {
        match self.client.confirm(ctx).await {
            Ok(r) => Some(Settlement::from_final_status(r.status)),
            Err(CourseError::Refused {
                status,
                code,
                price_cents,
            }) if code != ErrorCode::ReservationNotFound => {
                Some(Settlement::from_refusal(status, code, price_cents))
            }
            Err(e) => {
                tracing::warn!(error = %e, "confirm outcome unknown");
                None
            }
        }
    }

    /// Learns what happened to the reservation and settles accordingly.
    async fn find_out(&self, id: Uuid, ctx: &CallContext) -> Settlement {
        match self.client.get_reservation(ctx).await {
            Ok(r) => {
                self.note_price(id, &r).await;
                match r.status {
                    ReservationStatus::Held => {
                        self.try_confirm(ctx).await.unwrap_or(Settlement::Unsettled)
                    }
                    status => Settlement::from_final_status(status),
                }
            }
            Err(e) if e.is_refusal(ErrorCode::ReservationNotFound) => {
                match self.compensate(ctx).await {
                    // The id is now a tombstone: a hold still on its way cannot take a seat.
                    Ok(r) if r.status == ReservationStatus::Cancelled => Settlement::unavailable(),
                    Ok(r) => Settlement::from_final_status(r.status),
                    Err(e) if e.is_refusal(ErrorCode::CourseNotFound) => {
                        Settlement::failed(ErrorCode::CourseNotFound, 404)
                    }
                    Err(_) => Settlement::Unsettled,
                }
            }
            Err(e) if e.is_refusal(ErrorCode::CourseNotFound) => {
                Settlement::failed(ErrorCode::CourseNotFound, 404)
            }
            Err(e) => {
                tracing::warn!(error = %e, "reservation state unknown; the order stays pending");
                Settlement::Unsettled
            }
        }
    }

    /// Records the settlement (durably) and returns the order as it stands.
    async fn apply(&self, id: Uuid, settlement: &Settlement) -> Result<Order, Unavailable> {
        let finish = match settlement {
            Settlement::Confirmed => Finish::Confirmed,
            Settlement::Failed { code, .. } => Finish::Failed(*code),
            Settlement::Unsettled => {
                return self
                    .store
                    .get(id)
                    .await?
                    .ok_or_else(|| Unavailable(format!("order {id} is gone")));
            }
        };
        let order = self
            .store
            .finish(id, finish, now())
            .await?
            .ok_or_else(|| Unavailable(format!("order {id} is gone")))?;
        let outcome = if matches!(finish, Finish::Confirmed) {
            "confirmed"
        } else {
            "failed"
        };
        self.metrics
            .settled
            .get_or_create(&Outcome { outcome })
            .inc();
        Ok(order)
    }

    /// The order as stored now, or as last seen when the store cannot answer.
    async fn current(&self, seen: Order) -> Order {
        match self.store.get(seen.id).await {
            Ok(Some(order)) => order,
            _ => seen,
        }
    }

    /// Records the price course-service locked; a failure only delays it (the final state
    /// carries it, and the reconciler reads it again).
    async fn note_price(&self, id: Uuid, reservation: &Reservation) {
        let noted = self
            .store
            .record_price(
                id,
                reservation.unit_price_cents,
                &reservation.currency,
                now(),
            )
            .await;
        if let Err(e) = noted {
            tracing::warn!(error = %e, order_id = %id, "price not recorded yet");
        }
    }

    /// Cancels the order's reservation id (a tombstone if it was never reserved).
    async fn compensate(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.metrics.compensations.inc();
        self.client.cancel(ctx).await
    }
}

fn call_context(order: &Order, request_id: &str) -> CallContext {
    CallContext {
        course_id: order.course_id,
        reservation_id: order.reservation_id,
        request_id: request_id.to_owned(),
    }
}

/// The current time at microsecond precision, like every timestamp the services publish.
fn now() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Releases an order's lease when the work on it ends, even by panic.
struct LeaseGuard {
    store: Arc<dyn OrderRepo>,
    id: Uuid,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.store.release_lease(self.id);
    }
}
