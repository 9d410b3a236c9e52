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
//! - `holds_per_student`: a DashMap counting each student's holds across courses. A slot is taken
//!   (entry lock only) before the course lock, and given back under the course lock when a hold
//!   ends; it is the last lock taken, never held while taking another.
//! - Never hold two of these locks at once, but for that last one. A new hold's deadline is
//!   pushed after its course lock
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
    metrics::TransitionCounters,
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
    #[error("a student may hold at most {limit} seats at once")]
    HoldLimitReached { limit: u32 },
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
    /// Most holds one student may have at once across all courses (0: no limit).
    max_holds_per_student: u32,
    /// How many holds each student has now (kept only when there is a limit).
    holds_per_student: DashMap<Arc<str>, u32>,
    /// Reservations entering each status, for the metrics.
    transitions: TransitionCounters,
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
}

impl Inventory {
    /// An empty inventory kept in memory only.
    pub fn new(clock: Arc<dyn Clock>, hold_ttl: TimeDelta) -> Self {
        Inventory::restore(clock, hold_ttl, 0, Vec::new(), None)
    }

    /// An inventory holding `books` (read back from the store), limiting each student to
    /// `max_holds_per_student` holds at once (0: no limit), writing its changes through `journal`.
    pub fn restore(
        clock: Arc<dyn Clock>,
        hold_ttl: TimeDelta,
        max_holds_per_student: u32,
        books: Vec<CourseBook>,
        journal: Option<Journal<CourseChange>>,
    ) -> Self {
        let mut catalog = Catalog::default();
        let mut deadlines = Deadlines::default();
        let courses = DashMap::new();
        let holds_per_student: DashMap<Arc<str>, u32> = DashMap::new();
        for book in books {
            let course = book.id();
            catalog.add(course, &book.snapshot().details.instructor_id);
            for (reservation, at) in book.deadlines() {
                deadlines.push(Deadline {
                    at,
                    course,
                    reservation,
                });
            }
            if max_holds_per_student > 0 {
                for student in book.holders() {
                    *holds_per_student.entry(Arc::clone(student)).or_default() += 1;
                }
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
                max_holds_per_student,
                holds_per_student,
                transitions: TransitionCounters::default(),
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
        if let Err(limit) = self.claim_hold_slot(&request.student) {
            // A retry of a reserve call that already succeeded is answered whatever the limit.
            return match self
                .with_course(course, |book, now| Ok(book.existing(id, request, now)))?
            {
                Pending {
                    value: Some(answer),
                    ticket,
                } => Ok(Pending {
                    value: answer?,
                    ticket,
                }),
                Pending { value: None, .. } => Err(limit),
            };
        }
        let held = self.with_course(course, |book, now| {
            Ok(book.hold(id, request, now, now + ttl)?)
        });
        if !held.as_ref().is_ok_and(|h| h.value.created) {
            self.release_hold_slots(std::slice::from_ref(&request.student));
        }
        let held = held?;
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
        let mut created = false;
        let cancelled = self.with_course(course, |book, now| {
            let r = book.cancel(id, now)?;
            // A tombstone made by this call is indexed so that it ages out.
            created = r.is_tombstone() && r.created_at == now;
            Ok(r)
        })?;
        if created {
            let at = cancelled.value.expires_at;
            self.shared.deadlines.lock().push(Deadline {
                at,
                course,
                reservation: id,
            });
        }
        Ok(cancelled)
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

    /// The counters of reservation transitions (shared handles, for the metrics registry).
    pub fn transitions(&self) -> TransitionCounters {
        self.shared.transitions.clone()
    }

    /// Seat totals across all courses (visits every course; for metrics scrapes).
    pub fn totals(&self) -> Totals {
        let books: Vec<_> = self
            .shared
            .courses
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect();
        let totals = books.iter().fold(Totals::default(), |mut t, book| {
            let s = book.lock().snapshot();
            t.courses += 1;
            t.seats_total += u64::from(s.seats_total);
            t.seats_available += u64::from(s.seats_available());
            t.seats_held += u64::from(s.seats_held);
            t.seats_sold += u64::from(s.seats_sold);
            t
        });
        Totals {
            expiry_backlog: self.pending_deadlines() as u64,
            ..totals
        }
    }

    /// How many holds `student` has now, as counted for the limit (0 without a limit).
    pub fn holds_of(&self, student: &str) -> u32 {
        self.shared.holds_per_student.get(student).map_or(0, |c| *c)
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

    /// Counts a new hold of `student` against the limit, before it is placed.
    fn claim_hold_slot(&self, student: &Arc<str>) -> Result<(), InventoryError> {
        let limit = self.shared.max_holds_per_student;
        if limit == 0 {
            return Ok(());
        }
        let mut count = self
            .shared
            .holds_per_student
            .entry(Arc::clone(student))
            .or_default();
        if *count >= limit {
            return Err(InventoryError::HoldLimitReached { limit });
        }
        *count += 1;
        Ok(())
    }

    /// Gives back one counted hold per entry of `students`.
    fn release_hold_slots(&self, students: &[Arc<str>]) {
        if self.shared.max_holds_per_student == 0 {
            return;
        }
        for student in students {
            let emptied =
                self.shared
                    .holds_per_student
                    .get_mut(student)
                    .is_some_and(|mut count| {
                        *count = count.saturating_sub(1);
                        *count == 0
                    });
            if emptied {
                self.shared
                    .holds_per_student
                    .remove_if(student, |_, count| *count == 0);
            }
        }
    }

    /// Hands a ledger's changes to the journal (or drops them when state is memory only), and
    /// gives back the hold slots of holds that ended.
    fn record(&self, id: CourseId, book: &mut CourseBook) -> Ticket {
        self.release_hold_slots(&book.take_ended_holds());
        self.shared.transitions.add(book.take_events());
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
