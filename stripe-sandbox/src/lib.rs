//! A local stand-in for the part of Stripe's public HTTP API that order-service uses, for local
//! runs and tests where the real Stripe cannot be reached: Checkout Sessions (create, retrieve,
//! list, expire), Refunds, Stripe's form encoding, errors and idempotent requests, a hosted
//! checkout page with Pay and Cancel buttons, signed webhook deliveries with retries, and test
//! controls under `/_sandbox/`. Everything is kept in memory. Not for production.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sandbox = stripe_sandbox::spawn(stripe_sandbox::SandboxConfig::local()).await?;
//! sandbox.set_webhook_urls(["http://127.0.0.1:5002/api/payments/stripe/webhook"]);
//! println!("Stripe API at {}/v1", sandbox.base_url());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod config;
mod control;
mod currency;
mod error;
mod events;
mod expiry;
mod form;
mod hosted;
mod idempotency;
mod ids;
mod model;
mod server;
mod shared;
mod signature;
mod store;
mod webhooks;

pub use config::{DEFAULT_API_KEY, DEFAULT_PORT, DEFAULT_WEBHOOK_SECRET, SandboxConfig};
pub use events::API_VERSION;
pub use server::{Sandbox, spawn};
pub use signature::{header as signature_header, sign as sign_payload};
