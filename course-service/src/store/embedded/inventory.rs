//! The in-memory inventory of every course's seats: the embedded backend's one place that takes a
//! lock.
//!
//! # Locks
//! - `courses`: `DashMap<CourseId, Arc<Mutex<Course>>>`, one mutex per course. Requests for
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
//!   course, re-taking its lock every [`EXPIRE_PER_LOCK`](super::sweep::EXPIRE_PER_LOCK) holds so requests for that course keep
//!   flowing during an expiry storm.
//! - Never `.await`, log or do I/O under a lock: critical sections are the pure [`CourseBook`]
//!   methods, which do arithmetic and map updates only.
//! - "Now" is read inside the course lock, so operations on one course see time move forward in
//!   the order they were applied. A hold whose deadline entry was not pushed yet when a sweep ran
//!   is still safe: confirm checks the deadline itself and the next sweep expires it.
//! - The index may keep entries of holds that were confirmed or cancelled since; taking one is a
//!   no-op, and every entry leaves the index once its deadline passes.
//!
//! # Durability of answers
//! Every result comes as a [`Pending`]: the value plus the journal ticket it must wait for. Each
//! course remembers the number of the last journal append that changed it (taken under its lock),
//! and every answer about the course, whether it changed something or not (a replay, a repeat, a
//! refusal, a read), waits for that number to be durable. So nothing is reported that a crash
//! could take back, and once a write has failed every answer fails (the journal is fail-stop).

use super::{
    catalog::Catalog,
    deadlines::{Deadline, Deadlines},
    feed::Feed,
    pending::Pending,
    records::CourseChange,
    slots::HoldSlots,
};
use crate::{
    clock::Clock,
    domain::{
        BookError, CourseBook, CourseId, CourseSnapshot, EntryId, Held, HoldRequest, LedgerEvent,
        NewCourse, Reservation, ReservationId, Sales, book::DEFAULT_OFFER_LIFETIME, feed,
    },
    store::{Refusal, TransitionCounts, Waiting},
};
use chrono::{DateTime, TimeDelta, Utc};
use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use storage_kit::journal::{Journal, JournalError, Ticket};

/// One course under its lock: the ledger, and the number of the last journal append that
/// changed it (what any answer about the course waits for).
#[derive(Debug)]
pub(super) struct Course {
    pub(super) book: CourseBook,
    pub(super) written: u64,
}

/// A cheap-to-clone handle on the inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub(super) shared: Arc<Shared>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) courses: DashMap<CourseId, Arc<Mutex<Course>>>,
    pub(super) catalog: RwLock<Catalog>,
    pub(super) deadlines: Mutex<Deadlines>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) hold_ttl: TimeDelta,
    /// How long a seat offered to a waiting student stays held.
    pub(super) offer_lifetime: TimeDelta,
    /// The course of every waitlist entry, and the courses each student has entries on.
    pub(super) entries: DashMap<EntryId, CourseId>,
    pub(super) entries_of: DashMap<Arc<str>, Vec<CourseId>>,
    /// Where changes are made durable; `None` keeps the state in memory only.
    pub(super) journal: Option<Journal<CourseChange>>,
    /// Every change told as a numbered event, written with the change.
    pub(super) feed: Feed,
    /// Each student's holds across all courses, against the limit.
    pub(super) slots: HoldSlots,
    /// Reservations entering each status, for the metrics.
    pub(super) transitions: TransitionCounts,
}

impl Inventory {
    /// An empty inventory kept in memory only.
    pub fn new(clock: Arc<dyn Clock>, hold_ttl: TimeDelta) -> Self {
        Inventory::restore(clock, hold_ttl, 0, Vec::new(), None)
    }

    /// An inventory holding `books` (read back from the store), limiting each student to
    /// `max_holds_per_student` holds at once (0: no limit), writing its changes and their feed
    /// events through `durable` (`None`: in memory only).
    pub fn restore(
        clock: Arc<dyn Clock>,
        hold_ttl: TimeDelta,
        max_holds_per_student: u32,
        books: Vec<CourseBook>,
        durable: Option<(Journal<CourseChange>, Feed)>,
    ) -> Self {
        let (journal, feed) = match durable {
            Some((journal, feed)) => (Some(journal), feed),
            None => (None, Feed::in_memory()),
        };
        let mut catalog = Catalog::default();
        let mut deadlines = Deadlines::default();
        let courses = DashMap::new();
        let entries = super::sharded();
        let entries_of: DashMap<Arc<str>, Vec<CourseId>> = super::sharded();
        let holders: Vec<Arc<str>> = books.iter().flat_map(|b| b.holders().cloned()).collect();
        let slots = HoldSlots::new(max_holds_per_student, &holders);
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
            for entry in book.waitlist().entries() {
                entries.insert(entry.id, course);
                let mut of = entries_of.entry(Arc::clone(&entry.student)).or_default();
                if !of.contains(&course) {
                    of.push(course);
                }
            }
            courses.insert(course, Arc::new(Mutex::new(Course { book, written: 0 })));
        }
        Inventory {
            shared: Arc::new(Shared {
                courses,
                catalog: RwLock::new(catalog),
                deadlines: Mutex::new(deadlines),
                clock,
                hold_ttl,
                offer_lifetime: DEFAULT_OFFER_LIFETIME,
                entries,
                entries_of,
                journal,
                feed,
                slots,
                transitions: TransitionCounts::default(),
            }),
        }
    }

    /// Offers seats to waiting students for `lifetime` (instead of an hour). Set before the
    /// inventory is shared: a later call has no effect on clones made earlier.
    pub fn with_offer_lifetime(mut self, lifetime: TimeDelta) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.offer_lifetime = lifetime;
            for course in shared.courses.iter() {
                course.lock().book.set_offer_lifetime(lifetime);
            }
        }
        self
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

    /// Stops the journal and lets go of the store; later changes are refused.
    pub fn close(&self) {
        if let Some(journal) = &self.shared.journal {
            journal.close();
        }
        self.shared.feed.close();
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub fn create_course(&self, course: NewCourse) -> Pending<CourseSnapshot> {
        let id = CourseId::new_v7();
        let instructor = Arc::clone(&course.details.instructor_id);
        let mut book = CourseBook::new(id, course, self.now());
        book.set_offer_lifetime(self.shared.offer_lifetime);
        let snapshot = book.snapshot();
        // Not visible to anyone yet, so no lock is needed to order its first record.
        let written = self.record(id, &mut book, &mut Vec::new()).unwrap_or(0);
        let course = Course { book, written };
        self.shared.courses.insert(id, Arc::new(Mutex::new(course)));
        self.shared.catalog.write().add(id, &instructor);
        Pending {
            value: snapshot,
            ticket: self.after(written),
        }
    }

    pub fn course(&self, id: CourseId) -> Pending<Result<CourseSnapshot, Refusal>> {
        self.with_course(id, |book, _| Ok(book.snapshot()))
    }

    /// The course's sales, as of the last change made durable.
    pub fn sales(&self, id: CourseId) -> Pending<Result<Sales, Refusal>> {
        self.with_course(id, |book, _| Ok(book.sales()))
    }

    /// Up to `limit` courses after `after` in creation order, optionally of one instructor, and
    /// whether more follow.
    pub fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> Pending<(Vec<CourseSnapshot>, bool)> {
        let ids = self
            .shared
            .catalog
            .read()
            .page(instructor, after, limit + 1);
        let more = ids.len() > limit;
        let page = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| self.course(id).value.ok())
            .collect();
        Pending {
            value: (page, more),
            ticket: self.barrier(),
        }
    }

    pub fn set_price(
        &self,
        id: CourseId,
        owner: &str,
        price_cents: i64,
    ) -> Pending<Result<CourseSnapshot, Refusal>> {
        self.with_course(id, |book, now| {
            Ok(book.set_price(owner, price_cents, now)?)
        })
    }

    pub fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Pending<Result<CourseSnapshot, Refusal>> {
        self.with_course(id, |book, now| {
            book.set_seats_total(owner, total, now)?;
            // The answer shows the course with the new seats already offered to the waitlist.
            book.offer_freed_seats(now);
            Ok(book.snapshot())
        })
    }

    /// Holds a seat (or replays the stored hold) and indexes a new hold's deadline.
    pub fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Pending<Result<Held, Refusal>> {
        let ttl = self.shared.hold_ttl;
        if let Err(limit) = self.shared.slots.claim(&request.student) {
            // A retry of a reserve call that already succeeded is answered whatever the limit.
            let Pending { value, ticket } =
                self.with_course(course, |book, now| Ok(book.existing(id, request, now)));
            return match value {
                Ok(Some(answer)) => Pending {
                    value: answer.map_err(Refusal::from),
                    ticket,
                },
                // The limit counts holds of other courses too: the refusal waits for all of them.
                Ok(None) => Pending {
                    value: Err(limit),
                    ticket: ticket.and(self.barrier()),
                },
                Err(e) => Pending {
                    value: Err(e),
                    ticket,
                },
            };
        }
        let held = self.with_course(course, |book, now| {
            Ok(book.hold(id, request, now, now + ttl)?)
        });
        if !held.value.as_ref().is_ok_and(|h| h.created) {
            self.shared
                .slots
                .release(std::slice::from_ref(&request.student));
        }
        held
    }

    pub fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Pending<Result<Reservation, Refusal>> {
        self.with_course(course, |book, now| Ok(book.reservation(id, now)?))
    }

    pub fn confirm(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Pending<Result<Reservation, Refusal>> {
        self.with_course(course, |book, now| Ok(book.confirm(id, now)?))
    }

    pub fn cancel(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Pending<Result<Reservation, Refusal>> {
        self.with_course(course, |book, now| Ok(book.cancel(id, now)?))
    }

    pub fn release(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Pending<Result<Reservation, Refusal>> {
        self.with_course(course, |book, now| Ok(book.release(id, now)?))
    }

    /// Puts `student` on the course's waitlist, or answers their open entry (`false`: not new).
    pub fn join_waitlist(
        &self,
        course: CourseId,
        student: &Arc<str>,
    ) -> Pending<Result<(Waiting, bool), Refusal>> {
        self.with_course(course, |book, now| {
            let (entry, created) = book.join_waitlist(student, now)?;
            let position = book.waitlist().position(entry.id);
            Ok((
                Waiting {
                    course,
                    entry,
                    position,
                },
                created,
            ))
        })
    }

    pub fn waitlist_entry(&self, id: EntryId) -> Pending<Result<Waiting, Refusal>> {
        let Some(course) = self.shared.entries.get(&id).map(|c| *c) else {
            return Pending {
                value: Err(BookError::EntryNotFound.into()),
                ticket: self.after(0),
            };
        };
        self.with_course(course, |book, _| {
            let list = book.waitlist();
            let entry = list.get(id).cloned().ok_or(BookError::EntryNotFound)?;
            Ok(Waiting {
                course,
                position: list.position(id),
                entry,
            })
        })
    }

    /// Every waitlist entry of `student`, oldest first.
    pub fn waitlist_of(&self, student: &str) -> Pending<Vec<Waiting>> {
        let courses = self
            .shared
            .entries_of
            .get(student)
            .map(|c| c.clone())
            .unwrap_or_default();
        let mut found = Vec::new();
        let mut ticket = self.after(0);
        for course in courses {
            let Pending { value, ticket: t } = self.with_course(course, |book, _| {
                let list = book.waitlist();
                Ok(list
                    .entries()
                    .filter(|e| &*e.student == student)
                    .map(|e| Waiting {
                        course,
                        entry: e.clone(),
                        position: list.position(e.id),
                    })
                    .collect::<Vec<_>>())
            });
            found.extend(value.unwrap_or_default());
            ticket = ticket.and(t);
        }
        found.sort_by_key(|w| (w.entry.created_at, w.entry.id));
        Pending {
            value: found,
            ticket,
        }
    }

    /// Takes `student`'s entry off its waitlist; an offered seat passes to the next student.
    pub fn leave_waitlist(&self, id: EntryId, student: &str) -> Pending<Result<Waiting, Refusal>> {
        let Some(course) = self.shared.entries.get(&id).map(|c| *c) else {
            return Pending {
                value: Err(BookError::EntryNotFound.into()),
                ticket: self.after(0),
            };
        };
        self.with_course(course, |book, now| {
            let entry = book.leave_waitlist(id, student, now)?;
            Ok(Waiting {
                course,
                position: None,
                entry,
            })
        })
    }

    /// Runs `f` on the course's ledger under its lock, with the time read inside the lock, then
    /// hands any seat it freed to the waitlist, and hands the changes to the journal before the
    /// lock is released, so that the journal receives them in lock order. Changes are recorded even when `f` refuses (a refusal may
    /// still have expired a lapsed hold on the way). Whatever `f` answers waits for the course's
    /// last append, its own or an earlier one.
    pub(super) fn with_course<T>(
        &self,
        id: CourseId,
        f: impl FnOnce(&mut CourseBook, DateTime<Utc>) -> Result<T, Refusal>,
    ) -> Pending<Result<T, Refusal>> {
        let Some(course) = self
            .shared
            .courses
            .get(&id)
            .map(|entry| Arc::clone(entry.value()))
        else {
            // Nothing to report on, but a failed store still answers nothing.
            return Pending {
                value: Err(Refusal::CourseNotFound),
                ticket: self.after(0),
            };
        };
        let mut deadlines = Vec::new();
        let ticket = {
            let mut course = course.lock();
            let now = self.shared.clock.now();
            let value = f(&mut course.book, now);
            course.book.offer_freed_seats(now);
            if let Some(seq) = self.record(id, &mut course.book, &mut deadlines) {
                course.written = seq;
            }
            Pending {
                value,
                ticket: self.after(course.written),
            }
        };
        // After the course lock: never two locks at once.
        if !deadlines.is_empty() {
            let mut index = self.shared.deadlines.lock();
            deadlines.into_iter().for_each(|d| index.push(d));
        }
        ticket
    }

    /// A ticket for the journal's appends up to `mark` (ready when state is memory only).
    fn after(&self, mark: u64) -> Ticket {
        self.shared
            .journal
            .as_ref()
            .map_or_else(Ticket::ready, |j| j.after(mark))
    }

    /// A ticket for every append so far.
    pub fn barrier(&self) -> Ticket {
        self.shared
            .journal
            .as_ref()
            .map_or_else(Ticket::ready, Journal::barrier)
    }

    /// Derives everything from what the ledger did: the hold slots of holds that ended are given
    /// back, transitions counted, new deadlines handed out (to be indexed once the course lock is
    /// released) and the records written to the journal (unless state is memory only). Returns the
    /// append's number, if it made one.
    fn record(
        &self,
        id: CourseId,
        book: &mut CourseBook,
        deadlines: &mut Vec<Deadline>,
    ) -> Option<u64> {
        let events = book.take_events();
        if events.is_empty() {
            return None;
        }
        let ended: Vec<Arc<str>> = events
            .iter()
            .filter_map(|e| e.ended_hold_of().cloned())
            .collect();
        self.shared.slots.release(&ended);
        let offered: Vec<Arc<str>> = events
            .iter()
            .filter_map(|e| e.offered_to().cloned())
            .collect();
        self.shared.slots.add(&offered);
        for event in &events {
            if let LedgerEvent::Entry {
                id: entry,
                from: None,
                ..
            } = event
                && let Some(student) = book.waitlist().get(*entry).map(|e| Arc::clone(&e.student))
            {
                self.shared.entries.insert(*entry, id);
                let mut of = self.shared.entries_of.entry(student).or_default();
                if !of.contains(&id) {
                    of.push(id);
                }
            }
        }
        self.shared.transitions.add(&events);
        deadlines.extend(events.iter().filter_map(LedgerEvent::deadline).map(
            |(reservation, at)| Deadline {
                at,
                course: id,
                reservation,
            },
        ));
        let told = feed::describe(&book.snapshot(), &events, self.now());
        let Some(journal) = self.shared.journal.as_ref() else {
            self.shared.feed.number(0, told, &mut Vec::new());
            return None;
        };
        journal
            .append_with(|append| {
                let mut out = Vec::with_capacity(2 * events.len() + 1);
                CourseChange::from_events(book, &events, &mut out);
                self.shared.feed.number(append, told, &mut out);
                out
            })
            .mark()
    }

    /// Forgets feed events older than `cutoff`, a batch at a time, each removal made durable
    /// before the feed stops offering the events; returns how many were forgotten.
    pub async fn trim_events(&self, cutoff: DateTime<Utc>) -> Result<u64, JournalError> {
        const BATCH: usize = 4096;
        let mut forgotten = 0;
        loop {
            let old = self
                .shared
                .feed
                .older_than(cutoff, BATCH)
                .map_err(|_| JournalError::Failed)?;
            let (Some(&last), Some(journal)) = (old.last(), self.shared.journal.as_ref()) else {
                return Ok(forgotten);
            };
            let n = old.len();
            journal
                .append(old.into_iter().map(CourseChange::EventRemoved).collect())
                .wait()
                .await?;
            self.shared.feed.forgotten(last);
            forgotten += n as u64;
            if n < BATCH {
                return Ok(forgotten);
            }
        }
    }

    /// The feed of every change.
    pub fn feed(&self) -> &Feed {
        &self.shared.feed
    }
}
