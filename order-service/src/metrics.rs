//! order-service's metrics: HTTP requests (by route and status), orders by outcome, calls to
//! course-service by result, retries, compensations and the reconciler's backlog, served at
//! `/metrics`.

use crate::{course_client::CallMetrics, workflow::Workflow};
use prometheus_client::{metrics::gauge::Gauge, registry::Registry};
use service_kit::metrics::{HttpMetrics, MetricsEndpoint};
use std::sync::Arc;

/// The registry and `/metrics` of one order-service, and the HTTP metrics the server records.
pub fn endpoint(workflow: &Workflow, calls: Option<CallMetrics>) -> (MetricsEndpoint, HttpMetrics) {
    let mut registry = Registry::with_prefix("order");
    let http = HttpMetrics::register(&mut registry);
    let w = workflow.metrics();
    registry.register(
        "orders_placed",
        "Answers to POST /api/orders, by outcome",
        w.placed,
    );
    registry.register(
        "orders_settled",
        "Orders reaching a final status, by status",
        w.settled,
    );
    registry.register(
        "compensations",
        "Compensating calls (ids cancelled, seats given back)",
        w.compensations,
    );
    if let Some(calls) = calls {
        registry.register(
            "course_calls",
            "Calls to course-service, by call and result",
            calls.calls,
        );
        registry.register(
            "course_call_attempts",
            "Attempts of calls to course-service (calls plus retries)",
            calls.attempts,
        );
    }
    let backlog = Gauge::<i64>::default();
    registry.register(
        "reconciler_backlog",
        "Orders with work left (pending, or a cancellation not finished)",
        backlog.clone(),
    );
    let store = workflow.store().clone();
    let refresh = move || {
        let (store, backlog) = (Arc::clone(&store), backlog.clone());
        async move {
            match store.work_count().await {
                Ok(n) => {
                    backlog.set(i64::try_from(n).unwrap_or(i64::MAX));
                }
                Err(e) => tracing::warn!(error = %e, "reconciler backlog unavailable for /metrics"),
            }
        }
    };
    (MetricsEndpoint::new(registry, refresh), http)
}
