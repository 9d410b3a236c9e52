//! order-service tests: the HTTP client against a mock course-service (retries, timeouts,
//! headers), the workflow against a scripted fake course-service (every uncertain outcome), the
//! waitlist routes and the feed follower over HTTP against the fake's waitlist and feed, and the
//! repository contract every backend runs.

mod app;
mod client;
mod client_waitlist;
mod fake;
mod fake_feed;
mod fake_payments;
mod feed;
mod openapi;
mod payments;
mod repo;
mod waitlist;
mod workflow;
