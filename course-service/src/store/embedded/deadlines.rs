//! The index of hold deadlines that lets a sweep find lapsed holds without looking at live ones.
//!
//! Deadlines are kept in buckets, one per millisecond, in a `BTreeMap`. Adding one is a map lookup
//! (nearly always the newest bucket) and a `Vec` push; taking the due ones removes whole buckets
//! from the front, so a sweep costs O(1) per lapsed hold plus O(log buckets) per bucket, and a
//! sweep with nothing due is one look at the first key. The index is not told when a hold is
//! confirmed or cancelled: its entry stays until its deadline passes and the sweep finds the hold
//! no longer held. Pure data, no locks: the inventory guards it.

use crate::domain::{CourseId, ReservationId};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One hold's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: DateTime<Utc>,
    pub course: CourseId,
    pub reservation: ReservationId,
}

/// Deadlines bucketed by millisecond.
#[derive(Debug, Default)]
pub struct Deadlines {
    buckets: BTreeMap<i64, Vec<Deadline>>,
    len: usize,
}

impl Deadlines {
    pub fn push(&mut self, deadline: Deadline) {
        self.buckets
            .entry(deadline.at.timestamp_millis())
            .or_default()
            .push(deadline);
        self.len += 1;
    }

    /// Removes and returns deadlines that are due at `now`: whole buckets until at least `max`
    /// were taken (so a call may return a little more than `max`).
    pub fn take_due(&mut self, now: DateTime<Utc>, max: usize) -> Vec<Deadline> {
        let now_ms = now.timestamp_millis();
        let mut due = Vec::new();
        while due.len() < max {
            let Some(mut bucket) = self.buckets.first_entry() else {
                break;
            };
            if *bucket.key() > now_ms {
                break;
            }
            if *bucket.key() < now_ms {
                due.append(&mut bucket.remove());
                continue;
            }
            // The current millisecond: only the entries whose instant has come.
            let entries = bucket.get_mut();
            let before = due.len();
            due.extend(entries.iter().filter(|d| d.at <= now).copied());
            if due.len() - before == entries.len() {
                bucket.remove();
            } else {
                entries.retain(|d| d.at > now);
            }
            break;
        }
        self.len -= due.len();
        due
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use uuid::Uuid;

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH
            + TimeDelta::seconds(1_800_000_000)
            + TimeDelta::microseconds(micros)
    }

    fn deadline(micros: i64) -> Deadline {
        Deadline {
            at: at(micros),
            course: CourseId::from(Uuid::nil()),
            reservation: ReservationId::new_v7(),
        }
    }

    #[test]
    fn nothing_is_due_before_its_instant() {
        let mut d = Deadlines::default();
        d.push(deadline(5_000));
        assert!(d.take_due(at(4_999), 10).is_empty());
        assert_eq!(d.len(), 1);
        assert_eq!(d.take_due(at(5_000), 10).len(), 1);
        assert!(d.is_empty());
    }

    #[test]
    fn within_the_current_millisecond_only_the_passed_instants_are_due() {
        let mut d = Deadlines::default();
        for micros in [1_100, 1_500, 1_900] {
            d.push(deadline(micros));
        }
        let due = d.take_due(at(1_500), 10);
        assert_eq!(
            due.iter().map(|x| x.at).collect::<Vec<_>>(),
            vec![at(1_100), at(1_500)]
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d.take_due(at(1_999), 10).len(), 1);
    }

    #[test]
    fn due_deadlines_come_out_in_deadline_order_in_batches() {
        let mut d = Deadlines::default();
        for micros in (0..10_000).rev() {
            d.push(deadline(micros * 1000));
        }
        let mut seen = Vec::new();
        loop {
            let batch = d.take_due(at(20_000_000), 1000);
            if batch.is_empty() {
                break;
            }
            assert!(batch.len() >= 1000 || d.is_empty());
            seen.extend(batch.into_iter().map(|x| x.at));
        }
        assert_eq!(seen.len(), 10_000);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn a_batch_may_overshoot_by_at_most_one_bucket() {
        let mut d = Deadlines::default();
        for _ in 0..50 {
            d.push(deadline(1_000));
        }
        d.push(deadline(2_000));
        assert_eq!(d.take_due(at(3_000), 10).len(), 50);
        assert_eq!(d.len(), 1);
    }
}
