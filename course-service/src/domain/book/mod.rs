//! One course's seat ledger: its counters, its reservations and who holds what.
//!
//! A [`CourseBook`] is the unit the embedded store locks; every method here runs inside that lock,
//! so it only does arithmetic and map updates. Counters move only through [`SeatEffect`]s returned
//! by the reservation state machine, which keeps `available + held + sold == total` by
//! construction (`available` is derived) and keeps `held` and `sold` equal to the number of
//! reservations in those states ([`CourseBook::check_invariants`] verifies it in tests).
//!
//! Everything the ledger does is told in one list of [`LedgerEvent`]s, in order. The store derives
//! all its bookkeeping from that list alone: the durable records, the deadline index, each
//! student's count of holds and the metrics. So a new way of taking or freeing a seat only has to
//! emit the event; it is recorded, indexed and counted without more code.
//!
//! Holds lapse lazily as well as by sweep: any operation that touches a reservation first
//! expires it if its time is up, so no caller ever sees a lapsed hold as usable.

mod events;
mod offers;
#[cfg(test)]
mod offers_tests;
mod persist;
mod rules;
#[cfg(test)]
mod tests;

pub use events::LedgerEvent;
pub use offers::DEFAULT_OFFER_LIFETIME;
pub use rules::{check_price, check_seat, replay, seats_for_buyers};

/// A course's sales: seats sold and the money they brought in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sales {
    pub instructor_id: Arc<str>,
    pub currency: super::course::Currency,
    pub seats_sold: u32,
    pub revenue_cents: i64,
}

impl Sales {
    /// These sales as `who` may see them: only the course's instructor may.
    pub fn for_owner(self, who: &str) -> Result<Sales, BookError> {
        if &*self.instructor_id == who {
            Ok(self)
        } else {
            Err(BookError::NotOwner)
        }
    }
}

impl CourseBook {
    /// Takes what the ledger did since the last call, in order.
    pub fn take_events(&mut self) -> Vec<LedgerEvent> {
        std::mem::take(&mut self.events)
    }
}

use super::{
    CourseId, ReservationId,
    course::{CourseDetails, NewCourse},
    reservation::{Reservation, SeatEffect, Status, TransitionError},
    waitlist::Waitlist,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The course's maps of reservations and live students, keyed by ids and student names, with a
/// fast hasher (keys come from trusted callers). They grow in steps: a map that doubles moves a
/// few entries on each insert instead of all at once, so a popular course does not stop for the
/// whole move (a million reservations took a 275 ms pause in one insert) when it sells well.
type FastMap<K, V> = griddle::HashMap<K, V, foldhash::fast::RandomState>;

/// How long a tombstone (an id cancelled before it was reserved) is kept: far longer than any retry
/// of the reserve call it guards against could take.
pub const TOMBSTONE_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// A refusal by the ledger; each maps to one API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("no seats left")]
    SoldOut,
    #[error("the price is now {price_cents}")]
    PriceChanged { price_cents: i64 },
    #[error("this student already holds or bought a seat of this course")]
    AlreadyHolding,
    #[error("this reservation id was used with a different body")]
    IdempotencyConflict,
    #[error("this reservation id was cancelled before it was reserved")]
    CancelledBeforeReserved,
    #[error("no such reservation")]
    ReservationNotFound,
    #[error("only the course's instructor may change it")]
    NotOwner,
    #[error("{committed} seats are held or sold; the capacity cannot go below that")]
    SeatsBelowCommitted { committed: u32 },
    #[error("seats are free: buy one instead of waiting")]
    SeatsAvailable,
    #[error("this student already holds or bought a seat of this course")]
    AlreadyEnrolled,
    #[error("no such waitlist entry")]
    EntryNotFound,
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// What a reserve call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    pub student: Arc<str>,
    pub expected_price_cents: Option<i64>,
}

/// The outcome of a reserve call: the stored reservation and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub reservation: Reservation,
    pub created: bool,
}

/// A consistent copy of a course's public state, taken under its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseSnapshot {
    pub id: CourseId,
    pub details: Arc<CourseDetails>,
    pub price_cents: i64,
    pub seats_total: u32,
    pub seats_held: u32,
    pub seats_sold: u32,
    /// Students waiting (offers are holds, not counted here).
    pub waitlist_length: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CourseSnapshot {
    pub fn seats_available(&self) -> u32 {
        self.seats_total - self.seats_held - self.seats_sold
    }
}

/// One course's seats and reservations.
#[derive(Debug)]
pub struct CourseBook {
    id: CourseId,
    details: Arc<CourseDetails>,
    price_cents: i64,
    seats_total: u32,
    seats_held: u32,
    seats_sold: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    reservations: FastMap<ReservationId, Reservation>,
    /// The one live (held or confirmed) reservation of each student.
    live_by_student: FastMap<Arc<str>, ReservationId>,
    /// Who waits for a seat, and what became of earlier entries.
    waitlist: Waitlist,
    /// How long a seat offered to a waiting student stays held for them.
    offer_lifetime: chrono::TimeDelta,
    /// What the ledger did since the store last took it.
    events: Vec<LedgerEvent>,
}

impl CourseBook {
    pub fn new(id: CourseId, course: NewCourse, now: DateTime<Utc>) -> Self {
        CourseBook {
            id,
            details: Arc::new(course.details),
            price_cents: course.price_cents,
            seats_total: course.seats,
            seats_held: 0,
            seats_sold: 0,
            created_at: now,
            updated_at: now,
            reservations: FastMap::default(),
            live_by_student: FastMap::default(),
            waitlist: Waitlist::default(),
            offer_lifetime: DEFAULT_OFFER_LIFETIME,
            events: vec![LedgerEvent::CourseCreated],
        }
    }

    /// What the course's confirmed seats brought in, each at the price it was held at (a price
    /// change does not reprice seats already held or sold).
    pub fn sales(&self) -> Sales {
        let revenue_cents = self
            .live_by_student
            .values()
            .filter_map(|id| self.reservations.get(id))
            .filter(|r| r.status == Status::Confirmed)
            .map(|r| r.unit_price_cents)
            .sum();
        Sales {
            instructor_id: Arc::clone(&self.details.instructor_id),
            currency: self.details.currency,
            seats_sold: self.seats_sold,
            revenue_cents,
        }
    }

    pub fn snapshot(&self) -> CourseSnapshot {
        CourseSnapshot {
            id: self.id,
            details: Arc::clone(&self.details),
            price_cents: self.price_cents,
            seats_total: self.seats_total,
            seats_held: self.seats_held,
            seats_sold: self.seats_sold,
            waitlist_length: self.waitlist.waiting(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn seats_available(&self) -> u32 {
        self.seats_total - self.seats_held - self.seats_sold
    }

    /// Holds one seat under `id` until `expires_at`, or replays the stored reservation when the
    /// same id arrives again with the same body.
    pub fn hold(
        &mut self,
        id: ReservationId,
        request: &HoldRequest,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Held, BookError> {
        self.settle(id, now);
        if let Some(existing) = self.reservations.get(&id) {
            return replay(existing, request);
        }
        check_price(request, self.price_cents)?;
        // The student's live reservation of this course counts only if it has not lapsed.
        let student_live = match self.live_by_student.get(&request.student) {
            Some(&other) => {
                self.settle(other, now);
                self.live_by_student.contains_key(&request.student)
            }
            None => false,
        };
        check_seat(
            student_live,
            seats_for_buyers(self.seats_available(), self.waitlist.waiting()),
        )?;
        let reservation = Reservation::hold(
            Arc::clone(&request.student),
            (self.price_cents, self.details.currency),
            request.expected_price_cents,
            now,
            expires_at,
        );
        self.seats_held += 1;
        self.live_by_student
            .insert(Arc::clone(&request.student), id);
        self.reservations.insert(id, reservation.clone());
        self.events.push(LedgerEvent::Held {
            id,
            student: Arc::clone(&request.student),
            expires_at,
            offer: false,
        });
        self.bought_elsewhere(&request.student, now);
        Ok(Held {
            reservation,
            created: true,
        })
    }

    /// The answer to a reserve call for an id this ledger already has (a replay, a conflict or a
    /// tombstone), or `None` for a new id.
    pub fn existing(
        &mut self,
        id: ReservationId,
        request: &HoldRequest,
        now: DateTime<Utc>,
    ) -> Option<Result<Held, BookError>> {
        self.settle(id, now);
        self.reservations
            .get(&id)
            .map(|existing| replay(existing, request))
    }

    /// The reservation as it stands at `now` (a lapsed hold reads as expired).
    pub fn reservation(
        &mut self,
        id: ReservationId,
        now: DateTime<Utc>,
    ) -> Result<Reservation, BookError> {
        self.settle(id, now);
        self.reservations
            .get(&id)
            .cloned()
            .ok_or(BookError::ReservationNotFound)
    }

    pub fn confirm(
        &mut self,
        id: ReservationId,
        now: DateTime<Utc>,
    ) -> Result<Reservation, BookError> {
        self.transition(id, now, |r| r.confirm(now))
    }

    /// Cancels a hold. An unknown id is recorded as a cancelled tombstone, so that a reserve call
    /// that arrives late cannot take a seat under it.
    pub fn cancel(
        &mut self,
        id: ReservationId,
        now: DateTime<Utc>,
    ) -> Result<Reservation, BookError> {
        if !self.reservations.contains_key(&id) {
            let keep_until = now + TOMBSTONE_LIFETIME;
            let tombstone =
                Reservation::tombstone((self.price_cents, self.details.currency), now, keep_until);
            self.reservations.insert(id, tombstone.clone());
            self.events.push(LedgerEvent::Tombstoned {
                id,
                until: keep_until,
            });
            return Ok(tombstone);
        }
        self.transition(id, now, |r| r.cancel(now))
    }

    pub fn release(
        &mut self,
        id: ReservationId,
        now: DateTime<Utc>,
    ) -> Result<Reservation, BookError> {
        self.transition(id, now, |r| r.release(now))
    }

    /// Expires `id` if it is a hold whose time is up, or forgets it if it is a tombstone whose
    /// time is up; returns whether a seat came back.
    pub fn expire(&mut self, id: ReservationId, now: DateTime<Utc>) -> bool {
        if let Some(r) = self.reservations.get(&id)
            && r.is_tombstone()
            && now >= r.expires_at
        {
            self.reservations.remove(&id);
            self.events.push(LedgerEvent::Forgotten { id });
            return false;
        }
        self.settle(id, now)
    }

    pub fn set_price(
        &mut self,
        owner: &str,
        price_cents: i64,
        now: DateTime<Utc>,
    ) -> Result<CourseSnapshot, BookError> {
        self.check_owner(owner)?;
        self.price_cents = price_cents;
        self.updated_at = now;
        self.events.push(LedgerEvent::CourseChanged);
        Ok(self.snapshot())
    }

    pub fn set_seats_total(
        &mut self,
        owner: &str,
        total: u32,
        now: DateTime<Utc>,
    ) -> Result<CourseSnapshot, BookError> {
        self.check_owner(owner)?;
        let committed = self.seats_held + self.seats_sold;
        if total < committed {
            return Err(BookError::SeatsBelowCommitted { committed });
        }
        self.seats_total = total;
        self.updated_at = now;
        self.events.push(LedgerEvent::CourseChanged);
        Ok(self.snapshot())
    }

    fn check_owner(&self, owner: &str) -> Result<(), BookError> {
        if &*self.details.instructor_id == owner {
            Ok(())
        } else {
            Err(BookError::NotOwner)
        }
    }

    fn transition(
        &mut self,
        id: ReservationId,
        now: DateTime<Utc>,
        step: impl FnOnce(&mut Reservation) -> Result<SeatEffect, TransitionError>,
    ) -> Result<Reservation, BookError> {
        self.settle(id, now);
        let reservation = self
            .reservations
            .get_mut(&id)
            .ok_or(BookError::ReservationNotFound)?;
        let from = reservation.status;
        let effect = step(reservation)?;
        let stored = reservation.clone();
        self.apply(
            id,
            stored.student.as_ref(),
            from,
            stored.status,
            effect,
            now,
        );
        Ok(stored)
    }

    /// Expires `id` if it lapsed at `now`; returns whether a seat came back.
    fn settle(&mut self, id: ReservationId, now: DateTime<Utc>) -> bool {
        let Some(reservation) = self.reservations.get_mut(&id) else {
            return false;
        };
        let from = reservation.status;
        let effect = reservation.expire(now);
        if effect == SeatEffect::None {
            return false;
        }
        let student = reservation.student.clone();
        self.apply(id, student.as_ref(), from, Status::Expired, effect, now);
        true
    }

    /// Moves one seat as `effect` says, tells it as an event, and, once the reservation of
    /// `student` stopped being live (its status is now `to`), frees the student to hold again. An
    /// offer's end also ends its waitlist entry.
    fn apply(
        &mut self,
        id: ReservationId,
        student: Option<&Arc<str>>,
        from: Status,
        to: Status,
        effect: SeatEffect,
        now: DateTime<Utc>,
    ) {
        match effect {
            SeatEffect::None => return,
            SeatEffect::HeldToSold => {
                self.seats_held -= 1;
                self.seats_sold += 1;
            }
            SeatEffect::HeldToAvailable => self.seats_held -= 1,
            SeatEffect::SoldToAvailable => self.seats_sold -= 1,
        }
        self.events.push(LedgerEvent::Moved {
            id,
            from,
            to,
            student: student.cloned(),
        });
        if from == Status::Held {
            self.offer_ended(id, to, now);
        }
        // One lookup in the common case: remove, and put back in the rare case that the student
        // already holds another reservation of this course.
        let live = matches!(to, Status::Held | Status::Confirmed);
        if !live
            && let Some(student) = student
            && let Some(current) = self.live_by_student.remove(student)
            && current != id
        {
            self.live_by_student.insert(Arc::clone(student), current);
        }
    }
}
