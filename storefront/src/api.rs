//! Calls to course-service and order-service on behalf of the signed-in person (with their
//! bearer token), through the services' public APIs only. Every call has a timeout; the live
//! streams have a read timeout instead (the services send at least one event every 15 s).

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared_types::{Course, CourseSales, ErrorCode, Items, Order, Page, Problem, WaitlistEntry};
use std::time::Duration;
use uuid::Uuid;

/// Why a call did not give what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered with a problem.
    #[error("{code:?}: {detail}")]
    Problem {
        status: u16,
        code: ErrorCode,
        detail: String,
        /// The current price, with `price_changed`.
        price_cents: Option<i64>,
    },
    /// The service could not be reached, or answered something that is not its API.
    #[error("{0}")]
    Unreachable(String),
}

impl ApiError {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Problem { code, .. } => Some(*code),
            ApiError::Unreachable(_) => None,
        }
    }
}

/// The two services, as seen from the storefront.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    live: reqwest::Client,
    course_url: String,
    order_url: String,
}

/// The answer to a purchase.
pub type Purchase = Order;

impl Api {
    pub fn new(course_url: &str, order_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(timeout)
            .build()?;
        let live = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .read_timeout(Duration::from_secs(40))
            .build()?;
        Ok(Api {
            http,
            live,
            course_url: course_url.trim_end_matches('/').to_owned(),
            order_url: order_url.trim_end_matches('/').to_owned(),
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiError::Unreachable(e.without_url().to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::Unreachable(format!("unexpected answer: {e}")));
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(ApiError::Problem {
                status: problem.status,
                code: problem.code,
                detail: problem.detail,
                price_cents: problem.price_cents,
            }),
            Err(_) => Err(ApiError::Unreachable(format!("answered {status}"))),
        }
    }

    /// One page of the catalogue, or of one instructor's courses.
    pub async fn courses(
        &self,
        instructor: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Page<Course>, ApiError> {
        let mut query = vec![("limit", "100".to_owned())];
        if let Some(instructor) = instructor {
            query.push(("instructor_id", instructor.to_owned()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        self.call(
            self.http
                .get(format!("{}/api/courses", self.course_url))
                .query(&query),
        )
        .await
    }

    pub async fn course(&self, id: Uuid) -> Result<Course, ApiError> {
        self.call(
            self.http
                .get(format!("{}/api/courses/{id}", self.course_url)),
        )
        .await
    }

    pub async fn create_course(
        &self,
        token: &str,
        title: &str,
        description: Option<&str>,
        price_cents: i64,
        currency: &str,
        seats: u32,
    ) -> Result<Course, ApiError> {
        let mut body = json!({"title": title, "price_cents": price_cents, "currency": currency, "seats": seats});
        if let Some(description) = description {
            body["description"] = json!(description);
        }
        self.call(
            self.http
                .post(format!("{}/api/courses", self.course_url))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// The course's sales (its instructor only).
    pub async fn sales(&self, token: &str, id: Uuid) -> Result<CourseSales, ApiError> {
        self.call(
            self.http
                .get(format!("{}/api/courses/{id}/sales", self.course_url))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn set_price(&self, token: &str, id: Uuid, cents: i64) -> Result<Course, ApiError> {
        self.call(
            self.http
                .patch(format!("{}/api/courses/{id}/price", self.course_url))
                .bearer_auth(token)
                .json(&json!({"price_cents": cents})),
        )
        .await
    }

    pub async fn set_seats(&self, token: &str, id: Uuid, seats: u32) -> Result<Course, ApiError> {
        self.call(
            self.http
                .patch(format!("{}/api/courses/{id}/seats", self.course_url))
                .bearer_auth(token)
                .json(&json!({"seats_total": seats})),
        )
        .await
    }

    /// Buys a seat at the price the student saw; `key` makes a repeated submission the same
    /// purchase.
    pub async fn buy(
        &self,
        token: &str,
        course: Uuid,
        expected_price_cents: i64,
        key: &str,
    ) -> Result<Purchase, ApiError> {
        self.call(
            self.http
                .post(format!("{}/api/orders", self.order_url))
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(&json!({"course_id": course, "expected_price_cents": expected_price_cents})),
        )
        .await
    }

    /// The student's orders, newest first (up to 100).
    pub async fn orders(&self, token: &str) -> Result<Vec<Order>, ApiError> {
        let page: Page<Order> = self
            .call(
                self.http
                    .get(format!("{}/api/orders", self.order_url))
                    .query(&[("limit", "100")])
                    .bearer_auth(token),
            )
            .await?;
        Ok(page.items)
    }

    pub async fn order(&self, token: &str, id: Uuid) -> Result<Order, ApiError> {
        self.call(
            self.http
                .get(format!("{}/api/orders/{id}", self.order_url))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn cancel(&self, token: &str, id: Uuid) -> Result<Order, ApiError> {
        self.call(
            self.http
                .post(format!("{}/api/orders/{id}/cancel", self.order_url))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn waitlist(&self, token: &str) -> Result<Vec<WaitlistEntry>, ApiError> {
        let items: Items<WaitlistEntry> = self
            .call(
                self.http
                    .get(format!("{}/api/waitlist", self.order_url))
                    .bearer_auth(token),
            )
            .await?;
        Ok(items.items)
    }

    pub async fn join_waitlist(
        &self,
        token: &str,
        course: Uuid,
    ) -> Result<WaitlistEntry, ApiError> {
        self.call(
            self.http
                .post(format!("{}/api/waitlist", self.order_url))
                .bearer_auth(token)
                .json(&json!({"course_id": course})),
        )
        .await
    }

    pub async fn leave_waitlist(&self, token: &str, entry: Uuid) -> Result<Value, ApiError> {
        self.call(
            self.http
                .delete(format!("{}/api/waitlist/{entry}", self.order_url))
                .bearer_auth(token),
        )
        .await
    }

    /// The `data` of each `seats` event of a course's live stream, as it arrives; ends when the
    /// stream does (course-service restarting, or quiet past the read timeout).
    pub async fn live(&self, course: Uuid) -> Result<impl Stream<Item = String> + use<>, ApiError> {
        let response = self
            .live
            .get(format!("{}/api/courses/{course}/live", self.course_url))
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(ApiError::Unreachable(format!(
                "answered {}",
                response.status()
            )));
        }
        let bytes = response.bytes_stream();
        let events = futures::stream::unfold(
            (bytes, String::new()),
            |(mut bytes, mut buffer)| async move {
                loop {
                    if let Some(end) = buffer.find("\n\n") {
                        let event: String = buffer.drain(..end + 2).collect();
                        let data = event
                            .lines()
                            .filter_map(|l| l.strip_prefix("data:"))
                            .map(str::trim)
                            .collect::<Vec<_>>()
                            .join("\n");
                        if !data.is_empty() {
                            return Some((data, (bytes, buffer)));
                        }
                        continue;
                    }
                    match bytes.next().await {
                        Some(Ok(chunk)) => buffer.push_str(&String::from_utf8_lossy(&chunk)),
                        _ => return None,
                    }
                    if buffer.len() > 1 << 16 {
                        return None;
                    }
                }
            },
        );
        Ok(events)
    }
}
