//! One course's seat ledger: its counters, its reservations and who holds what.
//!
//! A [`CourseBook`] is the unit the inventory locks; every method here runs inside that lock, so
//! it only does arithmetic and map updates. Counters move only through [`SeatEffect`]s returned by
//! the reservation state machine, which keeps `available + held + sold == total` by construction
//! (`available` is derived) and keeps `held` and `sold` equal to the number of reservations in
//! those states ([`CourseBook::check_invariants`] verifies it in tests).
//!
//! Holds lapse lazily as well as by sweep: any operation that touches a reservation first
//! expires it if its time is up, so no caller ever sees a lapsed hold as usable.

mod persist;
#[cfg(test)]
mod tests;

pub use persist::BookChanges;

impl CourseBook {
    /// Takes the transition counts since the last call.
    pub fn take_events(&mut self) -> BookEvents {
        std::mem::take(&mut self.events)
    }
}

use super::{
    CourseId, ReservationId,
    course::{CourseDetails, NewCourse},
    reservation::{Reservation, SeatEffect, Status, TransitionError},
};
use chrono::{DateTime, Utc};
use std::{collections::HashMap, sync::Arc};

/// Maps keyed by ids and student names, with a fast hasher (keys come from trusted callers).
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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
    /// Reservations changed since the inventory last took the changes, to be made durable.
    changed: Vec<ReservationId>,
    /// Whether the course's own attributes changed since then.
    course_changed: bool,
    /// Tombstones forgotten since then.
    removed: Vec<ReservationId>,
    /// Students whose hold ended (confirmed, cancelled or expired) since then, for the inventory's
    /// count of holds per student.
    holds_ended: Vec<Arc<str>>,
    /// Transitions since then, for the service's metrics.
    events: BookEvents,
}

/// How many reservations entered each status, since the counts were last taken.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BookEvents {
    pub held: u64,
    pub confirmed: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub released: u64,
}

impl BookEvents {
    fn count(&mut self, status: Status) {
        match status {
            Status::Held => self.held += 1,
            Status::Confirmed => self.confirmed += 1,
            Status::Cancelled => self.cancelled += 1,
            Status::Expired => self.expired += 1,
            Status::Released => self.released += 1,
        }
    }
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
            changed: Vec::new(),
            course_changed: true,
            removed: Vec::new(),
            holds_ended: Vec::new(),
            events: BookEvents::default(),
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
        if let Some(expected) = request.expected_price_cents
            && expected != self.price_cents
        {
            return Err(BookError::PriceChanged {
                price_cents: self.price_cents,
            });
        }
        if let Some(&other) = self.live_by_student.get(&request.student) {
            self.settle(other, now);
            if self.live_by_student.contains_key(&request.student) {
                return Err(BookError::AlreadyHolding);
            }
        }
        if self.seats_available() == 0 {
            return Err(BookError::SoldOut);
        }
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
        self.changed.push(id);
        self.events.count(Status::Held);
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
            self.changed.push(id);
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
            self.removed.push(id);
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
        self.course_changed = true;
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
        self.course_changed = true;
        Ok(self.snapshot())
    }

    /// Checks that the counters agree with the reservations. For tests and debug assertions.
    pub fn check_invariants(&self) -> Result<(), String> {
        let held = self
            .reservations
            .values()
            .filter(|r| r.status == Status::Held)
            .count();
        let sold = self
            .reservations
            .values()
            .filter(|r| r.status == Status::Confirmed)
            .count();
        let live = self.reservations.values().filter(|r| r.is_live()).count();
        if held != self.seats_held as usize || sold != self.seats_sold as usize {
            return Err(format!(
                "counters held={} sold={} but reservations held={held} sold={sold}",
                self.seats_held, self.seats_sold
            ));
        }
        if self.seats_held + self.seats_sold > self.seats_total {
            return Err(format!(
                "held {held} + sold {sold} exceed total {}",
                self.seats_total
            ));
        }
        if live != self.live_by_student.len() {
            return Err(format!(
                "{live} live reservations but {} students indexed",
                self.live_by_student.len()
            ));
        }
        Ok(())
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
        let effect = step(reservation)?;
        let stored = reservation.clone();
        self.apply(id, stored.student.as_ref(), stored.status, effect);
        Ok(stored)
    }

    /// Expires `id` if it lapsed at `now`; returns whether a seat came back.
    fn settle(&mut self, id: ReservationId, now: DateTime<Utc>) -> bool {
        let Some(reservation) = self.reservations.get_mut(&id) else {
            return false;
        };
        let effect = reservation.expire(now);
        if effect == SeatEffect::None {
            return false;
        }
        let student = reservation.student.clone();
        self.apply(id, student.as_ref(), Status::Expired, effect);
        true
    }

    /// Moves one seat as `effect` says and, once the reservation of `student` stopped being live,
    /// frees the student to hold again.
    /// Moves one seat as `effect` says, counts the event, and, once the reservation of `student`
    /// stopped being live (its status is now `status`), frees the student to hold again.
    fn apply(
        &mut self,
        id: ReservationId,
        student: Option<&Arc<str>>,
        status: Status,
        effect: SeatEffect,
    ) {
        let live = matches!(status, Status::Held | Status::Confirmed);
        if effect != SeatEffect::None {
            self.events.count(status);
        }
        match effect {
            SeatEffect::None => return,
            SeatEffect::HeldToSold => {
                self.seats_held -= 1;
                self.seats_sold += 1;
                self.holds_ended.extend(student.cloned());
            }
            SeatEffect::HeldToAvailable => {
                self.seats_held -= 1;
                self.holds_ended.extend(student.cloned());
            }
            SeatEffect::SoldToAvailable => self.seats_sold -= 1,
        }
        self.changed.push(id);
        // One lookup in the common case: remove, and put back in the rare case that the student
        // already holds another reservation of this course.
        if !live
            && let Some(student) = student
            && let Some(current) = self.live_by_student.remove(student)
            && current != id
        {
            self.live_by_student.insert(Arc::clone(student), current);
        }
    }
}

fn replay(existing: &Reservation, request: &HoldRequest) -> Result<Held, BookError> {
    if existing.is_tombstone() {
        return Err(BookError::CancelledBeforeReserved);
    }
    let same_body = existing.student.as_deref() == Some(&*request.student)
        && existing.expected_price_cents == request.expected_price_cents;
    if same_body {
        Ok(Held {
            reservation: existing.clone(),
            created: false,
        })
    } else {
        Err(BookError::IdempotencyConflict)
    }
}
