//! A student's waitlist, as order-service shows it: course-service keeps the entries (its waitlist
//! routes are for services only), and order-service adds to each offered entry the order it made
//! for the offer (named by the offer's reservation id), once that order is recorded. Leaving an
//! entry that holds an offer gives the offer up at course-service (its hold is cancelled there and
//! the seat passes on) and then cancels the offer's order if it is still pending or awaiting its
//! payment, through [`Workflow::cancel`] (so an open checkout is closed).
//!
//! What course-service answered decides; nothing here keeps waitlist state of its own.

use crate::{
    course_client::{CourseError, WaitlistClient},
    domain::{CourseId, OrderId, Status, StudentId},
    repo::OrderRepo,
    workflow::{CancelError, Outcome, Workflow},
};
use prometheus_client::metrics::{counter::Counter, family::Family};
use shared_types::{ErrorCode, WaitEntry, WaitlistEntry, WaitlistStatus};
use std::sync::Arc;
use uuid::Uuid;

/// Why a waitlist request could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitlistError {
    #[error("no such course")]
    CourseNotFound,
    #[error("the course has seats available: buy one instead")]
    SeatsAvailable,
    #[error("the student already holds or bought a seat of this course")]
    AlreadyEnrolled,
    #[error("no such waitlist entry")]
    EntryNotFound,
    #[error("course-service could not be asked")]
    Unavailable,
    #[error("the order store failed")]
    Storage,
}

impl From<CourseError> for WaitlistError {
    /// What course-service's answer means for the student's request: its waitlist refusals
    /// pass on; anything else (course-service unreachable, an outcome unknown, a refusal it
    /// should not give) makes the request unavailable for now.
    fn from(e: CourseError) -> Self {
        match &e {
            CourseError::Refused { code, .. } => match code {
                ErrorCode::CourseNotFound => return WaitlistError::CourseNotFound,
                ErrorCode::SeatsAvailable => return WaitlistError::SeatsAvailable,
                ErrorCode::AlreadyEnrolled | ErrorCode::AlreadyHolding => {
                    return WaitlistError::AlreadyEnrolled;
                }
                ErrorCode::WaitlistEntryNotFound => return WaitlistError::EntryNotFound,
                _ => tracing::error!(error = %e, "unexpected refusal of a waitlist call"),
            },
            _ => tracing::warn!(error = %e, "waitlist call not answered"),
        }
        WaitlistError::Unavailable
    }
}

/// What the waitlist routes count, for the metrics.
#[derive(Debug, Clone, Default)]
pub struct WaitlistMetrics {
    /// Joins answered, `new` (201) or `again` (200, the open entry).
    pub joins: Family<Outcome, Counter>,
    /// Leaves answered (repeats included).
    pub leaves: Counter,
}

/// The waitlist as the student routes use it; cheap to clone.
#[derive(Debug, Clone)]
pub struct Waitlist {
    pub client: Arc<dyn WaitlistClient>,
    pub orders: Arc<dyn OrderRepo>,
    pub workflow: Workflow,
    pub metrics: WaitlistMetrics,
}

impl Waitlist {
    /// Puts the student on the course's waitlist; the entry, and whether it is new (false: the
    /// student's open entry, unchanged).
    pub async fn join(
        &self,
        student: &StudentId,
        course: CourseId,
        request_id: &str,
    ) -> Result<(WaitlistEntry, bool), WaitlistError> {
        let joined = self
            .client
            .join_waitlist(course, student, request_id)
            .await?;
        let outcome = if joined.created { "new" } else { "again" };
        self.metrics.joins.get_or_create(&Outcome { outcome }).inc();
        Ok((self.shown(student, joined.entry).await?, joined.created))
    }

    /// Every entry of the student, oldest first.
    pub async fn entries(
        &self,
        student: &StudentId,
        request_id: &str,
    ) -> Result<Vec<WaitlistEntry>, WaitlistError> {
        let entries = self.client.waitlist_of(student, request_id).await?;
        let mut shown = Vec::with_capacity(entries.len());
        for entry in entries {
            shown.push(self.shown(student, entry).await?);
        }
        Ok(shown)
    }

    /// Takes the student off a waitlist (an entry that ended already stays as it is), then
    /// cancels the order of an offer given up.
    pub async fn leave(
        &self,
        student: &StudentId,
        entry: Uuid,
        request_id: &str,
    ) -> Result<WaitlistEntry, WaitlistError> {
        let left = self
            .client
            .leave_waitlist(entry, student, request_id)
            .await?;
        if left.status == WaitlistStatus::Left
            && let Some(reservation) = left.reservation_id
        {
            self.cancel_offer(student, OrderId::from_uuid(reservation), request_id)
                .await?;
        }
        self.metrics.leaves.inc();
        self.shown(student, left).await
    }

    /// Cancels the order of an offer given up, if it is still on its way to a seat.
    async fn cancel_offer(
        &self,
        student: &StudentId,
        id: OrderId,
        request_id: &str,
    ) -> Result<(), WaitlistError> {
        let order = self.orders.get_owned(id, student).await;
        let Some(order) = order.map_err(|_| WaitlistError::Storage)? else {
            return Ok(());
        };
        if !matches!(order.status, Status::Pending | Status::AwaitingPayment) {
            return Ok(());
        }
        match self.workflow.cancel(student, id, request_id).await {
            Ok(order) => {
                tracing::info!(order_id = %id, status = order.status.as_str(), "offer given up: order cancelled");
                Ok(())
            }
            Err(CancelError::Storage) => Err(WaitlistError::Storage),
            Err(e) => {
                // Unavailable: the cancellation is recorded and finishes in the background.
                tracing::info!(order_id = %id, outcome = %e, "offer given up: order not cancelled now");
                Ok(())
            }
        }
    }

    /// `entry` as the student sees it: with the order of its offer, once order-service has one.
    async fn shown(
        &self,
        student: &StudentId,
        entry: WaitEntry,
    ) -> Result<WaitlistEntry, WaitlistError> {
        let order_id = match entry.reservation_id {
            Some(reservation) => {
                let id = OrderId::from_uuid(reservation);
                let found = self.orders.get_owned(id, student).await;
                found
                    .map_err(|_| WaitlistError::Storage)?
                    .map(|o| o.id.as_uuid())
            }
            None => None,
        };
        Ok(WaitlistEntry {
            id: entry.id,
            course_id: entry.course_id,
            student_id: entry.student_id,
            status: entry.status,
            position: entry.position,
            order_id,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        })
    }
}
