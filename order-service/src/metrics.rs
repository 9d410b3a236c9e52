//! order-service's metrics: HTTP requests (by route and status), orders by outcome, calls to
//! course-service by result, retries, compensations, the reconciler's backlog, waitlist joins and
//! leaves, and the feed follower's events, offers and lag, served at `/metrics`. It only reads
//! counters and the repository's backlog; it changes nothing.

use crate::{
    course_client::CallMetrics, feed::FeedMetrics, payment_client::stripe::StripeCallMetrics,
    repo::OrderRepo, waitlist::WaitlistMetrics, workflow::Workflow,
};
use prometheus_client::{metrics::gauge::Gauge, registry::Registry};
use service_kit::metrics::{HttpMetrics, MetricsEndpoint};
use std::sync::Arc;

/// The counters of the waitlist routes and of the feed follower.
#[derive(Debug, Clone, Default)]
pub struct WaitlistCounters {
    pub routes: WaitlistMetrics,
    pub feed: FeedMetrics,
}

/// The registry and `/metrics` of one order-service, and the HTTP metrics the server records.
pub fn endpoint(
    workflow: &Workflow,
    orders: Arc<dyn OrderRepo>,
    calls: Option<CallMetrics>,
    stripe: Option<StripeCallMetrics>,
    waitlist: WaitlistCounters,
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
    register_waitlist(&mut registry, waitlist);
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

fn register_waitlist(registry: &mut Registry, counters: WaitlistCounters) {
    let WaitlistCounters { routes, feed } = counters;
    registry.register(
        "waitlist_joins",
        "Waitlist joins answered: new (201) or again (200, the student's open entry)",
        routes.joins,
    );
    registry.register(
        "waitlist_leaves",
        "Waitlist leaves answered (repeats included)",
        routes.leaves,
    );
    registry.register(
        "waitlist_offers_taken",
        "Waitlist offers read from course-service's feed, by outcome: new (an order recorded \
         for the offer), duplicate (recorded before), refused (the student has another live \
         order for the course)",
        feed.offers,
    );
    registry.register(
        "feed_events_read",
        "Events read from course-service's event feed, of any type",
        feed.events_read,
    );
    registry.register(
        "feed_lag_seconds",
        "Age in seconds of the last feed event handled while batches come full (more may \
         follow); 0 once caught up",
        feed.lag_seconds,
    );
}
