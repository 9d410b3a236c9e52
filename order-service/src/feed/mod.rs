//! The feed follower: a background task that reads course-service's event feed and turns every
//! waitlist offer (`reservation.offered`) into the student's order, through
//! [`Workflow::take_offer`]. Other events are read past.
//!
//! # Exactly once
//! An offer's order is named by the offer (its id is the offer's reservation id), and recording it
//! again records nothing ([`crate::repo::OrderRepo::begin_offer`]), so reading an offer twice (a
//! redelivery, a restart, a replica taking over) makes one order. The follower stores its cursor
//! ([`FeedStore`]) only after every offer of a batch is recorded durably: a restart reads on from
//! there, so it misses no offer, and repeats at most the batch it was in the middle of.
//!
//! # One follower at a time
//! Several replicas may share one database: each pass first takes or renews the follower's lease,
//! a replica that does not get it stands by and asks again later, and storing the cursor succeeds
//! only under the lease, so a follower that lost its lease (it was too slow, another took over)
//! stores nothing and stands by. A replica that stops gives its lease up; one that dies lets it
//! lapse, and another takes over then.
//!
//! # Bounded
//! Every pass is bounded in time: one lease statement, one long poll (`WAITLIST_FEED_WAIT_MS`,
//! with a timeout above the wait), one record per offer, one cursor statement. A pass that failed
//! pauses 100 ms, doubling up to 5 s; an empty answer that came back before its wait pauses for
//! the rest of it, so the loop never spins. A cursor whose events were forgotten (410
//! `cursor_expired`) is logged and the follower starts again from the oldest event kept.
//!
//! It decides nothing about an order: the saga does, from the order's first step.

mod pass;
pub mod store;

pub use store::{FeedStore, Lead};

use crate::{clock::Clock, course_client::FeedClient, workflow::Workflow};
use chrono::TimeDelta;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
};
use std::{
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};
use tokio::{sync::watch, task::JoinHandle};
use tracing::Instrument;

/// How long a replica that does not lead waits before asking for the lease again.
const STANDBY: Duration = Duration::from_secs(5);

/// How long a stopping follower may take to finish its pass before it is cut off.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Tries at giving the lease up when the follower stops.
const RELEASE_TRIES: u32 = 3;

/// How the follower reads.
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    /// How long one read waits for an event (a long poll).
    pub wait: Duration,
    /// Most events read at once.
    pub batch: u32,
    /// The timeout of a call to course-service, on top of the wait.
    pub timeout: Duration,
}

impl FeedSettings {
    /// How long the follower's lease lasts: two of its longest reads, so a follower renews it
    /// well before it lapses, and a replica that died is taken over within a minute or two.
    pub fn lease(&self) -> TimeDelta {
        TimeDelta::from_std((self.wait + self.timeout) * 2)
            .unwrap_or(TimeDelta::minutes(1))
            .max(TimeDelta::seconds(30))
    }
}

/// A counter label: what became of an offer read.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OfferOutcome {
    /// `new` (an order recorded), `duplicate` (recorded before), `refused` (the student has
    /// another live order for the course).
    pub outcome: &'static str,
}

/// What the follower counts, for the metrics.
#[derive(Debug, Clone, Default)]
pub struct FeedMetrics {
    /// Events read from the feed, of any type.
    pub events_read: Counter,
    /// Offers read, by what became of them.
    pub offers: Family<OfferOutcome, Counter>,
    /// Seconds between the last event handled and its handling while batches come full (more
    /// may follow); 0 once a batch read everything there was.
    pub lag_seconds: Gauge<f64, AtomicU64>,
}

/// What the follower works with.
#[derive(Debug, Clone)]
pub struct Follower {
    pub feed: Arc<dyn FeedClient>,
    pub store: Arc<dyn FeedStore>,
    pub workflow: Workflow,
    pub clock: Arc<dyn Clock>,
    pub settings: FeedSettings,
    pub metrics: FeedMetrics,
    /// Who this follower is, for the lease: unique per process.
    pub holder: String,
}

/// Asks a follower to stop: its long poll is cut short, it starts no other, and it gives its
/// lease up. Cheap to clone; for a signal handler to call as soon as the process is asked to stop,
/// before the servers' graceful stop (a course-service stopping finishes the long polls it serves
/// first, so one more poll would hold its stop up).
#[derive(Debug, Clone)]
pub struct StopFollowing(Arc<watch::Sender<bool>>);

impl StopFollowing {
    /// A switch that stops nothing (no follower runs).
    pub fn none() -> Self {
        StopFollowing(Arc::new(watch::channel(true).0))
    }

    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

/// A running follower; [`Running::stop`] ends it.
#[derive(Debug)]
pub struct Running {
    stop: StopFollowing,
    task: JoinHandle<()>,
}

impl Running {
    /// The switch that stops the follower.
    pub fn switch(&self) -> StopFollowing {
        self.stop.clone()
    }

    /// Asks the follower to stop (see [`StopFollowing`]), waits for it (at most a few seconds,
    /// then cuts it off), and lets its lease go.
    pub async fn stop(self) {
        self.stop.stop();
        let mut task = self.task;
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            tracing::warn!("the feed follower did not stop in time; cut off");
            task.abort();
        }
    }
}

/// Pauses after failed passes: 100 ms, doubling, at most 5 s; from the start again after a pass
/// that read.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (pause * 2).min(Self::MAX);
        pause
    }
}

/// What one pass ended with, and so how long to pause before the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Read and handled a batch: go on at once.
    Read,
    /// Read nothing, sooner than the wait: pause this long.
    Idle(Duration),
    /// Another replica follows the feed.
    Standby,
    /// Something failed: back off.
    Failed,
    /// Asked to stop.
    Stopped,
}

impl Follower {
    /// Starts following the feed.
    pub fn spawn(self) -> Running {
        let (stop, stopping) = watch::channel(false);
        // Under the span it was started in: the launcher names its service there.
        let task = tokio::spawn(self.run(stopping).in_current_span());
        Running {
            stop: StopFollowing(Arc::new(stop)),
            task,
        }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut position = pass::Position::default();
        let mut backoff = Backoff::new();
        loop {
            let pause = match self.pass(&mut position, &mut stop).await {
                Pass::Read => {
                    backoff.reset();
                    continue;
                }
                Pass::Idle(pause) => pause,
                Pass::Standby => STANDBY,
                Pass::Failed => backoff.pause(),
                Pass::Stopped => break,
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => break,
            }
        }
        // A few tries: at shutdown a pooled connection may belong to a runtime that has just
        // stopped, and the next try gets another. Giving the lease up twice is harmless.
        for attempt in 1..=RELEASE_TRIES {
            match self.store.release_feed(&self.holder).await {
                Ok(()) => break,
                Err(e) if attempt == RELEASE_TRIES => {
                    tracing::warn!(error = %e, "feed lease not given up; it lapses");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_from_100_ms_doubling_to_5_s_and_start_again_after_a_read() {
        let mut backoff = Backoff::new();
        let pauses: Vec<u64> = (0..9).map(|_| backoff.pause().as_millis() as u64).collect();
        assert_eq!(pauses, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.pause(), Duration::from_millis(100));
    }

    #[test]
    fn the_lease_outlasts_two_reads_and_at_least_half_a_minute() {
        let settings = |wait_ms, timeout_ms| FeedSettings {
            wait: Duration::from_millis(wait_ms),
            batch: 100,
            timeout: Duration::from_millis(timeout_ms),
        };
        assert_eq!(settings(25_000, 2000).lease(), TimeDelta::seconds(54));
        assert_eq!(settings(5_000, 2000).lease(), TimeDelta::seconds(30));
        assert_eq!(settings(100, 100).lease(), TimeDelta::seconds(30));
    }
}
