//! The waitlist's rules on the ledger: joining and leaving, and handing freed seats to the first
//! waiting students as holds of their own (offers).
//!
//! A store calls [`CourseBook::offer_freed_seats`] at the end of every operation on a course,
//! under the same lock, so a seat freed by an expiry, a cancel, a release or a larger capacity
//! goes to the waitlist before anyone else can see it free. Between operations, then, no seat is
//! free while a student waits ([`CourseBook::check_invariants`] checks it).

use super::{BookError, CourseBook, LedgerEvent};
use crate::domain::{
    EntryId, Reservation, ReservationId, Status,
    waitlist::{EntryStatus, WaitEntry, Waitlist},
};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// How long an offered seat stays held for the student unless a store sets another lifetime.
pub const DEFAULT_OFFER_LIFETIME: TimeDelta = TimeDelta::hours(1);

impl CourseBook {
    /// Sets how long a seat offered to a waiting student stays held for them.
    pub fn set_offer_lifetime(&mut self, lifetime: TimeDelta) {
        self.offer_lifetime = lifetime;
    }

    pub fn waitlist(&self) -> &Waitlist {
        &self.waitlist
    }

    /// Puts `student` at the back of the waitlist, or answers the open entry they have (`false`:
    /// not new). Refused while a buyer could take a seat, and for a student who holds or bought
    /// one.
    pub fn join_waitlist(
        &mut self,
        student: &Arc<str>,
        now: DateTime<Utc>,
    ) -> Result<(WaitEntry, bool), BookError> {
        if let Some(&live) = self.live_by_student.get(student) {
            self.settle(live, now);
        }
        if self.live_by_student.contains_key(student) {
            return Err(BookError::AlreadyEnrolled);
        }
        if let Some(open) = self.waitlist.open_of(student) {
            return Ok((open.clone(), false));
        }
        if super::seats_for_buyers(self.seats_available(), self.waitlist.waiting()) > 0 {
            return Err(BookError::SeatsAvailable);
        }
        let id = EntryId::new_v7();
        let entry = self.waitlist.join(id, Arc::clone(student), now).clone();
        self.events.push(LedgerEvent::Entry {
            id,
            from: None,
            to: EntryStatus::Waiting,
        });
        Ok((entry, true))
    }

    /// Takes `student`'s entry off the waitlist. An offered seat is given up (its hold cancelled,
    /// so it passes on); an entry that already ended answers as it stands.
    pub fn leave_waitlist(
        &mut self,
        id: EntryId,
        student: &str,
        now: DateTime<Utc>,
    ) -> Result<WaitEntry, BookError> {
        let entry = self
            .waitlist
            .get(id)
            .filter(|e| &*e.student == student)
            .ok_or(BookError::EntryNotFound)?;
        let offer = entry
            .reservation
            .filter(|_| entry.status == EntryStatus::Offered);
        if let Some(reservation) = offer {
            // A lapsed offer ends as lapsed, not left.
            self.settle(reservation, now);
        }
        if let Some(from) = self.waitlist.close(id, EntryStatus::Left, now) {
            self.events.push(LedgerEvent::Entry {
                id,
                from: Some(from),
                to: EntryStatus::Left,
            });
            if let Some(reservation) = offer.filter(|_| from == EntryStatus::Offered) {
                self.transition(reservation, now, |r| r.cancel(now))?;
            }
        }
        self.waitlist
            .get(id)
            .cloned()
            .ok_or(BookError::EntryNotFound)
    }

    /// Hands free seats to the first waiting students, in join order, as holds lasting the offer
    /// lifetime; returns how many were offered. A student found holding or owning a seat of the
    /// course already leaves the waitlist instead.
    pub fn offer_freed_seats(&mut self, now: DateTime<Utc>) -> u32 {
        let mut offered = 0;
        while self.seats_available() > 0 {
            let Some(first) = self.waitlist.first() else {
                break;
            };
            let (entry, student) = (first.id, Arc::clone(&first.student));
            if let Some(&live) = self.live_by_student.get(&student) {
                self.settle(live, now);
            }
            if self.live_by_student.contains_key(&student) {
                self.bought_elsewhere(&student, now);
                continue;
            }
            let id = ReservationId::new_v7();
            let expires_at = now + self.offer_lifetime;
            let reservation = Reservation::hold(
                Arc::clone(&student),
                (self.price_cents, self.details.currency),
                None,
                now,
                expires_at,
            );
            self.seats_held += 1;
            self.live_by_student.insert(Arc::clone(&student), id);
            self.reservations.insert(id, reservation);
            self.waitlist.offer(entry, id, now);
            self.events.push(LedgerEvent::Entry {
                id: entry,
                from: Some(EntryStatus::Waiting),
                to: EntryStatus::Offered,
            });
            self.events.push(LedgerEvent::Held {
                id,
                student,
                expires_at,
                offer: true,
            });
            offered += 1;
        }
        offered
    }

    /// A student who got a seat of this course some other way no longer waits for one.
    pub(super) fn bought_elsewhere(&mut self, student: &Arc<str>, now: DateTime<Utc>) {
        let waiting = self
            .waitlist
            .open_of(student)
            .filter(|e| e.status == EntryStatus::Waiting)
            .map(|e| e.id);
        if let Some(id) = waiting
            && let Some(from) = self.waitlist.close(id, EntryStatus::Left, now)
        {
            self.events.push(LedgerEvent::Entry {
                id,
                from: Some(from),
                to: EntryStatus::Left,
            });
        }
    }

    /// The reservation `id` left the held status for `to`: if it was an offer, its entry ends
    /// (enrolled when confirmed, lapsed otherwise).
    pub(super) fn offer_ended(&mut self, id: ReservationId, to: Status, now: DateTime<Utc>) {
        let Some(entry) = self.waitlist.offer_of(id) else {
            return;
        };
        let ended = match to {
            Status::Confirmed => EntryStatus::Enrolled,
            _ => EntryStatus::Lapsed,
        };
        if let Some(from) = self.waitlist.close(entry, ended, now) {
            self.events.push(LedgerEvent::Entry {
                id: entry,
                from: Some(from),
                to: ended,
            });
        }
    }
}
