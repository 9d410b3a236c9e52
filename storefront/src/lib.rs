//! The web storefront: the pages students and instructors use, on top of course-service's and
//! order-service's public APIs (the pages hold no rules of their own).
//!
//! - [`config`]: settings; [`api`]: the calls to both services; [`messages`]: what their answers
//!   mean in words; [`session`]: who is signed in (the bearer token in a cookie); [`oidc`]:
//!   sign-in through an OpenID Connect provider.
//! - [`pages`]: the HTML (maud templates); [`routes`]: the handlers; [`live`]: live seat counts
//!   as one server-sent event stream per page; [`assets`]: the stylesheet and script.
//!
//! Every page is served with a Content-Security-Policy that allows scripts, styles and
//! connections from the storefront itself only (no inline script), and nothing is loaded from
//! anywhere else.

pub mod api;
pub mod assets;
pub mod config;
pub mod live;
pub mod messages;
pub mod oidc;
pub mod pages;
pub mod routes;
pub mod session;

pub use config::Config;

use actix_web::{App, HttpServer, dev::Server, middleware::DefaultHeaders, web};
use service_kit::TokenKeys;
use std::time::Duration;

/// The policy every answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the handlers share.
#[derive(Debug)]
pub struct State {
    pub api: api::Api,
    pub keys: TokenKeys,
    pub dev_sign_in: bool,
    /// Sign-in through an OpenID Connect provider, when one is configured.
    pub oidc: Option<oidc::OidcSignIn>,
}

/// A built, not yet running, storefront.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let provider = service_kit::auth::provider::Provider::start(&config.oidc).await?;
        let oidc = match (&provider, &config.oidc.audience) {
            (Some(provider), Some(audience)) => Some(oidc::OidcSignIn::new(
                provider.issuer(),
                audience.trim(),
                &config.oidc_client_id,
                &config.public_url,
            )?),
            _ => None,
        };
        let keys = service_kit::secrets::token_keys(config.auth_jwt_secret.as_ref())?
            .with_provider(provider);
        let api = api::Api::new(
            &config.course_service_url,
            &config.order_service_url,
            Duration::from_millis(config.api_timeout_ms),
        )?;
        let state = web::Data::new(State {
            api,
            keys,
            dev_sign_in: config.dev_sign_in,
            oidc,
        });
        let (listener, port) = service_kit::server::bind(&config.host, config.port)?;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(
                    DefaultHeaders::new()
                        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "same-origin"))
                        .add(("X-Frame-Options", "DENY")),
                )
                .wrap(actix_web::middleware::from_fn(
                    service_kit::request::request_context,
                ))
                .app_data(web::Data::new(service_kit::request::ServiceName(
                    "storefront",
                )))
                .app_data(state.clone())
                .app_data(web::FormConfig::default().limit(16 * 1024))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
