//! One pass of the follower: lead (take or renew the lease), read one batch (a long poll), record
//! the batch's offers, then store the cursor under the lease. Each step is one bounded call; see
//! the module docs of [`super`] for why the cursor moves only after the batch is recorded.

use super::{Follower, OfferOutcome, Pass};
use crate::{
    course_client::{CourseError, FeedPage, FeedRead},
    domain::Offer,
    workflow::OfferTaken,
};
use shared_types::{ErrorCode, Event};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// Slack on top of a read's own timeout, for a feed client that has none.
const READ_SLACK: Duration = Duration::from_secs(1);

/// Where this follower is: whether it leads, and the cursor of the last batch it recorded.
#[derive(Debug, Default)]
pub(super) struct Position {
    leading: bool,
    cursor: Option<String>,
}

impl Follower {
    pub(super) async fn pass(
        &self,
        position: &mut Position,
        stop: &mut watch::Receiver<bool>,
    ) -> Pass {
        if *stop.borrow() {
            return Pass::Stopped;
        }
        match self.lead(position).await {
            Some(Pass::Read) => {}
            Some(other) => return other,
            None => return Pass::Failed,
        }
        let started = Instant::now();
        let read = FeedRead {
            after: position.cursor.clone(),
            limit: self.settings.batch,
            wait: self.settings.wait,
            request_id: format!("feed-{}", Uuid::now_v7()),
        };
        let bound = self.settings.wait + self.settings.timeout + READ_SLACK;
        let answer = tokio::select! {
            answer = tokio::time::timeout(bound, self.feed.events(&read)) => answer,
            _ = stop.changed() => return Pass::Stopped,
        };
        let page = match answer {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => return self.read_failed(position, &e),
            Err(_) => {
                tracing::warn!("the event feed did not answer in time");
                return Pass::Failed;
            }
        };
        let empty = page.items.is_empty();
        let pass = self.handle(position, page, &read.request_id).await;
        if pass == Pass::Read && empty {
            return Pass::Idle(self.settings.wait.saturating_sub(started.elapsed()));
        }
        pass
    }

    /// Takes or renews the lease; `Read` when this follower leads (from the stored cursor if it
    /// did not lead before), `None` when the store failed.
    async fn lead(&self, position: &mut Position) -> Option<Pass> {
        let lease = self.settings.lease();
        match self.store.lead_feed(&self.holder, lease).await {
            Ok(Some(lead)) => {
                if !position.leading {
                    tracing::info!(cursor = ?lead.cursor, "following the event feed");
                    position.cursor = lead.cursor;
                    position.leading = true;
                }
                Some(Pass::Read)
            }
            Ok(None) => {
                if position.leading {
                    tracing::info!("another replica follows the event feed now");
                }
                position.leading = false;
                Some(Pass::Standby)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the feed lease; trying again");
                None
            }
        }
    }

    fn read_failed(&self, position: &mut Position, error: &CourseError) -> Pass {
        if error.is_refusal(ErrorCode::CursorExpired) && position.cursor.is_some() {
            tracing::warn!(
                cursor = ?position.cursor,
                "the events after the stored cursor are no longer kept; reading again from the \
                 oldest event kept (offers already taken are not taken twice)"
            );
            position.cursor = None;
            return Pass::Read;
        }
        tracing::warn!(error = %error, "cannot read the event feed; trying again");
        Pass::Failed
    }

    /// Records the batch's offers, then stores its cursor; `Failed` (cursor not moved) when an
    /// offer could not be recorded, `Standby` when the lease was lost meanwhile.
    async fn handle(&self, position: &mut Position, page: FeedPage, request_id: &str) -> Pass {
        for event in &page.items {
            self.metrics.events_read.inc();
            if !self.take(event, request_id).await {
                return Pass::Failed;
            }
        }
        // A batch shorter than asked for read everything there was: caught up.
        let full = page.items.len() >= self.settings.batch as usize;
        self.note_lag(page.items.last().filter(|_| full));
        let Some(next) = page.next_cursor else {
            return Pass::Read;
        };
        if position.cursor.as_ref() == Some(&next) {
            return Pass::Read;
        }
        let lease = self.settings.lease();
        match self
            .store
            .save_feed_cursor(&self.holder, &next, lease)
            .await
        {
            Ok(true) => {
                position.cursor = Some(next);
                Pass::Read
            }
            Ok(false) => {
                tracing::warn!("the feed lease lapsed before the cursor was stored; standing by");
                position.leading = false;
                Pass::Standby
            }
            Err(e) => {
                tracing::warn!(error = %e, "feed cursor not stored; reading the batch again");
                Pass::Failed
            }
        }
    }

    /// Turns `event` into its order when it is an offer; false when the order could not be
    /// recorded.
    async fn take(&self, event: &Event, request_id: &str) -> bool {
        let Some(offer) = Offer::of(event) else {
            return true;
        };
        let outcome = match self.workflow.take_offer(&offer, request_id).await {
            Ok(OfferTaken::New(order)) => {
                tracing::info!(order_id = %order.id, student_id = %offer.student,
                    course_id = %offer.course, "waitlist offer taken: order recorded");
                "new"
            }
            Ok(OfferTaken::Existing(_)) => "duplicate",
            Ok(OfferTaken::StudentHasOrder(other)) => {
                tracing::warn!(reservation_id = %offer.reservation, other_order = %other,
                    "waitlist offer not taken: the student has another live order for the course; \
                     the offer lapses and passes on");
                "refused"
            }
            Err(e) => {
                tracing::error!(error = %e, reservation_id = %offer.reservation,
                    "waitlist offer not recorded; reading it again");
                return false;
            }
        };
        self.metrics
            .offers
            .get_or_create(&OfferOutcome { outcome })
            .inc();
        true
    }

    /// How far behind the feed the follower is: the age of the last event handled, or 0 when
    /// caught up (`None`).
    fn note_lag(&self, last: Option<&Event>) {
        let lag = last.map_or(0.0, |event| {
            let behind = self.clock.now() - event.at;
            (behind.num_milliseconds().max(0) as f64) / 1000.0
        });
        self.metrics.lag_seconds.set(lag);
    }
}
