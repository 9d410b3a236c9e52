//! course-service configuration: defaults in code, environment (or flags) on top.
//!
//! Tests build a [`Config`] in code; `main` parses it from the environment with clap, so
//! `course-service --help` lists every setting with its variable and default.

use service_kit::{Secret, journal::StorageMode, telemetry::LogFormat};
use std::path::PathBuf;

/// Everything course-service needs to serve.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 5001)]
    pub port: u16,
    /// Shared HS256 secret for bearer tokens, at least 32 bytes. Required.
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true
    )]
    pub auth_jwt_secret: Option<Secret>,
    /// How long a hold lasts before it expires, in seconds.
    #[arg(long, env = "RESERVATION_TTL_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub reservation_ttl_secs: u64,
    /// When the expiry sweep runs: a 6-field cron expression, seconds first.
    #[arg(long, env = "EXPIRY_SWEEP_CRON", default_value = "* * * * * *")]
    pub expiry_sweep_cron: String,
    /// Most seats one student may hold at once across all courses (0: no limit).
    #[arg(long, env = "MAX_HOLDS_PER_STUDENT", default_value_t = 5)]
    pub max_holds_per_student: u32,
    /// Where state is kept: `embedded` (on disk under DATA_DIR) or `memory` (lost on restart).
    #[arg(long, env = "STORAGE", value_enum, default_value = "embedded")]
    pub storage: StorageMode,
    #[command(flatten)]
    pub database: service_kit::postgres::DatabaseArgs,
    /// Directory of the embedded store (kept in its subdirectory `course-service`).
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

    /// A configuration for an in-process run on loopback: port 0, the given secret, state in
    /// memory, no rate limiting, defaults for the rest.
    pub fn local(secret: Secret) -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            auth_jwt_secret: Some(secret),
            reservation_ttl_secs: 300,
            expiry_sweep_cron: "* * * * * *".into(),
            max_holds_per_student: 5,
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
}
