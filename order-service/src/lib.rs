//! order-service: students buy seats through a saga over course-service.
//!
//! - [`domain`]: the order entity and ids, the saga's steps and decisions, the status and key
//!   rules. Pure.
//! - [`workflow`]: placing, cancelling and reconciling orders by driving their saga step by step.
//! - [`repo`]: the storage port and its backends (embedded, PostgreSQL).
//! - [`idempotency`]: keys, the key store port, the run-once protocol of `POST /api/orders`.
//! - [`course_client`]: the course-service calls, their retries and timeouts.
//! - [`payment_client`]: the payment provider's calls (Stripe's API), webhook signatures.
//! - [`reconciler`]: drives orders with work left in the background.
//! - [`feed`]: follows course-service's event feed and turns waitlist offers into orders.
//! - [`waitlist`]: a student's waitlist entries, as course-service keeps them, with their orders.
//! - [`clock`]: where "now" comes from.
//! - [`metrics`]: what `/metrics` reports.
//! - [`routes`]: the HTTP handlers; [`error`]: their one error type.
//! - [`startup`]: assembling the application; [`config`]: its settings.

pub mod clock;
pub mod config;
pub mod course_client;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod metrics;
pub mod payment_client;
pub mod reconciler;
pub mod repo;
pub mod routes;
pub mod startup;
pub mod waitlist;
pub mod workflow;

pub use config::Config;
pub use startup::Application;
