//! course-service: courses, their seats, and holds on those seats that expire.
//!
//! - [`domain`]: the pure rules (validation, the hold state machine, one course's ledger); no
//!   locks, no I/O; every backend calls these.
//! - [`store`]: the storage port (trait, refusals, counts, `open`) and one folder per backend:
//!   `store::embedded` (the in-memory ledgers, one lock per course, written through to the
//!   embedded store) and `store::postgres`.
//! - [`expiry`]: the cron job around the store's sweep.
//! - [`live`]: one follower of the event feed that feeds the live seat streams.
//! - [`metrics`]: what `/metrics` reports.
//! - [`routes`]: the HTTP handlers; [`error`]: their one error type.
//! - [`startup`]: assembling the application; [`config`]: its settings; [`clock`]: time.

pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod expiry;
pub mod live;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::Application;
