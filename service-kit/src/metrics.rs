//! Prometheus metrics: one registry per service instance (no global state, so several services
//! can run in one process), HTTP request counts and latency by route and status recorded by the
//! request-context middleware, and the `/metrics` endpoint that renders the registry in the
//! OpenMetrics text format after letting the service refresh its gauges.

use actix_web::{HttpResponse, web};
use futures::future::BoxFuture;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

/// Labels of a request count.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// Labels of a request latency.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
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

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.latency
            .get_or_create(&RouteLabels {
                method: method.clone(),
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
