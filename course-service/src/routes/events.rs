//! The event feed: every change course-service made, in the order it was made durable, for the
//! services that follow it (service tokens). Long polling with `wait_ms`.

use super::views;
use crate::{
    domain::{
        ValidationError,
        feed::{Cursor, FeedEvent},
    },
    error::ApiError,
    store::SeatStore,
};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use service_kit::Service;
use shared_types::{Event, Page, Problem};
use std::time::Duration;
use utoipa::IntoParams;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
pub const MAX_WAIT_MS: u64 = 30_000;

/// Query of `GET /api/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// The `cursor` of the last event read (or `next_cursor` of the last answer); omitted: from
    /// the oldest event kept.
    #[param(max_length = 64, pattern = "^ev1_[0-9a-f]{16}$")]
    after: Option<String>,
    /// Most events in the answer, 1..=1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// When no event follows `after` yet, wait up to this long for one (0..=30000, default 0).
    #[param(minimum = 0, maximum = 30000)]
    wait_ms: Option<i64>,
}

/// Read the event feed (service). Events come in the order they were made durable; a reader that
/// passes back the last cursor it got never misses or repeats one. With `wait_ms`, an answer with
/// no events waits for the next one (long poll).
#[utoipa::path(get, path = "/api/events", operation_id = "list_events", tag = "events", params(EventsQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "Events after `after`, oldest first; `next_cursor` is the cursor to pass next (`null` only when the feed is empty and no `after` was given)", body = Page<Event>),
        (status = 400, description = "`validation_failed`: a malformed `limit` or `wait_ms`, or a cursor this feed did not hand out", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not a service token", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`cursor_expired`: the events after this cursor are no longer kept", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list(
    _: Service,
    store: web::Data<dyn SeatStore>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = query
        .after
        .as_deref()
        .map(|text| {
            Cursor::decode(text)
                .map_err(|_| ValidationError("after is not a cursor this feed handed out".into()))
        })
        .transpose()?;
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
        Some(_) => return Err(ValidationError(format!("limit must be 1..={MAX_LIMIT}")).into()),
    };
    let wait = match query.wait_ms {
        None => 0,
        Some(n) if (0..=MAX_WAIT_MS as i64).contains(&n) => n as u64,
        Some(_) => {
            return Err(ValidationError(format!("wait_ms must be 0..={MAX_WAIT_MS}")).into());
        }
    };
    let events = store
        .events(after, limit, Duration::from_millis(wait))
        .await?;
    let next_cursor = events
        .last()
        .map(|e: &FeedEvent| Cursor(e.seq))
        .or(after)
        .map(Cursor::encode);
    Ok(HttpResponse::Ok().json(Page {
        items: events.iter().map(views::event).collect(),
        next_cursor,
    }))
}
