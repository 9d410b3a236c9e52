//! Builds the order-service application: the course-service client, the repository, the workflow
//! and its reconciler, the feed follower (unless `WAITLIST_FOLLOW=false`), then the server on a
//! bound listener (port 0 works). Every piece of state is created once, here, and handed to the
//! routes as application data of its own (the repository, the key store, the course client, the
//! workflow, the waitlist). Reads no environment and sets no globals.

use crate::{
    clock::Clock,
    config::Config,
    course_client::{
        CallMetrics, CourseApi, CourseClient, HttpCourseClient, HttpCourseClientConfig,
    },
    feed::{self, Follower},
    idempotency::KeyStore,
    metrics::WaitlistCounters,
    payment_client::{
        PaymentClient,
        stripe::{StripeCallMetrics, StripeClient, StripeClientConfig},
    },
    reconciler::Reconciler,
    repo::{self, Backend, OrderRepo, testing::Inspect},
    routes::{self, payments::Webhook},
    waitlist::Waitlist,
    workflow::{Payments, Workflow},
};
use actix_web::{dev::Server, web};
use anyhow::Context;
use service_kit::{TokenKeys, auth::provider::Provider, server};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A built, not yet running, order-service.
pub struct Application {
    port: u16,
    server: Server,
    backend: Backend,
    reconciler: JoinHandle<()>,
    follower: Option<feed::Running>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds the service with the HTTP client to `config.course_service_url`, reading time from
    /// `clock`.
    pub async fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let keys = keys(config)?;
        let client_config = HttpCourseClientConfig {
            base_url: config.course_service_url.clone(),
            timeout: config.course_timeout(),
            max_retries: config.course_retry_max,
        };
        let client =
            HttpCourseClient::new(&client_config, keys).context("cannot build the HTTP client")?;
        let calls = client.metrics();
        let stripe = stripe_client(config, Arc::clone(&clock))?;
        let stripe_calls = stripe.as_ref().map(StripeClient::metrics);
        let payments = stripe.map(|c| Arc::new(c) as Arc<dyn PaymentClient>);
        let metrics = ClientMetrics {
            course: Some(calls),
            stripe: stripe_calls,
        };
        Application::assemble(config, Arc::new(client), payments, clock, metrics).await
    }

    /// Builds the service around any course-service client (tests pass fakes); payments as
    /// configured.
    pub async fn build_with_client(
        config: &Config,
        client: Arc<dyn CourseApi>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let payments = stripe_client(config, Arc::clone(&clock))?
            .map(|c| Arc::new(c) as Arc<dyn PaymentClient>);
        Application::assemble(config, client, payments, clock, ClientMetrics::default()).await
    }

    /// Builds the service around any course-service and payment clients (tests pass fakes).
    pub async fn build_with_clients(
        config: &Config,
        client: Arc<dyn CourseApi>,
        payments: Option<Arc<dyn PaymentClient>>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Application::assemble(config, client, payments, clock, ClientMetrics::default()).await
    }

    async fn assemble(
        config: &Config,
        client: Arc<dyn CourseApi>,
        payments: Option<Arc<dyn PaymentClient>>,
        clock: Arc<dyn Clock>,
        calls: ClientMetrics,
    ) -> anyhow::Result<Self> {
        let tokens =
            web::Data::new(keys(config)?.with_provider(Provider::start(&config.oidc).await?));
        let webhook_secret = config.payments.stripe_secrets()?.map(|(_, w)| w.clone());
        let backend = repo::open(config, Arc::clone(&clock)).await?;
        let mut workflow = Workflow::new(
            Arc::clone(&backend.orders),
            Arc::clone(&client) as Arc<dyn CourseClient>,
            config.order_deadline(),
        )
        .with_clock(Arc::clone(&clock));
        let webhook = match payments {
            Some(client) => {
                workflow = workflow.with_payments(Payments {
                    client,
                    poll: config.payments.poll(),
                });
                let secret = webhook_secret.context(
                    "a payment client needs STRIPE_WEBHOOK_SECRET to check its webhooks",
                )?;
                let clock = Arc::clone(&clock);
                Some(web::Data::new(Webhook { secret, clock }))
            }
            None => None,
        };
        let reconciler = Reconciler {
            workflow: workflow.clone(),
            orders: Arc::clone(&backend.orders),
            keys: Arc::clone(&backend.keys),
        }
        .spawn(config.reconcile_interval());
        let counters = WaitlistCounters::default();
        let follower = config.waitlist.waitlist_follow.then(|| {
            Follower {
                feed: Arc::clone(&client) as _,
                store: Arc::clone(&backend.feed),
                workflow: workflow.clone(),
                clock,
                settings: config.feed_settings(),
                metrics: counters.feed.clone(),
                holder: format!("order-service-{}", uuid::Uuid::now_v7()),
            }
            .spawn()
        });
        let waitlist = web::Data::new(Waitlist {
            client: Arc::clone(&client) as _,
            orders: Arc::clone(&backend.orders),
            workflow: workflow.clone(),
            metrics: counters.routes.clone(),
        });
        let (listener, port) = server::bind(&config.host, config.port)?;
        let (metrics, http_metrics) = crate::metrics::endpoint(
            &workflow,
            Arc::clone(&backend.orders),
            calls.course,
            calls.stripe,
            counters,
        );
        let metrics = web::Data::new(metrics);
        let workflow = web::Data::new(workflow);
        let orders: web::Data<dyn OrderRepo> = web::Data::from(Arc::clone(&backend.orders));
        let key_store: web::Data<dyn KeyStore> = web::Data::from(Arc::clone(&backend.keys));
        let course: web::Data<dyn CourseClient> = web::Data::from(client as Arc<dyn CourseClient>);
        let server = server::serve(
            listener,
            &config.server_options(),
            http_metrics,
            move |cfg| {
                cfg.app_data(tokens.clone())
                    .app_data(workflow.clone())
                    .app_data(orders.clone())
                    .app_data(key_store.clone())
                    .app_data(course.clone())
                    .app_data(waitlist.clone())
                    .app_data(metrics.clone());
                if let Some(webhook) = &webhook {
                    cfg.app_data(webhook.clone());
                }
                routes::configure(cfg);
            },
        )?;
        Ok(Application {
            port,
            server,
            backend,
            reconciler,
            follower,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The repository the service uses.
    pub fn orders(&self) -> Arc<dyn OrderRepo> {
        Arc::clone(&self.backend.orders)
    }

    /// The repository's contents, for tests and reports.
    pub fn inspect(&self) -> Arc<dyn Inspect> {
        Arc::clone(&self.backend.inspect)
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The switch that stops the feed follower: call it when the process is asked to stop,
    /// before stopping the server (see [`feed::StopFollowing`]). [`Self::run_until_stopped`]
    /// stops the follower in any case once the server has stopped.
    pub fn stop_following(&self) -> feed::StopFollowing {
        self.follower
            .as_ref()
            .map_or_else(feed::StopFollowing::none, feed::Running::switch)
    }

    /// Serves until stopped through the handle (in-flight requests finish), then stops the
    /// reconciler and the feed follower (which gives its lease up) and makes every change durable.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.reconciler.abort();
        if let Some(follower) = self.follower {
            follower.stop().await;
        }
        if let Err(e) = self.backend.orders.close().await {
            tracing::error!(error = %e, "could not flush the store at shutdown");
        }
        result
    }
}

/// The clients' call counters, when the clients are the HTTP ones.
#[derive(Debug, Default)]
struct ClientMetrics {
    course: Option<CallMetrics>,
    stripe: Option<StripeCallMetrics>,
}

/// The Stripe client `config` asks for (`None` with `PAYMENT_PROVIDER=none`).
fn stripe_client(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Option<StripeClient>> {
    let Some((secret_key, _)) = config.payments.stripe_secrets()? else {
        return Ok(None);
    };
    let p = &config.payments;
    let settings = StripeClientConfig {
        api_base: p.stripe_api_base.clone(),
        timeout: p.timeout(),
        max_retries: p.payment_retry_max,
        api_version: Some(p.stripe_api_version.clone()).filter(|v| !v.is_empty()),
        cancel_url: Some(p.checkout_cancel_url.clone()).filter(|u| !u.is_empty()),
        ..StripeClientConfig::new(secret_key.clone(), p.checkout_success_url.clone())
    };
    let client = StripeClient::new(&settings, clock).context("cannot build the Stripe client")?;
    tracing::info!(api = %p.stripe_api_base, "payments through Stripe Checkout");
    Ok(Some(client))
}

fn keys(config: &Config) -> anyhow::Result<TokenKeys> {
    service_kit::secrets::token_keys(config.auth_jwt_secret.as_ref())
}
