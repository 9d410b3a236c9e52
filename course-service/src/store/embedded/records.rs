//! The embedded backend's durable records: how courses and reservations are written to the store
//! and read back into ledgers at start-up.
//!
//! Three tables, JSON values (tolerant of added fields), and the feed's `events` (see `feed`):
//! `courses` keyed by course id, `reservations` keyed by reservation id followed by course id
//! (reservation ids are unique only within a course), `waitlist` keyed by entry id. Callers choose time-ordered (v7) ids, so new
//! reservations land at the end of the tree: each commit rewrites a few pages, not one per course.
//! Counters are not stored: they are recomputed from reservation statuses when a ledger is
//! restored.

use crate::domain::{
    CourseBook, CourseDetails, CourseId, CourseSnapshot, Currency, EntryId, LedgerEvent,
    Reservation, ReservationId, Status,
    waitlist::{EntryStatus, WaitEntry},
};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, sync::Arc};
use storage_kit::journal::{Change, Put, Store};

const COURSES: &str = "courses";
const RESERVATIONS: &str = "reservations";
const WAITLIST: &str = "waitlist";

/// One change to make durable.
#[derive(Debug)]
pub enum CourseChange {
    Course(CourseSnapshot),
    Reservation(CourseId, ReservationId, Reservation),
    /// A tombstone aged out.
    Removed(CourseId, ReservationId),
    /// A waitlist entry as it stands.
    Entry(CourseId, WaitEntry),
    /// A feed event, written with the change it tells of.
    Event(crate::domain::feed::FeedEvent),
    /// A feed event past the retention, forgotten.
    EventRemoved(u64),
}

impl CourseChange {
    /// The records `events` call for, as `book` stands now: the course when its attributes
    /// changed, each reservation an event touched (once, as it stands), each tombstone forgotten.
    pub fn from_events(book: &CourseBook, events: &[LedgerEvent], out: &mut Vec<CourseChange>) {
        let course = book.id();
        if events
            .iter()
            .any(|e| matches!(e, LedgerEvent::CourseCreated | LedgerEvent::CourseChanged))
        {
            out.push(CourseChange::Course(book.snapshot()));
        }
        let mut touched: Vec<ReservationId> = events
            .iter()
            .filter(|e| !matches!(e, LedgerEvent::Forgotten { .. }))
            .filter_map(LedgerEvent::reservation)
            .collect();
        touched.sort_unstable();
        touched.dedup();
        out.extend(touched.into_iter().filter_map(|id| {
            book.stored(id)
                .map(|r| CourseChange::Reservation(course, id, r.clone()))
        }));
        out.extend(events.iter().filter_map(|e| match e {
            LedgerEvent::Forgotten { id } => Some(CourseChange::Removed(course, *id)),
            _ => None,
        }));
        let mut entries: Vec<EntryId> = events
            .iter()
            .filter_map(|e| match e {
                LedgerEvent::Entry { id, .. } => Some(*id),
                _ => None,
            })
            .collect();
        entries.sort_unstable();
        entries.dedup();
        out.extend(entries.into_iter().filter_map(|id| {
            book.waitlist()
                .get(id)
                .map(|e| CourseChange::Entry(course, e.clone()))
        }));
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredCourse {
    id: CourseId,
    title: String,
    description: Option<String>,
    instructor_id: String,
    price_cents: i64,
    currency: String,
    seats_total: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredReservation {
    course_id: CourseId,
    id: ReservationId,
    student_id: Option<String>,
    unit_price_cents: i64,
    currency: String,
    expected_price_cents: Option<i64>,
    status: Status,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredEntry {
    course_id: CourseId,
    id: EntryId,
    student_id: String,
    status: EntryStatus,
    reservation_id: Option<ReservationId>,
    joined: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Change for CourseChange {
    fn encode(&self, out: &mut Vec<Put>) {
        let (table, key, value) = match self {
            CourseChange::Event(event) => return super::feed::put(event, out),
            CourseChange::EventRemoved(seq) => return super::feed::remove(*seq, out),
            CourseChange::Removed(course, id) => {
                let key = reservation_key(*course, *id);
                out.push(Put {
                    table: RESERVATIONS,
                    key,
                    value: None,
                });
                return;
            }
            CourseChange::Entry(course, e) => {
                let stored = StoredEntry {
                    course_id: *course,
                    id: e.id,
                    student_id: e.student.to_string(),
                    status: e.status,
                    reservation_id: e.reservation,
                    joined: e.joined,
                    created_at: e.created_at,
                    updated_at: e.updated_at,
                };
                (
                    WAITLIST,
                    e.id.as_bytes().to_vec(),
                    serde_json::to_vec(&stored),
                )
            }
            CourseChange::Course(c) => {
                let stored = StoredCourse {
                    id: c.id,
                    title: c.details.title.to_string(),
                    description: c.details.description.as_deref().map(str::to_owned),
                    instructor_id: c.details.instructor_id.to_string(),
                    price_cents: c.price_cents,
                    currency: c.details.currency.as_str().to_owned(),
                    seats_total: c.seats_total,
                    created_at: c.created_at,
                    updated_at: c.updated_at,
                };
                (
                    COURSES,
                    c.id.as_bytes().to_vec(),
                    serde_json::to_vec(&stored),
                )
            }
            CourseChange::Reservation(course, id, r) => {
                let stored = StoredReservation {
                    course_id: *course,
                    id: *id,
                    student_id: r.student.as_deref().map(str::to_owned),
                    unit_price_cents: r.unit_price_cents,
                    currency: r.currency.as_str().to_owned(),
                    expected_price_cents: r.expected_price_cents,
                    status: r.status,
                    expires_at: r.expires_at,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                };
                (
                    RESERVATIONS,
                    reservation_key(*course, *id),
                    serde_json::to_vec(&stored),
                )
            }
        };
        let value = value.unwrap_or_else(|e| unreachable!("plain records always serialize: {e}"));
        out.push(Put {
            table,
            key,
            value: Some(value),
        });
    }
}

/// Reservation ids are unique within a course only: the key is the (time-ordered) reservation id
/// followed by the course id.
fn reservation_key(course: CourseId, id: ReservationId) -> Vec<u8> {
    [id.as_bytes().as_slice(), course.as_bytes()].concat()
}

/// Reads every course, reservation and waitlist entry and rebuilds the ledgers.
pub fn load(store: &Store) -> anyhow::Result<Vec<CourseBook>> {
    let mut entries: HashMap<CourseId, Vec<WaitEntry>> = HashMap::new();
    for (key, value) in store.read_all(WAITLIST)? {
        let e: StoredEntry = serde_json::from_slice(&value)
            .with_context(|| format!("unreadable waitlist entry under key {key:02x?}"))?;
        entries.entry(e.course_id).or_default().push(WaitEntry {
            id: e.id,
            student: Arc::from(e.student_id),
            status: e.status,
            reservation: e.reservation_id,
            joined: e.joined,
            created_at: e.created_at,
            updated_at: e.updated_at,
        });
    }
    let mut reservations: HashMap<CourseId, Vec<(ReservationId, Reservation)>> = HashMap::new();
    for (key, value) in store.read_all(RESERVATIONS)? {
        let r: StoredReservation = serde_json::from_slice(&value)
            .with_context(|| format!("unreadable reservation record under key {key:02x?}"))?;
        let currency = Currency::parse(&r.currency)
            .map_err(|e| anyhow::anyhow!("reservation {}: {e}", r.id))?;
        let reservation = Reservation {
            student: r.student_id.map(Arc::from),
            unit_price_cents: r.unit_price_cents,
            currency,
            expected_price_cents: r.expected_price_cents,
            status: r.status,
            expires_at: r.expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        };
        reservations
            .entry(r.course_id)
            .or_default()
            .push((r.id, reservation));
    }
    let mut books = Vec::new();
    for (key, value) in store.read_all(COURSES)? {
        let c: StoredCourse = serde_json::from_slice(&value)
            .with_context(|| format!("unreadable course record under key {key:02x?}"))?;
        let currency =
            Currency::parse(&c.currency).map_err(|e| anyhow::anyhow!("course {}: {e}", c.id))?;
        let snapshot = CourseSnapshot {
            id: c.id,
            details: Arc::new(CourseDetails {
                title: Arc::from(c.title),
                description: c.description.map(Arc::from),
                instructor_id: Arc::from(c.instructor_id),
                currency,
            }),
            price_cents: c.price_cents,
            seats_total: c.seats_total,
            seats_held: 0,
            seats_sold: 0,
            waitlist_length: 0,
            created_at: c.created_at,
            updated_at: c.updated_at,
        };
        let held = reservations.remove(&c.id).unwrap_or_default();
        let waiting = entries.remove(&c.id).unwrap_or_default();
        books.push(CourseBook::restore(snapshot, held, waiting).map_err(|e| anyhow::anyhow!(e))?);
    }
    if let Some(orphan) = reservations.keys().next() {
        anyhow::bail!("reservations of course {orphan}, which the store does not have");
    }
    if let Some(orphan) = entries.keys().next() {
        anyhow::bail!("waitlist entries of course {orphan}, which the store does not have");
    }
    Ok(books)
}
