//! The waitlist and feed calls of course-service, beside the reservation calls of
//! [`super::CourseClient`]: joining, listing and leaving a course's waitlist on a student's behalf
//! ([`WaitlistClient`]), and reading the event feed that tells of offers ([`FeedClient`]). Each
//! join and leave is idempotent (a repeat answers the same entry), so retrying them is safe, as
//! it is for reads. Errors are [`CourseError`]s, with the stable `code` of a refusal.

use super::CourseError;
use crate::domain::{CourseId, StudentId};
use async_trait::async_trait;
use shared_types::{Event, WaitEntry};
use std::time::Duration;
use uuid::Uuid;

/// A join's answer: the entry, and whether this call created it (201) rather than finding the
/// student's open entry (200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub entry: WaitEntry,
    pub created: bool,
}

/// The waitlist calls of course-service (service routes).
#[async_trait]
pub trait WaitlistClient: Send + Sync + std::fmt::Debug {
    /// `POST /api/courses/{course_id}/waitlist`: the student's new entry, or their open one.
    /// Refusals: `course_not_found`, `seats_available`, `already_enrolled`.
    async fn join_waitlist(
        &self,
        course: CourseId,
        student: &StudentId,
        request_id: &str,
    ) -> Result<Joined, CourseError>;

    /// `GET /api/waitlist?student_id=`: every entry of the student, oldest first.
    async fn waitlist_of(
        &self,
        student: &StudentId,
        request_id: &str,
    ) -> Result<Vec<WaitEntry>, CourseError>;

    /// `POST /api/waitlist/entries/{entry_id}/leave`: the entry, `left` unless it had ended already.
    /// Refusal: `waitlist_entry_not_found` (also another student's entry).
    async fn leave_waitlist(
        &self,
        entry: Uuid,
        student: &StudentId,
        request_id: &str,
    ) -> Result<WaitEntry, CourseError>;
}

/// One read of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRead {
    /// The cursor of the last event handled; `None`: from the oldest event kept.
    pub after: Option<String>,
    /// Most events in the answer (1..=1000).
    pub limit: u32,
    /// How long course-service waits for an event when none follows `after` yet (at most 30 s).
    pub wait: Duration,
    pub request_id: String,
}

/// An answer of the feed: events after the cursor, oldest first, and the cursor to read on from
/// (`None` only when the feed is empty and no cursor was given).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedPage {
    pub items: Vec<Event>,
    pub next_cursor: Option<String>,
}

/// course-service's event feed (service route).
#[async_trait]
pub trait FeedClient: Send + Sync + std::fmt::Debug {
    /// `GET /api/events?after=&limit=&wait_ms=` (a long poll when `wait` is set). Refusal:
    /// `cursor_expired` (410) when the events after `after` are no longer kept.
    async fn events(&self, read: &FeedRead) -> Result<FeedPage, CourseError>;
}
