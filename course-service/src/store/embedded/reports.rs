//! What the embedded store reports about itself rather than about one request: transition
//! counts, seat totals across courses, the expiry backlog, and the checks tests make.

use super::Inventory;
use crate::store::{Totals, Transitions};
use std::sync::Arc;

impl Inventory {
    /// Reservations entering each status so far.
    pub fn transitions(&self) -> Transitions {
        self.shared.transitions.snapshot()
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
            let course = book.lock();
            course
                .book
                .waitlist()
                .entries()
                .for_each(|e| t.waitlist.add(e.status, 1));
            let s = course.book.snapshot();
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
        self.shared.slots.of(student)
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
            .try_for_each(|course| course.lock().book.check_invariants())
    }
}
