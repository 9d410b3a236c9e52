//! order-service configuration: defaults in code, environment (or flags) on top.

use service_kit::{Secret, auth::provider::OidcArgs, server::ServerArgs, telemetry::TelemetryArgs};
use std::time::Duration;
use storage_kit::StorageArgs;

/// Everything order-service needs to serve.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on (0 picks a free one); the port `healthcheck` probes.
    #[arg(long, env = "PORT", default_value_t = 5002, global = true)]
    pub port: u16,
    /// Shared HS256 secret for bearer tokens: at least 32 bytes, not a placeholder. Required;
    /// make one with `head -c 32 /dev/urandom | base64`.
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub auth_jwt_secret: Option<Secret>,
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// Base URL of course-service.
    #[arg(
        long,
        env = "COURSE_SERVICE_URL",
        default_value = "http://127.0.0.1:5001"
    )]
    pub course_service_url: String,
    /// Timeout of each attempt of a call to course-service, in milliseconds.
    #[arg(long, env = "COURSE_TIMEOUT_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub course_timeout_ms: u64,
    /// Retries of a call to course-service after the first attempt (transient failures only).
    #[arg(long, env = "COURSE_RETRY_MAX", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(0..=20))]
    pub course_retry_max: u32,
    /// How long `POST /api/orders` waits for the outcome before answering 202 with the pending order.
    #[arg(long, env = "ORDER_DEADLINE_MS", default_value_t = 8000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub order_deadline_ms: u64,
    /// How often the reconciler visits pending orders, in milliseconds.
    #[arg(long, env = "RECONCILE_INTERVAL_MS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub reconcile_interval_ms: u64,
    #[command(flatten)]
    pub payments: PaymentArgs,
    #[command(flatten)]
    pub waitlist: WaitlistArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub server: ServerArgs,
}

impl Config {
    /// The HTTP server's settings.
    pub fn server_options(&self) -> service_kit::server::ServerOptions {
        service_kit::server::ServerOptions {
            // Stripe signs every delivery and retries a refused one for days; a 429 would only
            // delay payments.
            unlimited_paths: &[crate::routes::payments::STRIPE_WEBHOOK_PATH],
            ..self.server.options("order-service")
        }
    }

    /// A configuration for an in-process run on loopback: port 0, the given secret and
    /// course-service URL, state in memory, defaults for the rest.
    pub fn local(secret: Secret, course_service_url: impl Into<String>) -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            auth_jwt_secret: Some(secret),
            oidc: OidcArgs::default(),
            payments: PaymentArgs::default(),
            waitlist: WaitlistArgs::default(),
            storage: StorageArgs::memory(),
            telemetry: TelemetryArgs::default(),
            server: ServerArgs::local(),
            course_service_url: course_service_url.into(),
            course_timeout_ms: 2000,
            course_retry_max: 3,
            order_deadline_ms: 8000,
            reconcile_interval_ms: 500,
        }
    }

    pub fn course_timeout(&self) -> Duration {
        Duration::from_millis(self.course_timeout_ms)
    }

    pub fn order_deadline(&self) -> Duration {
        Duration::from_millis(self.order_deadline_ms)
    }

    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_millis(self.reconcile_interval_ms)
    }

    /// How the feed follower reads course-service's event feed.
    pub fn feed_settings(&self) -> crate::feed::FeedSettings {
        crate::feed::FeedSettings {
            wait: Duration::from_millis(self.waitlist.waitlist_feed_wait_ms),
            batch: self.waitlist.waitlist_feed_batch,
            timeout: self.course_timeout(),
        }
    }
}

/// Waitlist settings: following course-service's event feed, whose offers become orders.
#[derive(Debug, Clone, clap::Args)]
pub struct WaitlistArgs {
    /// Whether this process follows course-service's event feed and turns waitlist offers into
    /// orders (`true` or `false`). Of several replicas on one database one follows at a time
    /// whatever this says; `false` leaves offers to the others (an offer nobody takes lapses).
    #[arg(long, env = "WAITLIST_FOLLOW", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub waitlist_follow: bool,
    /// How long one read of the event feed waits for an event (a long poll), in milliseconds. An
    /// event ends the wait at once; a course-service asked to stop finishes a long poll first, so
    /// the default keeps its stop well within the usual 10 s grace.
    #[arg(long, env = "WAITLIST_FEED_WAIT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(100..=30_000))]
    pub waitlist_feed_wait_ms: u64,
    /// Most events read from the feed at once.
    #[arg(long, env = "WAITLIST_FEED_BATCH", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub waitlist_feed_batch: u32,
}

impl Default for WaitlistArgs {
    fn default() -> Self {
        WaitlistArgs {
            waitlist_follow: true,
            waitlist_feed_wait_ms: 5_000,
            waitlist_feed_batch: 200,
        }
    }
}

/// Who collects the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PaymentProvider {
    /// Seats are confirmed without collecting money (free courses, or payment handled elsewhere).
    #[default]
    None,
    /// Stripe Checkout: the student pays on a hosted page; a webhook confirms the seat.
    Stripe,
}

/// Payment settings.
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentArgs {
    /// Who collects payments for courses with a price.
    #[arg(long, env = "PAYMENT_PROVIDER", value_enum, default_value_t = PaymentProvider::None)]
    pub payment_provider: PaymentProvider,
    /// Base URL of Stripe's API (a local sandbox for development and tests).
    #[arg(
        long,
        env = "STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: String,
    /// Stripe secret key (`sk_live_...`, `sk_test_...`, or a restricted `rk_...`).
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<Secret>,
    /// Signing secret of the webhook endpoint (`whsec_...`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<Secret>,
    /// Stripe API version to pin (`Stripe-Version`); empty: the account's default.
    #[arg(long, env = "STRIPE_API_VERSION", default_value = "")]
    pub stripe_api_version: String,
    /// Where the checkout sends the student after paying (`{CHECKOUT_SESSION_ID}` is filled in).
    #[arg(
        long,
        env = "CHECKOUT_SUCCESS_URL",
        default_value = "http://127.0.0.1:5002/checkout/complete?session_id={CHECKOUT_SESSION_ID}"
    )]
    pub checkout_success_url: String,
    /// Where the checkout's back link leads; empty: none.
    #[arg(long, env = "CHECKOUT_CANCEL_URL", default_value = "")]
    pub checkout_cancel_url: String,
    /// Timeout of each attempt of a call to the payment provider, in milliseconds.
    #[arg(long, env = "PAYMENT_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub payment_timeout_ms: u64,
    /// Retries of a call to the payment provider after the first attempt.
    #[arg(long, env = "PAYMENT_RETRY_MAX", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=10))]
    pub payment_retry_max: u32,
    /// How often an order waiting for its payment reads its checkout in case a webhook was lost,
    /// in seconds (it is read at the hold's end in any case).
    #[arg(long, env = "PAYMENT_POLL_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub payment_poll_secs: u64,
}

impl Default for PaymentArgs {
    fn default() -> Self {
        PaymentArgs {
            payment_provider: PaymentProvider::None,
            stripe_api_base: "https://api.stripe.com".into(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_version: String::new(),
            checkout_success_url:
                "http://127.0.0.1:5002/checkout/complete?session_id={CHECKOUT_SESSION_ID}".into(),
            checkout_cancel_url: String::new(),
            payment_timeout_ms: 10_000,
            payment_retry_max: 2,
            payment_poll_secs: 30,
        }
    }
}

impl PaymentArgs {
    /// Stripe settings pointing at `api_base` with the given secrets (for local runs and tests).
    pub fn stripe(api_base: impl Into<String>, secret_key: Secret, webhook_secret: Secret) -> Self {
        PaymentArgs {
            payment_provider: PaymentProvider::Stripe,
            stripe_api_base: api_base.into(),
            stripe_secret_key: Some(secret_key),
            stripe_webhook_secret: Some(webhook_secret),
            ..PaymentArgs::default()
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.payment_timeout_ms)
    }

    pub fn poll(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::seconds(i64::try_from(self.payment_poll_secs).unwrap_or(30))
    }

    /// The Stripe secrets when Stripe is chosen, or why the settings cannot work.
    pub fn stripe_secrets(&self) -> anyhow::Result<Option<(&Secret, &Secret)>> {
        if self.payment_provider != PaymentProvider::Stripe {
            return Ok(None);
        }
        let key = self
            .stripe_secret_key
            .as_ref()
            .filter(|k| !k.expose().is_empty());
        let webhook = self
            .stripe_webhook_secret
            .as_ref()
            .filter(|k| !k.expose().is_empty());
        match (key, webhook) {
            (Some(key), Some(webhook)) => Ok(Some((key, webhook))),
            (None, _) => anyhow::bail!(
                "PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY (the account's secret key, sk_...)"
            ),
            (_, None) => anyhow::bail!(
                "PAYMENT_PROVIDER=stripe needs STRIPE_WEBHOOK_SECRET (the webhook endpoint's \
                 signing secret, whsec_...)"
            ),
        }
    }
}
