//! The embedded backend's expiry sweep: lapsed holds taken from the deadline index a batch at a
//! time and expired course by course, so its cost grows with the number of lapsed holds, not with
//! the number of live ones. The job that runs it on a schedule is `crate::expiry`.

use super::Inventory;
use crate::store::SweepReport;
use chrono::{DateTime, Utc};

/// How many holds a sweep expires per acquisition of a course lock.
pub const EXPIRE_PER_LOCK: usize = 256;

/// What one sweep step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStep {
    /// Deadline entries taken out of the index.
    pub due: usize,
    /// Holds that actually expired (the rest had been confirmed or cancelled already).
    pub expired: usize,
}

impl Inventory {
    /// One sweep step: takes about `batch` deadlines due at `now` out of the index and expires
    /// those holds, course by course. A sweep repeats steps until one comes back short.
    pub fn expire_due(&self, now: DateTime<Utc>, batch: usize) -> SweepStep {
        let mut due = self.shared.deadlines.lock().take_due(now, batch);
        due.sort_unstable_by_key(|d| d.course);
        let mut expired = 0;
        for group in due.chunk_by(|a, b| a.course == b.course) {
            for chunk in group.chunks(EXPIRE_PER_LOCK) {
                // Internal: nobody is answered, so nothing waits for the expiries' commit.
                let _ = self.with_course(chunk[0].course, |book, now| {
                    expired += chunk
                        .iter()
                        .filter(|d| book.expire(d.reservation, now))
                        .count();
                    Ok(())
                });
            }
        }
        SweepStep {
            due: due.len(),
            expired,
        }
    }
}

/// Deadlines taken out of the index per step.
pub const SWEEP_BATCH: usize = 4096;

/// Expires every hold due at `now`, and forgets tombstones past their time.
pub fn sweep(inventory: &Inventory, now: DateTime<Utc>) -> SweepReport {
    let mut report = SweepReport::default();
    loop {
        let step = inventory.expire_due(now, SWEEP_BATCH);
        report.due += step.due;
        report.expired += step.expired;
        if step.due == 0 {
            return report;
        }
    }
}
