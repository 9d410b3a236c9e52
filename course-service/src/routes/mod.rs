//! The HTTP surface of course-service: one module per resource, handlers that parse, call the
//! inventory and shape the answer, nothing more.

pub mod courses;
pub mod health;
pub mod reservations;
mod views;

use actix_web::web;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    courses::configure(cfg);
    reservations::configure(cfg);
}
