//! The Stripe client's settings.

use service_kit::Secret;
use std::time::Duration;

/// Stripe's API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// Settings of the Stripe client.
#[derive(Debug, Clone)]
pub struct StripeClientConfig {
    /// `https://api.stripe.com` ([`DEFAULT_API_BASE`]); a local stand-in in tests.
    pub api_base: String,
    /// `sk_...` or a restricted `rk_...` key.
    pub secret_key: Secret,
    /// Per attempt, connecting included.
    pub timeout: Duration,
    /// Retries after the first attempt (see [`super::retry`]).
    pub max_retries: u32,
    /// `Stripe-Version`, e.g. `2025-03-31.basil`; the account's default version when `None`.
    pub api_version: Option<String>,
    /// Where Stripe sends the student after paying; `{CHECKOUT_SESSION_ID}` is filled in by
    /// Stripe.
    pub success_url: String,
    /// Where Stripe sends a student who goes back without paying.
    pub cancel_url: Option<String>,
    /// The first pause before a retry; later ones double, with jitter, up to `max_retry_delay`.
    pub min_retry_delay: Duration,
    pub max_retry_delay: Duration,
}

impl StripeClientConfig {
    /// Stripe's API with a 10 s timeout, 2 retries after 0.5 s and 1 s (jittered, at most 5 s),
    /// the account's default API version and no cancel page.
    pub fn new(secret_key: Secret, success_url: impl Into<String>) -> Self {
        StripeClientConfig {
            api_base: DEFAULT_API_BASE.to_owned(),
            secret_key,
            timeout: Duration::from_secs(10),
            max_retries: 2,
            api_version: None,
            success_url: success_url.into(),
            cancel_url: None,
            min_retry_delay: Duration::from_millis(500),
            max_retry_delay: Duration::from_secs(5),
        }
    }
}
