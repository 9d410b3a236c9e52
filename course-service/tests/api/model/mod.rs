//! Property test: random sequences of create / reserve / confirm / cancel / release /
//! advance-clock / sweep and waitlist join / leave / take-an-offer run against the inventory and against a deliberately naive model (every
//! count is a scan). After every step the outcomes agree, `available + held + sold == total`, and
//! no reservation leaves a final state; at the end, once every deadline has passed and a sweep
//! ran, every hold has ended in exactly one final state.
//!
//! The same model and harness drive every backend ([`subject::Subject`]): the embedded ledgers
//! directly, and any `SeatStore` through the storage port (PostgreSQL when the tests run against
//! it, else the embedded store's port), so every implementation is held to the same rules.
//!
//! The disk property runs the same on the embedded store with disk trouble mixed in: commits
//! made slow, a write that fails, answers given (a ticket that resolved) and simulated crashes
//! (power lost: nothing more reaches the disk, then the store is read back). After each crash
//! every answer that was given still holds in what was read back, and the model continues from
//! the state on disk (a course lost in a crash takes its waitlist with it).

use chrono::{DateTime, TimeDelta, Utc};
use course_service::{
    clock::{Clock, ManualClock},
    domain::{
        BookError, CourseDetails, Currency, EntryId, HoldRequest, NewCourse, Status,
        TransitionError, waitlist::EntryStatus,
    },
    store::{
        Refusal, SeatStore,
        embedded::{self, Inventory, Pending},
    },
};

mod subject;
use course_service::domain::{CourseId, ReservationId};
use proptest::prelude::*;
use std::{collections::HashMap, sync::Arc};
use storage_kit::journal::{Faults, Store, Ticket};
use subject::Subject;

const TTL: i64 = 100;
/// How long a seat offered to a waiting student stays held.
const OFFER: i64 = 150;
/// Offers are kept among a course's holds under keys from here on (callers' ids are below).
const OFFER_BASE: u8 = 100;
const COURSES: usize = 3;
const IDS: u8 = 10;
const STUDENTS: u8 = 5;
/// Holds one student may have at once, across courses.
const HOLD_LIMIT: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Create {
        seats: u32,
    },
    Reserve {
        course: usize,
        id: u8,
        student: u8,
        expected: Option<i64>,
    },
    Confirm {
        course: usize,
        id: u8,
    },
    Cancel {
        course: usize,
        id: u8,
    },
    Release {
        course: usize,
        id: u8,
    },
    Get {
        course: usize,
        id: u8,
    },
    SetPrice {
        course: usize,
        price: i64,
    },
    SetSeats {
        course: usize,
        seats: u32,
    },
    Advance {
        secs: i64,
    },
    Sweep,
    /// The student joins the course's waitlist.
    Join {
        course: usize,
        student: u8,
    },
    /// The student leaves (their latest entry of the course), giving an offer up.
    Leave {
        course: usize,
        student: u8,
    },
    /// The student takes the seat they were offered (the offer's hold is confirmed).
    TakeOffer {
        course: usize,
        student: u8,
    },
    /// Commits take this long from now on (0: a healthy disk).
    SlowDisk {
        millis: u64,
    },
    /// The next commit fails: the store turns fail-stop.
    FailWrite,
    /// Time passes: every answer under way is given (or refused).
    Settle,
    /// Power is lost: what is not on disk yet never will be; the store is read back.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..COURSES;
    prop_oneof![
        12 => seat_op(),
        3 => (c.clone(), 0..STUDENTS).prop_map(|(course, student)| Op::Join { course, student }),
        1 => (c.clone(), 0..STUDENTS).prop_map(|(course, student)| Op::Leave { course, student }),
        1 => (c, 0..STUDENTS).prop_map(|(course, student)| Op::TakeOffer { course, student }),
    ]
}

/// The seat operations alone.
fn seat_op() -> impl Strategy<Value = Op> {
    let c = 0..COURSES;
    prop_oneof![
        1 => (1u32..4).prop_map(|seats| Op::Create { seats }),
        6 => (c.clone(), 0..IDS, 0..STUDENTS, prop::option::of(prop::sample::select(vec![100i64, 200])))
            .prop_map(|(course, id, student, expected)| Op::Reserve { course, id, student, expected }),
        3 => (c.clone(), 0..IDS).prop_map(|(course, id)| Op::Confirm { course, id }),
        2 => (c.clone(), 0..IDS).prop_map(|(course, id)| Op::Cancel { course, id }),
        2 => (c.clone(), 0..IDS).prop_map(|(course, id)| Op::Release { course, id }),
        1 => (c.clone(), 0..IDS).prop_map(|(course, id)| Op::Get { course, id }),
        1 => (c.clone(), prop::sample::select(vec![100i64, 200])).prop_map(|(course, price)| Op::SetPrice { course, price }),
        1 => (c, 1u32..5).prop_map(|(course, seats)| Op::SetSeats { course, seats }),
        2 => (1i64..80).prop_map(|secs| Op::Advance { secs }),
        2 => Just(Op::Sweep),
    ]
}

/// Every operation (seats and waitlist), plus disk trouble, for the embedded store.
fn disk_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => op(),
        1 => prop::sample::select(vec![0u64, 1, 3]).prop_map(|millis| Op::SlowDisk { millis }),
        1 => Just(Op::FailWrite),
        3 => Just(Op::Settle),
        2 => Just(Op::Crash),
    ]
}

/// What an operation answered, in a form both sides produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Status(Status),
    Entry(EntryStatus),
    Error(String),
}

#[derive(Debug, Clone)]
struct ModelHold {
    student: Option<u8>,
    expected: Option<i64>,
    status: Status,
    expires_at: i64,
}

#[derive(Debug, Clone)]
struct ModelEntry {
    student: u8,
    status: EntryStatus,
    /// The offer's key among the course's holds.
    offer: Option<u8>,
}

#[derive(Debug, Clone)]
struct ModelCourse {
    total: u32,
    price: i64,
    holds: HashMap<u8, ModelHold>,
    /// Every waitlist entry, in the order they were made.
    entries: Vec<ModelEntry>,
    /// The waiting entries (indexes into `entries`), first come first served.
    queue: Vec<usize>,
    next_offer: u8,
    /// Its creation never reached the disk and a crash took it away.
    gone: bool,
}

impl ModelCourse {
    fn new(total: u32, price: i64) -> Self {
        ModelCourse {
            total,
            price,
            holds: HashMap::new(),
            entries: Vec::new(),
            queue: Vec::new(),
            next_offer: OFFER_BASE,
            gone: false,
        }
    }

    fn free(&self) -> u32 {
        self.total - self.count(Status::Held) - self.count(Status::Confirmed)
    }

    /// The offer under `key` left the held status for `to`: its entry ends.
    fn offer_moved(&mut self, key: u8, to: Status) {
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.offer == Some(key) && e.status == EntryStatus::Offered)
        {
            e.status = match to {
                Status::Confirmed => EntryStatus::Enrolled,
                _ => EntryStatus::Lapsed,
            };
        }
    }

    /// Expires the student's lapsed holds of this course.
    fn touch_student(&mut self, student: u8, now: i64) {
        let mine: Vec<u8> = self
            .holds
            .iter()
            .filter(|(_, h)| h.student == Some(student))
            .map(|(k, _)| *k)
            .collect();
        for other in mine {
            self.touch(other, now);
        }
    }

    fn live(&self, student: u8) -> bool {
        self.holds.values().any(|h| {
            h.student == Some(student) && matches!(h.status, Status::Held | Status::Confirmed)
        })
    }

    fn open_entry(&self, student: u8) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.student == student && e.status.is_open())
    }

    /// Hands free seats to the first waiting students.
    fn promote(&mut self, now: i64) {
        while self.free() > 0 && !self.queue.is_empty() {
            let index = self.queue.remove(0);
            let student = self.entries[index].student;
            self.touch_student(student, now);
            if self.live(student) {
                self.entries[index].status = EntryStatus::Left;
                continue;
            }
            let key = self.next_offer;
            self.next_offer += 1;
            let hold = ModelHold {
                student: Some(student),
                expected: None,
                status: Status::Held,
                expires_at: now + OFFER,
            };
            self.holds.insert(key, hold);
            self.entries[index].status = EntryStatus::Offered;
            self.entries[index].offer = Some(key);
        }
    }

    fn join(&mut self, student: u8, now: i64) -> Outcome {
        self.touch_student(student, now);
        if self.live(student) {
            return err("already_enrolled");
        }
        if let Some(open) = self.open_entry(student) {
            return Outcome::Entry(self.entries[open].status);
        }
        if self.free() > self.queue.len() as u32 {
            return err("seats_available");
        }
        self.entries.push(ModelEntry {
            student,
            status: EntryStatus::Waiting,
            offer: None,
        });
        self.queue.push(self.entries.len() - 1);
        Outcome::Entry(EntryStatus::Waiting)
    }

    fn leave(&mut self, index: usize, now: i64) -> Outcome {
        match (self.entries[index].status, self.entries[index].offer) {
            (EntryStatus::Waiting, _) => {
                self.queue.retain(|i| *i != index);
                self.entries[index].status = EntryStatus::Left;
            }
            (EntryStatus::Offered, Some(key)) => {
                self.touch(key, now);
                if self.entries[index].status == EntryStatus::Offered {
                    self.entries[index].status = EntryStatus::Left;
                    if let Some(h) = self.holds.get_mut(&key) {
                        h.status = Status::Cancelled;
                    }
                }
            }
            _ => {}
        }
        Outcome::Entry(self.entries[index].status)
    }
}

impl ModelCourse {
    fn count(&self, status: Status) -> u32 {
        self.holds.values().filter(|h| h.status == status).count() as u32
    }

    fn touch(&mut self, id: u8, now: i64) -> bool {
        match self.holds.get_mut(&id) {
            Some(h) if h.status == Status::Held && now >= h.expires_at => {
                h.status = Status::Expired;
                if id >= OFFER_BASE {
                    self.offer_moved(id, Status::Expired);
                }
                true
            }
            _ => false,
        }
    }

    fn reserve(&mut self, id: u8, student: u8, expected: Option<i64>, now: i64) -> Outcome {
        self.touch(id, now);
        if let Some(h) = self.holds.get(&id) {
            return match h.student {
                None => err("reservation_cancelled"),
                Some(s) if s == student && h.expected == expected => Outcome::Status(h.status),
                Some(_) => err("idempotency_conflict"),
            };
        }
        if expected.is_some_and(|p| p != self.price) {
            return err("price_changed");
        }
        let mine: Vec<u8> = self
            .holds
            .iter()
            .filter(|(_, h)| h.student == Some(student))
            .map(|(k, _)| *k)
            .collect();
        for other in mine {
            self.touch(other, now);
        }
        if self.holds.values().any(|h| {
            h.student == Some(student) && matches!(h.status, Status::Held | Status::Confirmed)
        }) {
            return err("already_holding");
        }
        // Free seats a student waits for are not a buyer's.
        if self.free() <= self.queue.len() as u32 {
            return err("sold_out");
        }
        let hold = ModelHold {
            student: Some(student),
            expected,
            status: Status::Held,
            expires_at: now + TTL,
        };
        self.holds.insert(id, hold);
        if let Some(open) = self.open_entry(student)
            && self.entries[open].status == EntryStatus::Waiting
        {
            self.queue.retain(|i| *i != open);
            self.entries[open].status = EntryStatus::Left;
        }
        Outcome::Status(Status::Held)
    }

    fn transition(&mut self, id: u8, now: i64, action: &str) -> Outcome {
        self.touch(id, now);
        let Some(h) = self.holds.get_mut(&id) else {
            if action == "cancel" {
                let tombstone = ModelHold {
                    student: None,
                    expected: None,
                    status: Status::Cancelled,
                    expires_at: now,
                };
                self.holds.insert(id, tombstone);
                return Outcome::Status(Status::Cancelled);
            }
            return err("reservation_not_found");
        };
        use Status::*;
        let next = match (action, h.status) {
            ("get", s) => Ok(s),
            ("confirm", Held | Confirmed) => Ok(Confirmed),
            ("confirm", Expired) => Err("reservation_expired"),
            ("confirm", Cancelled | Released) => Err("reservation_cancelled"),
            ("cancel", Held) => Ok(Cancelled),
            ("cancel", Confirmed) => Err("reservation_confirmed"),
            ("cancel", s) => Ok(s),
            ("release", Confirmed | Released) => Ok(Released),
            ("release", _) => Err("reservation_not_confirmed"),
            _ => unreachable!("unknown action"),
        };
        match next {
            Ok(status) => {
                let was = h.status;
                h.status = status;
                if id >= OFFER_BASE && was == Held && status != Held {
                    self.offer_moved(id, status);
                }
                Outcome::Status(status)
            }
            Err(code) => err(code),
        }
    }
}

fn err(code: &str) -> Outcome {
    Outcome::Error(code.to_owned())
}

fn code(e: &Refusal) -> &'static str {
    match e {
        Refusal::CourseNotFound => "course_not_found",
        Refusal::HoldLimitReached { .. } => "hold_limit_reached",
        Refusal::CursorExpired => "cursor_expired",
        Refusal::CursorUnknown => "validation_failed",
        Refusal::Book(b) => match b {
            BookError::SoldOut => "sold_out",
            BookError::PriceChanged { .. } => "price_changed",
            BookError::AlreadyHolding => "already_holding",
            BookError::IdempotencyConflict => "idempotency_conflict",
            BookError::CancelledBeforeReserved => "reservation_cancelled",
            BookError::ReservationNotFound => "reservation_not_found",
            BookError::NotOwner => "forbidden",
            BookError::SeatsBelowCommitted { .. } => "seats_below_committed",
            BookError::SeatsAvailable => "seats_available",
            BookError::AlreadyEnrolled => "already_enrolled",
            BookError::EntryNotFound => "waitlist_entry_not_found",
            BookError::Transition(TransitionError::Expired) => "reservation_expired",
            BookError::Transition(TransitionError::Cancelled | TransitionError::Released) => {
                "reservation_cancelled"
            }
            BookError::Transition(TransitionError::Confirmed) => "reservation_confirmed",
            BookError::Transition(TransitionError::NotConfirmed) => "reservation_not_confirmed",
        },
    }
}

struct Harness {
    inventory: Subject,
    clock: Arc<ManualClock>,
    start: DateTime<Utc>,
    real: Vec<CourseId>,
    model: Vec<ModelCourse>,
    ids: HashMap<(usize, u8), ReservationId>,
    /// The real id of each model waitlist entry: (course, index in its entries).
    entry_ids: HashMap<(usize, usize), EntryId>,
    /// The last status seen of every reservation, to check that final states stay final.
    seen: HashMap<(usize, u8), Status>,
    /// The embedded store and its troubles, for the disk property.
    disk: Option<Disk>,
    /// The directory of a port-driven embedded store.
    _dir: Option<tempfile::TempDir>,
}

/// What an answer reported, to be checked against the disk after a crash if it was given.
#[derive(Debug, Clone)]
enum Fact {
    Course(usize),
    Reservation(usize, u8, Status),
    Price(usize, i64),
    Seats(usize, u32),
    /// A sweep or a refusal: nothing to check beyond the invariants.
    Nothing,
}

fn reservation_fact<E>(course: usize, id: u8, status: Result<Status, &E>) -> Fact {
    match status {
        Ok(status) => Fact::Reservation(course, id, status),
        Err(_) => Fact::Nothing,
    }
}

/// Whether a reservation answered `was` may read `now` later.
fn reachable(was: Status, now: Status) -> bool {
    use Status::*;
    was == now
        || matches!(
            (was, now),
            (Held, Confirmed | Cancelled | Expired | Released) | (Confirmed, Released)
        )
}

/// Where a price or capacity change sits: its course and its index in that course's history.
type SettingPlace = (usize, usize);

struct Disk {
    dir: tempfile::TempDir,
    faults: Faults,
    runtime: tokio::runtime::Runtime,
    /// Answers under way, in the order they were made, with where a price or capacity change
    /// sits in `settings`.
    pending: Vec<(Fact, Ticket, Option<SettingPlace>)>,
    /// Answers given since the last crash, in order.
    given: Vec<Fact>,
    /// Every price and capacity set since the last crash, per course, with whether its answer was
    /// given: after a crash the disk shows the last given one or a later one.
    settings: HashMap<usize, Vec<(Fact, bool)>>,
}

/// The backend [`Harness::through_port`] drives, with its inspection handle.
async fn port_store(
    clock: &Arc<ManualClock>,
) -> (
    Arc<dyn SeatStore>,
    Arc<dyn course_service::store::Inspect>,
    Option<tempfile::TempDir>,
) {
    let clock = clock.clone() as Arc<dyn Clock>;
    let ttl = TimeDelta::seconds(TTL);
    if storage_kit::postgres::testing_postgres() {
        let settings = storage_kit::postgres::PgSettings {
            url: storage_kit::postgres::test_schema_url().await,
            max_connections: 4,
            statement_timeout: std::time::Duration::from_secs(10),
            acquire_timeout: std::time::Duration::from_secs(10),
        };
        let store = course_service::store::postgres::PgStore::connect(
            &settings,
            clock,
            ttl,
            HOLD_LIMIT as u32,
        )
        .await
        .expect("PostgreSQL")
        .with_offer_lifetime(TimeDelta::seconds(OFFER));
        let store = Arc::new(store);
        return (store.clone(), store, None);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), "course-service").expect("open the store");
    let inventory = embedded::from_store(store, Faults::none(), clock, ttl, HOLD_LIMIT as u32)
        .expect("start on the store")
        .with_offer_lifetime(TimeDelta::seconds(OFFER));
    let inventory = Arc::new(inventory);
    (inventory.clone(), inventory, Some(dir))
}

/// The inventory: in memory, or read back from the disk's store.
fn open(clock: &Arc<ManualClock>, disk: Option<&Disk>) -> Inventory {
    let clock = clock.clone() as Arc<dyn Clock>;
    let ttl = TimeDelta::seconds(TTL);
    let Some(disk) = disk else {
        return Inventory::restore(clock, ttl, HOLD_LIMIT as u32, Vec::new(), None)
            .with_offer_lifetime(TimeDelta::seconds(OFFER));
    };
    let store = Store::open(disk.dir.path(), "course-service").expect("open the store");
    embedded::from_store(store, disk.faults.clone(), clock, ttl, HOLD_LIMIT as u32)
        .expect("read the store back")
        .with_offer_lifetime(TimeDelta::seconds(OFFER))
}

impl Harness {
    fn new() -> Self {
        Harness::build(None)
    }

    /// A harness on the embedded store in a fresh directory.
    fn on_disk() -> Self {
        let disk = Disk {
            dir: tempfile::tempdir().expect("tempdir"),
            faults: Faults::none(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            pending: Vec::new(),
            given: Vec::new(),
            settings: HashMap::new(),
        };
        Harness::build(Some(disk))
    }

    /// A harness driving a backend through the port: PostgreSQL (a fresh schema) when the tests
    /// run against it, else the embedded store on a fresh directory.
    fn through_port() -> Self {
        let start = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_800_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (store, inspect, dir) = runtime.block_on(port_store(&clock));
        Harness {
            inventory: Subject::Port {
                store,
                inspect,
                runtime,
            },
            clock,
            start,
            real: vec![],
            model: vec![],
            ids: HashMap::new(),
            entry_ids: HashMap::new(),
            seen: HashMap::new(),
            disk: None,
            _dir: dir,
        }
    }

    fn build(disk: Option<Disk>) -> Self {
        let start = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_800_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let inventory = Subject::Ledgers(open(&clock, disk.as_ref()));
        Harness {
            inventory,
            clock,
            start,
            real: vec![],
            model: vec![],
            ids: HashMap::new(),
            entry_ids: HashMap::new(),
            seen: HashMap::new(),
            disk,
            _dir: None,
        }
    }

    /// Keeps the answer's ticket (on disk) and hands back the value.
    fn answer<T>(&mut self, pending: Pending<T>, fact: impl FnOnce(&T) -> Fact) -> T {
        let (value, ticket) = pending.into_parts();
        if let Some(disk) = &mut self.disk {
            let fact = fact(&value);
            let mut place = None;
            if let Fact::Price(course, _) | Fact::Seats(course, _) = fact {
                let history = disk.settings.entry(course).or_default();
                history.push((fact.clone(), false));
                place = Some((course, history.len() - 1));
            }
            disk.pending.push((fact, ticket, place));
        }
        value
    }

    /// Gives the answers under way that are ready (all of them, waiting, with `wait`).
    fn give_answers(&mut self, wait: bool) {
        let Some(disk) = &mut self.disk else { return };
        let pending = std::mem::take(&mut disk.pending);
        for (fact, ticket, index) in pending {
            if !wait && !ticket.is_settled() {
                // Never given: the crash comes first.
                continue;
            }
            if disk.runtime.block_on(ticket.wait()).is_ok() {
                if let Some((course, nth)) = index {
                    mark_given(&mut disk.settings, course, nth);
                }
                disk.given.push(fact);
            }
        }
    }

    /// Power lost: the answers not given by now never will be, nothing more reaches the disk.
    /// Then the store is read back and every given answer is checked against it.
    fn crash(&mut self) -> Result<(), TestCaseError> {
        self.give_answers(false);
        let Some(disk) = &mut self.disk else {
            return Ok(());
        };
        disk.faults.fail_every_write();
        self.inventory.close();
        disk.faults.clear();
        self.inventory = Subject::Ledgers(open(&self.clock, Some(disk)));
        self.check_given()?;
        self.resync();
        Ok(())
    }

    /// Every answer given before the crash still holds on disk (or a later state does).
    fn check_given(&mut self) -> Result<(), TestCaseError> {
        let disk = self.disk.as_mut().expect("disk");
        let given = std::mem::take(&mut disk.given);
        let settings = std::mem::take(&mut disk.settings);
        let mut last: HashMap<(usize, u8), Status> = HashMap::new();
        for fact in &given {
            match fact {
                Fact::Course(course) => prop_assert!(
                    self.inventory.course(self.real[*course]).unsynced().is_ok(),
                    "course {} was acknowledged, then lost",
                    course
                ),
                Fact::Reservation(course, id, status) => {
                    last.insert((*course, *id), *status);
                }
                _ => {}
            }
        }
        for ((course, id), status) in last {
            let rid = self.ids[&(course, id)];
            let stored = self
                .inventory
                .reservation(self.real[course], rid)
                .unsynced()
                .ok();
            let ok = match stored.as_ref() {
                // Only a tombstone ages out and leaves nothing.
                None => status == Status::Cancelled,
                Some(r) => reachable(status, r.status),
            };
            prop_assert!(
                ok,
                "reservation {}/{} was answered {:?}, the disk says {:?}",
                course,
                id,
                status,
                stored.map(|r| r.status)
            );
        }
        for (course, history) in settings {
            let Ok(c) = self.inventory.course(self.real[course]).unsynced() else {
                continue;
            };
            let price = |f: &Fact| match f {
                Fact::Price(_, p) => Some(*p),
                _ => None,
            };
            let seats = |f: &Fact| match f {
                Fact::Seats(_, n) => Some(i64::from(*n)),
                _ => None,
            };
            let now = [c.price_cents, i64::from(c.seats_total)];
            for (kind, value) in [price as fn(&Fact) -> Option<i64>, seats]
                .into_iter()
                .zip(now)
            {
                let of_kind: Vec<(i64, bool)> = history
                    .iter()
                    .filter_map(|(f, given)| kind(f).map(|v| (v, *given)))
                    .collect();
                let Some(from) = of_kind.iter().rposition(|(_, given)| *given) else {
                    continue;
                };
                let allowed: Vec<i64> = of_kind[from..].iter().map(|(v, _)| *v).collect();
                prop_assert!(
                    allowed.contains(&value),
                    "course {} was answered with one of {:?}, the disk says {}",
                    course,
                    allowed,
                    value
                );
            }
        }
        self.inventory
            .check_invariants()
            .map_err(TestCaseError::fail)?;
        Ok(())
    }

    /// The model continues from what the disk has.
    fn resync(&mut self) {
        for (course, cid) in self.real.clone().into_iter().enumerate() {
            let Ok(c) = self.inventory.course(cid).unsynced() else {
                // Lost with the course: its holds and its waitlist (no sweep offers its seats).
                let m = &mut self.model[course];
                m.gone = true;
                m.holds.clear();
                m.entries.clear();
                m.queue.clear();
                self.entry_ids.retain(|(c, _), _| *c != course);
                continue;
            };
            let m = &mut self.model[course];
            (m.total, m.price) = (c.seats_total, c.price_cents);
            m.holds.clear();
            // Reading a lapsed hold expires it, and its seat may go to the waitlist: read every
            // known reservation once before the waitlist is read back.
            for key in (0..IDS).chain(OFFER_BASE..self.model[course].next_offer) {
                if let Some(rid) = self.ids.get(&(course, key)).copied() {
                    let _ = self.inventory.reservation(cid, rid).unsynced();
                }
            }
            self.resync_waitlist(course);
            let keys: Vec<u8> = (0..IDS)
                .chain(OFFER_BASE..self.model[course].next_offer)
                .collect();
            for id in keys {
                let Some(rid) = self.ids.get(&(course, id)).copied() else {
                    continue;
                };
                if let Ok(r) = self.inventory.reservation(cid, rid).unsynced() {
                    let student = r
                        .student
                        .as_deref()
                        .and_then(|s| s.trim_start_matches('s').parse().ok());
                    let hold = ModelHold {
                        student,
                        expected: r.expected_price_cents,
                        status: r.status,
                        expires_at: (r.expires_at - self.start).num_seconds(),
                    };
                    self.model[course].holds.insert(id, hold);
                    self.seen.insert((course, id), r.status);
                } else {
                    self.model[course].holds.remove(&id);
                    self.seen.remove(&(course, id));
                }
            }
        }
    }

    /// The model's waitlist of `course` becomes what the disk has: the entries that survived (a
    /// prefix: a course's changes reach the disk in order), their statuses and the queue.
    fn resync_waitlist(&mut self, course: usize) {
        let mut kept = Vec::new();
        for index in 0..self.model[course].entries.len() {
            let Some(id) = self.entry_ids.get(&(course, index)).copied() else {
                break;
            };
            let Ok(real) = self.inventory.waitlist_entry(id).unsynced() else {
                break;
            };
            kept.push(real);
        }
        let m = &mut self.model[course];
        m.entries.truncate(kept.len());
        for index in kept.len()..self.entry_ids.len() {
            self.entry_ids.remove(&(course, index));
        }
        let mut queue = Vec::new();
        for (index, real) in kept.iter().enumerate() {
            let mut offer = real.entry.reservation.and_then(|rid| {
                self.ids
                    .iter()
                    .find(|(k, v)| k.0 == course && **v == rid)
                    .map(|(k, _)| k.1)
            });
            // An offer made while the store was read back (a lapsed hold read on the way).
            if let (None, Some(rid)) = (offer, real.entry.reservation) {
                let key = self.model[course].next_offer;
                self.model[course].next_offer += 1;
                self.ids.insert((course, key), rid);
                offer = Some(key);
            }
            let m = &mut self.model[course];
            m.entries[index].status = real.entry.status;
            m.entries[index].offer = offer;
            if let Some(p) = real.position {
                queue.push((p, index));
            }
        }
        queue.sort_unstable();
        self.model[course].queue = queue.into_iter().map(|(_, i)| i).collect();
    }

    /// Lets every hold and offer lapse, sweep after sweep, until no seat is held and nobody
    /// waits (each sweep may offer the seats it freed to the next students).
    fn drain(&mut self) -> Result<(), TestCaseError> {
        let entries: usize = self.model.iter().map(|m| m.entries.len()).sum();
        for _ in 0..=entries {
            self.apply(&Op::Advance { secs: OFFER })?;
            self.apply(&Op::Sweep)?;
            // Students may go on waiting for a sold-out course; a held seat always lapses.
            let busy = self.model.iter().any(|m| m.count(Status::Held) > 0);
            if !busy {
                return Ok(());
            }
        }
        prop_assert!(false, "holds left after every deadline passed");
        Ok(())
    }

    fn now(&self) -> i64 {
        (self.clock.now() - self.start).num_seconds()
    }

    fn id(&mut self, course: usize, id: u8) -> ReservationId {
        *self
            .ids
            .entry((course, id))
            .or_insert_with(ReservationId::new_v7)
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        if let Op::Create { seats } = op {
            let details = CourseDetails {
                title: "t".into(),
                description: None,
                instructor_id: "alice".into(),
                currency: Currency::USD,
            };
            let course = self.inventory.create_course(NewCourse {
                details,
                price_cents: 100,
                seats: *seats,
            });
            let index = self.real.len();
            let course = self.answer(course, |_| Fact::Course(index));
            self.real.push(course.id);
            self.model.push(ModelCourse::new(*seats, 100));
            return Ok(());
        }
        match op {
            Op::SlowDisk { millis } => {
                if let Some(disk) = &self.disk {
                    disk.faults
                        .delay_commits(std::time::Duration::from_millis(*millis));
                }
                return Ok(());
            }
            Op::FailWrite => {
                if let Some(disk) = &self.disk {
                    disk.faults.fail_next_write();
                }
                return Ok(());
            }
            Op::Settle => {
                self.give_answers(true);
                return Ok(());
            }
            Op::Crash => return self.crash(),
            _ => {}
        }
        if let Op::Advance { secs } = op {
            self.clock.advance(TimeDelta::seconds(*secs));
            return Ok(());
        }
        if let Op::Sweep = op {
            let now = self.now();
            let expected: usize = self
                .model
                .iter_mut()
                .map(|m| {
                    let ids: Vec<u8> = m.holds.keys().copied().collect();
                    ids.into_iter().filter(|id| m.touch(*id, now)).count()
                })
                .sum();
            let report = self.inventory.sweep(self.clock.now());
            for course in 0..self.model.len() {
                self.model[course].promote(now);
                self.learn_offers(course)?;
            }
            if let Some(disk) = &mut self.disk {
                disk.pending
                    .push((Fact::Nothing, self.inventory.barrier(), None));
            }
            prop_assert_eq!(
                report.expired,
                expected,
                "sweep expired a different number of holds"
            );
            return Ok(());
        }
        let course = match op {
            Op::Reserve { course, .. }
            | Op::Confirm { course, .. }
            | Op::Cancel { course, .. }
            | Op::Release { course, .. }
            | Op::Get { course, .. }
            | Op::SetPrice { course, .. }
            | Op::SetSeats { course, .. }
            | Op::Join { course, .. }
            | Op::Leave { course, .. }
            | Op::TakeOffer { course, .. } => *course,
            _ => unreachable!("handled above"),
        };
        if course >= self.real.len() {
            return Ok(());
        }
        if self.model[course].gone {
            let real = self.inventory.course(self.real[course]).unsynced();
            prop_assert!(
                matches!(real, Err(Refusal::CourseNotFound)),
                "a course lost in a crash is back"
            );
            return Ok(());
        }
        let (cid, now) = (self.real[course], self.now());
        let (real, expected, touched) = match op {
            Op::Reserve {
                id,
                student,
                expected,
                ..
            } => {
                let rid = self.id(course, *id);
                let request = HoldRequest {
                    student: format!("s{student}").into(),
                    expected_price_cents: *expected,
                };
                let held = self.inventory.hold(cid, rid, &request);
                let real = self
                    .answer(held, |h| {
                        reservation_fact(course, *id, h.as_ref().map(|h| h.reservation.status))
                    })
                    .map(|h| h.reservation.status);
                // A replay of a known id is answered whatever the limit; a new hold counts every
                // hold of the student still recorded as held, across courses.
                self.model[course].touch(*id, now);
                let known = self.model[course].holds.contains_key(id);
                let holding = self
                    .model
                    .iter()
                    .flat_map(|m| m.holds.values())
                    .filter(|h| h.student == Some(*student) && h.status == Status::Held)
                    .count();
                let expected = if !known && holding >= HOLD_LIMIT {
                    err("hold_limit_reached")
                } else {
                    self.model[course].reserve(*id, *student, *expected, now)
                };
                (real, expected, Some(*id))
            }
            Op::Confirm { id, .. }
            | Op::Cancel { id, .. }
            | Op::Release { id, .. }
            | Op::Get { id, .. } => {
                let rid = self.id(course, *id);
                let (pending, action) = match op {
                    Op::Confirm { .. } => (self.inventory.confirm(cid, rid), "confirm"),
                    Op::Cancel { .. } => (self.inventory.cancel(cid, rid), "cancel"),
                    Op::Release { .. } => (self.inventory.release(cid, rid), "release"),
                    _ => (self.inventory.reservation(cid, rid), "get"),
                };
                let real = self.answer(pending, |r| {
                    reservation_fact(course, *id, r.as_ref().map(|r| r.status))
                });
                (
                    real.map(|r| r.status),
                    self.model[course].transition(*id, now, action),
                    Some(*id),
                )
            }
            Op::SetPrice { price, .. } => {
                self.model[course].price = *price;
                let set = self.inventory.set_price(cid, "alice", *price);
                let real = self
                    .answer(set, |_| Fact::Price(course, *price))
                    .map(|_| Status::Held);
                (real, Outcome::Status(Status::Held), None)
            }
            Op::SetSeats { seats, .. } => {
                let m = &mut self.model[course];
                let committed = m.count(Status::Held) + m.count(Status::Confirmed);
                let expected = if *seats < committed {
                    err("seats_below_committed")
                } else {
                    m.total = *seats;
                    Outcome::Status(Status::Held)
                };
                let set = self.inventory.set_seats(cid, "alice", *seats);
                let fact = |r: &Result<_, _>| match r {
                    Ok(_) => Fact::Seats(course, *seats),
                    Err(_) => Fact::Nothing,
                };
                (self.answer(set, fact).map(|_| Status::Held), expected, None)
            }
            Op::Join { student, .. } => {
                let who: Arc<str> = format!("s{student}").into();
                let joined = self.inventory.join_waitlist(cid, &who);
                let real = self.answer(joined, |_| Fact::Nothing);
                let expected = self.model[course].join(*student, now);
                if let Ok((w, _)) = &real {
                    let index = self.model[course].open_entry(*student);
                    prop_assert!(index.is_some(), "joined, but the model has no open entry");
                    let known = *self
                        .entry_ids
                        .entry((course, index.unwrap_or(0)))
                        .or_insert(w.entry.id);
                    prop_assert_eq!(known, w.entry.id, "another entry answered a repeat");
                }
                let real = real.map(|(w, _)| w.entry.status);
                return self.settle_op(op, course, now, real.map_err(|e| err(code(&e))), expected);
            }
            Op::Leave { student, .. } => {
                let Some(index) = self.model[course]
                    .entries
                    .iter()
                    .rposition(|e| e.student == *student)
                else {
                    return Ok(());
                };
                let id = self.entry_ids[&(course, index)];
                let left = self.inventory.leave_waitlist(id, &format!("s{student}"));
                let real = self.answer(left, |_| Fact::Nothing);
                let expected = self.model[course].leave(index, now);
                let real = real.map(|w| w.entry.status);
                return self.settle_op(op, course, now, real.map_err(|e| err(code(&e))), expected);
            }
            Op::TakeOffer { student, .. } => {
                let m = &self.model[course];
                let Some(key) = m.open_entry(*student).and_then(|i| {
                    m.entries[i]
                        .offer
                        .filter(|_| m.entries[i].status == EntryStatus::Offered)
                }) else {
                    return Ok(());
                };
                let rid = self.ids[&(course, key)];
                let confirmed = self.inventory.confirm(cid, rid);
                let real = self.answer(confirmed, |r| {
                    reservation_fact(course, key, r.as_ref().map(|r| r.status))
                });
                (
                    real.map(|r| r.status),
                    self.model[course].transition(key, now, "confirm"),
                    Some(key),
                )
            }
            _ => unreachable!("handled above"),
        };
        let real = match real {
            Ok(status) => Outcome::Status(status),
            Err(e) => err(code(&e)),
        };
        // Whatever freed a seat handed it to the waitlist in the same step.
        self.model[course].promote(now);
        self.learn_offers(course)?;
        prop_assert_eq!(&real, &expected, "{:?}", op);
        if let (Some(id), Outcome::Status(status)) = (touched, real) {
            self.check_transition(course, id, status)?;
        }
        Ok(())
    }

    /// Ends a waitlist operation: the freed seats offered, the answers compared.
    fn settle_op(
        &mut self,
        op: &Op,
        course: usize,
        now: i64,
        real: Result<EntryStatus, Outcome>,
        expected: Outcome,
    ) -> Result<(), TestCaseError> {
        let real = match real {
            Ok(status) => Outcome::Entry(status),
            Err(refused) => refused,
        };
        prop_assert_eq!(&real, &expected, "{:?}", op);
        self.model[course].promote(now);
        self.learn_offers(course)?;
        Ok(())
    }

    /// Learns the real reservation id of every offer the model made in `course`.
    fn learn_offers(&mut self, course: usize) -> Result<(), TestCaseError> {
        for index in 0..self.model[course].entries.len() {
            let Some(key) = self.model[course].entries[index].offer else {
                continue;
            };
            if self.ids.contains_key(&(course, key)) {
                continue;
            }
            let Some(id) = self.entry_ids.get(&(course, index)).copied() else {
                continue;
            };
            let real = self.inventory.waitlist_entry(id).unsynced();
            let offer = real.as_ref().ok().and_then(|w| w.entry.reservation);
            prop_assert!(
                offer.is_some(),
                "the model offered entry {} a seat, the store did not: {:?}",
                index,
                real
            );
            if let Some(offer) = offer {
                self.ids.insert((course, key), offer);
            }
        }
        Ok(())
    }

    fn check_transition(
        &mut self,
        course: usize,
        id: u8,
        now: Status,
    ) -> Result<(), TestCaseError> {
        use Status::*;
        if let Some(before) = self.seen.insert((course, id), now) {
            let legal = before == now
                || matches!(
                    (before, now),
                    (Held, Confirmed | Cancelled | Expired) | (Confirmed, Released)
                );
            prop_assert!(legal, "illegal move {:?} -> {:?}", before, now);
        }
        Ok(())
    }

    /// The feed tells every change with no gap: numbers run 1, 2, 3, ..., every event's counts
    /// keep the invariant, and each course's latest event shows the course as it stands.
    fn check_feed(&self) -> Result<(), TestCaseError> {
        let Some(events) = self.inventory.feed() else {
            return Ok(());
        };
        for (n, e) in events.iter().enumerate() {
            prop_assert_eq!(e.seq, n as u64 + 1, "a gap in the feed");
            let c = e.change.course;
            prop_assert_eq!(
                c.seats_available + c.seats_held + c.seats_sold,
                c.seats_total
            );
        }
        for (cid, m) in self.real.iter().zip(&self.model) {
            if m.gone {
                continue;
            }
            let Ok(c) = self.inventory.course(*cid).unsynced() else {
                continue;
            };
            let last = events.iter().rev().find(|e| e.change.course_id == *cid);
            let last = last.map(|e| e.change.course);
            prop_assert_eq!(
                last.map(|l| (l.seats_total, l.seats_held, l.seats_sold)),
                Some((c.seats_total, c.seats_held, c.seats_sold)),
                "the feed's latest counts of a course: {:?}",
                events
            );
            prop_assert_eq!(
                events
                    .iter()
                    .filter(|e| e.change.course_id == *cid
                        && e.change.kind == course_service::domain::feed::EventType::CourseCreated)
                    .count(),
                1
            );
        }
        Ok(())
    }

    fn check_counts(&self) -> Result<(), TestCaseError> {
        self.inventory
            .check_invariants()
            .map_err(TestCaseError::fail)?;
        for (cid, m) in self.real.iter().zip(&self.model) {
            if m.gone {
                continue;
            }
            let c = self
                .inventory
                .course(*cid)
                .unsynced()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                c.seats_available() + c.seats_held + c.seats_sold,
                c.seats_total
            );
            prop_assert_eq!(c.seats_total, m.total);
            prop_assert_eq!(c.seats_held, m.count(Status::Held));
            prop_assert_eq!(c.seats_sold, m.count(Status::Confirmed));
            prop_assert_eq!(c.price_cents, m.price);
            prop_assert_eq!(c.waitlist_length as usize, m.queue.len(), "waitlist length");
        }
        for ((course, index), id) in &self.entry_ids {
            let m = &self.model[*course];
            if m.gone || *index >= m.entries.len() {
                continue;
            }
            let real = self
                .inventory
                .waitlist_entry(*id)
                .unsynced()
                .map_err(|e| TestCaseError::fail(format!("entry {index}: {e}")))?;
            prop_assert_eq!(
                real.entry.status,
                m.entries[*index].status,
                "entry {}",
                index
            );
            let position = m
                .queue
                .iter()
                .position(|i| i == index)
                .map(|p| p as u32 + 1);
            prop_assert_eq!(real.position, position, "position of entry {}", index);
        }
        for student in 0..STUDENTS {
            let held = self
                .model
                .iter()
                .flat_map(|m| m.holds.values())
                .filter(|h| h.student == Some(student) && h.status == Status::Held)
                .count() as u32;
            prop_assert_eq!(
                self.inventory.holds_of(&format!("s{student}")),
                held,
                "holds counted for s{}",
                student
            );
        }
        Ok(())
    }
}

/// Marks the `nth` price or capacity change of `course` since the last crash as answered.
fn mark_given(settings: &mut HashMap<usize, Vec<(Fact, bool)>>, course: usize, nth: usize) {
    if let Some(entry) = settings.get_mut(&course).and_then(|h| h.get_mut(nth)) {
        entry.1 = true;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn the_inventory_matches_the_model_and_keeps_the_invariant(
        ops in prop::collection::vec(op(), 1..120)
    ) {
        let mut h = Harness::new();
        h.apply(&Op::Create { seats: 2 })?;
        for op in &ops {
            h.apply(op)?;
            h.check_counts()?;
            h.check_feed()?;
        }
        // Let every deadline pass: after one sweep no hold is left, and each ended exactly once.
        h.drain()?;
        h.check_counts()?;
        h.check_feed()?;
        for (course, cid) in h.real.clone().into_iter().enumerate() {
            let c = h.inventory.course(cid).unsynced().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(c.seats_held, 0);
            for id in 0..IDS {
                if let Some(rid) = h.ids.get(&(course, id)).copied()
                    && let Ok(r) = h.inventory.reservation(cid, rid).unsynced()
                {
                    prop_assert!(r.status != Status::Held);
                    h.check_transition(course, id, r.status)?;
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn on_a_troubled_disk_no_answer_given_is_lost_at_a_crash(
        ops in prop::collection::vec(disk_op(), 1..120)
    ) {
        let mut h = Harness::on_disk();
        h.apply(&Op::Create { seats: 2 })?;
        for op in &ops {
            h.apply(op)?;
            h.check_counts()?;
        }
        h.apply(&Op::Crash)?;
        h.check_counts()?;
        // What came back from disk: every change with its event, and nothing else.
        h.check_feed()?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_backend_through_the_port_matches_the_model(
        ops in prop::collection::vec(op(), 1..80)
    ) {
        let mut h = Harness::through_port();
        h.apply(&Op::Create { seats: 2 })?;
        for op in &ops {
            h.apply(op)?;
            h.check_counts()?;
        }
        h.drain()?;
        h.check_counts()?;
        h.inventory.close();
    }
}
