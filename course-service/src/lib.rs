//! course-service: courses, their seats, and holds on those seats that expire.
//!
//! - [`domain`]: the pure rules (validation, the hold state machine, one course's ledger).
//! - [`inventory`]: every course's ledger in memory, one lock per course; the only locking code.
//! - [`expiry`]: the sweep of lapsed holds and its cron job; [`deadlines`]: the index it reads.
//! - [`metrics`]: what `/metrics` reports.
//! - [`routes`]: the HTTP handlers; [`error`]: their one error type.
//! - [`persistence`]: the durable records and loading them at start-up.
//! - [`catalog`]: the ordered course list behind listing pages.
//! - [`startup`]: assembling the application; [`config`]: its settings; [`clock`]: time.

pub mod catalog;
pub mod clock;
pub mod config;
pub mod deadlines;
pub mod domain;
pub mod error;
pub mod expiry;
pub mod inventory;
pub mod metrics;
pub mod persistence;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::Application;
