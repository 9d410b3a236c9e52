//! The storage port: everything the workflow, the routes and the reconciler need from wherever
//! orders live ([`OrderRepo`]), its error, and [`open`], which chooses the backend. The key store
//! half of the port is [`crate::idempotency::KeyStore`], the feed follower's
//! [`crate::feed::FeedStore`]; every backend implements all three.
//!
//! - [`embedded`]: the orders in memory, durable through the embedded journal (or in memory
//!   only). One process owns the state.
//! - [`postgres`]: every replica on one PostgreSQL database. The one-live-order rule is a unique
//!   index, leases are rows' `lease_until`, so a replica's reconciler settles the orders of a
//!   replica that died.
//!
//! Both apply the rule book of [`crate::domain::rules`]; the contract suite
//! (`order-service/tests/api/repo/`) holds each backend to it. What only tests need is in [`testing`],
//! outside the production traits. Nothing here calls course-service or decides what an answer
//! means.

pub mod embedded;
pub mod postgres;
pub mod testing;

use crate::{
    clock::Clock,
    config::Config,
    domain::{
        NewOrder, Offer, Order, OrderId, Payment, Price, ReservationId, Status, Step, StudentId,
        Transition,
    },
    feed::FeedStore,
    idempotency::{KeyStore, KeyStoreError},
};
use anyhow::Context;
use async_trait::async_trait;
use std::sync::Arc;
use storage_kit::journal::{JournalError, StorageMode};

/// The store directory under DATA_DIR.
pub const STORE_DIR: &str = "order-service";

/// The store could not answer; the change may or may not have happened.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The embedded store failed a write: it serves nothing until restarted (fail-stop).
    #[error("the order store failed; the service must be restarted")]
    Journal(#[from] JournalError),
    #[error("the database call failed")]
    Database(#[from] sqlx::Error),
    /// A stored value this build cannot read.
    #[error("unreadable stored order: {0}")]
    Corrupt(String),
    /// An order that was there is not (orders are never deleted: the store lost it).
    #[error("order {0} is gone")]
    Gone(OrderId),
}

impl From<RepoError> for KeyStoreError {
    fn from(e: RepoError) -> Self {
        KeyStoreError(Box::new(e))
    }
}

/// The student already has a live (pending or confirmed) order for the course: this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyLive(pub OrderId);

/// The result of recording an order under an id chosen before (an offer's): the new order, or
/// the one recorded under that id before (whatever became of it since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// Recorded now, leased to the caller.
    New(Order),
    /// Recorded before; nothing changed.
    Existing(Order),
}

/// What a step learned besides its transition, saved with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Note {
    /// The price course-service locked for the hold: kept once (the first one noted), whether
    /// or not the transition applies.
    pub price: Option<Price>,
    /// When the hold ends: noted with the first price, and replaced when the transition applies.
    pub hold_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The checkout as learned now: replaces the saved one when the transition applies.
    pub payment: Option<Payment>,
    /// The reservation the order uses from now on: replaces it when the transition applies.
    pub reservation: Option<ReservationId>,
}

impl Note {
    /// Nothing besides the transition.
    pub fn none() -> Note {
        Note::default()
    }

    /// A price only.
    pub fn price(price: Option<Price>) -> Note {
        Note {
            price,
            ..Note::default()
        }
    }

    /// Writes what this note says into `order` (as of an applied transition when `applied`),
    /// and whether the student can see a difference.
    pub fn write_into(&self, order: &mut Order, applied: bool) -> bool {
        let mut visible = false;
        if order.price.is_none()
            && let Some(price) = &self.price
        {
            order.price = Some(price.clone());
            order.hold_expires_at = order.hold_expires_at.or(self.hold_expires_at);
            visible = true;
        }
        if applied {
            if let Some(end) = self.hold_expires_at {
                order.hold_expires_at = Some(end);
            }
            if let Some(payment) = &self.payment {
                visible |= order.payment.as_ref() != Some(payment);
                order.payment = Some(payment.clone());
            }
            if let Some(reservation) = self.reservation {
                visible |= order.reservation != reservation;
                order.reservation = reservation;
            }
        }
        visible
    }
}

/// The result of [`OrderRepo::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The order as it stands afterwards.
    pub order: Order,
    /// Whether the rules allowed the transition (false: the order was left as it was, apart from
    /// a price noted).
    pub applied: bool,
}

/// Where orders live. Every method that changes something answers once the change is durable,
/// except [`Transition::Advance`], which may answer before: losing it only makes the next driver
/// of the order repeat an idempotent call. Times come from the clock the backend was opened with.
#[async_trait]
pub trait OrderRepo: Send + Sync + std::fmt::Debug + 'static {
    /// Records a new order at its first step, leased to the caller, unless the student already
    /// has a live order for this course.
    async fn begin(&self, request: &NewOrder) -> Result<Result<Order, AlreadyLive>, RepoError>;

    /// Records the order of a waitlist offer ([`Order::for_offer`]: its id is the offer's
    /// reservation id) at its first step, leased to the caller; when an order with that id exists
    /// already, that one, unchanged, so that recording an offer again (a redelivery, another
    /// replica, a restart) records it once. [`AlreadyLive`] when the student has another live
    /// order for the course.
    async fn begin_offer(&self, offer: &Offer) -> Result<Result<Begun, AlreadyLive>, RepoError>;

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepoError>;

    /// The order if it belongs to `student` (someone else's order reads as absent).
    async fn get_owned(
        &self,
        id: OrderId,
        student: &StudentId,
    ) -> Result<Option<Order>, RepoError> {
        Ok(self.get(id).await?.filter(|o| &o.student == student))
    }

    /// Applies `transition` if the rules allow it and it makes no second live order of the
    /// student and course, and writes `note` (see [`Note`]); `None`: no such order.
    async fn apply(
        &self,
        id: OrderId,
        transition: Transition,
        note: Note,
    ) -> Result<Option<Applied>, RepoError>;

    /// Sets the lease of an order still at step `at` until `until` (it rests until then: nobody
    /// visits it before, unless something wakes it with [`OrderRepo::release_lease`]); false when
    /// it moved on, and the caller gives its lease back instead.
    async fn park(
        &self,
        id: OrderId,
        at: Step,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, RepoError>;

    /// Whether the provider's event `event_id` was applied already.
    async fn event_seen(&self, event_id: &str) -> Result<bool, RepoError>;

    /// Records (durably) that event `event_id` was applied.
    async fn note_event(&self, event_id: &str) -> Result<(), RepoError>;

    /// Records (durably) that the order's cancellation was asked for, before its seat is given
    /// back, and takes its lease if nobody holds it. Returns the order and whether the caller now
    /// holds the lease; `None` when the order is not live (final, or absent).
    async fn request_cancel(&self, id: OrderId) -> Result<Option<(Order, bool)>, RepoError>;

    /// Orders with work left that nobody is working on (a lapsed lease counts as nobody).
    async fn unleased_work(&self) -> Result<Vec<OrderId>, RepoError>;

    /// Number of orders with work left.
    async fn work_count(&self) -> Result<u64, RepoError>;

    /// Takes the lease of an order with work left; false when it is taken or nothing is left.
    async fn try_lease(&self, id: OrderId) -> Result<bool, RepoError>;

    /// Gives a lease back. The path that took a lease gives it back when its work ends, errors
    /// included; a lease never given back (its holder stopped) lapses.
    async fn release_lease(&self, id: OrderId) -> Result<(), RepoError>;

    /// Up to `limit` of the student's orders older than `before`, newest first, optionally of
    /// one status, and whether more follow.
    async fn list(
        &self,
        student: &StudentId,
        status: Option<Status>,
        before: Option<OrderId>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), RepoError>;

    /// Whether the process may go on serving (false: restart it).
    fn live(&self) -> bool;

    /// Whether the store answers now; names the check for `/health/ready`.
    async fn ready(&self) -> (&'static str, bool);

    /// At shutdown: makes every change so far durable and lets go of the store (connections,
    /// files and their lock). Nothing is served from it afterwards.
    async fn close(&self) -> Result<(), RepoError>;
}

/// One opened backend, through each of its faces.
#[derive(Debug, Clone)]
pub struct Backend {
    pub orders: Arc<dyn OrderRepo>,
    pub keys: Arc<dyn KeyStore>,
    pub feed: Arc<dyn FeedStore>,
    /// For tests and reports only.
    pub inspect: Arc<dyn testing::Inspect>,
}

impl Backend {
    /// The faces of one backend.
    pub fn of<B: OrderRepo + KeyStore + FeedStore + testing::Inspect>(backend: B) -> Backend {
        let backend = Arc::new(backend);
        Backend {
            orders: backend.clone(),
            keys: backend.clone(),
            feed: backend.clone(),
            inspect: backend,
        }
    }
}

/// The backend `config` asks for: PostgreSQL when DATABASE_URL is set, else in memory or restored
/// from the embedded store. A store that cannot be opened or read stops the service: it never
/// starts empty over existing data.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Backend> {
    let lease = lease_for(config.order_deadline());
    if let Some(settings) = config.storage.database.settings() {
        let repo = postgres::PgRepo::connect(&settings, clock, lease).await?;
        tracing::info!(
            database = %storage_kit::postgres::redacted(&settings.url),
            max_connections = settings.max_connections,
            "state in PostgreSQL"
        );
        return Ok(Backend::of(repo));
    }
    if config.storage.mode == StorageMode::Memory {
        tracing::warn!("STORAGE=memory: orders are lost when the service stops");
        return Ok(Backend::of(embedded::EmbeddedRepo::in_memory(clock, lease)));
    }
    let store = storage_kit::journal::Store::open(&config.storage.data_dir, STORE_DIR)
        .context("refusing to start")?;
    let path = std::path::absolute(store.path()).unwrap_or_else(|_| store.path().to_owned());
    let orders =
        embedded::EmbeddedRepo::restore(store, config.storage.faults.clone(), clock, lease)
            .with_context(|| format!("refusing to start: cannot load {}", path.display()))?;
    tracing::info!(store = %path.display(), orders = orders.len(), pending = orders.work_len(), "state loaded");
    Ok(Backend::of(orders))
}

/// How long a lease lasts: twice the request deadline, so a stopped driver's orders are taken
/// over soon. A driver that outlives its lease may meet another on the same order; both only make
/// idempotent calls under the order's reservation id, and each move applies only from the step its
/// driver started at, so the order still moves once.
pub fn lease_for(request_deadline: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(request_deadline).unwrap_or(chrono::TimeDelta::seconds(30)) * 2
}
