//! The embedded backend's event feed: every change the ledgers tell of, numbered and written in
//! the same journal append as the change itself, so an event is durable exactly when its change
//! is.
//!
//! # Order and durability
//! Events are numbered inside [`Journal::append_with`](storage_kit::journal::Journal::append_with),
//! under the journal's ordering lock: numbers grow in append order, and appends become durable in
//! that order. The newest events stay in memory (the *tail*) with the number of the append that
//! carries them; a reader is given an event only once the journal's durable mark has passed its
//! append, and stops at the first one that is not durable yet, so it can never pass over an event
//! that becomes durable later. Events older than the tail are read back from the store's `events`
//! table; they left the tail only once durable.
//!
//! # Retention
//! [`Feed::trim`] forgets events older than the retention (at least 24 hours), oldest first, through
//! the journal like any other change. A cursor older than the oldest kept event is refused as
//! expired rather than silently skipping what was forgotten.

use super::records::CourseChange;
use crate::domain::feed::{Change, Counts, Cursor, EventType, FeedEvent};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::{collections::VecDeque, sync::Arc, time::Duration};
use storage_kit::journal::{DurableWatch, Put, TableReader};

/// The table events are kept in, keyed by their number (big-endian, so in order).
pub const EVENTS: &str = "events";

/// How many of the newest events are kept in memory. With state in memory only (lost on restart
/// anyway) there is no table behind the tail, so only these are kept.
const TAIL: usize = 65_536;

/// Why a read of the feed failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the cursor points at events that are no longer kept")]
    CursorExpired,
    #[error("the cursor is ahead of every event this feed has numbered")]
    CursorUnknown,
    #[error("the event feed cannot be read: {0}")]
    Store(String),
}

/// The embedded feed; one per inventory.
#[derive(Debug)]
pub struct Feed {
    tail: Mutex<Tail>,
    /// Whether events are written to the store (false: state in memory only).
    on_disk: bool,
    /// The durable table behind the tail; let go of at close, with the store.
    table: parking_lot::RwLock<Option<TableReader>>,
    /// The journal's durable mark (`None`: in memory, everything is "durable" at once).
    durable: Option<DurableWatch>,
    /// Wakes long polls when events arrive with state in memory only.
    arrived: tokio::sync::Notify,
}

#[derive(Debug)]
struct Tail {
    /// The number the next event gets.
    next: u64,
    /// The oldest number still kept (`next` when nothing is).
    oldest: u64,
    /// The newest events, each with the number of the journal append that carries it.
    events: VecDeque<(u64, FeedEvent)>,
}

impl Feed {
    /// A feed for state kept in memory only.
    pub fn in_memory() -> Feed {
        Feed {
            tail: Mutex::new(Tail {
                next: 1,
                oldest: 1,
                events: VecDeque::new(),
            }),
            on_disk: false,
            table: parking_lot::RwLock::new(None),
            durable: None,
            arrived: tokio::sync::Notify::new(),
        }
    }

    /// The feed of a store read back at start-up: numbering goes on after the last kept event.
    pub fn restore(table: TableReader, durable: DurableWatch) -> anyhow::Result<Feed> {
        let newest = table.last(TAIL)?;
        let events = newest
            .iter()
            .map(|(_, value)| decode(value).map(|e| (0, e)))
            .collect::<anyhow::Result<VecDeque<_>>>()?;
        let next = events.back().map_or(1, |(_, e)| e.seq + 1);
        let oldest = match table.range_from(&[], 1)?.first() {
            Some((_, value)) => decode(value)?.seq,
            None => next,
        };
        Ok(Feed {
            tail: Mutex::new(Tail {
                next,
                oldest,
                events,
            }),
            on_disk: true,
            table: parking_lot::RwLock::new(Some(table)),
            durable: Some(durable),
            arrived: tokio::sync::Notify::new(),
        })
    }

    fn durable_mark(&self) -> u64 {
        self.durable
            .as_ref()
            .map_or(u64::MAX, DurableWatch::durable)
    }

    /// Numbers `changes`, carried by journal append `append`, keeps them in the tail and adds
    /// their records to `out`. Called under the journal's ordering lock (or, in memory, under the
    /// course lock: the tail's own lock orders them then).
    pub fn number(&self, append: u64, changes: Vec<Change>, out: &mut Vec<CourseChange>) {
        if changes.is_empty() {
            return;
        }
        let durable = self.durable_mark();
        {
            let mut tail = self.tail.lock();
            for change in changes {
                let event = FeedEvent {
                    seq: tail.next,
                    change,
                };
                tail.next += 1;
                if self.on_disk {
                    out.push(CourseChange::Event(event.clone()));
                }
                tail.events.push_back((append, event));
            }
            while tail.events.len() > TAIL
                && tail.events.front().is_some_and(|(a, _)| *a <= durable)
            {
                tail.events.pop_front();
                if !self.on_disk {
                    tail.oldest = tail.events.front().map_or(tail.next, |(_, e)| e.seq);
                }
            }
        }
        self.arrived.notify_waiters();
    }

    /// Up to `limit` durable events after `after` (`None`: from the oldest kept), in order.
    pub fn read(&self, after: Option<Cursor>, limit: usize) -> Result<Vec<FeedEvent>, FeedError> {
        let durable = self.durable_mark();
        let tail = self.tail.lock();
        let from = match after {
            Some(Cursor(n)) if n.saturating_add(1) < tail.oldest => {
                return Err(FeedError::CursorExpired);
            }
            Some(Cursor(n)) if n >= tail.next => return Err(FeedError::CursorUnknown),
            Some(Cursor(n)) => n.saturating_add(1),
            None => tail.oldest,
        };
        let tail_start = tail.events.front().map_or(tail.next, |(_, e)| e.seq);
        if from >= tail_start {
            let skip = usize::try_from(from - tail_start).unwrap_or(usize::MAX);
            return Ok(tail
                .events
                .iter()
                .skip(skip)
                .take_while(|(append, _)| *append <= durable)
                .take(limit)
                .map(|(_, e)| e.clone())
                .collect());
        }
        drop(tail);
        // Older than the tail: on disk, and durable (events leave the tail only once durable).
        let Some(table) = self.table.read().clone() else {
            return Err(FeedError::Store("the store is closed".into()));
        };
        let want = limit.min(usize::try_from(tail_start - from).unwrap_or(usize::MAX));
        table
            .range_from(&from.to_be_bytes(), want)
            .map_err(|e| FeedError::Store(e.to_string()))?
            .iter()
            .map(|(_, value)| decode(value).map_err(|e| FeedError::Store(e.to_string())))
            .collect()
    }

    /// Like [`Feed::read`], but when nothing is there yet waits up to `wait` for events to
    /// become durable.
    pub async fn wait(
        &self,
        after: Option<Cursor>,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<FeedEvent>, FeedError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut durable = self.durable.clone();
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let events = self.read(after, limit)?;
            if !events.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(events);
            }
            let moved = async {
                match durable.as_mut() {
                    Some(watch) => watch.changed().await.is_ok(),
                    None => {
                        arrived.await;
                        true
                    }
                }
            };
            tokio::select! {
                ok = moved => if !ok {
                    return Err(FeedError::Store("the store failed".into()));
                },
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// The numbers of kept events older than `cutoff`, oldest first, at most `max` of them, and
    /// marks them forgotten once the caller has made their removal durable ([`Feed::forgotten`]).
    pub fn older_than(&self, cutoff: DateTime<Utc>, max: usize) -> Result<Vec<u64>, FeedError> {
        if !self.on_disk {
            let mut tail = self.tail.lock();
            while tail
                .events
                .front()
                .is_some_and(|(_, e)| e.change.at < cutoff)
            {
                tail.events.pop_front();
            }
            tail.oldest = tail.events.front().map_or(tail.next, |(_, e)| e.seq);
            return Ok(Vec::new());
        }
        let Some(table) = self.table.read().clone() else {
            return Ok(Vec::new());
        };
        let durable = self.durable_mark();
        let (oldest, tail_start) = {
            let tail = self.tail.lock();
            let first_not_durable = tail
                .events
                .iter()
                .find(|(append, _)| *append > durable)
                .map_or(tail.next, |(_, e)| e.seq);
            (tail.oldest, first_not_durable)
        };
        let rows = table
            .range_from(&oldest.to_be_bytes(), max)
            .map_err(|e| FeedError::Store(e.to_string()))?;
        let mut old = Vec::new();
        for (_, value) in rows {
            let event = decode(&value).map_err(|e| FeedError::Store(e.to_string()))?;
            if event.change.at >= cutoff || event.seq >= tail_start {
                break;
            }
            old.push(event.seq);
        }
        Ok(old)
    }

    /// Events up to `last` are no longer kept (their removal is durable).
    pub fn forgotten(&self, last: u64) {
        let mut tail = self.tail.lock();
        tail.oldest = tail.oldest.max(last + 1);
        while tail.events.front().is_some_and(|(_, e)| e.seq <= last) {
            tail.events.pop_front();
        }
    }

    /// Lets go of the store's table (at shutdown, with the journal).
    pub fn close(&self) {
        self.table.write().take();
    }

    /// The number of the newest event so far (0: none yet).
    pub fn head(&self) -> u64 {
        self.tail.lock().next - 1
    }
}

/// An event as stored in the `events` table.
#[derive(Debug, Serialize, Deserialize)]
struct StoredEvent {
    seq: u64,
    #[serde(rename = "type")]
    kind: String,
    course_id: crate::domain::CourseId,
    reservation_id: Option<crate::domain::ReservationId>,
    student_id: Option<String>,
    at: DateTime<Utc>,
    seats_total: u32,
    seats_available: u32,
    seats_held: u32,
    seats_sold: u32,
    waitlist_length: u32,
}

/// The record of `event`.
pub fn put(event: &FeedEvent, out: &mut Vec<Put>) {
    let c = &event.change;
    let stored = StoredEvent {
        seq: event.seq,
        kind: c.kind.as_str().to_owned(),
        course_id: c.course_id,
        reservation_id: c.reservation_id,
        student_id: c.student_id.as_deref().map(str::to_owned),
        at: c.at,
        seats_total: c.course.seats_total,
        seats_available: c.course.seats_available,
        seats_held: c.course.seats_held,
        seats_sold: c.course.seats_sold,
        waitlist_length: c.course.waitlist_length,
    };
    out.push(Put {
        table: EVENTS,
        key: event.seq.to_be_bytes().to_vec(),
        value: Some(serde_json::to_vec(&stored).unwrap_or_default()),
    });
}

/// The removal of event `seq`.
pub fn remove(seq: u64, out: &mut Vec<Put>) {
    out.push(Put {
        table: EVENTS,
        key: seq.to_be_bytes().to_vec(),
        value: None,
    });
}

fn decode(value: &[u8]) -> anyhow::Result<FeedEvent> {
    let s: StoredEvent = serde_json::from_slice(value)?;
    let kind = EventType::parse(&s.kind)
        .ok_or_else(|| anyhow::anyhow!("unknown event type {:?} in the store", s.kind))?;
    Ok(FeedEvent {
        seq: s.seq,
        change: Change {
            kind,
            course_id: s.course_id,
            reservation_id: s.reservation_id,
            student_id: s.student_id.map(Arc::from),
            at: s.at,
            course: Counts {
                seats_total: s.seats_total,
                seats_available: s.seats_available,
                seats_held: s.seats_held,
                seats_sold: s.seats_sold,
                waitlist_length: s.waitlist_length,
            },
        },
    })
}
