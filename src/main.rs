//! `course-platform`: course-service and order-service together in one process, for trying the
//! system on one machine. `cargo run --release` at the repository root starts both on their
//! default ports, creates a demo course, and prints `export` lines (URLs, the demo course's id,
//! tokens) that the README's examples use, and how to mint more tokens. Ctrl-C (or SIGTERM) stops
//! both gracefully.
//!
//! Unless `AUTH_JWT_SECRET` is given, the token secret is generated once and kept in the data
//! directory ([`service_kit::secrets`]), so tokens keep working across restarts and `token`
//! mints more with the same secret. Settings the services share are checked exactly as the
//! services check them.
//!
//! In production run the two binaries separately (see README.md); this launcher is a convenience.

mod banner;

use clap::{Parser, Subcommand};
use course_service::{
    clock::SystemClock,
    domain::{CourseDetails, Currency, NewCourse},
    store::SeatStore,
};
use order_service::config::{PaymentArgs, PaymentProvider};
use service_kit::{
    Secret, TokenKeys, auth::provider::OidcArgs, cli, secrets, server::ServerArgs,
    telemetry::TelemetryArgs,
};
use std::{path::PathBuf, process::ExitCode, sync::Arc};
use storage_kit::StorageArgs;
use tracing::Instrument;

/// mimalloc: markedly cheaper than the system allocator for the many short-lived allocations of
/// request handling across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs course-service and order-service together, for local use.
#[derive(Debug, Parser)]
#[command(name = "course-platform", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address both services listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port of course-service.
    #[arg(long, env = "COURSE_PORT", default_value_t = 5001)]
    course_port: u16,
    /// Port of order-service.
    #[arg(long, env = "ORDER_PORT", default_value_t = 5002)]
    order_port: u16,
    /// Port of the web storefront.
    #[arg(long, env = "STOREFRONT_PORT", default_value_t = 5000)]
    storefront_port: u16,
    /// Shared token secret (at least 32 bytes); when unset, one is generated once and kept in
    /// DATA_DIR/auth-jwt-secret.
    #[arg(
        long = "auth-jwt-secret",
        env = "AUTH_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    auth_jwt_secret: Option<Secret>,
    /// Both services also accept the tokens of this OpenID Connect provider.
    #[command(flatten)]
    oidc: OidcArgs,
    /// Who collects payments for courses with a price: `stripe` runs the local Stripe sandbox
    /// alongside (its hosted checkout page is where students pay); `none` confirms seats without
    /// payment.
    #[arg(long, env = "PAYMENT_PROVIDER", value_enum, default_value = "stripe")]
    payment_provider: PaymentProvider,
    /// Port of the local Stripe sandbox (with PAYMENT_PROVIDER=stripe).
    #[arg(long, env = "SANDBOX_PORT", default_value_t = 5003)]
    sandbox_port: u16,
    /// How long a hold lasts before it expires, in seconds.
    #[arg(long, env = "RESERVATION_TTL_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    reservation_ttl_secs: u64,
    /// Both services' storage (each keeps its own subdirectory of DATA_DIR, and the generated
    /// token secret is kept there too).
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    telemetry: TelemetryArgs,
    /// Both services' HTTP settings.
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve both services (the default).
    Serve,
    /// Print a token signed with AUTH_JWT_SECRET, or else with the secret kept in DATA_DIR,
    /// e.g. `token --role student --sub bob`.
    Token(cli::TokenArgs),
}

/// The token secret and where it came from.
struct TokenSecret {
    secret: Secret,
    /// The file it is kept in, when the launcher generated it.
    kept_in: Option<PathBuf>,
}

impl Cli {
    /// AUTH_JWT_SECRET when given (and acceptable), else the one kept in the data directory,
    /// made now if there is none yet.
    fn token_secret(&self) -> anyhow::Result<TokenSecret> {
        if let Some(secret) = &self.auth_jwt_secret {
            secrets::check(secret.expose())?;
            return Ok(TokenSecret {
                secret: secret.clone(),
                kept_in: None,
            });
        }
        let path = secrets::generated_secret_path(&self.storage.data_dir);
        let (secret, created) = secrets::load_or_create(&path)?;
        if created {
            eprintln!(
                "generated a token secret and kept it in {} (readable by you only)",
                path.display()
            );
        }
        Ok(TokenSecret {
            secret,
            kept_in: Some(path),
        })
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    match args.command {
        Some(Command::Token(ref token)) => cli::exit_code(
            args.token_secret()
                .and_then(|s| cli::print_token(Some(&s.secret), token)),
        ),
        _ => cli::exit_code(serve(args).await),
    }
}

async fn serve(args: Cli) -> anyhow::Result<()> {
    let _telemetry = args.telemetry.init("course-platform")?;
    let token_secret = args.token_secret()?;
    let secret = token_secret.secret.clone();

    let mut course_config = course_service::Config::local(secret.clone());
    course_config.host = args.host.clone();
    course_config.port = args.course_port;
    course_config.reservation_ttl_secs = args.reservation_ttl_secs;
    course_config.oidc = args.oidc.clone();
    course_config.storage = args.storage.clone();
    course_config.server = args.server.clone();
    let courses = course_service::Application::build(&course_config, Arc::new(SystemClock))
        .instrument(tracing::info_span!("course-service"))
        .await?;
    let course_url = format!("http://{}:{}", connect_host(&args.host), courses.port());

    let mut order_config = order_service::Config::local(secret.clone(), course_url.clone());
    order_config.host = args.host.clone();
    order_config.port = args.order_port;
    order_config.oidc = args.oidc.clone();
    let sandbox = match args.payment_provider {
        PaymentProvider::Stripe => Some(start_sandbox(&args).await?),
        PaymentProvider::None => None,
    };
    if let Some(sandbox) = &sandbox {
        order_config.payments = PaymentArgs::stripe(
            sandbox.base_url(),
            Secret::new(sandbox.api_key()),
            Secret::new(sandbox.webhook_secret()),
        );
        // After paying (or not), the student comes back to the storefront's orders page.
        order_config.payments.checkout_success_url = if args.storefront_port == 0 {
            format!(
                "http://{}:{}/checkout/complete?session_id={{CHECKOUT_SESSION_ID}}",
                connect_host(&args.host),
                args.order_port
            )
        } else {
            format!(
                "http://{}:{}/orders?done=paid",
                connect_host(&args.host),
                args.storefront_port
            )
        };
        if args.storefront_port != 0 {
            order_config.payments.checkout_cancel_url = format!(
                "http://{}:{}/orders?done=unpaid",
                connect_host(&args.host),
                args.storefront_port
            );
        }
    }
    order_config.storage = args.storage.clone();
    order_config.server = args.server.clone();
    let orders = order_service::Application::build(
        &order_config,
        Arc::new(order_service::clock::SystemClock),
    )
    .instrument(tracing::info_span!("order-service"))
    .await?;
    let order_url = format!("http://{}:{}", connect_host(&args.host), orders.port());
    if let Some(sandbox) = &sandbox {
        sandbox.set_webhook_urls([format!("{order_url}/api/payments/stripe/webhook")]);
    }

    let mut shop_config =
        storefront::Config::local(course_url.clone(), order_url.clone(), secret.clone());
    shop_config.host = args.host.clone();
    shop_config.port = args.storefront_port;
    // The development sign-in mints tokens with the shared secret: only for a local run whose
    // secret the launcher generated itself.
    shop_config.dev_sign_in = token_secret.kept_in.is_some();
    let shop = storefront::Application::build(&shop_config)
        .instrument(tracing::info_span!("storefront"))
        .await?;
    let shop_url = format!("http://{}:{}", connect_host(&args.host), shop.port());

    // Before the banner: whoever reads it may stop the launcher at once.
    let live = courses.live_streams();
    let following = orders.stop_following();
    service_kit::shutdown::stop_on_signal_after(
        move || {
            live.close();
            following.stop();
        },
        vec![shop.handle(), orders.handle(), courses.handle()],
    );
    let demo = demo_course(courses.store().as_ref()).await?;
    let keys = TokenKeys::from_secret(secret.expose())?;
    println!(
        "{}",
        banner::Banner {
            storefront_url: &shop_url,
            dev_sign_in: shop_config.dev_sign_in,
            course_url: &course_url,
            order_url: &order_url,
            demo_course: &demo.to_string(),
            keys: &keys,
            kept_in: token_secret.kept_in.as_deref(),
            data_dir: &args.storage.data_dir,
            sandbox_url: sandbox.as_ref().map(|s| s.base_url()),
        }
    );

    let (a, b, c) = tokio::join!(
        courses.run_until_stopped(),
        orders.run_until_stopped(),
        shop.run_until_stopped()
    );
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    a?;
    b?;
    c?;
    tracing::info!("both services and the storefront stopped");
    Ok(())
}

/// The local Stripe sandbox on SANDBOX_PORT, its checkout pages at the address clients use.
async fn start_sandbox(args: &Cli) -> anyhow::Result<stripe_sandbox::Sandbox> {
    let ip: std::net::IpAddr = args
        .host
        .parse()
        .map_err(|_| anyhow::anyhow!("HOST={} is not an IP address", args.host))?;
    let config = stripe_sandbox::SandboxConfig {
        bind: std::net::SocketAddr::new(ip, args.sandbox_port),
        public_url: Some(format!(
            "http://{}:{}",
            connect_host(&args.host),
            args.sandbox_port
        )),
        ..stripe_sandbox::SandboxConfig::default()
    };
    let sandbox = stripe_sandbox::spawn(config)
        .instrument(tracing::info_span!("stripe-sandbox"))
        .await?;
    tracing::info!(url = %sandbox.base_url(), "local Stripe sandbox (for local runs only)");
    Ok(sandbox)
}

/// The demo course of an earlier run, or a new one.
async fn demo_course(store: &dyn SeatStore) -> anyhow::Result<uuid::Uuid> {
    if let Some(existing) = store
        .list_courses(Some(banner::DEMO_INSTRUCTOR), None, 1)
        .await?
        .0
        .first()
    {
        return Ok(existing.id.into());
    }
    let created = store.create_course(NewCourse {
        details: CourseDetails {
            title: "Demo: Rust for Web Services".into(),
            description: Some("Created by the launcher so the example below works as is".into()),
            instructor_id: banner::DEMO_INSTRUCTOR.into(),
            currency: Currency::USD,
        },
        price_cents: 4900,
        seats: 25,
    });
    Ok(created.await?.id.into())
}

/// The address clients use to reach a service listening on `host`.
fn connect_host(host: &str) -> &str {
    if host == "0.0.0.0" { "127.0.0.1" } else { host }
}

#[cfg(test)]
mod tests;
