//! The HTTP implementation of [`CourseClient`] (and, in `waitlist`, of the waitlist and feed
//! calls): pooled keep-alive connections, a timeout on every attempt, the retry policy of
//! [`super::retry`], a short-lived service token, and the caller's request id forwarded on every
//! call.

mod waitlist;

use super::{
    CallContext, CourseClient, CourseError, StudentId,
    retry::{CourseRetryStrategy, Delivery, DeliveryProbe, backoff},
};
use anyhow::Context;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use serde::{Serialize, de::DeserializeOwned};
use service_kit::{TokenKeys, otel};
use shared_types::{ErrorCode, Problem, PutReservation, REQUEST_ID_HEADER, Reservation, Role};
use std::{sync::Arc, time::Duration};
use tracing::Instrument;

/// Lifetime of the service tokens order-service mints (course-service accepts at most 300 s).
const TOKEN_TTL_SECS: i64 = 240;
/// A token is replaced once it has less than this left.
const TOKEN_REFRESH_BEFORE_SECS: i64 = 60;

/// Settings of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpCourseClientConfig {
    pub base_url: String,
    pub timeout: Duration,
    pub max_retries: u32,
}

/// Talks to course-service over HTTP.
#[derive(Debug, Clone)]
pub struct HttpCourseClient {
    /// course-service's base URL, parsed once; each call only replaces the path.
    base_url: reqwest::Url,
    base_path: String,
    http: ClientWithMiddleware,
    probe: reqwest::Client,
    tokens: Arc<ServiceTokens>,
    metrics: CallMetrics,
    /// The timeout of one attempt (a long poll of the feed gets its wait on top).
    timeout: Duration,
}

/// Labels of a call count: which call, and how it ended.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub call: &'static str,
    pub result: &'static str,
}

/// Calls to course-service by outcome, and attempts (calls plus retries).
#[derive(Debug, Clone, Default)]
pub struct CallMetrics {
    pub calls: Family<CallLabels, Counter>,
    pub attempts: Counter,
}

impl HttpCourseClient {
    /// The call counters (shared handles, for the metrics registry).
    pub fn metrics(&self) -> CallMetrics {
        self.metrics.clone()
    }

    pub fn new(config: &HttpCourseClientConfig, keys: TokenKeys) -> anyhow::Result<Self> {
        let raw = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(1)))
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let retry = RetryTransientMiddleware::new_with_policy_and_strategy(
            backoff(config.max_retries),
            CourseRetryStrategy,
        );
        let metrics = CallMetrics::default();
        let probe = DeliveryProbe {
            attempts: metrics.attempts.clone(),
        };
        let http = ClientBuilder::new(raw.clone())
            .with(retry)
            .with(probe)
            .build();
        let base_url = reqwest::Url::parse(&config.base_url)
            .with_context(|| format!("COURSE_SERVICE_URL `{}` is not a URL", config.base_url))?;
        anyhow::ensure!(
            matches!(base_url.scheme(), "http" | "https") && base_url.has_host(),
            "COURSE_SERVICE_URL `{}` must be an http(s) URL with a host",
            config.base_url
        );
        Ok(HttpCourseClient {
            base_path: base_url.path().trim_end_matches('/').to_owned(),
            base_url,
            http,
            probe: raw,
            tokens: Arc::new(ServiceTokens::new(keys)),
            metrics,
            timeout: config.timeout,
        })
    }

    async fn call(
        &self,
        method: Method,
        ctx: &CallContext,
        action: &str,
        body: Option<&PutReservation>,
    ) -> Result<Reservation, CourseError> {
        let call = match action {
            "" if method == Method::GET => "read",
            "" => "hold",
            "/confirm" => "confirm",
            "/cancel" => "cancel",
            _ => "release",
        };
        let url = self.url(&format!(
            "/api/courses/{}/reservations/{}{}",
            ctx.course_id, ctx.reservation_id, action
        ));
        let span = client_span(call);
        span.record(
            "reservation_id",
            tracing::field::display(ctx.reservation_id),
        );
        let sent = self.send(call, method, url, &ctx.request_id, body, span);
        sent.await.map(|(_, reservation)| reservation)
    }

    /// course-service's URL for `path` (which starts with `/`).
    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        url.set_path(&format!("{}{path}", self.base_path));
        url
    }

    /// Sends one call through the retrying client with the service token and the request id,
    /// under `span`, and counts it as `call`; the answer's status and body.
    async fn send<T: DeserializeOwned>(
        &self,
        call: &'static str,
        method: Method,
        url: reqwest::Url,
        request_id: &str,
        body: Option<&(impl Serialize + Sync + ?Sized)>,
        span: tracing::Span,
    ) -> Result<(StatusCode, T), CourseError> {
        let delivery = Delivery::default();
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.tokens.current())
            .header(REQUEST_ID_HEADER, request_id)
            .with_extension(delivery.clone());
        if let Some(traceparent) = span.in_scope(otel::traceparent) {
            request = request.header(otel::TRACEPARENT_HEADER, traceparent);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let outcome = match request.send().instrument(span).await {
            Ok(response) => decode(response).await,
            Err(_) if !delivery.maybe_delivered() => Err(CourseError::NotDelivered),
            Err(e) => Err(CourseError::Unknown(format!("{e:#}"))),
        };
        self.count(call, &outcome);
        outcome
    }

    fn count<T>(&self, call: &'static str, outcome: &Result<T, CourseError>) {
        let result = match outcome {
            Ok(_) => "ok",
            Err(CourseError::Refused { .. }) => "refused",
            Err(CourseError::NotDelivered) => "not_delivered",
            Err(CourseError::Unknown(_)) => "unknown",
        };
        self.metrics
            .calls
            .get_or_create(&CallLabels { call, result })
            .inc();
    }
}

/// A client span (only while exporting traces) whose context course-service continues.
fn client_span(call: &'static str) -> tracing::Span {
    if otel::enabled() {
        tracing::info_span!(
            "course-service call",
            otel.name = format!("course-service {call}"),
            otel.kind = "client",
            reservation_id = tracing::field::Empty,
        )
    } else {
        tracing::Span::none()
    }
}

/// A success's status and body, or the refusal's `code` (a 4xx other than 429), or unknown.
async fn decode<T: DeserializeOwned>(
    response: reqwest::Response,
) -> Result<(StatusCode, T), CourseError> {
    let status = response.status();
    if status.is_success() {
        return response
            .json::<T>()
            .await
            .map(|body| (status, body))
            .map_err(|e| CourseError::Unknown(format!("unreadable answer: {e}")));
    }
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        let problem = response.json::<Problem>().await.ok();
        let code = problem.as_ref().map_or(ErrorCode::Unknown, |p| p.code);
        let price_cents = problem.and_then(|p| p.price_cents);
        return Err(CourseError::Refused {
            status: status.as_u16(),
            code,
            price_cents,
        });
    }
    Err(CourseError::Unknown(format!(
        "course-service answered {status}"
    )))
}

#[async_trait]
impl CourseClient for HttpCourseClient {
    async fn reserve(
        &self,
        ctx: &CallContext,
        student: &StudentId,
        expected_price_cents: Option<i64>,
    ) -> Result<Reservation, CourseError> {
        let body = PutReservation {
            student_id: student.as_str().to_owned(),
            expected_price_cents,
        };
        self.call(Method::PUT, ctx, "", Some(&body)).await
    }

    async fn confirm(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Method::POST, ctx, "/confirm", None).await
    }

    async fn cancel(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Method::POST, ctx, "/cancel", None).await
    }

    async fn release(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Method::POST, ctx, "/release", None).await
    }

    async fn get_reservation(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Method::GET, ctx, "", None).await
    }

    async fn is_reachable(&self) -> bool {
        let url = self.url("/health/live");
        let probe = self
            .probe
            .get(url)
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        probe.is_ok_and(|r| r.status().is_success())
    }
}

/// The current service token, re-minted shortly before it expires. Reads are lock-free.
#[derive(Debug)]
struct ServiceTokens {
    keys: TokenKeys,
    current: ArcSwap<(HeaderValue, i64)>,
}

impl ServiceTokens {
    fn new(keys: TokenKeys) -> Self {
        let first = mint(&keys);
        ServiceTokens {
            keys,
            current: ArcSwap::from_pointee(first),
        }
    }

    /// The `Authorization` header value to send now.
    fn current(&self) -> HeaderValue {
        let token = self.current.load();
        if token.1 - chrono::Utc::now().timestamp() > TOKEN_REFRESH_BEFORE_SECS {
            return token.0.clone();
        }
        let fresh = mint(&self.keys);
        let value = fresh.0.clone();
        self.current.store(Arc::new(fresh));
        value
    }
}

fn mint(keys: &TokenKeys) -> (HeaderValue, i64) {
    let token = keys.mint("order-service", Role::Service, TOKEN_TTL_SECS);
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| unreachable!("a JWT is base64url and dots"));
    value.set_sensitive(true);
    (value, chrono::Utc::now().timestamp() + TOKEN_TTL_SECS)
}
