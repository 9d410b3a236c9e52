//! The PostgreSQL backend: every replica of order-service on one database.
//!
//! - `orders`: recording, reading, listing, and the rule book's transitions as conditional
//!   updates.
//! - `leases`: work left and its leases.
//! - `keys`: idempotency keys.
//! - the payment events applied are rows of `payment_events` (in `orders`).
//! - `feed`: the orders of waitlist offers (recorded once under the offer's id), and the feed
//!   follower's cursor and lease (the one row of `feed_follower`).
//! - `rows`: the row type and its conversion to the entity.
//!
//! Every answer is given after its statement committed; nothing is buffered. It must not decide
//! what a change means (the rule book does) nor call course-service.

mod feed;
mod keys;
mod leases;
mod orders;
mod rows;

use crate::{
    clock::Clock,
    domain::{NewOrder, Offer, Order, OrderId, Status, Step, StudentId, Transition},
    repo::{AlreadyLive, Applied, Begun, Note, OrderRepo, RepoError, testing::Inspect},
};
use async_trait::async_trait;
use chrono::TimeDelta;
use sqlx::{PgPool, migrate::Migrator};
use std::sync::Arc;
use storage_kit::postgres::{self, PgSettings};

/// The schema, embedded from `order-service/migrations`.
pub fn migrator() -> Migrator {
    sqlx::migrate!("./migrations")
}

/// order-service state in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgRepo {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    /// How long a lease lasts (see [`crate::repo::lease_for`]).
    lease: TimeDelta,
}

impl PgRepo {
    /// Connects and migrates.
    pub async fn connect(
        settings: &PgSettings,
        clock: Arc<dyn Clock>,
        lease: TimeDelta,
    ) -> anyhow::Result<Self> {
        let pool = postgres::connect(settings, "order-service", migrator()).await?;
        Ok(PgRepo { pool, clock, lease })
    }
}

/// A failed database call, logged where it happened (the answer says only "unavailable").
fn db(e: sqlx::Error) -> RepoError {
    tracing::error!(error = %e, "database call failed");
    RepoError::Database(e)
}

#[async_trait]
impl OrderRepo for PgRepo {
    async fn begin(&self, request: &NewOrder) -> Result<Result<Order, AlreadyLive>, RepoError> {
        self.insert(request).await
    }

    async fn begin_offer(&self, offer: &Offer) -> Result<Result<Begun, AlreadyLive>, RepoError> {
        self.insert_offer(offer).await
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepoError> {
        self.select(id).await
    }

    async fn apply(
        &self,
        id: OrderId,
        transition: Transition,
        note: Note,
    ) -> Result<Option<Applied>, RepoError> {
        self.update(id, transition, note).await
    }

    async fn park(
        &self,
        id: OrderId,
        at: Step,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, RepoError> {
        self.park_at(id, at, until).await
    }

    async fn event_seen(&self, event_id: &str) -> Result<bool, RepoError> {
        self.seen(event_id).await
    }

    async fn note_event(&self, event_id: &str) -> Result<(), RepoError> {
        self.noted(event_id).await
    }

    async fn request_cancel(&self, id: OrderId) -> Result<Option<(Order, bool)>, RepoError> {
        self.cancel_asked(id).await
    }

    async fn unleased_work(&self) -> Result<Vec<OrderId>, RepoError> {
        self.work_unleased().await
    }

    async fn work_count(&self) -> Result<u64, RepoError> {
        self.count_work().await
    }

    async fn try_lease(&self, id: OrderId) -> Result<bool, RepoError> {
        self.take_lease(id).await
    }

    async fn release_lease(&self, id: OrderId) -> Result<(), RepoError> {
        self.give_lease_back(id).await
    }

    async fn list(
        &self,
        student: &StudentId,
        status: Option<Status>,
        before: Option<OrderId>,
        limit: usize,
    ) -> Result<(Vec<Order>, bool), RepoError> {
        self.page(student, status, before, limit).await
    }

    fn live(&self) -> bool {
        true
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("database", postgres::answers(&self.pool).await)
    }

    async fn close(&self) -> Result<(), RepoError> {
        // Every answer was given after its commit; nothing is buffered.
        self.pool.close().await;
        Ok(())
    }
}

#[async_trait]
impl Inspect for PgRepo {
    async fn all(&self) -> Result<Vec<Order>, RepoError> {
        self.every_order().await
    }

    async fn keys_of(&self, student: &StudentId) -> Result<usize, RepoError> {
        self.count_keys(student).await
    }
}
