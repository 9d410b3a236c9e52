//! The sandbox's settings: where it listens, the secret key it accepts, where and how it delivers
//! webhook events, and how often it expires lapsed sessions. One value, [`SandboxConfig`], built
//! by the binary from its flags or by a test with [`SandboxConfig::local`].

use std::net::SocketAddr;
use std::time::Duration;

/// The port the binary listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 5003;
/// The secret key the API accepts unless told otherwise.
pub const DEFAULT_API_KEY: &str = "sk_test_sandbox";
/// The webhook signing secret unless told otherwise.
pub const DEFAULT_WEBHOOK_SECRET: &str = "whsec_sandbox";

/// How a sandbox runs.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen. Port 0 picks a free port ([`crate::Sandbox::base_url`] tells which).
    pub bind: SocketAddr,
    /// The base of the hosted checkout pages' URLs (a session's `url`), without a trailing
    /// slash. `None`: `http://<the bound address>`.
    pub public_url: Option<String>,
    /// The only secret key the API accepts (`Authorization: Bearer <key>`).
    pub api_key: String,
    /// The `whsec_...` string that signs webhook deliveries, used whole as the HMAC key.
    pub webhook_secret: String,
    /// Where every event is POSTed. Empty: events are recorded, never sent.
    pub webhook_urls: Vec<String>,
    /// The delay before the first retry of a failed delivery; it doubles on each retry.
    pub webhook_retry_base: Duration,
    /// The longest delay between two attempts.
    pub webhook_retry_cap: Duration,
    /// Attempts per event and endpoint, the first included (at least 1).
    pub webhook_max_attempts: u32,
    /// How long one delivery attempt may take before it counts as failed.
    pub webhook_timeout: Duration,
    /// Delivery attempts in flight at once per endpoint (at least 1). With 1, an endpoint gets
    /// its events one after another in the order they were queued; with more, in no promised
    /// order, as from Stripe.
    pub webhook_concurrency: usize,
    /// How often lapsed sessions are looked for.
    pub expiry_interval: Duration,
    /// HTTP worker threads.
    pub workers: usize,
}

impl SandboxConfig {
    /// For tests: loopback on a free port, the default keys, no webhook endpoints, short retry
    /// delays (50 ms doubling, at most 1 s), one delivery at a time per endpoint (so a test can
    /// choose the order events arrive in) and a 100 ms expiry tick.
    pub fn local() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            webhook_retry_base: Duration::from_millis(50),
            webhook_retry_cap: Duration::from_secs(1),
            webhook_timeout: Duration::from_secs(5),
            webhook_concurrency: 1,
            expiry_interval: Duration::from_millis(100),
            workers: 2,
            ..Self::default()
        }
    }

    /// The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed.
    pub(crate) fn retry_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.webhook_retry_base
            .saturating_mul(factor)
            .min(self.webhook_retry_cap)
    }
}

impl Default for SandboxConfig {
    /// What the binary does without flags: 127.0.0.1:5003, 1 s retry base (doubling, at most
    /// 60 s), 8 attempts, 10 s per attempt, 16 deliveries in flight per endpoint, a 1 s expiry
    /// tick.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            public_url: None,
            api_key: DEFAULT_API_KEY.to_owned(),
            webhook_secret: DEFAULT_WEBHOOK_SECRET.to_owned(),
            webhook_urls: Vec::new(),
            webhook_retry_base: Duration::from_millis(1000),
            webhook_retry_cap: Duration::from_secs(60),
            webhook_max_attempts: 8,
            webhook_timeout: Duration::from_secs(10),
            webhook_concurrency: 16,
            expiry_interval: Duration::from_secs(1),
            workers: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let config = SandboxConfig {
            webhook_retry_base: Duration::from_millis(100),
            webhook_retry_cap: Duration::from_millis(500),
            ..SandboxConfig::default()
        };
        let delays: Vec<u128> = (1..=5).map(|a| config.retry_delay(a).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        assert_eq!(config.retry_delay(u32::MAX).as_millis(), 500);
    }
}
