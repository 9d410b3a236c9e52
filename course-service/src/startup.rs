//! Builds the course-service application: state created once, listener bound (port 0 works), the
//! expiry job started, then the server. Reads no environment and sets no globals, so tests and the
//! all-in-one launcher can run several instances in one process.

use crate::{
    clock::Clock,
    config::Config,
    expiry::{self, ExpiryJob},
    inventory::Inventory,
    persistence, routes,
    store::{SeatStore, postgres::PgStore},
};
use anyhow::Context;
use service_kit::journal::{StorageMode, Store};

/// The store's directory under DATA_DIR.
pub const STORE_DIR: &str = "course-service";
use actix_web::{dev::Server, web};
use service_kit::{TokenKeys, server};
use std::sync::Arc;

/// A built, not yet running, course-service.
pub struct Application {
    port: u16,
    server: Server,
    store: Arc<dyn SeatStore>,
    /// The in-memory inventory behind the embedded store (`None` with PostgreSQL).
    inventory: Option<Inventory>,
    expiry: ExpiryJob,
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
        let secret = config
            .auth_jwt_secret
            .as_ref()
            .map(|s| s.expose())
            .unwrap_or_default();
        let keys = web::Data::new(TokenKeys::from_secret(secret)?);
        let ttl = chrono::TimeDelta::seconds(config.reservation_ttl_secs as i64);
        let (store, inventory): (Arc<dyn SeatStore>, _) = match config.database.settings() {
            Some(settings) => {
                let store =
                    PgStore::connect(&settings, clock, ttl, config.max_holds_per_student).await?;
                tracing::info!(
                    database = %service_kit::postgres::redacted(&settings.url),
                    max_connections = settings.max_connections,
                    "state in PostgreSQL"
                );
                (Arc::new(store), None)
            }
            None => {
                let inventory = open_inventory(config, clock, ttl).await?;
                (Arc::new(inventory.clone()), Some(inventory))
            }
        };
        let expiry = ExpiryJob::start(Arc::clone(&store), &config.expiry_sweep_cron).await?;
        let (listener, port) = server::bind(&config.host, config.port)?;
        let data: web::Data<dyn SeatStore> = web::Data::from(Arc::clone(&store));
        let (metrics, http_metrics) = crate::metrics::endpoint(Arc::clone(&store), expiry.stats());
        let metrics = web::Data::new(metrics);
        let server = server::serve(
            listener,
            &config.server_options(),
            http_metrics,
            move |cfg| {
                cfg.app_data(keys.clone())
                    .app_data(data.clone())
                    .app_data(metrics.clone());
                routes::configure(cfg);
            },
        )?;
        Ok(Application {
            port,
            server,
            store,
            inventory,
            expiry,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The store the server uses (tests check and sweep it directly).
    pub fn store(&self) -> Arc<dyn SeatStore> {
        Arc::clone(&self.store)
    }

    /// The in-memory inventory behind the embedded store, for benchmarks that look inside it;
    /// `None` with PostgreSQL.
    pub fn inventory(&self) -> Option<Inventory> {
        self.inventory.clone()
    }

    /// What the expiry job has done so far.
    pub fn sweep_stats(&self) -> Arc<crate::expiry::SweepStats> {
        self.expiry.stats()
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped through its handle (in-flight requests finish), then
    /// stops the expiry job and makes every change durable.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.expiry.stop().await;
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "could not flush the store at shutdown");
        }
        result
    }
}

/// The inventory, in memory or restored from the embedded store. A store that cannot be opened or
/// read stops the service: it never starts empty over existing data.
async fn open_inventory(
    config: &Config,
    clock: Arc<dyn Clock>,
    ttl: chrono::TimeDelta,
) -> anyhow::Result<Inventory> {
    if config.storage == StorageMode::Memory {
        tracing::warn!("STORAGE=memory: courses and holds are lost when the service stops");
        return Ok(Inventory::restore(
            clock,
            ttl,
            config.max_holds_per_student,
            Vec::new(),
            None,
        ));
    }
    let store = Store::open(&config.data_dir, STORE_DIR).context("refusing to start")?;
    let path = std::path::absolute(store.path()).unwrap_or_else(|_| store.path().to_owned());
    let books = persistence::load(&store)
        .with_context(|| format!("refusing to start: cannot load {}", path.display()))?;
    let courses = books.len();
    let inventory = Inventory::restore(
        clock,
        ttl,
        config.max_holds_per_student,
        books,
        Some(store.into_journal()),
    );
    let lapsed = expiry::sweep(&inventory, inventory.now());
    inventory
        .flush()
        .await
        .context("cannot record holds that lapsed while the service was down")?;
    tracing::info!(store = %path.display(), courses, expired_while_down = lapsed.expired, "state loaded");
    Ok(inventory)
}
