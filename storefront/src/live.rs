//! `GET /live?courses=<id>,<id>`: the seat counts of up to 100 courses as one server-sent event
//! stream, so that a page needs one connection however many courses it shows. Each course's
//! stream from course-service is followed and its events passed on as `seats` events with the
//! course's id added; a course whose stream ends is followed again after a second (course-service
//! restarting), and the browser reconnects by itself if this stream ends.

use crate::State;
use actix_web::{HttpResponse, http::header, web};
use futures::StreamExt;
use serde::Deserialize;
use std::{convert::Infallible, time::Duration};
use uuid::Uuid;

/// Most courses one stream follows.
pub const MAX_COURSES: usize = 100;

#[derive(Debug, Deserialize)]
pub struct Query {
    courses: String,
}

pub async fn stream(state: web::Data<State>, query: web::Query<Query>) -> HttpResponse {
    let ids: Result<Vec<Uuid>, _> = query
        .courses
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect();
    let ids = match ids {
        Ok(ids) if !ids.is_empty() && ids.len() <= MAX_COURSES => ids,
        _ => {
            return HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body("courses: 1 to 100 course ids, comma-separated");
        }
    };
    let followers = ids.into_iter().map(|id| follow(state.clone(), id).boxed());
    // The browser retries a second after the stream ends.
    let hello = futures::stream::once(async { web::Bytes::from_static(b"retry: 1000\n\n") });
    let body = hello
        .chain(futures::stream::select_all(followers))
        .map(Ok::<_, Infallible>);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// One course's counts as `seats` events, for as long as the page listens.
fn follow(state: web::Data<State>, id: Uuid) -> impl futures::Stream<Item = web::Bytes> {
    futures::stream::unfold(
        (state, None::<futures::stream::BoxStream<'static, String>>),
        move |(state, mut upstream)| async move {
            loop {
                if let Some(events) = upstream.as_mut() {
                    match events.next().await {
                        Some(data) => {
                            let event = match serde_json::from_str::<serde_json::Value>(&data) {
                                Ok(mut counts) => {
                                    counts["course_id"] = serde_json::json!(id);
                                    format!("event: seats\ndata: {counts}\n\n")
                                }
                                Err(_) => continue,
                            };
                            return Some((web::Bytes::from(event), (state, upstream)));
                        }
                        None => upstream = None,
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                match state.api.live(id).await {
                    Ok(events) => upstream = Some(events.boxed()),
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        },
    )
}
