//! order-service's metrics: HTTP requests (by route and status), orders by outcome, calls to
//! course-service by result, retries, compensations and the reconciler's backlog, served at
//! `/metrics`. It only reads counters and the repository's backlog; it changes nothing.

use crate::{
    course_client::CallMetrics, payment_client::stripe::StripeCallMetrics, repo::OrderRepo,
    workflow::Workflow,
};
use prometheus_client::{metrics::gauge::Gauge, registry::Registry};
use service_kit::metrics::{HttpMetrics, MetricsEndpoint};
use std::sync::Arc;

/// The registry and `/metrics` of one order-service, and the HTTP metrics the server records.
pub fn endpoint(
    workflow: &Workflow,
    orders: Arc<dyn OrderRepo>,
    calls: Option<CallMetrics>,
    stripe: Option<StripeCallMetrics>,
) -> (MetricsEndpoint, HttpMetrics) {
    let mut registry = Registry::with_prefix("order");
    let http = HttpMetrics::register(&mut registry);
    let w = workflow.metrics();
    registry.register(
        "orders_placed",
        "New orders recorded by POST /api/orders, by their status when it answered (replays and \
         requests refused before an order was recorded are not counted)",
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
    let p = workflow.payment_metrics();
    registry.register(
        "checkout_sessions_created",
        "Checkout sessions opened with the payment provider",
        p.sessions_created,
    );
    registry.register(
        "payments_paid",
        "Payments learned (from a webhook or a read of the session)",
        p.paid,
    );
    registry.register(
        "checkouts_expired",
        "Checkouts closed unpaid (the hold ended, or the session expired)",
        p.expired,
    );
    registry.register("refunds", "Refunds made", p.refunds);
    registry.register(
        "late_payments",
        "Payments that arrived after their order had failed or was cancelled",
        p.late_payments,
    );
    registry.register(
        "webhook_signature_failures",
        "Webhook deliveries refused for a missing, wrong or stale Stripe-Signature",
        p.webhook_rejected,
    );
    if let Some(stripe) = stripe {
        registry.register(
            "stripe_calls",
            "Calls to Stripe's API, by call and result",
            stripe.calls,
        );
        registry.register(
            "stripe_call_attempts",
            "Attempts of calls to Stripe's API (calls plus retries)",
            stripe.attempts,
        );
    }
    let backlog = Gauge::<i64>::default();
    registry.register(
        "reconciler_backlog",
        "Orders with work left (pending, awaiting a payment, a cancellation or a refund not \
         finished)",
        backlog.clone(),
    );
    let refresh = move || {
        let (orders, backlog) = (Arc::clone(&orders), backlog.clone());
        async move {
            match orders.work_count().await {
                Ok(n) => {
                    backlog.set(i64::try_from(n).unwrap_or(i64::MAX));
                }
                Err(e) => tracing::warn!(error = %e, "reconciler backlog unavailable for /metrics"),
            }
        }
    };
    (MetricsEndpoint::new(registry, refresh), http)
}
