//! The request context: every request gets an id, a tracing span, one access-log line, and a
//! guard that turns a panicking handler into a 500 problem instead of a dropped connection.
//!
//! The id comes from the caller's `X-Request-Id` when it is a sane token (1..=128 visible ASCII
//! characters) and is generated otherwise; it is echoed on the response and recorded on the span,
//! so every log line of the request carries it, as it carries the service's name (several
//! services may share a process). Handlers read it with [`RequestId`] to forward it.

use crate::{metrics::HttpMetrics, problem::problem_response};
use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest, HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::{InternalError, PayloadError},
    http::{
        StatusCode,
        header::{HeaderName, HeaderValue},
    },
    middleware::Next,
    web::{self, Bytes},
};
use futures::FutureExt;
use futures::Stream;
use shared_types::{ErrorCode, REQUEST_ID_HEADER};
use std::{
    future::{Future, Ready, ready},
    panic::AssertUnwindSafe,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};
use tracing::Instrument;

/// The id of the current request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromRequest for RequestId {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::now_v7().to_string()));
        ready(Ok(id))
    }
}

fn acceptable(value: &HeaderValue) -> Option<&str> {
    let s = value.to_str().ok()?;
    let ok = (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(s)
}

/// The name of the service answering, recorded on every request's span.
#[derive(Debug, Clone, Copy)]
pub struct ServiceName(pub &'static str);

/// The longest a client may take to send a request body (a slow-body client is cut off with 408).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// A request body that fails once its deadline passes.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let late = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body arrived too slowly",
                );
                Poll::Ready(Some(Err(PayloadError::Io(late))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v != "0")
}

/// Puts the body deadline on a request that has a body.
fn limit_body(req: &mut ServiceRequest) {
    let Some(timeout) = req.app_data::<web::Data<BodyTimeout>>().map(|t| t.0) else {
        return;
    };
    if !has_body(req) {
        return;
    }
    let inner = req.take_payload();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(timeout)),
    });
    req.set_payload(Payload::from(stream));
}

/// The middleware; install it outermost with `actix_web::middleware::from_fn(request_context)`.
pub async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    limit_body(&mut req);
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(acceptable)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let service = req
        .app_data::<web::Data<ServiceName>>()
        .map_or("unnamed", |name| name.0);
    let span = tracing::info_span!(
        "request",
        service,
        request_id = %id,
        method = %req.method(),
        route = tracing::field::Empty,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    if crate::otel::enabled() {
        span.record("otel.kind", "server");
    }
    crate::otel::adopt_parent(&span, |name| {
        req.headers().get(name).and_then(|v| v.to_str().ok())
    });
    let started = Instant::now();
    let outcome = AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .instrument(span.clone())
        .await;
    let header = HeaderValue::from_str(&id).ok();
    match outcome {
        Ok(Ok(res)) => {
            let mut res = res.map_into_boxed_body();
            if let Some(value) = header {
                res.headers_mut()
                    .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            log_request(&span, &res, started);
            Ok(res)
        }
        // Errors that escape the app and panics have no request left to answer with; they are
        // returned as errors whose response is a problem body carrying the request id.
        Ok(Err(err)) => Err(escaped(&span, err.error_response(), header)),
        Err(_) => {
            tracing::error!(parent: &span, "handler panicked");
            let body = problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalError,
                "internal error",
            );
            Err(escaped(&span, body, header))
        }
    }
}

fn escaped(
    span: &tracing::Span,
    mut response: HttpResponse,
    request_id: Option<HeaderValue>,
) -> Error {
    if let Some(value) = request_id {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    tracing::error!(parent: span, status = response.status().as_u16(), "request failed outside the app");
    let status = response.status();
    InternalError::from_response(status, response).into()
}

fn log_request(span: &tracing::Span, res: &ServiceResponse<BoxBody>, started: Instant) {
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(metrics) = res.request().app_data::<web::Data<HttpMetrics>>() {
        let status = res.status().as_u16();
        metrics.observe(
            res.request().method(),
            &route,
            status,
            started.elapsed().as_secs_f64(),
        );
    }
    // With request logging filtered out (as under load), skip the work of building the line.
    if span.is_disabled() && !res.status().is_server_error() {
        return;
    }
    span.record("route", route.as_str());
    let status = res.status().as_u16();
    if crate::otel::enabled() {
        let method = crate::metrics::method_label(res.request().method());
        span.record("otel.name", format!("{method} {route}"));
        span.record("http.response.status_code", status);
    }
    let latency_us = started.elapsed().as_micros() as u64;
    if res.status().is_server_error() {
        tracing::error!(parent: span, status, latency_us, path = res.request().path(), "request failed");
    } else {
        tracing::info!(parent: span, status, latency_us, path = res.request().path(), "request");
    }
}
