//! The sandbox over HTTP, as a client of Stripe's API (and a person at the checkout page, and a
//! webhook endpoint) sees it.

mod common;
mod faults;
mod hosted;
mod idempotency;
mod refunds;
mod sessions;
mod validation;
mod webhooks;
