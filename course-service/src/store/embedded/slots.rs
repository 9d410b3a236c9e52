//! How many holds each student has across all courses, for the per-student limit: a slot is
//! claimed before a hold is placed (entry lock only, never while another lock is held but a
//! course's, of which it is the last taken) and given back when a hold ends.

use crate::store::Refusal;
use dashmap::DashMap;
use std::sync::Arc;

/// Each student's count of holds, against a limit (0: no limit, and nothing is counted).
#[derive(Debug)]
pub struct HoldSlots {
    limit: u32,
    held: DashMap<Arc<str>, u32>,
}

impl HoldSlots {
    /// Slots limited to `limit` per student, counting the holds of `holders` (one entry per hold).
    pub fn new<'a>(limit: u32, holders: impl IntoIterator<Item = &'a Arc<str>>) -> Self {
        let held: DashMap<Arc<str>, u32> = super::sharded();
        if limit > 0 {
            for student in holders {
                *held.entry(Arc::clone(student)).or_default() += 1;
            }
        }
        HoldSlots { limit, held }
    }

    /// Counts a new hold of `student` against the limit, before it is placed.
    pub fn claim(&self, student: &Arc<str>) -> Result<(), Refusal> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut count = self.held.entry(Arc::clone(student)).or_default();
        if *count >= self.limit {
            return Err(Refusal::HoldLimitReached { limit: self.limit });
        }
        *count += 1;
        Ok(())
    }

    /// Counts a hold placed without asking (a seat offered to a waiting student), even past the
    /// limit: the student asked for that seat by waiting, and it counts like any other hold.
    pub fn add(&self, students: &[Arc<str>]) {
        if self.limit == 0 {
            return;
        }
        for student in students {
            *self.held.entry(Arc::clone(student)).or_default() += 1;
        }
    }

    /// Gives back one counted hold per entry of `students`.
    pub fn release(&self, students: &[Arc<str>]) {
        if self.limit == 0 {
            return;
        }
        for student in students {
            let emptied = self.held.get_mut(student).is_some_and(|mut count| {
                *count = count.saturating_sub(1);
                *count == 0
            });
            if emptied {
                self.held.remove_if(student, |_, count| *count == 0);
            }
        }
    }

    /// How many holds `student` has now, as counted (0 without a limit).
    pub fn of(&self, student: &str) -> u32 {
        self.held.get(student).map_or(0, |c| *c)
    }
}
