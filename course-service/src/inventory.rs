//! The in-memory inventory of every course's seats, and the only code in this service that takes a
//! lock.
//!
//! # Locks
//! - `courses`: `DashMap<CourseId, Arc<Mutex<CourseBook>>>`, one mutex per course. Requests for
//!   different courses never wait on each other; requests for the same course are serialised,
//!   which is what makes "check seats, then take one" atomic. The DashMap shard lock is held only
//!   long enough to clone the `Arc`.
//! - `catalog`: an `RwLock` over the ordered course ids, for listing. Written once per created
//!   course.
//! - `deadlines`: a `Mutex` over the [`Deadlines`] index, so a sweep takes only the holds that are
//!   due instead of scanning every hold. It is held for a push or for taking one batch out.
//!
//! # Rules
//! - Never hold two of these locks at once. A new hold's deadline is pushed after its course lock
//!   is released; a sweep takes a batch of deadlines, releases the index, then visits each
//!   course, re-taking its lock every [`EXPIRE_PER_LOCK`] holds so requests for that course keep
//!   flowing during an expiry storm.
//! - Never `.await`, log or do I/O under a lock: critical sections are the pure [`CourseBook`]
//!   methods, which do arithmetic and map updates only.
//! - "Now" is read inside the course lock, so operations on one course see time move forward in
//!   the order they were applied. A hold whose deadline entry was not pushed yet when a sweep ran
//!   is still safe: confirm checks the deadline itself and the next sweep expires it.
//! - The index may keep entries of holds that were confirmed or cancelled since; taking one is a
//!   no-op, and every entry leaves the index once its deadline passes.

use crate::{
    catalog::Catalog,
    clock::Clock,
    deadlines::{Deadline, Deadlines},
    domain::{
        BookError, CourseBook, CourseId, CourseSnapshot, Held, HoldRequest, NewCourse, Reservation,
        ReservationId,
    },
    persistence::CourseChange,
};
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use service_kit::journal::{Journal, JournalError, Ticket};
use std::sync::Arc;

/// A refusal by the inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("no such course")]
    CourseNotFound,
    #[error(transparent)]
    Book(#[from] BookError),
}

/// How many holds a sweep expires per acquisition of a course lock.
pub const EXPIRE_PER_LOCK: usize = 256;

/// What one sweep step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStep {
    /// Deadline entries taken out of the index.
    pub due: usize,
    /// Holds that actually expired (the rest had been confirmed or cancelled already).
    pub expired: usize,
}

/// A result whose change is on its way to disk: wait for [`Pending::durable`] before telling the
/// caller it happened.
#[derive(Debug)]
#[must_use = "a change is durable only once `durable` resolves"]
pub struct Pending<T> {
    value: T,
    ticket: Ticket,
}

impl<T> Pending<T> {
    /// The value, once its change is durable.
    pub async fn durable(self) -> Result<T, JournalError> {
        self.ticket.wait().await?;
        Ok(self.value)
    }

    /// The value without waiting (for reads, whose only changes are lazy expiries that start-up
    /// would redo anyway).
    pub fn unsynced(self) -> T {
        self.value
    }
}

/// A cheap-to-clone handle on the inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    courses: DashMap<CourseId, Arc<Mutex<CourseBook>>>,
    catalog: RwLock<Catalog>,
    deadlines: Mutex<Deadlines>,
    clock: Arc<dyn Clock>,
    hold_ttl: TimeDelta,
    /// Where changes are made durable; `None` keeps the state in memory only.
    journal: Option<Journal<CourseChange>>,
}

impl Inventory {
    /// An empty inventory kept in memory only.
    pub fn new(clock: Arc<dyn Clock>, hold_ttl: TimeDelta) -> Self {
        Inventory::restore(clock, hold_ttl, Vec::new(), None)
    }

    /// An inventory holding `books` (read back from the store), writing its changes through
    /// `journal`.
    pub fn restore(
        clock: Arc<dyn Clock>,
        hold_ttl: TimeDelta,
        books: Vec<CourseBook>,
        journal: Option<Journal<CourseChange>>,
    ) -> Self {
        let mut catalog = Catalog::default();
        let mut deadlines = Deadlines::default();
        let courses = DashMap::new();
        for book in books {
            let course = book.id();
            catalog.add(course, &book.snapshot().details.instructor_id);
            for (reservation, at) in book.held() {
                deadlines.push(Deadline {
                    at,
                    course,
                    reservation,
                });
            }
            courses.insert(course, Arc::new(Mutex::new(book)));
        }
        Inventory {
            shared: Arc::new(Shared {
                courses,
                catalog: RwLock::new(catalog),
                deadlines: Mutex::new(deadlines),
                clock,
                hold_ttl,
                journal,
            }),
        }
    }

    /// False once the store has failed a write (the service must be restarted).
    pub fn storage_healthy(&self) -> bool {
        self.shared.journal.as_ref().is_none_or(Journal::healthy)
    }

    /// Resolves once every change made so far is durable.
    pub async fn flush(&self) -> Result<(), JournalError> {
        match &self.shared.journal {
            Some(journal) => journal.flush().wait().await,
            None => Ok(()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub fn create_course(&self, course: NewCourse) -> Pending<CourseSnapshot> {
        let id = uuid::Uuid::now_v7();
        let instructor = Arc::clone(&course.details.instructor_id);
        let mut book = CourseBook::new(id, course, self.now());
        let snapshot = book.snapshot();
        // Not visible to anyone yet, so no lock is needed to order its first record.
        let ticket = self.record(id, &mut book);
        self.shared.courses.insert(id, Arc::new(Mutex::new(book)));
        self.shared.catalog.write().add(id, &instructor);
        Pending {
            value: snapshot,
            ticket,
        }
    }

    pub fn course(&self, id: CourseId) -> Result<CourseSnapshot, InventoryError> {
        self.with_course(id, |book, _| Ok(book.snapshot()))
            .map(Pending::unsynced)
    }

    /// Up to `limit` courses after `after` in creation order, optionally of one instructor, and
    /// whether more follow.
    pub fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> (Vec<CourseSnapshot>, bool) {
        let ids = self
            .shared
            .catalog
            .read()
            .page(instructor, after, limit + 1);
        let more = ids.len() > limit;
        let page = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| self.course(id).ok())
            .collect();
        (page, more)
    }

    pub fn set_price(
        &self,
        id: CourseId,
        owner: &str,
        price_cents: i64,
    ) -> Result<Pending<CourseSnapshot>, InventoryError> {
        self.with_course(id, |book, now| {
            Ok(book.set_price(owner, price_cents, now)?)
        })
    }

    pub fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<Pending<CourseSnapshot>, InventoryError> {
        self.with_course(id, |book, now| Ok(book.set_seats_total(owner, total, now)?))
    }

    /// Holds a seat (or replays the stored hold) and indexes a new hold's deadline.
    pub fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Pending<Held>, InventoryError> {
        let ttl = self.shared.hold_ttl;
        let held = self.with_course(course, |book, now| {
            Ok(book.hold(id, request, now, now + ttl)?)
        })?;
        if held.value.created {
            let at = held.value.reservation.expires_at;
            self.shared.deadlines.lock().push(Deadline {
                at,
                course,
                reservation: id,
            });
        }
        Ok(held)
    }

    pub fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, InventoryError> {
        self.with_course(course, |book, now| Ok(book.reservation(id, now)?))
            .map(Pending::unsynced)
    }

    pub fn confirm(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Pending<Reservation>, InventoryError> {
        self.with_course(course, |book, now| Ok(book.confirm(id, now)?))
    }

    pub fn cancel(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Pending<Reservation>, InventoryError> {
        self.with_course(course, |book, now| Ok(book.cancel(id, now)?))
    }

    pub fn release(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Pending<Reservation>, InventoryError> {
        self.with_course(course, |book, now| Ok(book.release(id, now)?))
    }

    /// One sweep step: takes about `batch` deadlines due at `now` out of the index and expires
    /// those holds, course by course. A sweep repeats steps until one comes back short.
    pub fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> SweepStep {
        let mut due = self.shared.deadlines.lock().take_due(now, batch);
        due.sort_unstable_by_key(|d| d.course);
        let mut expired = 0;
        for group in due.chunk_by(|a, b| a.course == b.course) {
            for chunk in group.chunks(EXPIRE_PER_LOCK) {
                let _ = self.with_course(chunk[0].course, |book, now| {
                    expired += chunk
                        .iter()
                        .filter(|d| book.expire(d.reservation, now))
                        .count();
                    Ok(())
                });
            }
        }
        SweepStep {
            due: due.len(),
            expired,
        }
    }

    /// The number of deadline entries waiting in the index.
    pub fn pending_deadlines(&self) -> usize {
        self.shared.deadlines.lock().len()
    }

    /// Checks every course's ledger; for tests.
    pub fn check_invariants(&self) -> Result<(), String> {
        let books: Vec<_> = self
            .shared
            .courses
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect();
        books
            .iter()
            .try_for_each(|book| book.lock().check_invariants())
    }

    /// Runs `f` on the course's ledger under its lock, with the time read inside the lock, and
    /// hands the changes it made to the journal before the lock is released, so that the journal
    /// receives them in lock order. Changes are recorded even when `f` refuses (a refusal may
    /// still have expired a lapsed hold on the way).
    fn with_course<T>(
        &self,
        id: CourseId,
        f: impl FnOnce(&mut CourseBook, DateTime<Utc>) -> Result<T, InventoryError>,
    ) -> Result<Pending<T>, InventoryError> {
        let book = self
            .shared
            .courses
            .get(&id)
            .map(|entry| Arc::clone(entry.value()))
            .ok_or(InventoryError::CourseNotFound)?;
        let mut book = book.lock();
        let now = self.shared.clock.now();
        let result = f(&mut book, now);
        let ticket = self.record(id, &mut book);
        result.map(|value| Pending { value, ticket })
    }

    /// Hands a ledger's changes to the journal (or drops them when state is memory only).
    fn record(&self, id: CourseId, book: &mut CourseBook) -> Ticket {
        let Some(journal) = &self.shared.journal else {
            book.discard_changes();
            return Ticket::ready();
        };
        let changes = book.take_changes();
        if changes.is_empty() {
            return Ticket::ready();
        }
        let mut out = Vec::with_capacity(changes.reservations.len() + 1);
        CourseChange::from_book(id, changes, &mut out);
        journal.append(out)
    }
}
