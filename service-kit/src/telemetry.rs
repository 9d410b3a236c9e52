//! The tracing subscriber: `RUST_LOG` filters (default `info`, with the scheduler's chatter at
//! `warn`), `LOG_FORMAT` picks `pretty` lines
//! for people or `json` lines for log collectors. Installed once, by `main`, never by libraries or
//! tests.

use std::io::IsTerminal;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Installs the global subscriber. Returns an error when one is installed already.
pub fn init(format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn"));
    let ansi = std::io::stdout().is_terminal();
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()?,
        LogFormat::Pretty => registry
            .with(fmt::layer().compact().with_ansi(ansi))
            .try_init()?,
    }
    Ok(())
}
