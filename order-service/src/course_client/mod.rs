//! The course-service as order-service sees it: five idempotent reservation calls behind a trait,
//! so the workflow is tested with fakes and the HTTP details (retries, timeouts, tokens) stay in
//! one place; the waitlist and feed calls behind two more ([`waitlist`]), and [`CourseApi`], all
//! of them together, which the application is built around. Every reservation call answers a
//! [`Reservation`] or a [`CourseError`] that says what is known (see there). Nothing here decides
//! what an answer means for an order: that is the saga's ([`crate::domain::saga`]).

mod http;
mod retry;
pub mod waitlist;

pub use crate::domain::CourseError;
pub use http::{CallMetrics, HttpCourseClient, HttpCourseClientConfig};
pub use retry::CourseRetryStrategy;
pub use waitlist::{FeedClient, FeedPage, FeedRead, Joined, WaitlistClient};

use crate::domain::{CourseId, ReservationId, StudentId};
use async_trait::async_trait;
use shared_types::Reservation;

/// What a call to course-service is about: the course, the reservation id chosen by the order, and
/// the request id to forward.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub course_id: CourseId,
    pub reservation_id: ReservationId,
    pub request_id: String,
}

/// The reservation calls of course-service. Every one is idempotent under the same ids.
#[async_trait]
pub trait CourseClient: Send + Sync + std::fmt::Debug {
    /// `PUT` a hold for `student`; replays the stored reservation when it exists.
    async fn reserve(
        &self,
        ctx: &CallContext,
        student: &StudentId,
        expected_price_cents: Option<i64>,
    ) -> Result<Reservation, CourseError>;
    async fn confirm(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    async fn cancel(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    async fn release(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    async fn get_reservation(&self, ctx: &CallContext) -> Result<Reservation, CourseError>;
    /// Whether course-service answers its liveness probe now (one attempt, short timeout).
    async fn is_reachable(&self) -> bool;
}

/// Every call order-service makes to course-service: the reservations, the waitlist, the feed.
/// Implemented by whatever implements the three (the HTTP client, and the tests' fakes).
pub trait CourseApi: CourseClient + WaitlistClient + FeedClient {}

impl<T: CourseClient + WaitlistClient + FeedClient + ?Sized> CourseApi for T {}
