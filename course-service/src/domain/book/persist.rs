//! How a ledger is rebuilt from durable records, what a store reads off it to write them, and the
//! check that its counters agree with its reservations.
//!
//! Restoring recomputes every counter from the reservations' statuses, so the counters on disk can
//! never disagree with them.

use super::{CourseBook, CourseSnapshot, FastMap};
use crate::domain::{
    CourseId, Reservation, ReservationId, Status,
    waitlist::{EntryStatus, WaitEntry, Waitlist},
};
use std::sync::Arc;

impl CourseBook {
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
        self.waitlist.check()?;
        if self.waitlist.waiting() > 0 && self.seats_available() > 0 {
            return Err(format!(
                "{} seats free while {} students wait",
                self.seats_available(),
                self.waitlist.waiting()
            ));
        }
        for entry in self.waitlist.entries() {
            if entry.status == EntryStatus::Offered {
                let held = entry
                    .reservation
                    .and_then(|r| self.reservations.get(&r))
                    .is_some_and(|r| {
                        r.status == Status::Held && r.student.as_ref() == Some(&entry.student)
                    });
                if !held {
                    return Err(format!("offered entry {} holds no seat", entry.id));
                }
            }
            if entry.status == EntryStatus::Waiting
                && self.live_by_student.contains_key(&entry.student)
            {
                return Err(format!(
                    "student {} waits for a course they hold a seat of",
                    entry.student
                ));
            }
        }
        Ok(())
    }

    /// The reservation under `id` as it stands (for writing it down).
    pub fn stored(&self, id: ReservationId) -> Option<&Reservation> {
        self.reservations.get(&id)
    }

    /// Rebuilds a ledger from its durable course record, reservations and waitlist entries.
    pub fn restore(
        course: CourseSnapshot,
        reservations: impl IntoIterator<Item = (ReservationId, Reservation)>,
        entries: impl IntoIterator<Item = WaitEntry>,
    ) -> Result<CourseBook, String> {
        let mut book = CourseBook {
            id: course.id,
            details: course.details,
            price_cents: course.price_cents,
            seats_total: course.seats_total,
            seats_held: 0,
            seats_sold: 0,
            created_at: course.created_at,
            updated_at: course.updated_at,
            reservations: FastMap::default(),
            live_by_student: FastMap::default(),
            waitlist: Waitlist::restore(entries)
                .map_err(|e| format!("course {}: {e}", course.id))?,
            offer_lifetime: super::DEFAULT_OFFER_LIFETIME,
            events: Vec::new(),
        };
        for (id, reservation) in reservations {
            match reservation.status {
                Status::Held => book.seats_held += 1,
                Status::Confirmed => book.seats_sold += 1,
                _ => {}
            }
            if reservation.is_live()
                && let Some(student) = &reservation.student
                && book
                    .live_by_student
                    .insert(Arc::clone(student), id)
                    .is_some()
            {
                return Err(format!(
                    "course {}: student {student} has two live reservations",
                    book.id
                ));
            }
            book.reservations.insert(id, reservation);
        }
        if book.seats_held + book.seats_sold > book.seats_total {
            return Err(format!(
                "course {}: {} held and {} sold exceed {} seats",
                book.id, book.seats_held, book.seats_sold, book.seats_total
            ));
        }
        Ok(book)
    }

    /// The held reservations and tombstones with their deadlines, to rebuild the expiry index.
    pub fn deadlines(
        &self,
    ) -> impl Iterator<Item = (ReservationId, chrono::DateTime<chrono::Utc>)> + '_ {
        self.reservations
            .iter()
            .filter(|(_, r)| r.status == Status::Held || r.is_tombstone())
            .map(|(id, r)| (*id, r.expires_at))
    }

    /// The students holding a seat (one entry per hold), to rebuild the count of holds per student.
    pub fn holders(&self) -> impl Iterator<Item = &Arc<str>> + '_ {
        self.reservations
            .values()
            .filter(|r| r.status == Status::Held)
            .filter_map(|r| r.student.as_ref())
    }

    pub fn id(&self) -> CourseId {
        self.id
    }
}
