//! Live seat counts for pages: one follower of the event feed per process broadcasts every event
//! to the open `GET /api/courses/{id}/live` streams, each of which passes on its course's
//! changes as server-sent events, and the current counts at least every [`HEARTBEAT`]. A stream
//! that falls behind the broadcast sends the current counts and carries on.
//!
//! The follower reads at most every [`COALESCE`] unless a read came back full: a popular course's
//! sale is passed on in batches, instead of waking the follower for every hold. While no stream is
//! open it reads no events, only where the feed ends.

use crate::{
    domain::{
        CourseId,
        feed::{Counts, Cursor, FeedEvent},
    },
    store::{SeatStore, StoreError},
};
use std::{sync::Arc, time::Duration};
use tokio::sync::{broadcast, watch};

/// Longest quiet time on a live stream.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Events a slow stream may fall behind before it skips to the current counts.
const BACKLOG: usize = 4096;

/// Shortest time between two reads of the feed by the follower: how much later than the change
/// a page may hear of it, at most.
const COALESCE: Duration = Duration::from_millis(25);

/// Most events read at once.
const READ_BATCH: usize = 1000;

/// The broadcast of feed events, and the switch that ends every stream at shutdown.
#[derive(Debug, Clone)]
pub struct LiveHub {
    events: broadcast::Sender<Arc<FeedEvent>>,
    closed: watch::Sender<bool>,
}

impl LiveHub {
    /// Starts following `store`'s feed from its newest event now (or, if the store cannot
    /// tell, from the newest once it can).
    pub async fn start(store: Arc<dyn SeatStore>) -> LiveHub {
        let (events, _) = broadcast::channel(BACKLOG);
        let (closed, _) = watch::channel(false);
        let hub = LiveHub { events, closed };
        let follower = hub.clone();
        let head = store.feed_head().await.ok();
        tokio::spawn(async move { follower.follow(store, head).await });
        hub
    }

    /// Ends every live stream and the follower.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<FeedEvent>>, watch::Receiver<bool>) {
        (self.events.subscribe(), self.closed.subscribe())
    }

    async fn follow(self, store: Arc<dyn SeatStore>, head: Option<Cursor>) {
        let mut closed = self.closed.subscribe();
        let mut after = head;
        while !*closed.borrow() {
            if self.events.receiver_count() == 0 {
                // Nobody watches: keep up with the newest event without reading any, so that a
                // stream opening now hears every change from at most COALESCE before it opened.
                if let Ok(head) = store.feed_head().await {
                    after = Some(head);
                }
                tokio::select! {
                    _ = tokio::time::sleep(COALESCE) => {}
                    _ = closed.changed() => return,
                }
                continue;
            }
            let step = async {
                let from = match after {
                    Some(c) => c,
                    None => store.feed_head().await?,
                };
                let events = store.events(Some(from), READ_BATCH, HEARTBEAT).await?;
                Ok::<_, StoreError>((from, events))
            };
            let outcome = tokio::select! {
                outcome = step => outcome,
                _ = closed.changed() => return,
            };
            match outcome {
                Ok((from, events)) => {
                    after = Some(events.last().map_or(from, |e| Cursor(e.seq)));
                    let full = events.len() == READ_BATCH;
                    for event in events {
                        // No stream open is fine.
                        let _ = self.events.send(Arc::new(event));
                    }
                    if !full {
                        // Let more events gather before the next read.
                        tokio::select! {
                            _ = tokio::time::sleep(COALESCE) => {}
                            _ = closed.changed() => return,
                        }
                    }
                }
                Err(e) => {
                    // Start again from the newest event once the store answers.
                    tracing::debug!(error = %e, "the live view could not read the feed");
                    after = None;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// One server-sent event with `course`'s counts, named `seats`.
pub fn seats_event(counts: &Counts) -> String {
    let data = serde_json::json!({
        "seats_total": counts.seats_total,
        "seats_available": counts.seats_available,
        "seats_held": counts.seats_held,
        "seats_sold": counts.seats_sold,
        "waitlist_length": counts.waitlist_length,
    });
    format!("event: seats\ndata: {data}\n\n")
}

/// Whether `event` is about `course`.
pub fn concerns(event: &FeedEvent, course: CourseId) -> bool {
    event.change.course_id == course
}
