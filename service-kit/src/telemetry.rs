//! The tracing subscriber: `RUST_LOG` filters (default `info` for the services and `warn` for
//! their dependencies, [`DEFAULT_FILTER`]), `LOG_FORMAT` picks `pretty` lines for people or
//! `json` lines for log collectors, and with an OTLP endpoint spans are exported too (see
//! [`crate::otel`]). Installed once, by `main`, never by libraries or tests.

use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, filter::LevelFilter, fmt, prelude::*};

/// The filter without `RUST_LOG`: the services' own lines at `info`, the libraries under them
/// (HTTP server, storage engine, database driver, scheduler, exporters) only at `warn`, so a
/// start-up prints what the services did rather than how their dependencies started.
pub const DEFAULT_FILTER: &str = "info,actix_server=warn,actix_web=warn,actix_http=warn,\
    fjall=warn,lsm_tree=warn,sqlx=warn,tokio_cron_scheduler=warn,opentelemetry=warn,\
    opentelemetry_sdk=warn,hyper=warn,hyper_util=warn,reqwest=warn,h2=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The logging and tracing settings every binary takes, flattened into its configuration.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetryArgs {
    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// OpenTelemetry collector to export spans to over OTLP/HTTP, e.g. `http://127.0.0.1:4318`
    /// (`/v1/traces` is appended). Unset: no export.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryArgs {
    fn default() -> Self {
        TelemetryArgs {
            log_format: LogFormat::Pretty,
            otlp_endpoint: None,
        }
    }
}

impl TelemetryArgs {
    /// Installs the subscriber for `service` (see [`init`]).
    pub fn init(&self, service: &'static str) -> anyhow::Result<TelemetryGuard> {
        init(self.log_format, service, self.otlp_endpoint.as_deref())
    }
}

/// Flushes exported spans when dropped; keep it alive until the service has stopped.
#[derive(Debug)]
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("span export did not shut down cleanly: {e}");
        }
    }
}

/// Installs the global subscriber for `service`; with `otlp_endpoint`, spans are exported there.
/// Returns an error when a subscriber is installed already or the exporter cannot be built.
pub fn init(
    format: LogFormat,
    service: &'static str,
    otlp_endpoint: Option<&str>,
) -> anyhow::Result<TelemetryGuard> {
    // RUST_LOG filters log lines only: spans are exported at `info` whatever the log level, so
    // quieting the logs does not blind the traces.
    let log_filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let (otel, provider) = match otlp_endpoint {
        Some(endpoint) => {
            let (layer, provider) = crate::otel::layer(service, endpoint)?;
            (Some(layer.with_filter(LevelFilter::INFO)), Some(provider))
        }
        None => (None, None),
    };
    let ansi = std::io::stdout().is_terminal();
    let registry = tracing_subscriber::registry().with(otel);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_filter(log_filter()),
            )
            .try_init()?,
        LogFormat::Pretty => registry
            .with(
                fmt::layer()
                    .compact()
                    .with_ansi(ansi)
                    .with_filter(log_filter()),
            )
            .try_init()?,
    }
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, "exporting spans over OTLP/HTTP");
    }
    Ok(TelemetryGuard { provider })
}
