//! The HTTP surface of order-service: thin handlers over the workflow and the store.

pub mod health;
pub mod orders;
mod reply;

use actix_web::web;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    orders::configure(cfg);
}
