//! storefront configuration: defaults in code, environment (or flags) on top.

use service_kit::{Secret, auth::provider::OidcArgs, telemetry::TelemetryArgs};

/// Everything the storefront needs to serve.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 5000, global = true)]
    pub port: u16,
    /// Base URL of course-service, as the storefront reaches it.
    #[arg(
        long,
        env = "COURSE_SERVICE_URL",
        default_value = "http://127.0.0.1:5001"
    )]
    pub course_service_url: String,
    /// Base URL of order-service, as the storefront reaches it.
    #[arg(
        long,
        env = "ORDER_SERVICE_URL",
        default_value = "http://127.0.0.1:5002"
    )]
    pub order_service_url: String,
    /// Timeout of each call to the services, in milliseconds.
    #[arg(long, env = "API_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=120_000))]
    pub api_timeout_ms: u64,
    /// Offer the development sign-in (pick a name and a role; tokens signed with the secret). Not
    /// a setting: only the launcher turns it on, and only when it generated the secret itself.
    #[arg(skip)]
    pub dev_sign_in: bool,
    /// The shared HS256 secret the services use: the storefront checks sign-in tokens with it.
    /// Required; make one with `head -c 32 /dev/urandom | base64`.
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub auth_jwt_secret: Option<Secret>,
    /// Sign-in through this OpenID Connect provider (the same settings as the services'); the
    /// storefront is its client `STOREFRONT_OIDC_CLIENT_ID`.
    #[command(flatten)]
    pub oidc: OidcArgs,
    /// The storefront's client id at the provider (a public client using PKCE, whose redirect URI
    /// is `<STOREFRONT_URL>/signin/callback`).
    #[arg(long, env = "STOREFRONT_OIDC_CLIENT_ID", default_value = "storefront")]
    pub oidc_client_id: String,
    /// The address browsers reach the storefront at (for the provider's redirect back).
    #[arg(long, env = "STOREFRONT_URL", default_value = "http://127.0.0.1:5000")]
    pub public_url: String,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

impl Config {
    /// For an in-process run on loopback: port 0, the given services, the development sign-in
    /// with `secret`.
    pub fn local(course_url: String, order_url: String, secret: Secret) -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            course_service_url: course_url,
            order_service_url: order_url,
            api_timeout_ms: 10_000,
            dev_sign_in: true,
            auth_jwt_secret: Some(secret),
            oidc: OidcArgs::default(),
            oidc_client_id: "storefront".into(),
            public_url: "http://127.0.0.1:5000".into(),
            telemetry: TelemetryArgs::default(),
        }
    }
}
