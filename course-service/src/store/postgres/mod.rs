//! The PostgreSQL store: every replica of course-service on one database.
//!
//! Seat safety lives in SQL, not in any process: a seat is taken by a conditional update
//! (`seats_held + seats_sold < seats_total`), CHECK constraints keep the counters inside the
//! capacity, a partial unique index allows one live reservation per student and course, the
//! primary key makes a reservation id single-use per course, and a student's holds across courses
//! are counted by a conditional upsert. Which transition is legal is still decided by the pure
//! [`Reservation`] state machine, on a row locked `FOR UPDATE`, and written back with
//! `UPDATE ... WHERE status = <the status it was read in>`.
//!
//! Holds and transitions of one course are group-committed ([`batch`]): the changes waiting for a
//! course run in one transaction, each in its own savepoint, so the course row is locked and the
//! commit synced once per batch rather than once per seat. Transactions are short and no lock is
//! ever held across an HTTP call; one that loses a race (a deadlock, an insert of the same id) is
//! run again. The expiry sweep takes due holds in batches with `FOR UPDATE SKIP
//! LOCKED`, so any number of replicas may sweep at once without waiting on each other.
//!
//! Times are kept to the microsecond, as PostgreSQL stores them, so an answer read back from the
//! database equals the one given when the change was made.

#[macro_use]
mod rows;
mod batch;
mod courses;
mod feed;
mod hold;
mod hold_batch;
mod inspect;
mod sweep;
mod transactions;
mod transitions;
mod waitlist;

use super::{SeatStore, StoreError, SweepReport, Totals, TransitionCounts, Transitions, Waiting};
use crate::{
    clock::Clock,
    domain::Sales,
    domain::{
        CourseId, CourseSnapshot, EntryId, Held, HoldRequest, NewCourse, Reservation,
        ReservationId, Status,
        feed::{Cursor, FeedEvent},
    },
};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgPool, Postgres, Transaction, migrate::Migrator};
use std::sync::Arc;
use storage_kit::postgres::{self, PgSettings};
use transactions::{Outcome, retryable, unavailable};
use transitions::Change;

/// How often a transaction that lost a race (a deadlock, a serialization failure, a concurrent
/// insert of the same id) is run again before the request fails.
const ATTEMPTS: usize = 3;

/// course-service state in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    hold_ttl: TimeDelta,
    /// How long a seat offered to a waiting student stays held.
    offer_lifetime: TimeDelta,
    max_holds_per_student: u32,
    transitions: Arc<TransitionCounts>,
    batches: Arc<batch::Batcher>,
}

impl PgStore {
    /// Connects, runs the embedded migrations and refuses a schema newer than this binary.
    pub async fn connect(
        settings: &PgSettings,
        clock: Arc<dyn Clock>,
        hold_ttl: TimeDelta,
        max_holds_per_student: u32,
    ) -> anyhow::Result<Self> {
        let pool = postgres::connect(settings, "course-service", migrator()).await?;
        Ok(PgStore {
            batches: batch::Batcher::new(pool.clone()),
            pool,
            clock,
            hold_ttl,
            offer_lifetime: crate::domain::book::DEFAULT_OFFER_LIFETIME,
            max_holds_per_student,
            transitions: Arc::default(),
        })
    }

    /// Offers seats to waiting students for `lifetime` (instead of an hour).
    pub fn with_offer_lifetime(mut self, lifetime: TimeDelta) -> Self {
        self.offer_lifetime = lifetime;
        self
    }

    /// Now, to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    }

    /// Runs `attempt` in a transaction, again (up to [`ATTEMPTS`] times) when it lost a race.
    async fn in_transaction<T, F>(&self, mut attempt: F) -> Result<T, StoreError>
    where
        F: for<'t> FnMut(
            &'t mut Transaction<'static, Postgres>,
        )
            -> futures::future::BoxFuture<'t, Result<Outcome<T>, sqlx::Error>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut tx = self.pool.begin().await.map_err(unavailable)?;
            match attempt(&mut tx).await {
                Ok(Outcome::Commit(value)) => {
                    tx.commit().await.map_err(unavailable)?;
                    return value;
                }
                Ok(Outcome::Rollback(value)) => {
                    tx.rollback().await.map_err(unavailable)?;
                    return value;
                }
                Err(e) if tries < ATTEMPTS && retryable(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    fn count(&self, status: Status) {
        self.transitions.count(status);
    }

    /// Runs `attempt` in the next batch of `course`'s changes (or on its own, when it lost a race
    /// inside the batch).
    async fn batched<T: Send + 'static>(
        &self,
        course: CourseId,
        attempt: batch::Attempt<T>,
    ) -> Result<T, StoreError> {
        self.batched_with(course, attempt, None).await
    }

    /// [`Self::batched`], for a hold the batch may take together with its other holds.
    async fn batched_with<T: Send + 'static>(
        &self,
        course: CourseId,
        attempt: batch::Attempt<T>,
        together: Option<batch::Together<T>>,
    ) -> Result<T, StoreError> {
        match self.batches.run(course, attempt, together).await {
            batch::Answer::Done(answer) => answer,
            batch::Answer::Alone(attempt) => self.in_transaction(attempt).await,
        }
    }
}

/// The schema, embedded from `course-service/migrations`.
fn migrator() -> Migrator {
    sqlx::migrate!("./migrations")
}

#[async_trait]
impl SeatStore for PgStore {
    async fn create_course(&self, course: NewCourse) -> Result<CourseSnapshot, StoreError> {
        self.insert_course(course).await
    }

    async fn course(&self, id: CourseId) -> Result<CourseSnapshot, StoreError> {
        self.course_row(id).await
    }

    async fn sales(&self, id: CourseId) -> Result<Sales, StoreError> {
        self.course_sales(id).await
    }

    async fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> Result<(Vec<CourseSnapshot>, bool), StoreError> {
        self.course_page(instructor, after, limit).await
    }

    async fn set_price(
        &self,
        id: CourseId,
        owner: &str,
        price_cents: i64,
    ) -> Result<CourseSnapshot, StoreError> {
        self.update_price(id, owner, price_cents).await
    }

    async fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<CourseSnapshot, StoreError> {
        self.update_seats(id, owner, total).await
    }

    async fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Held, StoreError> {
        self.hold_seat(course, id, request).await
    }

    async fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        self.transition(course, id, Change::Read).await
    }

    async fn confirm(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        self.transition(course, id, Change::Confirm).await
    }

    async fn cancel(&self, course: CourseId, id: ReservationId) -> Result<Reservation, StoreError> {
        self.cancel_or_tombstone(course, id).await
    }

    async fn release(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        self.transition(course, id, Change::Release).await
    }

    async fn join_waitlist(
        &self,
        course: CourseId,
        student: &Arc<str>,
    ) -> Result<(Waiting, bool), StoreError> {
        self.join(course, student).await
    }

    async fn waitlist_entry(&self, id: EntryId) -> Result<Waiting, StoreError> {
        self.entry(id).await
    }

    async fn waitlist_of(&self, student: &str) -> Result<Vec<Waiting>, StoreError> {
        self.entries_of(student).await
    }

    async fn leave_waitlist(&self, id: EntryId, student: &str) -> Result<Waiting, StoreError> {
        self.leave(id, student).await
    }

    async fn sweep(&self) -> Result<SweepReport, StoreError> {
        self.sweep_due().await
    }

    async fn totals(&self) -> Result<Totals, StoreError> {
        self.seat_totals().await
    }

    async fn events(
        &self,
        after: Option<Cursor>,
        limit: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        self.read_events(after, limit, wait).await
    }

    async fn feed_head(&self) -> Result<Cursor, StoreError> {
        self.head_of_feed().await
    }

    async fn trim_events(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.trim_feed(cutoff).await
    }

    fn transitions(&self) -> Transitions {
        self.transitions.snapshot()
    }

    fn live(&self) -> bool {
        true
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("database", postgres::answers(&self.pool).await)
    }

    async fn close(&self) -> Result<(), StoreError> {
        // Every answer was given after its commit; nothing is buffered.
        self.pool.close().await;
        Ok(())
    }
}
