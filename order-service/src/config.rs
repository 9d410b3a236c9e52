//! order-service configuration: defaults in code, environment (or flags) on top.

use service_kit::{Secret, journal::StorageMode, telemetry::LogFormat};
use std::{path::PathBuf, time::Duration};

/// Everything order-service needs to serve.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 5002)]
    pub port: u16,
    /// Shared HS256 secret for bearer tokens, at least 32 bytes. Required.
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true
    )]
    pub auth_jwt_secret: Option<Secret>,
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
    /// Where state is kept: `embedded` (on disk under DATA_DIR) or `memory` (lost on restart).
    #[arg(long, env = "STORAGE", value_enum, default_value = "embedded")]
    pub storage: StorageMode,
    #[command(flatten)]
    pub database: service_kit::postgres::DatabaseArgs,
    /// Directory of the embedded store (kept in its subdirectory `order-service`).
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// OpenTelemetry collector to export spans to over OTLP/HTTP, e.g. `http://127.0.0.1:4318`
    /// (`/v1/traces` is appended). Unset: no export.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    /// Requests per second allowed per caller (per subject, or per IP when anonymous); service
    /// tokens are exempt; 0 turns rate limiting off.
    #[arg(long, env = "RATE_LIMIT_RPS", default_value_t = 50)]
    pub rate_limit_rps: u32,
    /// Requests a caller may burst above the sustained rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,
    /// How long a client may take to send a request's head, and then its body, in milliseconds.
    #[arg(long, env = "CLIENT_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub client_timeout_ms: u64,
}

impl Config {
    /// The HTTP server's settings.
    pub fn server_options(&self) -> service_kit::server::ServerOptions {
        service_kit::server::ServerOptions {
            workers: self.http_workers,
            client_timeout: std::time::Duration::from_millis(self.client_timeout_ms),
            rate_limit_rps: self.rate_limit_rps,
            rate_limit_burst: self.rate_limit_burst,
        }
    }

    /// A configuration for an in-process run on loopback: port 0, the given secret and
    /// course-service URL, state in memory, defaults for the rest.
    pub fn local(secret: Secret, course_service_url: impl Into<String>) -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            auth_jwt_secret: Some(secret),
            course_service_url: course_service_url.into(),
            course_timeout_ms: 2000,
            course_retry_max: 3,
            order_deadline_ms: 8000,
            reconcile_interval_ms: 500,
            storage: StorageMode::Memory,
            database: Default::default(),
            data_dir: PathBuf::from("./data"),
            log_format: LogFormat::Pretty,
            otlp_endpoint: None,
            http_workers: None,
            rate_limit_rps: 0,
            rate_limit_burst: 100,
            client_timeout_ms: 5000,
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
}
