//! The idempotency key rules every key store applies: how long a finished request's answer is
//! kept for replay, how long a key may stay running, and how many keys one student keeps. Pure
//! functions of values; how keys are stored is the backends' business.

use chrono::{DateTime, TimeDelta, Utc};

/// How long a finished request's answer is kept for replay under its key.
pub const KEY_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// Most keys one student keeps; past it, claiming a new key forgets the student's oldest finished
/// keys. Keys still running are never forgotten for room.
pub const MAX_KEYS_PER_STUDENT: usize = 1000;

/// How long a key may stay running where its request runs in the same process as its store (the
/// embedded store): a request takes seconds, never this long. Where keys outlive the process that
/// claimed them (PostgreSQL), a running key lapses with the lease of the request's replica.
pub const RUNNING_KEY_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// Where a key's request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPhase {
    /// Claimed at this time; its request has not finished.
    Running(DateTime<Utc>),
    /// Its request finished at this time; the answer is kept for replay.
    Done(DateTime<Utc>),
}

/// Whether a key has outlived its lifetime at `now` and is forgotten. A running key lives for
/// `running_lifetime`: longer than any request runs, so a key still running after it belongs to a
/// request that died with its process.
pub fn key_lapsed(phase: KeyPhase, now: DateTime<Utc>, running_lifetime: TimeDelta) -> bool {
    match phase {
        KeyPhase::Running(claimed) => now - claimed >= running_lifetime,
        KeyPhase::Done(completed) => now - completed >= KEY_LIFETIME,
    }
}

/// How many of a student's finished keys must go so that one more key fits under the cap, given
/// how many finished and running keys the student keeps now.
pub fn keys_to_forget(finished: usize, running: usize) -> usize {
    (finished + running + 1)
        .saturating_sub(MAX_KEYS_PER_STUDENT)
        .min(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_keys_last_a_day_and_running_ones_their_own_lifetime() {
        let t0 = Utc::now();
        let hour = TimeDelta::hours(1);
        assert!(!key_lapsed(
            KeyPhase::Done(t0),
            t0 + TimeDelta::hours(23),
            hour
        ));
        assert!(key_lapsed(
            KeyPhase::Done(t0),
            t0 + TimeDelta::hours(24),
            hour
        ));
        assert!(!key_lapsed(
            KeyPhase::Running(t0),
            t0 + TimeDelta::minutes(59),
            hour
        ));
        assert!(key_lapsed(KeyPhase::Running(t0), t0 + hour, hour));
    }

    #[test]
    fn the_cap_makes_room_from_finished_keys_only() {
        assert_eq!(keys_to_forget(0, 0), 0);
        assert_eq!(keys_to_forget(MAX_KEYS_PER_STUDENT - 1, 0), 0);
        assert_eq!(keys_to_forget(MAX_KEYS_PER_STUDENT, 0), 1);
        assert_eq!(keys_to_forget(MAX_KEYS_PER_STUDENT - 1, 1), 1);
        assert_eq!(keys_to_forget(3, MAX_KEYS_PER_STUDENT), 3);
    }
}
