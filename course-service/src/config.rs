//! course-service configuration: defaults in code, environment (or flags) on top.
//!
//! Tests build a [`Config`] in code; `main` parses it from the environment with clap, so
//! `course-service --help` lists every setting with its variable and default.

use service_kit::{Secret, auth::provider::OidcArgs, server::ServerArgs, telemetry::TelemetryArgs};
use storage_kit::StorageArgs;

/// Everything course-service needs to serve.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on (0 picks a free one); the port `healthcheck` probes.
    #[arg(long, env = "PORT", default_value_t = 5001, global = true)]
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
    /// How long a hold lasts before it expires, in seconds.
    #[arg(long, env = "RESERVATION_TTL_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub reservation_ttl_secs: u64,
    /// How long a seat offered to a waiting student stays held for them, in seconds.
    #[arg(long, env = "WAITLIST_OFFER_SECS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub waitlist_offer_secs: u64,
    /// When the expiry sweep runs: a 6-field cron expression, seconds first.
    #[arg(long, env = "EXPIRY_SWEEP_CRON", default_value = "* * * * * *")]
    pub expiry_sweep_cron: String,
    /// How long the event feed keeps events, in hours (at least 24).
    #[arg(long, env = "EVENT_RETENTION_HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u64).range(24..=8_760))]
    pub event_retention_hours: u64,
    /// Most seats one student may hold at once across all courses (0: no limit).
    #[arg(long, env = "MAX_HOLDS_PER_STUDENT", default_value_t = 5)]
    pub max_holds_per_student: u32,
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
        self.server.options("course-service")
    }

    /// A configuration for an in-process run on loopback: port 0, the given secret, state in
    /// memory, no rate limiting, defaults for the rest.
    pub fn local(secret: Secret) -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            auth_jwt_secret: Some(secret),
            oidc: OidcArgs::default(),
            storage: StorageArgs::memory(),
            telemetry: TelemetryArgs::default(),
            server: ServerArgs::local(),
            reservation_ttl_secs: 300,
            waitlist_offer_secs: 3600,
            expiry_sweep_cron: "* * * * * *".into(),
            max_holds_per_student: 5,
            event_retention_hours: 24,
        }
    }
}
