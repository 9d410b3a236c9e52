//! End-to-end tests: both services in this process on port 0, driven over HTTP; the binaries and
//! the launcher as processes; the README's examples against a started system.

mod cli;
mod deployment;
mod disk;
mod disk_crash;
mod durability;
mod faults;
mod identity;
mod launcher;
mod load;
mod orders;
mod payments;
mod payments_crash;
mod readme;
mod security;
mod storefront;
mod tracing;
mod waitlist;
