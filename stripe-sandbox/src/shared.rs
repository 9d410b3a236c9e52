//! What every handler and background task shares: the settings, the state behind its lock, the
//! sandbox clock (the wall clock plus an offset a test may advance) and the webhook senders.
//! [`Shared::change`] is the one way to change the state: it hands the deliveries a change
//! queued to the senders once the lock is released.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::Mutex;

use crate::config::SandboxConfig;
use crate::store::State;
use crate::webhooks::Hub;

#[derive(Debug)]
pub struct Shared {
    pub config: SandboxConfig,
    /// The base of hosted page URLs, without a trailing slash.
    pub public_url: String,
    pub state: Mutex<State>,
    clock_offset: AtomicI64,
    pub hub: Hub,
    /// The runtime background work runs on (the one that started the sandbox).
    pub runtime: tokio::runtime::Handle,
}

impl Shared {
    pub fn new(
        config: SandboxConfig,
        public_url: String,
        runtime: tokio::runtime::Handle,
    ) -> anyhow::Result<Arc<Self>> {
        let mut state = State::default();
        state.webhooks.urls = config.webhook_urls.clone();
        let hub = Hub::new()?;
        Ok(Arc::new(Self {
            config,
            public_url,
            state: Mutex::new(state),
            clock_offset: AtomicI64::new(0),
            hub,
            runtime,
        }))
    }

    /// Unix seconds on the sandbox clock: what `created` and `expires_at` are measured by.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Moves the sandbox clock forward; answers the new offset.
    pub fn advance_clock(&self, seconds: i64) -> i64 {
        self.clock_offset.fetch_add(seconds, Ordering::Relaxed) + seconds
    }

    pub fn reset_clock(&self) {
        self.clock_offset.store(0, Ordering::Relaxed);
    }

    /// Runs `f` on the state, then starts the deliveries it queued.
    pub fn change<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, outgoing) = {
            let mut state = self.state.lock();
            let result = f(&mut state);
            (result, state.take_outbox())
        };
        if !outgoing.is_empty() {
            crate::webhooks::dispatch(self, outgoing);
        }
        result
    }

    /// The `url` of session `id`.
    pub fn hosted_url(&self, id: &str) -> String {
        format!("{}/checkout/{id}", self.public_url)
    }
}
