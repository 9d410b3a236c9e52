//! Storage plumbing both services share, and nothing about courses or orders:
//!
//! - [`journal`]: the embedded store (fjall) written through a group-commit journal whose tickets
//!   tell when a change, or the state an answer reports, is durable; fail-stop after a failed
//!   write; [`journal::Faults`] for tests of disk trouble.
//! - [`store_error`]: why a store could not be opened, in words.
//! - [`StorageArgs`]: the storage settings every service takes.
//! - [`postgres`]: the connection pool, embedded migrations and their version check, readiness,
//!   and database errors a person can act on.

mod args;
pub mod journal;
#[cfg(test)]
mod journal_tests;
pub mod postgres;
pub mod store_error;

pub use args::StorageArgs;
