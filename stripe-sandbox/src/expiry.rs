//! The expirer: every tick, open sessions whose `expires_at` has passed on the sandbox clock are
//! expired (`checkout.session.expired`), at most [`PER_TICK`] a tick, until the sandbox stops.

use std::sync::{Arc, Weak};

use tokio::sync::watch;

use crate::shared::Shared;

/// At most this many sessions are expired per tick.
pub const PER_TICK: usize = 500;

/// Runs until `stop` turns true or the sandbox is gone.
pub async fn run(shared: Weak<Shared>, mut stop: watch::Receiver<bool>) {
    let Some(interval) = shared.upgrade().map(|s| s.config.expiry_interval) else {
        return;
    };
    let mut ticks = tokio::time::interval(interval.max(std::time::Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let expired = tick(&shared);
        if expired > 0 {
            tracing::info!(expired, "expired lapsed checkout sessions");
        }
    }
}

/// One round: answers how many sessions were expired.
pub fn tick(shared: &Arc<Shared>) -> usize {
    let now = shared.now();
    shared.change(|state| state.expire_lapsed(now, PER_TICK))
}
