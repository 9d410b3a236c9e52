//! The event feed's vocabulary and rules, the same for every backend: what a ledger's events are
//! told as on the feed ([`describe`]), each event's seat counts as they stood right after it, and
//! the opaque cursor a reader passes back ([`Cursor`]).
//!
//! Every feed event has a number; numbers grow in the order changes were made durable, with no
//! gaps a reader could fall into (a backend hands an event to readers only once every event
//! numbered before it is durable too). A cursor is that number, wrapped so that readers treat it
//! as opaque.

use super::{CourseId, CourseSnapshot, LedgerEvent, ReservationId, Status, waitlist::EntryStatus};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What happened, as the feed names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    CourseCreated,
    CourseUpdated,
    Held,
    Confirmed,
    Cancelled,
    Expired,
    Released,
    Offered,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::CourseCreated,
        EventType::CourseUpdated,
        EventType::Held,
        EventType::Confirmed,
        EventType::Cancelled,
        EventType::Expired,
        EventType::Released,
        EventType::Offered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CourseCreated => "course.created",
            EventType::CourseUpdated => "course.updated",
            EventType::Held => "reservation.held",
            EventType::Confirmed => "reservation.confirmed",
            EventType::Cancelled => "reservation.cancelled",
            EventType::Expired => "reservation.expired",
            EventType::Released => "reservation.released",
            EventType::Offered => "reservation.offered",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A course's seat counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub seats_total: u32,
    pub seats_available: u32,
    pub seats_held: u32,
    pub seats_sold: u32,
    pub waitlist_length: u32,
}

impl Counts {
    pub fn of(snapshot: &CourseSnapshot) -> Counts {
        Counts {
            seats_total: snapshot.seats_total,
            seats_available: snapshot.seats_available(),
            seats_held: snapshot.seats_held,
            seats_sold: snapshot.seats_sold,
            waitlist_length: snapshot.waitlist_length,
        }
    }
}

/// One change as the feed tells it, before a backend numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: EventType,
    pub course_id: CourseId,
    pub reservation_id: Option<ReservationId>,
    pub student_id: Option<Arc<str>>,
    pub at: DateTime<Utc>,
    /// The course's counts right after this change.
    pub course: Counts,
}

/// A numbered feed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub seq: u64,
    pub change: Change,
}

/// How one ledger event moves the held, sold and waiting counts, and what the feed calls it
/// (`None`: not a change readers are told of by itself, such as a tombstone, or an entry offered a
/// seat, which the offer's hold tells).
fn told(event: &LedgerEvent) -> (Option<EventType>, [i64; 3]) {
    match event {
        LedgerEvent::CourseCreated => (Some(EventType::CourseCreated), [0; 3]),
        LedgerEvent::CourseChanged => (Some(EventType::CourseUpdated), [0; 3]),
        LedgerEvent::Held { offer, .. } => {
            let kind = if *offer {
                EventType::Offered
            } else {
                EventType::Held
            };
            (Some(kind), [1, 0, 0])
        }
        LedgerEvent::Moved { from, to, .. } => {
            let (held, sold) = match (from, to) {
                (Status::Held, Status::Confirmed) => (-1, 1),
                (Status::Held, _) => (-1, 0),
                (Status::Confirmed, _) => (0, -1),
                _ => (0, 0),
            };
            let kind = match to {
                Status::Held => None,
                Status::Confirmed => Some(EventType::Confirmed),
                Status::Cancelled => Some(EventType::Cancelled),
                Status::Expired => Some(EventType::Expired),
                Status::Released => Some(EventType::Released),
            };
            (kind, [held, sold, 0])
        }
        // Joining or leaving the queue changes the course's waitlist length: a course update.
        LedgerEvent::Entry { from, to, .. } => match (from, to) {
            (None, _) => (Some(EventType::CourseUpdated), [0, 0, 1]),
            (Some(EntryStatus::Waiting), EntryStatus::Offered) => (None, [0, 0, -1]),
            (Some(EntryStatus::Waiting), _) => (Some(EventType::CourseUpdated), [0, 0, -1]),
            _ => (None, [0; 3]),
        },
        LedgerEvent::Tombstoned { .. } | LedgerEvent::Forgotten { .. } => (None, [0; 3]),
    }
}

/// The feed's changes for what a ledger did (`events`, in order), given the course as it stands
/// after all of them: each change carries the counts right after it, worked back from the end.
pub fn describe(after: &CourseSnapshot, events: &[LedgerEvent], at: DateTime<Utc>) -> Vec<Change> {
    let end = Counts::of(after);
    let mut counts = [
        i64::from(end.seats_held),
        i64::from(end.seats_sold),
        i64::from(end.waitlist_length),
    ];
    let told: Vec<_> = events.iter().map(|e| (e, told(e))).collect();
    for (_, (_, delta)) in &told {
        counts.iter_mut().zip(delta).for_each(|(c, d)| *c -= d);
    }
    let total = end.seats_total;
    let mut changes = Vec::new();
    for (event, (kind, delta)) in told {
        counts.iter_mut().zip(delta).for_each(|(c, d)| *c += d);
        let Some(kind) = kind else {
            continue;
        };
        let [h, s, w] = counts.map(|c| u32::try_from(c).unwrap_or(0));
        let (reservation_id, student_id) = match event {
            LedgerEvent::Held { id, student, .. } => (Some(*id), Some(Arc::clone(student))),
            LedgerEvent::Moved { id, student, .. } => (Some(*id), student.clone()),
            _ => (None, None),
        };
        changes.push(Change {
            kind,
            course_id: after.id,
            reservation_id,
            student_id,
            at,
            course: Counts {
                seats_total: total,
                seats_available: total.saturating_sub(h + s),
                seats_held: h,
                seats_sold: s,
                waitlist_length: w,
            },
        });
    }
    changes
}

/// Where a reader stands in the feed: after the event numbered `self.0` (0: before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(pub u64);

/// Why a cursor cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`after` is not a cursor this feed handed out")]
pub struct BadCursor;

const CURSOR_PREFIX: &str = "ev1_";

impl Cursor {
    /// The opaque text a reader is given.
    pub fn encode(self) -> String {
        format!("{CURSOR_PREFIX}{:016x}", self.0)
    }

    pub fn decode(text: &str) -> Result<Cursor, BadCursor> {
        let hex = text.strip_prefix(CURSOR_PREFIX).ok_or(BadCursor)?;
        if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadCursor);
        }
        u64::from_str_radix(hex, 16)
            .map(Cursor)
            .map_err(|_| BadCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CourseBook, HoldRequest, NewCourse, course::CourseDetails};

    fn book(seats: u32) -> CourseBook {
        let details = CourseDetails {
            title: "t".into(),
            description: None,
            instructor_id: "i".into(),
            currency: crate::domain::Currency::USD,
        };
        CourseBook::new(
            CourseId::new_v7(),
            NewCourse {
                details,
                price_cents: 100,
                seats,
            },
            Utc::now(),
        )
    }

    fn request(student: &str) -> HoldRequest {
        HoldRequest {
            student: student.into(),
            expected_price_cents: None,
        }
    }

    #[test]
    fn each_change_carries_the_counts_right_after_it() {
        let mut book = book(2);
        let now = Utc::now();
        let (a, b) = (ReservationId::new_v7(), ReservationId::new_v7());
        book.hold(a, &request("s1"), now, now + chrono::TimeDelta::seconds(1))
            .unwrap();
        // At `later`, a lapsed; b's hold expires a on the way (one call, several events).
        let later = now + chrono::TimeDelta::seconds(5);
        book.expire(a, later);
        book.hold(
            b,
            &request("s2"),
            later,
            later + chrono::TimeDelta::seconds(60),
        )
        .unwrap();
        book.confirm(b, later).unwrap();
        let events = book.take_events();
        let changes = describe(&book.snapshot(), &events, later);
        let kinds: Vec<_> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                EventType::CourseCreated,
                EventType::Held,
                EventType::Expired,
                EventType::Held,
                EventType::Confirmed
            ]
        );
        let counts: Vec<_> = changes
            .iter()
            .map(|c| {
                (
                    c.course.seats_available,
                    c.course.seats_held,
                    c.course.seats_sold,
                )
            })
            .collect();
        assert_eq!(
            counts,
            [(2, 0, 0), (1, 1, 0), (2, 0, 0), (1, 1, 0), (1, 0, 1)]
        );
        assert_eq!(changes[1].reservation_id, Some(a));
        assert_eq!(changes[1].student_id.as_deref(), Some("s1"));
        assert_eq!(changes[0].reservation_id, None);
    }

    #[test]
    fn tombstones_are_not_told() {
        let mut book = book(1);
        book.take_events();
        book.cancel(ReservationId::new_v7(), Utc::now()).unwrap();
        let events = book.take_events();
        assert_eq!(events.len(), 1);
        assert!(describe(&book.snapshot(), &events, Utc::now()).is_empty());
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        for n in [0, 1, 41, u64::MAX] {
            assert_eq!(Cursor::decode(&Cursor(n).encode()), Ok(Cursor(n)));
        }
        for bad in [
            "",
            "ev1_",
            "ev1_12",
            "ev1_zzzzzzzzzzzzzzzz",
            "12",
            "ev2_0000000000000001",
        ] {
            assert_eq!(Cursor::decode(bad), Err(BadCursor), "{bad}");
        }
    }

    #[test]
    fn event_types_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }
}
