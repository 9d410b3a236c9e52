//! The `stripe-sandbox` binary: reads its settings from flags or environment variables, starts
//! the sandbox, says where the API and the hosted pages are, and stops cleanly on Ctrl-C or
//! SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use stripe_sandbox::{DEFAULT_API_KEY, DEFAULT_PORT, DEFAULT_WEBHOOK_SECRET, SandboxConfig, spawn};
use tracing_subscriber::EnvFilter;

/// A local stand-in for Stripe's Checkout Sessions and Refunds API, with a hosted checkout page
/// and signed webhook deliveries. In memory, test mode only: not for production.
#[derive(Debug, Parser)]
#[command(name = "stripe-sandbox", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SANDBOX_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, env = "SANDBOX_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Base URL of the hosted checkout pages, as a browser reaches them
    /// [default: http://<host>:<port>].
    #[arg(long, env = "SANDBOX_PUBLIC_URL")]
    public_url: Option<String>,
    /// The secret key API calls must present (`Authorization: Bearer <key>`).
    #[arg(long, env = "STRIPE_SECRET_KEY", default_value = DEFAULT_API_KEY, hide_env_values = true)]
    api_key: String,
    /// Where to POST events; repeat the flag or separate URLs with commas. None: no deliveries.
    #[arg(
        long = "webhook-url",
        env = "SANDBOX_WEBHOOK_URL",
        value_delimiter = ','
    )]
    webhook_urls: Vec<String>,
    /// The signing secret of webhook deliveries (`Stripe-Signature`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", default_value = DEFAULT_WEBHOOK_SECRET, hide_env_values = true)]
    webhook_secret: String,
    /// Delay before the first retry of a failed delivery, in ms; doubles on each retry.
    #[arg(long, env = "SANDBOX_WEBHOOK_RETRY_BASE_MS", default_value_t = 1000)]
    webhook_retry_base_ms: u64,
    /// Longest delay between two delivery attempts, in ms.
    #[arg(long, env = "SANDBOX_WEBHOOK_RETRY_CAP_MS", default_value_t = 60_000)]
    webhook_retry_cap_ms: u64,
    /// Attempts per event and endpoint, the first included.
    #[arg(long, env = "SANDBOX_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    webhook_max_attempts: u32,
    /// Time allowed for one delivery attempt, in ms.
    #[arg(long, env = "SANDBOX_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    webhook_timeout_ms: u64,
    /// Delivery attempts in flight at once per endpoint; 1 delivers in order, one at a time.
    #[arg(long, env = "SANDBOX_WEBHOOK_CONCURRENCY", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    webhook_concurrency: u16,
    /// How often lapsed sessions are expired, in ms.
    #[arg(long, env = "SANDBOX_EXPIRY_INTERVAL_MS", default_value_t = 1000)]
    expiry_interval_ms: u64,
    /// HTTP worker threads.
    #[arg(long, env = "SANDBOX_WORKERS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
}

impl Args {
    fn config(self) -> SandboxConfig {
        SandboxConfig {
            bind: SocketAddr::new(self.host, self.port),
            public_url: self.public_url,
            api_key: self.api_key,
            webhook_secret: self.webhook_secret,
            webhook_urls: self
                .webhook_urls
                .into_iter()
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .collect(),
            webhook_retry_base: Duration::from_millis(self.webhook_retry_base_ms),
            webhook_retry_cap: Duration::from_millis(self.webhook_retry_cap_ms),
            webhook_max_attempts: self.webhook_max_attempts,
            webhook_timeout: Duration::from_millis(self.webhook_timeout_ms),
            webhook_concurrency: usize::from(self.webhook_concurrency),
            expiry_interval: Duration::from_millis(self.expiry_interval_ms),
            workers: usize::from(self.workers),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Args::parse().config();
    let endpoints = if config.webhook_urls.is_empty() {
        "none (events are recorded, not sent)".to_owned()
    } else {
        config.webhook_urls.join(", ")
    };
    let sandbox = spawn(config).await?;
    tracing::info!(
        api = %format!("{}/v1", sandbox.base_url()),
        hosted_pages = %format!("{}/checkout/<session id>", sandbox.public_url()),
        controls = %format!("{}/_sandbox/", sandbox.base_url()),
        webhooks = %endpoints,
        "Stripe sandbox listening (test mode, in memory, not for production)"
    );
    stop_signal().await;
    tracing::info!("stopping the Stripe sandbox");
    sandbox.shutdown().await;
    Ok(())
}
