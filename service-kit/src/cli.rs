//! Subcommands both binaries offer besides serving: minting a token for local use and a health
//! probe for container orchestrators (so images need no curl). The services mark the options
//! these use (`--port`, `--auth-jwt-secret`) global, so they may come before or after the
//! subcommand.

use crate::{Secret, auth::MAX_SERVICE_TOKEN_LIFETIME_SECS};
use shared_types::Role;
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::ExitCode,
    time::Duration,
};

/// The subcommands of each service binary.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Print a bearer token signed with AUTH_JWT_SECRET, e.g. `token --role instructor --sub alice`.
    Token(TokenArgs),
    /// Exit 0 when the service at --port on this host answers /health/ready, 1 otherwise.
    Healthcheck,
}

/// What a service binary does with its command line: serve (the default), mint a token with
/// `secret`, or probe the service at `port`. Every service's `main` is this one call.
pub async fn dispatch<F, Fut>(
    command: Option<Command>,
    secret: Option<&Secret>,
    port: u16,
    serve: F,
) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    match command.unwrap_or(Command::Serve) {
        Command::Serve => exit_code(serve().await),
        Command::Token(args) => exit_code(print_token(secret, &args)),
        Command::Healthcheck => healthcheck(port).await,
    }
}

/// Arguments of the `token` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// Role of the token: instructor, student or service.
    #[arg(long)]
    pub role: Role,
    /// Subject: the user id the token speaks for.
    #[arg(long)]
    pub sub: String,
    /// Lifetime in seconds (service tokens are capped at 300).
    #[arg(long, default_value_t = 3600)]
    pub ttl_secs: i64,
}

/// Prints a token signed with the configured secret.
pub fn print_token(secret: Option<&Secret>, args: &TokenArgs) -> anyhow::Result<()> {
    let keys = crate::secrets::token_keys(secret)?;
    let ttl = match args.role {
        Role::Service => args.ttl_secs.min(MAX_SERVICE_TOKEN_LIFETIME_SECS),
        _ => args.ttl_secs,
    };
    anyhow::ensure!(ttl > 0, "--ttl-secs must be positive");
    println!("{}", keys.mint(&args.sub, args.role, ttl));
    Ok(())
}

/// Exits 0 when `GET /health/ready` on 127.0.0.1:`port` answers 200 within 3 seconds.
pub async fn healthcheck(port: u16) -> ExitCode {
    let probe = tokio::task::spawn_blocking(move || probe_ready(port)).await;
    match probe {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn probe_ready(port: u16) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(3);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream
        .write_all(b"GET /health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    anyhow::ensure!(
        line.starts_with("HTTP/1.1 200"),
        "readiness answered {:?}",
        line.lines().next()
    );
    Ok(())
}

/// Prints an error chain to stderr and maps the outcome to an exit code.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
