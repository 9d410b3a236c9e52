//! `GET /api/courses/{course_id}/live`: a course's seat counts as server-sent events, for pages
//! that show seats live (public). The first event is the counts now; then one per change, and the
//! counts again after [`HEARTBEAT`](crate::live::HEARTBEAT) of quiet.

use crate::{
    domain::{
        CourseId,
        feed::{Counts, Cursor},
    },
    error::ApiError,
    live::{self, HEARTBEAT, LiveHub},
    store::SeatStore,
};
use actix_web::{HttpResponse, web};
use shared_types::Problem;
use std::{convert::Infallible, sync::Arc};
use tokio::sync::broadcast::error::RecvError;

/// Stream a course's seat counts (public): `text/event-stream` of `seats` events, each
/// `{seats_total, seats_available, seats_held, seats_sold, waitlist_length}`; one on connecting,
/// one on every change, and at least one every 15 s.
#[utoipa::path(get, path = "/api/courses/{course_id}/live", operation_id = "stream_course_counts", tag = "courses", params(("course_id" = Uuid, Path)),
    responses(
        (status = 200, description = "Server-sent `seats` events", content_type = "text/event-stream", body = LiveEvent),
        (status = 400, description = "`validation_failed`: not a UUID", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`course_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn stream(
    store: web::Data<dyn SeatStore>,
    hub: web::Data<LiveHub>,
    path: web::Path<CourseId>,
) -> Result<HttpResponse, ApiError> {
    let course = *path;
    // Events up to here are in the counts read next: the stream tells only later ones.
    let seen = store.feed_head().await?;
    let now = Counts::of(&store.course(course).await?);
    let (events, closed) = hub.subscribe();
    let store: Arc<dyn SeatStore> = store.into_inner();
    let state = Stream {
        events,
        closed,
        store,
        course,
        first: Some(now),
        seen,
        quiet_until: tokio::time::Instant::now() + HEARTBEAT,
    };
    let body = futures::stream::unfold(state, |mut s| async move {
        let counts = s.next().await?;
        let chunk = web::Bytes::from(live::seats_event(&counts));
        Some((Ok::<_, Infallible>(chunk), s))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// One server-sent event of a live stream, as a client's event parser hands it over.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct LiveEvent {
    /// Always `seats`.
    #[schema(example = "seats")]
    event: String,
    /// JSON: `{"seats_total", "seats_available", "seats_held", "seats_sold", "waitlist_length"}`.
    #[schema(
        example = r#"{"seats_total":30,"seats_available":12,"seats_held":3,"seats_sold":15,"waitlist_length":0}"#
    )]
    data: String,
}

struct Stream {
    events: tokio::sync::broadcast::Receiver<Arc<crate::domain::feed::FeedEvent>>,
    closed: tokio::sync::watch::Receiver<bool>,
    store: Arc<dyn SeatStore>,
    course: CourseId,
    first: Option<Counts>,
    /// The newest event already in the first counts.
    seen: Cursor,
    quiet_until: tokio::time::Instant,
}

impl Stream {
    /// The next counts to send, or `None` to end the stream (shutdown, or the store failed).
    async fn next(&mut self) -> Option<Counts> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            if *self.closed.borrow() {
                return None;
            }
            let received = tokio::select! {
                received = self.events.recv() => received,
                changed = self.closed.changed() => {
                    let _ = changed;
                    return None;
                }
                () = tokio::time::sleep_until(self.quiet_until) => {
                    self.quiet_until = tokio::time::Instant::now() + HEARTBEAT;
                    return self.current().await;
                }
            };
            match received {
                Ok(event) if live::concerns(&event, self.course) && event.seq > self.seen.0 => {
                    self.quiet_until = tokio::time::Instant::now() + HEARTBEAT;
                    return Some(event.change.course);
                }
                Ok(_) => {}
                // Fell behind: what the course shows now stands for what was missed.
                Err(RecvError::Lagged(_)) => return self.current().await,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    async fn current(&self) -> Option<Counts> {
        self.store
            .course(self.course)
            .await
            .ok()
            .map(|c| Counts::of(&c))
    }
}
