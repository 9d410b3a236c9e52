//! The storage port: everything the handlers, the expiry job and the metrics need from wherever
//! the seats live, in this module's own vocabulary (refusals, totals, sweep reports, transition
//! counts), with one folder per backend behind it:
//!
//! - [`embedded`]: every course's ledger in memory, one lock per course, made durable through the
//!   embedded store (or kept in memory only). One process owns the state.
//! - [`postgres`]: every replica on one PostgreSQL database; seat safety is in SQL (conditional
//!   updates, CHECK and unique constraints), so any number of replicas may serve at once.
//!
//! Both backends decide with the same pure rules (`crate::domain`). Every method answers only
//! once what it reports is durable. [`open`] picks the backend from the configuration; this
//! module imports nothing from the backends' insides, the expiry job or the metrics.

pub mod embedded;
pub mod postgres;

use crate::{
    clock::Clock,
    config::Config,
    domain::{
        BookError, CourseId, CourseSnapshot, EntryId, Held, HoldRequest, LedgerEvent, NewCourse,
        Reservation, ReservationId, Sales, Status,
        feed::{Cursor, FeedEvent},
        waitlist::{EntryStatus, WaitEntry},
    },
};
use async_trait::async_trait;
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// A request the store understood and answered no to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no such course")]
    CourseNotFound,
    #[error("a student may hold at most {limit} seats at once")]
    HoldLimitReached { limit: u32 },
    #[error("the cursor points at events that are no longer kept; start again without `after`")]
    CursorExpired,
    #[error("`after` is not a cursor this feed handed out")]
    CursorUnknown,
    #[error(transparent)]
    Book(#[from] BookError),
}

/// A store's refusal, or its failure to answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The change may or may not have happened; the caller may retry (every change is idempotent).
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// The store could not answer, for a reason of its own (no underlying error).
    pub fn unavailable_for(reason: impl Into<String>) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
            source: None,
        }
    }

    /// The store could not answer, because of `source`.
    pub fn unavailable(
        reason: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Unavailable {
            reason: reason.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl From<BookError> for StoreError {
    fn from(e: BookError) -> Self {
        StoreError::Refused(Refusal::Book(e))
    }
}

impl From<storage_kit::journal::JournalError> for StoreError {
    fn from(e: storage_kit::journal::JournalError) -> Self {
        StoreError::unavailable("the store failed a write; the service must be restarted", e)
    }
}

/// A waitlist entry with its course and, while it waits, its place in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub course: CourseId,
    pub entry: WaitEntry,
    /// 1 = next; `None` unless waiting.
    pub position: Option<u32>,
}

/// Seat totals across all courses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub courses: u64,
    pub seats_total: u64,
    pub seats_available: u64,
    pub seats_held: u64,
    pub seats_sold: u64,
    /// Holds waiting to expire (deadline entries in the index, for the embedded store).
    pub expiry_backlog: u64,
    /// Waitlist entries by status, across courses (`waiting` is the sum of waitlist lengths).
    pub waitlist: EntryTotals,
}

/// Waitlist entries in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryTotals {
    pub waiting: u64,
    pub offered: u64,
    pub enrolled: u64,
    pub left: u64,
    pub lapsed: u64,
}

impl EntryTotals {
    pub fn add(&mut self, status: EntryStatus, n: u64) {
        let count = match status {
            EntryStatus::Waiting => &mut self.waiting,
            EntryStatus::Offered => &mut self.offered,
            EntryStatus::Enrolled => &mut self.enrolled,
            EntryStatus::Left => &mut self.left,
            EntryStatus::Lapsed => &mut self.lapsed,
        };
        *count += n;
    }
}

/// What one full sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Deadlines that were due.
    pub due: usize,
    /// Holds that actually expired (the rest had been confirmed or cancelled already).
    pub expired: usize,
}

/// Reservations entering each status through this process, as plain counts.
#[derive(Debug, Default)]
pub struct TransitionCounts {
    held: AtomicU64,
    confirmed: AtomicU64,
    cancelled: AtomicU64,
    expired: AtomicU64,
    released: AtomicU64,
    offered: AtomicU64,
}

/// A copy of the [`TransitionCounts`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transitions {
    pub held: u64,
    pub confirmed: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub released: u64,
    /// Seats offered to waiting students.
    pub offered: u64,
}

impl TransitionCounts {
    /// Counts the statuses reservations entered in a ledger's events.
    pub fn add(&self, events: &[LedgerEvent]) {
        for status in events.iter().filter_map(LedgerEvent::entered) {
            self.count(status);
        }
        let offers = events.iter().filter(|e| e.offered_to().is_some()).count();
        self.count_offers(offers as u64);
    }

    /// Counts `n` seats offered to waiting students.
    pub fn count_offers(&self, n: u64) {
        self.offered.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one reservation entering `status`.
    pub fn count(&self, status: Status) {
        self.count_many(status, 1);
    }

    /// Counts `n` reservations entering `status`.
    pub fn count_many(&self, status: Status, n: u64) {
        let counter = match status {
            Status::Held => &self.held,
            Status::Confirmed => &self.confirmed,
            Status::Cancelled => &self.cancelled,
            Status::Expired => &self.expired,
            Status::Released => &self.released,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Transitions {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Transitions {
            held: get(&self.held),
            confirmed: get(&self.confirmed),
            cancelled: get(&self.cancelled),
            expired: get(&self.expired),
            released: get(&self.released),
            offered: get(&self.offered),
        }
    }
}

/// Where courses, seats and reservations live.
#[async_trait]
pub trait SeatStore: Send + Sync + std::fmt::Debug + 'static {
    async fn create_course(&self, course: NewCourse) -> Result<CourseSnapshot, StoreError>;

    async fn course(&self, id: CourseId) -> Result<CourseSnapshot, StoreError>;

    /// The course's seats sold and what they brought in, each at the price it was held at.
    async fn sales(&self, id: CourseId) -> Result<Sales, StoreError>;

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

    /// Puts `student` on the course's waitlist, or answers their open entry (`false`: not new).
    async fn join_waitlist(
        &self,
        course: CourseId,
        student: &Arc<str>,
    ) -> Result<(Waiting, bool), StoreError>;

    async fn waitlist_entry(&self, id: EntryId) -> Result<Waiting, StoreError>;

    /// Every waitlist entry of `student`, oldest first.
    async fn waitlist_of(&self, student: &str) -> Result<Vec<Waiting>, StoreError>;

    /// Takes `student`'s entry off its waitlist (an offered seat passes on); an entry that ended
    /// answers as it stands.
    async fn leave_waitlist(&self, id: EntryId, student: &str) -> Result<Waiting, StoreError>;

    /// Expires every hold due now and forgets tombstones past their time.
    async fn sweep(&self) -> Result<SweepReport, StoreError>;

    /// Seat totals across all courses, and the expiry backlog where the store knows it.
    async fn totals(&self) -> Result<Totals, StoreError>;

    /// Up to `limit` events of the feed after `after` (`None`: from the oldest kept), in the order
    /// they were made durable; when none is there yet, waits up to `wait` for one.
    async fn events(
        &self,
        after: Option<Cursor>,
        limit: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<FeedEvent>, StoreError>;

    /// The cursor of the newest event so far (reading after it waits for the next one).
    async fn feed_head(&self) -> Result<Cursor, StoreError>;

    /// Forgets feed events older than `cutoff`; returns how many.
    async fn trim_events(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<u64, StoreError>;

    /// Reservations entering each status through this process.
    fn transitions(&self) -> Transitions;

    /// Whether the process may go on serving (false: restart it).
    fn live(&self) -> bool;

    /// Whether the store answers now; names the check for `/health/ready`.
    async fn ready(&self) -> (&'static str, bool);

    /// At shutdown: makes every change so far durable and lets go of the store (connections,
    /// files and their lock). Nothing is served from it afterwards.
    async fn close(&self) -> Result<(), StoreError>;
}

/// What tests and checks look at inside a store; the service itself never calls these.
#[async_trait]
pub trait Inspect: Send + Sync + std::fmt::Debug + 'static {
    /// Checks that seat counters agree with the reservations everywhere.
    async fn check_invariants(&self) -> Result<(), String>;

    /// How many holds `student` has now, as counted for the limit.
    async fn holds_of(&self, student: &str) -> Result<u32, StoreError>;
}

/// An opened store: the port the service uses, and the same backend for inspection.
#[derive(Debug, Clone)]
pub struct Opened {
    pub store: Arc<dyn SeatStore>,
    pub inspect: Arc<dyn Inspect>,
}

/// Opens the store `config` names: PostgreSQL when `DATABASE_URL` is set, else the embedded
/// store under `DATA_DIR` (or in memory with `STORAGE=memory`). A store that cannot be opened or
/// read stops the service: it never starts empty over existing data.
pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Opened> {
    let ttl = chrono::TimeDelta::seconds(config.reservation_ttl_secs as i64);
    let offer = chrono::TimeDelta::seconds(config.waitlist_offer_secs as i64);
    match config.storage.database.settings() {
        Some(settings) => {
            let store =
                postgres::PgStore::connect(&settings, clock, ttl, config.max_holds_per_student)
                    .await?
                    .with_offer_lifetime(offer);
            tracing::info!(
                database = %storage_kit::postgres::redacted(&settings.url),
                max_connections = settings.max_connections,
                "state in PostgreSQL"
            );
            let store = Arc::new(store);
            Ok(Opened {
                store: store.clone(),
                inspect: store,
            })
        }
        None => {
            let store = Arc::new(
                embedded::open(config, clock, ttl)
                    .await?
                    .with_offer_lifetime(offer),
            );
            Ok(Opened {
                store: store.clone(),
                inspect: store,
            })
        }
    }
}
