//! order-service tests: the HTTP client against a mock course-service (retries, timeouts,
//! headers), and the workflow against a scripted fake course-service (every uncertain outcome).

mod client;
mod fake;
mod openapi;
mod workflow;
