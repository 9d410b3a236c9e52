//! The HTTP surface of course-service: one module per resource, handlers that parse, call the
//! inventory and shape the answer, nothing more.

pub mod courses;
pub mod health;
pub mod reservations;
mod views;

use actix_web::web;

/// Registers every route, the reservation routes (the hot path) first.
pub fn configure(cfg: &mut web::ServiceConfig) {
    reservations::configure(cfg);
    courses::configure(cfg);
    health::configure(cfg);
}
