//! The chassis both services run on (HTTP plumbing, so that each service's code is only its own
//! rules); storage plumbing is the `storage-kit` crate.
//!
//! - [`clock`]: where "now" comes from (the system, or a clock tests move by hand).
//! - [`auth`]: HS256 bearer tokens, verification and minting, and role-checking extractors;
//!   [`secrets`]: which secrets may sign them, and a generated one kept for local runs.
//! - [`metrics`]: Prometheus metrics and `/metrics`.
//! - [`problem`]: problem+json responses for every error the framework itself produces
//!   (malformed JSON, bad path or query, 404, 405, 413, 415) and the extractor configurations
//!   that route them there.
//! - [`request`]: the request-context middleware: `X-Request-Id`, one span and one access-log line
//!   per request, and a guard that turns a panic into a 500 problem.
//! - [`rate_limit`]: per-caller rate limiting (429 with `Retry-After`).
//! - [`telemetry`]: the tracing subscriber (`RUST_LOG`, `LOG_FORMAT`).
//! - [`endpoints`]: the route table, the OpenAPI document and the docs page.
//! - [`health`]: the health body.
//! - [`server`]: the actix server both services run, its connections through [`connection`];
//!   [`cli`] and [`shutdown`]: what their binaries
//!   share.
//!
//! Nothing here knows about courses or orders.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod connection;
pub mod endpoints;
pub mod health;
pub mod metrics;
pub mod otel;
pub mod problem;
pub mod rate_limit;
pub mod request;
pub mod secrets;
pub mod server;
pub mod shutdown;
pub mod telemetry;
mod token_cache;

pub use auth::{AuthError, Caller, Instructor, Secret, Service, Student, TokenKeys};
pub use problem::{ApiProblem, problem_response};
