//! End-to-end tests: both services in this process on port 0, driven over HTTP.

mod deployment;
mod durability;
mod faults;
mod load;
mod orders;
mod security;
mod tracing;
