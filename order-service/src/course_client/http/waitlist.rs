//! The waitlist and feed calls over HTTP. The waitlist calls go through the same retrying client
//! as the reservation calls (each is idempotent: a repeated join or leave answers the same
//! entry). A read of the feed is one attempt with a timeout of its wait plus `COURSE_TIMEOUT_MS`:
//! retrying a long poll inside the call would only stretch it, and the follower retries it with
//! its own backoff. Each read has a connection of its own (`Connection: close`): a course-service
//! that is stopping finishes the requests of the connections it has, so a long poll sent on a
//! kept-alive connection would hold its stop up for another wait, while a new connection is
//! refused at once.

use super::{HttpCourseClient, client_span, decode};
use crate::{
    course_client::{CourseError, FeedClient, FeedPage, FeedRead, Joined, WaitlistClient},
    domain::{CourseId, StudentId},
};
use async_trait::async_trait;
use reqwest::{
    Method, StatusCode,
    header::{AUTHORIZATION, CONNECTION},
};
use shared_types::{Event, Items, Page, REQUEST_ID_HEADER, WaitEntry, WaitFor};
use uuid::Uuid;

fn wait_for(student: &StudentId) -> WaitFor {
    WaitFor {
        student_id: student.as_str().to_owned(),
    }
}

#[async_trait]
impl WaitlistClient for HttpCourseClient {
    async fn join_waitlist(
        &self,
        course: CourseId,
        student: &StudentId,
        request_id: &str,
    ) -> Result<Joined, CourseError> {
        let call = "waitlist_join";
        let url = self.url(&format!("/api/courses/{course}/waitlist"));
        let body = wait_for(student);
        let span = client_span(call);
        let (status, entry) = self
            .send(call, Method::POST, url, request_id, Some(&body), span)
            .await?;
        Ok(Joined {
            entry,
            created: status == StatusCode::CREATED,
        })
    }

    async fn waitlist_of(
        &self,
        student: &StudentId,
        request_id: &str,
    ) -> Result<Vec<WaitEntry>, CourseError> {
        let call = "waitlist_list";
        let mut url = self.url("/api/waitlist");
        url.query_pairs_mut()
            .append_pair("student_id", student.as_str());
        let span = client_span(call);
        let sent = self.send(call, Method::GET, url, request_id, None::<&()>, span);
        let (_, page): (_, Items<WaitEntry>) = sent.await?;
        Ok(page.items)
    }

    async fn leave_waitlist(
        &self,
        entry: Uuid,
        student: &StudentId,
        request_id: &str,
    ) -> Result<WaitEntry, CourseError> {
        let call = "waitlist_leave";
        let url = self.url(&format!("/api/waitlist/entries/{entry}/leave"));
        let body = wait_for(student);
        let span = client_span(call);
        let sent = self.send(call, Method::POST, url, request_id, Some(&body), span);
        sent.await.map(|(_, entry)| entry)
    }
}

#[async_trait]
impl FeedClient for HttpCourseClient {
    async fn events(&self, read: &FeedRead) -> Result<FeedPage, CourseError> {
        let mut url = self.url("/api/events");
        {
            let mut query = url.query_pairs_mut();
            if let Some(after) = &read.after {
                query.append_pair("after", after);
            }
            query
                .append_pair("limit", &read.limit.to_string())
                .append_pair("wait_ms", &read.wait.as_millis().to_string());
        }
        let answer = self
            .probe
            .get(url)
            .timeout(read.wait + self.timeout)
            .header(AUTHORIZATION, self.tokens.current())
            .header(REQUEST_ID_HEADER, &read.request_id)
            .header(CONNECTION, "close")
            .send()
            .await;
        let outcome = match answer {
            Ok(response) => decode::<Page<Event>>(response)
                .await
                .map(|(_, page)| FeedPage {
                    items: page.items,
                    next_cursor: page.next_cursor,
                }),
            Err(e) if e.is_connect() => Err(CourseError::NotDelivered),
            Err(e) => Err(CourseError::Unknown(format!("{e:#}"))),
        };
        self.count("events", &outcome);
        outcome
    }
}
