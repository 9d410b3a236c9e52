//! The Stripe client against a local stand-in for Stripe's API (what it sends, how it reads
//! answers and errors, which failures it retries), and the webhook signature check and event
//! reader against independently computed signatures.

mod encoding;
mod errors;
mod events;
mod retries;
mod signature;
mod support;
