//! Property test: random sequences of create / reserve / confirm / cancel / release /
//! advance-clock / sweep run against the inventory and against a deliberately naive model (every
//! count is a scan). After every step the outcomes agree, `available + held + sold == total`, and
//! no reservation leaves a final state; at the end, once every deadline has passed and a sweep
//! ran, every hold has ended in exactly one final state.

use chrono::{DateTime, TimeDelta, Utc};
use course_service::{
    clock::{Clock, ManualClock},
    domain::{BookError, CourseDetails, Currency, HoldRequest, NewCourse, Status, TransitionError},
    expiry,
    inventory::{Inventory, InventoryError, Pending},
};
use proptest::prelude::*;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

const TTL: i64 = 100;
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
}

fn op() -> impl Strategy<Value = Op> {
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

/// What an operation answered, in a form both sides produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Status(Status),
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
struct ModelCourse {
    total: u32,
    price: i64,
    holds: HashMap<u8, ModelHold>,
}

impl ModelCourse {
    fn count(&self, status: Status) -> u32 {
        self.holds.values().filter(|h| h.status == status).count() as u32
    }

    fn touch(&mut self, id: u8, now: i64) -> bool {
        match self.holds.get_mut(&id) {
            Some(h) if h.status == Status::Held && now >= h.expires_at => {
                h.status = Status::Expired;
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
        if self.total == self.count(Status::Held) + self.count(Status::Confirmed) {
            return err("sold_out");
        }
        let hold = ModelHold {
            student: Some(student),
            expected,
            status: Status::Held,
            expires_at: now + TTL,
        };
        self.holds.insert(id, hold);
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
                h.status = status;
                Outcome::Status(status)
            }
            Err(code) => err(code),
        }
    }
}

fn err(code: &str) -> Outcome {
    Outcome::Error(code.to_owned())
}

fn code(e: &InventoryError) -> &'static str {
    match e {
        InventoryError::CourseNotFound => "course_not_found",
        InventoryError::HoldLimitReached { .. } => "hold_limit_reached",
        InventoryError::Book(b) => match b {
            BookError::SoldOut => "sold_out",
            BookError::PriceChanged { .. } => "price_changed",
            BookError::AlreadyHolding => "already_holding",
            BookError::IdempotencyConflict => "idempotency_conflict",
            BookError::CancelledBeforeReserved => "reservation_cancelled",
            BookError::ReservationNotFound => "reservation_not_found",
            BookError::NotOwner => "forbidden",
            BookError::SeatsBelowCommitted { .. } => "seats_below_committed",
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
    inventory: Inventory,
    clock: Arc<ManualClock>,
    start: DateTime<Utc>,
    real: Vec<Uuid>,
    model: Vec<ModelCourse>,
    ids: HashMap<(usize, u8), Uuid>,
    /// The last status seen of every reservation, to check that final states stay final.
    seen: HashMap<(usize, u8), Status>,
}

impl Harness {
    fn new() -> Self {
        let start = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(1_800_000_000);
        let clock = Arc::new(ManualClock::new(start));
        let inventory = Inventory::restore(
            clock.clone() as Arc<dyn Clock>,
            TimeDelta::seconds(TTL),
            HOLD_LIMIT as u32,
            Vec::new(),
            None,
        );
        Harness {
            inventory,
            clock,
            start,
            real: vec![],
            model: vec![],
            ids: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    fn now(&self) -> i64 {
        (self.clock.now() - self.start).num_seconds()
    }

    fn id(&mut self, course: usize, id: u8) -> Uuid {
        *self.ids.entry((course, id)).or_insert_with(Uuid::now_v7)
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
            self.real.push(course.unsynced().id);
            self.model.push(ModelCourse {
                total: *seats,
                price: 100,
                holds: HashMap::new(),
            });
            return Ok(());
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
            let report = expiry::sweep(&self.inventory, self.clock.now());
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
            | Op::SetSeats { course, .. } => *course,
            _ => unreachable!("handled above"),
        };
        if course >= self.real.len() {
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
                let real = self
                    .inventory
                    .hold(cid, rid, &request)
                    .map(|h| h.unsynced().reservation.status);
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
                let (real, action) = match op {
                    Op::Confirm { .. } => (
                        self.inventory.confirm(cid, rid).map(Pending::unsynced),
                        "confirm",
                    ),
                    Op::Cancel { .. } => (
                        self.inventory.cancel(cid, rid).map(Pending::unsynced),
                        "cancel",
                    ),
                    Op::Release { .. } => (
                        self.inventory.release(cid, rid).map(Pending::unsynced),
                        "release",
                    ),
                    _ => (self.inventory.reservation(cid, rid), "get"),
                };
                (
                    real.map(|r| r.status),
                    self.model[course].transition(*id, now, action),
                    Some(*id),
                )
            }
            Op::SetPrice { price, .. } => {
                self.model[course].price = *price;
                let real = self
                    .inventory
                    .set_price(cid, "alice", *price)
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
                (
                    self.inventory
                        .set_seats(cid, "alice", *seats)
                        .map(|_| Status::Held),
                    expected,
                    None,
                )
            }
            _ => unreachable!("handled above"),
        };
        let real = match real {
            Ok(status) => Outcome::Status(status),
            Err(e) => err(code(&e)),
        };
        prop_assert_eq!(&real, &expected, "{:?}", op);
        if let (Some(id), Outcome::Status(status)) = (touched, real) {
            self.check_transition(course, id, status)?;
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

    fn check_counts(&self) -> Result<(), TestCaseError> {
        self.inventory
            .check_invariants()
            .map_err(TestCaseError::fail)?;
        for (cid, m) in self.real.iter().zip(&self.model) {
            let c = self
                .inventory
                .course(*cid)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                c.seats_available() + c.seats_held + c.seats_sold,
                c.seats_total
            );
            prop_assert_eq!(c.seats_total, m.total);
            prop_assert_eq!(c.seats_held, m.count(Status::Held));
            prop_assert_eq!(c.seats_sold, m.count(Status::Confirmed));
            prop_assert_eq!(c.price_cents, m.price);
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
        }
        // Let every deadline pass: after one sweep no hold is left, and each ended exactly once.
        h.apply(&Op::Advance { secs: TTL })?;
        h.apply(&Op::Sweep)?;
        h.check_counts()?;
        for (course, cid) in h.real.clone().into_iter().enumerate() {
            let c = h.inventory.course(cid).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(c.seats_held, 0);
            for id in 0..IDS {
                if let Some(rid) = h.ids.get(&(course, id)).copied()
                    && let Ok(r) = h.inventory.reservation(cid, rid)
                {
                    prop_assert!(r.status != Status::Held);
                    h.check_transition(course, id, r.status)?;
                }
            }
        }
    }
}
