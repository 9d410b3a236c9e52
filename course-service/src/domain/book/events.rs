//! What a ledger tells of itself: one [`LedgerEvent`] per thing it did, in order. The embedded
//! store derives its records, its deadline index, each student's count of holds and the metrics
//! from these alone.

use crate::domain::{EntryId, ReservationId, Status, waitlist::EntryStatus};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// One thing a ledger did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEvent {
    /// The course is new.
    CourseCreated,
    /// The course's own attributes (price, capacity) changed.
    CourseChanged,
    /// A new hold of `student`, to lapse at `expires_at`; `offer`: a freed seat handed to the
    /// first waiting student.
    Held {
        id: ReservationId,
        student: Arc<str>,
        expires_at: DateTime<Utc>,
        offer: bool,
    },
    /// A reservation moved from one status to another (a seat was sold or came back).
    Moved {
        id: ReservationId,
        from: Status,
        to: Status,
        student: Option<Arc<str>>,
    },
    /// An id cancelled before it was ever reserved, kept (so a late hold cannot use it) until
    /// `until`.
    Tombstoned {
        id: ReservationId,
        until: DateTime<Utc>,
    },
    /// A tombstone past its time, forgotten.
    Forgotten { id: ReservationId },
    /// A waitlist entry is new (`from: None`) or moved on.
    Entry {
        id: EntryId,
        from: Option<EntryStatus>,
        to: EntryStatus,
    },
}

impl LedgerEvent {
    /// The reservation this event is about, if any.
    pub fn reservation(&self) -> Option<ReservationId> {
        match self {
            LedgerEvent::CourseCreated | LedgerEvent::CourseChanged | LedgerEvent::Entry { .. } => {
                None
            }
            LedgerEvent::Held { id, .. }
            | LedgerEvent::Moved { id, .. }
            | LedgerEvent::Tombstoned { id, .. }
            | LedgerEvent::Forgotten { id } => Some(*id),
        }
    }

    /// The status a reservation entered with this event (for counting transitions).
    pub fn entered(&self) -> Option<Status> {
        match self {
            LedgerEvent::Held { .. } => Some(Status::Held),
            LedgerEvent::Moved { to, .. } => Some(*to),
            _ => None,
        }
    }

    /// The student whose hold ended with this event (confirmed, cancelled or expired).
    pub fn ended_hold_of(&self) -> Option<&Arc<str>> {
        match self {
            LedgerEvent::Moved {
                from: Status::Held,
                student,
                ..
            } => student.as_ref(),
            _ => None,
        }
    }

    /// The student a freed seat was offered to (an offer counts against the hold limit).
    pub fn offered_to(&self) -> Option<&Arc<str>> {
        match self {
            LedgerEvent::Held {
                student,
                offer: true,
                ..
            } => Some(student),
            _ => None,
        }
    }

    /// The deadline this event puts in the expiry index: a hold's lapse, a tombstone's end.
    pub fn deadline(&self) -> Option<(ReservationId, DateTime<Utc>)> {
        match self {
            LedgerEvent::Held { id, expires_at, .. } => Some((*id, *expires_at)),
            LedgerEvent::Tombstoned { id, until } => Some((*id, *until)),
            _ => None,
        }
    }
}
