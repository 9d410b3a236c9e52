//! The event feed in PostgreSQL: triggers write every change's event in the change's own
//! transaction (migration `0002_events.sql`); positions are given afterwards, in commit order, by
//! `sequence_events()`; readers read by position. A waiting reader (long poll) looks again every
//! [`POLL`] until an event arrives or its time is up.

use super::{PgStore, transactions::unavailable};
use crate::{
    domain::{
        CourseId, ReservationId,
        feed::{Change, Counts, Cursor, EventType, FeedEvent},
    },
    store::{Refusal, StoreError},
};
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::{sync::Arc, time::Duration};

/// How often a waiting reader looks again.
const POLL: Duration = Duration::from_millis(25);

/// Most events positioned in one go.
const SEQUENCE_BATCH: i32 = 10_000;

impl PgStore {
    pub(super) async fn read_events(
        &self,
        after: Option<Cursor>,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let events = self.events_once(after, limit).await?;
            if !events.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(events);
            }
            tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + POLL)).await;
        }
    }

    /// Gives positions to the events committed since the last call (any replica's).
    async fn sequence(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT sequence_events($1)")
            .bind(SEQUENCE_BATCH)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(super) async fn head_of_feed(&self) -> Result<Cursor, StoreError> {
        self.sequence().await?;
        let head: i64 = sqlx::query("SELECT head FROM feed_positions")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?
            .try_get("head")
            .map_err(unavailable)?;
        Ok(Cursor(head as u64))
    }

    async fn events_once(
        &self,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        self.sequence().await?;
        let bounds = sqlx::query("SELECT head, trimmed_through FROM feed_positions")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        let head: i64 = bounds.try_get("head").map_err(unavailable)?;
        let trimmed: i64 = bounds.try_get("trimmed_through").map_err(unavailable)?;
        let from = match after {
            Some(Cursor(n)) if n > head as u64 => {
                return Err(StoreError::Refused(Refusal::CursorUnknown));
            }
            Some(Cursor(n)) if n < trimmed as u64 => {
                return Err(StoreError::Refused(Refusal::CursorExpired));
            }
            Some(Cursor(n)) => n as i64,
            None => trimmed,
        };
        let rows = sqlx::query(
            "SELECT position, type, course_id, reservation_id, student_id, at, \
                    seats_total, seats_held, seats_sold, waitlist_length \
             FROM events WHERE position > $1 ORDER BY position LIMIT $2",
        )
        .bind(from)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(event_from).collect()
    }

    /// Forgets the oldest events, as long as every event up to them is older than `cutoff`.
    pub(super) async fn trim_feed(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "WITH upto AS ( \
               SELECT coalesce( \
                 (SELECT min(position) - 1 FROM events WHERE position IS NOT NULL AND at >= $1), \
                 (SELECT head FROM feed_positions)) AS p), \
             gone AS (DELETE FROM events WHERE position <= (SELECT p FROM upto) RETURNING 1), \
             moved AS (UPDATE feed_positions \
                       SET trimmed_through = greatest(trimmed_through, (SELECT p FROM upto))) \
             SELECT count(*) AS n FROM gone",
        )
        .bind(cutoff)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let n: i64 = done.try_get("n").map_err(unavailable)?;
        Ok(n as u64)
    }
}

fn event_from(row: &sqlx::postgres::PgRow) -> Result<FeedEvent, StoreError> {
    let read = || -> Result<FeedEvent, sqlx::Error> {
        let kind: String = row.try_get("type")?;
        let kind = EventType::parse(&kind).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown event type {kind:?} in the database").into())
        })?;
        let count = |name: &str| -> Result<u32, sqlx::Error> {
            let n: i32 = row.try_get(name)?;
            Ok(u32::try_from(n).unwrap_or(0))
        };
        let (total, held, sold) = (
            count("seats_total")?,
            count("seats_held")?,
            count("seats_sold")?,
        );
        let position: i64 = row.try_get("position")?;
        let student: Option<String> = row.try_get("student_id")?;
        Ok(FeedEvent {
            seq: position as u64,
            change: Change {
                kind,
                course_id: row.try_get::<CourseId, _>("course_id")?,
                reservation_id: row.try_get::<Option<ReservationId>, _>("reservation_id")?,
                student_id: student.map(Arc::from),
                at: row.try_get("at")?,
                course: Counts {
                    seats_total: total,
                    seats_available: total.saturating_sub(held + sold),
                    seats_held: held,
                    seats_sold: sold,
                    waitlist_length: count("waitlist_length")?,
                },
            },
        })
    };
    read().map_err(unavailable)
}
