//! order-service: students buy seats through a saga over course-service.
//!
//! - [`workflow`]: reserve -> record -> confirm, compensation, and settling uncertain outcomes.
//! - [`course_client`]: the course-service calls, their retries and timeouts.
//! - [`orders`]: the order store and idempotency keys; the only locking code.
//! - [`reconciler`]: settles pending orders in the background.
//! - [`metrics`]: what `/metrics` reports.
//! - [`routes`]: the HTTP handlers; [`error`]: their one error type.
//! - [`startup`]: assembling the application; [`config`]: its settings.

pub mod config;
pub mod course_client;
pub mod error;
pub mod metrics;
pub mod orders;
pub mod reconciler;
pub mod repo;
pub mod routes;
pub mod startup;
pub mod workflow;

pub use config::Config;
pub use startup::Application;
