//! Builds the course-service application: state created once, listener bound (port 0 works), the
//! expiry job started, then the server. Reads no environment and sets no globals, so tests and the
//! all-in-one launcher can run several instances in one process.

use crate::{
    clock::Clock,
    config::Config,
    expiry::ExpiryJob,
    live::LiveHub,
    routes,
    store::{self, Inspect, SeatStore},
};
use actix_web::{dev::Server, web};
use service_kit::{auth::provider::Provider, server};
use std::sync::Arc;

/// A built, not yet running, course-service.
pub struct Application {
    port: u16,
    server: Server,
    store: Arc<dyn SeatStore>,
    inspect: Arc<dyn Inspect>,
    expiry: ExpiryJob,
    live: LiveHub,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let keys = service_kit::secrets::token_keys(config.auth_jwt_secret.as_ref())?
            .with_provider(Provider::start(&config.oidc).await?);
        let keys = web::Data::new(keys);
        let store::Opened { store, inspect } = store::open(config, clock).await?;
        let expiry = ExpiryJob::start(
            Arc::clone(&store),
            &config.expiry_sweep_cron,
            chrono::TimeDelta::hours(config.event_retention_hours as i64),
        )
        .await?;
        let (listener, port) = server::bind(&config.host, config.port)?;
        let data: web::Data<dyn SeatStore> = web::Data::from(Arc::clone(&store));
        let (metrics, http_metrics) = crate::metrics::endpoint(Arc::clone(&store), expiry.stats());
        let metrics = web::Data::new(metrics);
        let sweeps = web::Data::from(expiry.stats());
        let live = LiveHub::start(Arc::clone(&store)).await;
        let hub = web::Data::new(live.clone());
        let server = server::serve(
            listener,
            &config.server_options(),
            http_metrics,
            move |cfg| {
                cfg.app_data(keys.clone())
                    .app_data(data.clone())
                    .app_data(metrics.clone())
                    .app_data(sweeps.clone())
                    .app_data(hub.clone());
                routes::configure(cfg);
            },
        )?;
        Ok(Application {
            port,
            server,
            store,
            inspect,
            expiry,
            live,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The store the server uses (tests check and sweep it directly).
    pub fn store(&self) -> Arc<dyn SeatStore> {
        Arc::clone(&self.store)
    }

    /// The same store, for tests and checks that look inside it.
    pub fn inspect(&self) -> Arc<dyn Inspect> {
        Arc::clone(&self.inspect)
    }

    /// What the expiry job has done so far.
    pub fn sweep_stats(&self) -> Arc<crate::expiry::SweepStats> {
        self.expiry.stats()
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Ends the live seat streams (long-lived responses a graceful stop would otherwise wait
    /// for); call it when asked to stop, before stopping the server.
    pub fn live_streams(&self) -> LiveHub {
        self.live.clone()
    }

    /// Serves until the server is stopped through its handle (in-flight requests finish), then
    /// stops the expiry job and makes every change durable.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.live.close();
        self.expiry.stop().await;
        if let Err(e) = self.store.close().await {
            tracing::error!(error = %e, "could not flush the store at shutdown");
        }
        result
    }
}
