//! The storage seam: everything the handlers, the expiry job and the metrics need from wherever
//! the seats live, as one trait with two implementations:
//!
//! - [`embedded`]: the in-memory [`Inventory`](crate::inventory::Inventory), one lock per course,
//!   made durable through the embedded store (or kept in memory only). One process owns the state.
//! - [`postgres`]: every replica on one PostgreSQL database; seat safety is in SQL (conditional
//!   updates, CHECK and unique constraints), so any number of replicas may serve at once.
//!
//! Every method answers only once its change is durable.

pub mod embedded;
pub mod postgres;

use crate::{
    domain::{
        BookError, CourseId, CourseSnapshot, Held, HoldRequest, NewCourse, Reservation,
        ReservationId,
    },
    expiry::SweepReport,
    inventory::{InventoryError, Totals},
    metrics::TransitionCounters,
};
use async_trait::async_trait;
use service_kit::journal::JournalError;

/// A store's refusal, or its failure to answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] InventoryError),
    /// The change may or may not have happened; the caller may retry (every change is idempotent).
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

impl From<BookError> for StoreError {
    fn from(e: BookError) -> Self {
        StoreError::Refused(InventoryError::Book(e))
    }
}

impl From<JournalError> for StoreError {
    fn from(e: JournalError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// Where courses, seats and reservations live.
#[async_trait]
pub trait SeatStore: Send + Sync + std::fmt::Debug + 'static {
    async fn create_course(&self, course: NewCourse) -> Result<CourseSnapshot, StoreError>;

    async fn course(&self, id: CourseId) -> Result<CourseSnapshot, StoreError>;

    /// Up to `limit` courses after `after` in creation order, optionally of one instructor, and
    /// whether more follow.
    async fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> Result<(Vec<CourseSnapshot>, bool), StoreError>;

    async fn set_price(
        &self,
        id: CourseId,
        owner: &str,
        price_cents: i64,
    ) -> Result<CourseSnapshot, StoreError>;

    async fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<CourseSnapshot, StoreError>;

    /// Holds a seat under `id`, or replays the stored hold for the same id and body.
    async fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Held, StoreError>;

    /// The reservation as it stands now (a lapsed hold reads as expired).
    async fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError>;

    async fn confirm(&self, course: CourseId, id: ReservationId)
    -> Result<Reservation, StoreError>;

    /// Cancels a hold; an unknown id is recorded as cancelled (a tombstone).
    async fn cancel(&self, course: CourseId, id: ReservationId) -> Result<Reservation, StoreError>;

    async fn release(&self, course: CourseId, id: ReservationId)
    -> Result<Reservation, StoreError>;

    /// Expires every hold due now and forgets tombstones past their time.
    async fn sweep(&self) -> Result<SweepReport, StoreError>;

    /// Seat totals across all courses, and the expiry backlog where the store knows it.
    async fn totals(&self) -> Result<Totals, StoreError>;

    /// Reservations entering each status through this process.
    fn transitions(&self) -> TransitionCounters;

    /// Whether the process may go on serving (false: restart it).
    fn live(&self) -> bool;

    /// Whether the store answers now; names the check for `/health/ready`.
    async fn ready(&self) -> (&'static str, bool);

    /// Resolves once every change made so far is durable (at shutdown).
    async fn flush(&self) -> Result<(), StoreError>;

    /// Checks that seat counters agree with the reservations everywhere; for tests.
    async fn check_invariants(&self) -> Result<(), String>;

    /// How many holds `student` has now, as counted for the limit; for tests.
    async fn holds_of(&self, student: &str) -> Result<u32, StoreError>;
}
