//! course-service's metrics: HTTP requests (by route and status), the seat totals across courses
//! (computed when scraped; per-course series would be too many), reservation transitions, the
//! expiry backlog and sweeps, the waitlists (lengths, offers made, taken and lapsed), served at
//! `/metrics`. The store counts in plain numbers; this module
//! alone turns them into Prometheus metrics.

use crate::{
    expiry::SweepStats,
    store::{SeatStore, Transitions},
};
use parking_lot::Mutex;
use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};
use service_kit::metrics::{HttpMetrics, MetricsEndpoint};
use std::sync::Arc;

/// Reservations entering each status, as Prometheus counters fed from the store's plain counts.
#[derive(Debug, Clone, Default)]
struct TransitionCounters {
    held: Counter,
    confirmed: Counter,
    cancelled: Counter,
    expired: Counter,
    released: Counter,
    offered: Counter,
    /// The counts already added, so each scrape adds only what happened since.
    seen: Arc<Mutex<Transitions>>,
}

impl TransitionCounters {
    fn catch_up(&self, now: Transitions) {
        let mut seen = self.seen.lock();
        for (counter, now, seen) in [
            (&self.held, now.held, seen.held),
            (&self.confirmed, now.confirmed, seen.confirmed),
            (&self.cancelled, now.cancelled, seen.cancelled),
            (&self.expired, now.expired, seen.expired),
            (&self.released, now.released, seen.released),
            (&self.offered, now.offered, seen.offered),
        ] {
            counter.inc_by(now.saturating_sub(seen));
        }
        *seen = now;
    }
}

/// The registry and `/metrics` of one course-service, and the HTTP metrics the server records.
pub fn endpoint(
    store: Arc<dyn SeatStore>,
    sweeps: Arc<SweepStats>,
) -> (MetricsEndpoint, HttpMetrics) {
    let mut registry = Registry::with_prefix("course");
    let http = HttpMetrics::register(&mut registry);
    let t = TransitionCounters::default();
    let transitions = t.clone();
    registry.register("holds_created", "Holds placed", t.held);
    registry.register(
        "holds_confirmed",
        "Holds confirmed (seats sold)",
        t.confirmed,
    );
    registry.register("holds_cancelled", "Holds cancelled", t.cancelled);
    registry.register(
        "holds_expired",
        "Holds expired (by a sweep or on access)",
        t.expired,
    );
    registry.register("seats_released", "Sold seats given back", t.released);
    registry.register(
        "waitlist_offers",
        "Freed seats offered to waiting students (holds of their own)",
        t.offered,
    );
    registry.register("expiry_sweeps", "Expiry sweeps run", sweeps.sweeps.clone());
    registry.register(
        "expiry_sweep_duration_seconds",
        "Time each expiry sweep took",
        sweeps.duration.clone(),
    );
    let gauges: [(&str, &str, Gauge); 11] = [
        ("courses", "Courses", Gauge::default()),
        ("seats_total", "Seats of all courses", Gauge::default()),
        (
            "seats_available",
            "Seats available, all courses",
            Gauge::default(),
        ),
        ("seats_held", "Seats held, all courses", Gauge::default()),
        ("seats_sold", "Seats sold, all courses", Gauge::default()),
        (
            "expiry_backlog",
            "Holds waiting to expire",
            Gauge::default(),
        ),
        (
            "waitlist_length",
            "Students waiting for a seat, all courses",
            Gauge::default(),
        ),
        (
            "waitlist_offers_open",
            "Offers held for waiting students now",
            Gauge::default(),
        ),
        (
            "waitlist_offers_taken",
            "Waitlist entries whose offer was confirmed (enrolled)",
            Gauge::default(),
        ),
        (
            "waitlist_offers_lapsed",
            "Waitlist entries whose offer ended untaken",
            Gauge::default(),
        ),
        (
            "waitlist_left",
            "Waitlist entries their students left",
            Gauge::default(),
        ),
    ];
    for (name, help, gauge) in &gauges {
        registry.register(*name, *help, gauge.clone());
    }
    let gauges = Arc::new(gauges);
    let refresh = move || {
        let (store, gauges) = (Arc::clone(&store), Arc::clone(&gauges));
        transitions.catch_up(store.transitions());
        async move {
            let totals = match store.totals().await {
                Ok(totals) => totals,
                Err(e) => {
                    tracing::warn!(error = %e, "seat totals unavailable for /metrics");
                    return;
                }
            };
            let values = [
                totals.courses,
                totals.seats_total,
                totals.seats_available,
                totals.seats_held,
                totals.seats_sold,
                totals.expiry_backlog,
                totals.waitlist.waiting,
                totals.waitlist.offered,
                totals.waitlist.enrolled,
                totals.waitlist.lapsed,
                totals.waitlist.left,
            ];
            for ((_, _, gauge), value) in gauges.iter().zip(values) {
                gauge.set(value as i64);
            }
        }
    };
    (MetricsEndpoint::new(registry, refresh), http)
}
