//! What the ledger hands over to be made durable, and how it is rebuilt from durable records.
//!
//! Every method that changes a reservation or the course notes it; the inventory takes the notes
//! (with copies of the changed records) under the course lock, right after the change, so the
//! journal receives changes in the order the lock applied them. Restoring recomputes every counter
//! from the reservations' statuses, so the counters on disk can never disagree with them.

use super::{CourseBook, CourseSnapshot, FastMap};
use crate::domain::{CourseId, Reservation, ReservationId, Status};
use std::sync::Arc;

/// The changes of one course since they were last taken.
#[derive(Debug, Default)]
pub struct BookChanges {
    /// The course's attributes, when they changed.
    pub course: Option<CourseSnapshot>,
    /// Each changed reservation as it stands now.
    pub reservations: Vec<(ReservationId, Reservation)>,
    /// Tombstones forgotten.
    pub removed: Vec<ReservationId>,
}

impl BookChanges {
    pub fn is_empty(&self) -> bool {
        self.course.is_none() && self.reservations.is_empty() && self.removed.is_empty()
    }
}

impl CourseBook {
    /// Takes the changes noted since the last call.
    pub fn take_changes(&mut self) -> BookChanges {
        if !self.course_changed && self.changed.is_empty() && self.removed.is_empty() {
            return BookChanges::default();
        }
        let course = std::mem::take(&mut self.course_changed).then(|| self.snapshot());
        let mut ids = std::mem::take(&mut self.changed);
        ids.sort_unstable();
        ids.dedup();
        let reservations = ids
            .into_iter()
            .filter_map(|id| self.reservations.get(&id).map(|r| (id, r.clone())))
            .collect();
        let removed = std::mem::take(&mut self.removed);
        BookChanges {
            course,
            reservations,
            removed,
        }
    }

    /// Takes the students whose holds ended since the last call.
    pub fn take_ended_holds(&mut self) -> Vec<Arc<str>> {
        std::mem::take(&mut self.holds_ended)
    }

    /// Forgets the noted changes (state kept in memory only).
    pub fn discard_changes(&mut self) {
        self.changed.clear();
        self.removed.clear();
        self.course_changed = false;
    }

    /// Rebuilds a ledger from its durable course record and reservations.
    pub fn restore(
        course: CourseSnapshot,
        reservations: impl IntoIterator<Item = (ReservationId, Reservation)>,
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
            changed: Vec::new(),
            course_changed: false,
            removed: Vec::new(),
            holds_ended: Vec::new(),
            events: Default::default(),
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
