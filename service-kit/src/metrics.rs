//! Prometheus metrics: one registry per service instance (no global state, so several services
//! can run in one process), HTTP request counts and latency by route and status recorded by the
//! request-context middleware, and the `/metrics` endpoint that renders the registry in the
//! OpenMetrics text format after letting the service refresh its gauges.

use actix_web::{HttpResponse, http, web};
use futures::future::BoxFuture;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

/// Labels of a request count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

/// Labels of a request latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 50 us to about 3 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.00005, 2.0, 17,
    ))
}

/// Counts and latencies of HTTP requests.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
}

impl HttpMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            metrics.requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by route",
            metrics.latency.clone(),
        );
        metrics
    }

    /// Counts one answered request. `method` is bounded to [`method_label`]'s set and `route` is
    /// a route pattern (or `unmatched`), so no client can grow the label sets.
    pub fn observe(&self, method: &http::Method, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method_label(method), route.to_owned());
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }
}

/// The metrics label of an HTTP method: one of the standard methods, or `other` for anything a
/// client makes up.
pub fn method_label(method: &http::Method) -> &'static str {
    use http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        M::TRACE => "TRACE",
        M::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// What `/metrics` renders.
pub struct MetricsEndpoint {
    registry: Registry,
    refresh: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsEndpoint")
    }
}

impl MetricsEndpoint {
    /// `refresh` runs before each rendering, to set gauges that are cheaper to compute on demand
    /// (it may query a database).
    pub fn new<F>(registry: Registry, refresh: impl Fn() -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        MetricsEndpoint {
            registry,
            refresh: Box::new(move || Box::pin(refresh())),
        }
    }

    pub async fn render(&self) -> String {
        (self.refresh)().await;
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// `GET /metrics`.
pub async fn metrics(endpoint: web::Data<MetricsEndpoint>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(endpoint.render().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label_and_the_metrics_stay_small() {
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry);
        for i in 0..2000 {
            let method =
                http::Method::from_bytes(format!("X{i}RANDOM").as_bytes()).expect("method");
            metrics.observe(&method, "unmatched", 405, 0.001);
        }
        metrics.observe(&http::Method::GET, "/api/courses", 200, 0.001);
        let mut text = String::new();
        encode(&mut text, &registry).expect("encode");
        assert!(text.contains("method=\"other\""), "{text}");
        assert!(!text.contains("RANDOM"), "a client's method became a label");
        assert!(text.len() < 16 * 1024, "{} bytes of metrics", text.len());
        assert_eq!(method_label(&http::Method::PATCH), "PATCH");
    }
}
