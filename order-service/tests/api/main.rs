//! order-service tests: the HTTP client against a mock course-service (retries, timeouts,
//! headers), the workflow against a scripted fake course-service (every uncertain outcome), and
//! the repository contract every backend runs.

mod client;
mod fake;
mod fake_payments;
mod openapi;
mod payments;
mod repo;
mod workflow;
