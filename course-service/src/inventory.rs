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
    clock::Clock,
    deadlines::{Deadline, Deadlines},
    domain::{
        BookError, CourseBook, CourseId, CourseSnapshot, Held, HoldRequest, NewCourse, Reservation,
        ReservationId,
    },
};
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use std::{
    collections::{BTreeSet, HashMap},
    ops::Bound,
    sync::Arc,
};

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
}

#[derive(Debug, Default)]
struct Catalog {
    all: BTreeSet<CourseId>,
    by_instructor: HashMap<Arc<str>, BTreeSet<CourseId>>,
}

impl Inventory {
    pub fn new(clock: Arc<dyn Clock>, hold_ttl: TimeDelta) -> Self {
        Inventory {
            shared: Arc::new(Shared {
                courses: DashMap::new(),
                catalog: RwLock::new(Catalog::default()),
                deadlines: Mutex::new(Deadlines::default()),
                clock,
                hold_ttl,
            }),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub fn create_course(&self, course: NewCourse) -> CourseSnapshot {
        let id = uuid::Uuid::now_v7();
        let instructor = Arc::clone(&course.details.instructor_id);
        let book = CourseBook::new(id, course, self.now());
        let snapshot = book.snapshot();
        self.shared.courses.insert(id, Arc::new(Mutex::new(book)));
        let mut catalog = self.shared.catalog.write();
        catalog.all.insert(id);
        catalog
            .by_instructor
            .entry(instructor)
            .or_default()
            .insert(id);
        snapshot
    }

    pub fn course(&self, id: CourseId) -> Result<CourseSnapshot, InventoryError> {
        self.with_course(id, |book, _| Ok(book.snapshot()))
    }

    /// Up to `limit` courses after `after` in creation order, optionally of one instructor, and
    /// whether more follow.
    pub fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> (Vec<CourseSnapshot>, bool) {
        let ids: Vec<CourseId> = {
            let catalog = self.shared.catalog.read();
            let set = match instructor {
                Some(who) => catalog.by_instructor.get(who),
                None => Some(&catalog.all),
            };
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            set.map(|s| {
                s.range((lower, Bound::Unbounded))
                    .take(limit + 1)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
        };
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
    ) -> Result<CourseSnapshot, InventoryError> {
        self.with_course(id, |book, now| {
            Ok(book.set_price(owner, price_cents, now)?)
        })
    }

    pub fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<CourseSnapshot, InventoryError> {
        self.with_course(id, |book, now| Ok(book.set_seats_total(owner, total, now)?))
    }

    /// Holds a seat (or replays the stored hold) and indexes a new hold's deadline.
    pub fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Held, InventoryError> {
        let ttl = self.shared.hold_ttl;
        let held = self.with_course(course, |book, now| {
            Ok(book.hold(id, request, now, now + ttl)?)
        })?;
        if held.created {
            let at = held.reservation.expires_at;
            let deadline = Deadline {
                at,
                course,
                reservation: id,
            };
            self.shared.deadlines.lock().push(deadline);
        }
        Ok(held)
    }

    pub fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, InventoryError> {
        self.with_course(course, |book, now| Ok(book.reservation(id, now)?))
    }

    pub fn confirm(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, InventoryError> {
        self.with_course(course, |book, now| Ok(book.confirm(id, now)?))
    }

    pub fn cancel(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, InventoryError> {
        self.with_course(course, |book, now| Ok(book.cancel(id, now)?))
    }

    pub fn release(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, InventoryError> {
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

    /// Runs `f` on the course's ledger under its lock, with the time read inside the lock.
    fn with_course<T>(
        &self,
        id: CourseId,
        f: impl FnOnce(&mut CourseBook, DateTime<Utc>) -> Result<T, InventoryError>,
    ) -> Result<T, InventoryError> {
        let book = self
            .shared
            .courses
            .get(&id)
            .map(|entry| Arc::clone(entry.value()))
            .ok_or(InventoryError::CourseNotFound)?;
        let mut book = book.lock();
        let now = self.shared.clock.now();
        f(&mut book, now)
    }
}
