//! Builds the order-service application: the course-service client, the store, the workflow and
//! its reconciler, then the server on a bound listener (port 0 works). Reads no environment and
//! sets no globals.

use crate::{
    config::Config,
    course_client::{CourseClient, HttpCourseClient, HttpCourseClientConfig},
    orders::OrderStore,
    reconciler,
    repo::{OrderRepo, postgres::PgRepo},
    routes,
    workflow::Workflow,
};
use actix_web::{dev::Server, web};
use anyhow::Context;
use service_kit::{
    TokenKeys,
    journal::{StorageMode, Store},
    server,
};

/// The store's directory under DATA_DIR.
pub const STORE_DIR: &str = "order-service";
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A built, not yet running, order-service.
pub struct Application {
    port: u16,
    server: Server,
    workflow: Workflow,
    reconciler: JoinHandle<()>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds the service with the HTTP client to `config.course_service_url`.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let keys = keys(config)?;
        let client_config = HttpCourseClientConfig {
            base_url: config.course_service_url.clone(),
            timeout: config.course_timeout(),
            max_retries: config.course_retry_max,
        };
        let client = HttpCourseClient::new(&client_config, keys.clone())
            .context("cannot build the HTTP client")?;
        let calls = client.metrics();
        Application::assemble(config, Arc::new(client), Some(calls)).await
    }

    /// Builds the service around any course-service client (tests pass fakes).
    pub async fn build_with_client(
        config: &Config,
        client: Arc<dyn CourseClient>,
    ) -> anyhow::Result<Self> {
        Application::assemble(config, client, None).await
    }

    async fn assemble(
        config: &Config,
        client: Arc<dyn CourseClient>,
        calls: Option<crate::course_client::CallMetrics>,
    ) -> anyhow::Result<Self> {
        let keys = web::Data::new(keys(config)?);
        let workflow = Workflow::new(open_store(config).await?, client, config.order_deadline());
        let reconciler = reconciler::spawn(workflow.clone(), config.reconcile_interval());
        let (listener, port) = server::bind(&config.host, config.port)?;
        let data = web::Data::new(workflow.clone());
        let (metrics, http_metrics) = crate::metrics::endpoint(&workflow, calls);
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
            workflow,
            reconciler,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The workflow (and through it the store) the server uses.
    pub fn workflow(&self) -> Workflow {
        self.workflow.clone()
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through the handle (in-flight requests finish), then stops the
    /// reconciler and makes every change durable.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.reconciler.abort();
        if let Err(e) = self.workflow.store().flush().await {
            tracing::error!(error = %e, "could not flush the store at shutdown");
        }
        result
    }
}

/// The order store: PostgreSQL when DATABASE_URL is set, else in memory or restored from the
/// embedded store. A store that cannot be opened or read stops the service: it never starts empty
/// over existing data.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn OrderRepo>> {
    if let Some(settings) = config.database.settings() {
        let repo = PgRepo::connect(&settings, config.order_deadline()).await?;
        tracing::info!(
            database = %service_kit::postgres::redacted(&settings.url),
            max_connections = settings.max_connections,
            "state in PostgreSQL"
        );
        return Ok(Arc::new(repo));
    }
    if config.storage == StorageMode::Memory {
        tracing::warn!("STORAGE=memory: orders are lost when the service stops");
        return Ok(Arc::new(OrderStore::new()));
    }
    let store = Store::open(&config.data_dir, STORE_DIR).context("refusing to start")?;
    let path = std::path::absolute(store.path()).unwrap_or_else(|_| store.path().to_owned());
    let orders = OrderStore::restore(store)
        .with_context(|| format!("refusing to start: cannot load {}", path.display()))?;
    tracing::info!(store = %path.display(), orders = orders.all().len(), pending = orders.pending_count(), "state loaded");
    Ok(Arc::new(orders))
}

fn keys(config: &Config) -> anyhow::Result<TokenKeys> {
    let secret = config
        .auth_jwt_secret
        .as_ref()
        .map(|s| s.expose())
        .unwrap_or_default();
    Ok(TokenKeys::from_secret(secret)?)
}
