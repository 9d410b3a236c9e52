//! The storage seam: everything the saga, the routes and the reconciler need from wherever orders
//! and idempotency keys live, as one trait with two implementations:
//!
//! - [`embedded`]: the in-memory [`OrderStore`](crate::orders::OrderStore), durable through the
//!   embedded store (or in memory only). One process owns the state.
//! - [`postgres`]: every replica on one PostgreSQL database. The one-live-order rule is a unique
//!   index, leases are rows' `lease_until`, so a replica's reconciler settles the orders of a
//!   replica that died.
//!
//! Every method that changes something answers once the change is durable.

pub mod embedded;
pub mod postgres;

use crate::orders::{AlreadyLive, Claim, Finish, StoredReply};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shared_types::{CreateOrder, Order, OrderStatus};
use uuid::Uuid;

/// The store could not answer; the change may or may not have happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the order store is unavailable: {0}")]
pub struct Unavailable(pub String);

impl From<service_kit::journal::JournalError> for Unavailable {
    fn from(e: service_kit::journal::JournalError) -> Self {
        Unavailable(e.to_string())
    }
}

/// Where orders and idempotency keys live.
#[async_trait]
pub trait OrderRepo: Send + Sync + std::fmt::Debug + 'static {
    /// Records a new pending order, leased to the caller, unless the student already has a live
    /// order for this course.
    async fn begin(
        &self,
        student: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Result<Result<Order, AlreadyLive>, Unavailable>;

    async fn get(&self, id: Uuid) -> Result<Option<Order>, Unavailable>;

    /// The order if it belongs to `student` (someone else's order reads as absent).
    async fn get_owned(&self, id: Uuid, student: &str) -> Result<Option<Order>, Unavailable> {
        Ok(self.get(id).await?.filter(|o| o.student_id == student))
    }

    /// Records the price course-service locked for the order's hold (once).
    async fn record_price(
        &self,
        id: Uuid,
        unit_price_cents: i64,
        currency: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Unavailable>;

    /// Moves the order to its final state if the status rules allow it; returns the order as it
    /// stands afterwards either way (`None`: no such order).
    async fn finish(
        &self,
        id: Uuid,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<Option<Order>, Unavailable>;

    /// Records that the order's cancellation was asked for; returns the order and whether the
    /// caller now holds its lease. `None` when the order is already final.
    async fn request_cancel(&self, id: Uuid) -> Result<Option<(Order, bool)>, Unavailable>;

    /// Whether the order's cancellation was asked for and is not finished.
    async fn cancel_requested(&self, id: Uuid) -> Result<bool, Unavailable>;

    /// Orders with work left that nobody is working on (a lapsed lease counts as nobody).
    async fn unleased_work(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, Unavailable>;

    /// Number of orders with work left (pending, or being cancelled).
    async fn work_count(&self) -> Result<u64, Unavailable>;

    /// Takes the lease of an order with work left; false when it is taken or nothing is left.
    async fn try_lease(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, Unavailable>;

    /// Gives the lease back (without waiting: a lease that is not given back lapses).
    fn release_lease(&self, id: Uuid);

    /// Up to `limit` of the student's orders older than `before`, newest first, optionally of
    /// one status, and whether more follow.
    async fn list(
        &self,
        student: &str,
        status: Option<OrderStatus>,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), Unavailable>;

    /// Looks up an idempotency key for `student` and, on first use, marks it running.
    async fn claim_key(
        &self,
        student: &str,
        key: &str,
        body: &CreateOrder,
        now: DateTime<Utc>,
    ) -> Result<Claim, Unavailable>;

    /// Stores the response of a key's request for replay.
    async fn complete_key(
        &self,
        student: &str,
        key: &str,
        reply: StoredReply,
        now: DateTime<Utc>,
    ) -> Result<(), Unavailable>;

    /// Forgets a key whose request changed nothing, so that a retry runs again.
    async fn forget_key(&self, student: &str, key: &str) -> Result<(), Unavailable>;

    /// Forgets keys older than their lifetime; returns how many.
    async fn purge_keys(&self, now: DateTime<Utc>) -> Result<usize, Unavailable>;

    /// Whether the process may go on serving (false: restart it).
    fn live(&self) -> bool;

    /// Whether the store answers now; names the check for `/health/ready`.
    async fn ready(&self) -> (&'static str, bool);

    /// Resolves once every change made so far is durable (at shutdown).
    async fn flush(&self) -> Result<(), Unavailable>;

    /// Every order; for checks, reports and tests.
    async fn all(&self) -> Result<Vec<Order>, Unavailable>;
}
