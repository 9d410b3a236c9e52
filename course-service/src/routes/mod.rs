//! The HTTP surface of course-service: one module per resource, handlers that parse, call the
//! inventory and shape the answer, nothing more. [`endpoints`] is the one list of routes the
//! server is built from and the OpenAPI document describes.

pub mod courses;
pub mod events;
pub mod health;
pub mod live;
pub mod openapi;
pub mod reservations;
mod views;
pub mod waitlist;

use actix_web::{Route, http::Method, web};
use service_kit::endpoints::{self, Endpoint};

/// Every route, the reservation routes (the hot path) first.
pub fn endpoints() -> Vec<Endpoint> {
    const ONE: &str = reservations::SCOPE;
    let e = |method: Method, path: &'static str, route: fn() -> Route| {
        Endpoint::new(method, path, route)
    };
    vec![
        e(Method::PUT, ONE, || web::put().to(reservations::hold)),
        e(Method::GET, ONE, || web::get().to(reservations::read)),
        e(
            Method::POST,
            "/api/courses/{course_id}/reservations/{reservation_id}/confirm",
            || web::post().to(reservations::confirm),
        ),
        e(
            Method::POST,
            "/api/courses/{course_id}/reservations/{reservation_id}/cancel",
            || web::post().to(reservations::cancel),
        ),
        e(
            Method::POST,
            "/api/courses/{course_id}/reservations/{reservation_id}/release",
            || web::post().to(reservations::release),
        ),
        e(Method::POST, "/api/courses", || {
            web::post().to(courses::create)
        }),
        e(Method::GET, "/api/courses", || web::get().to(courses::list)),
        e(Method::GET, "/api/courses/{course_id}", || {
            web::get().to(courses::read)
        }),
        e(Method::GET, "/api/courses/{course_id}/live", || {
            web::get().to(live::stream)
        }),
        e(Method::GET, "/api/courses/{course_id}/sales", || {
            web::get().to(courses::sales)
        }),
        e(Method::PATCH, "/api/courses/{course_id}/price", || {
            web::patch().to(courses::set_price)
        }),
        e(Method::PATCH, "/api/courses/{course_id}/seats", || {
            web::patch().to(courses::set_seats)
        }),
        e(Method::POST, "/api/courses/{course_id}/waitlist", || {
            web::post().to(waitlist::join)
        }),
        e(Method::GET, "/api/waitlist", || {
            web::get().to(waitlist::of_student)
        }),
        e(Method::GET, "/api/waitlist/entries/{entry_id}", || {
            web::get().to(waitlist::read)
        }),
        e(
            Method::POST,
            "/api/waitlist/entries/{entry_id}/leave",
            || web::post().to(waitlist::leave),
        ),
        e(Method::GET, "/api/events", || web::get().to(events::list)),
        e(Method::GET, "/health/live", || web::get().to(health::live)),
        e(Method::GET, "/health/ready", || {
            web::get().to(health::ready)
        }),
        e(Method::GET, "/api/health", || {
            web::get().to(health::api_health)
        }),
        e(Method::GET, "/openapi.json", || {
            web::get().to(openapi::document)
        }),
        e(Method::GET, "/metrics", || web::get().to(openapi::metrics)),
    ]
}

/// Registers every route, the OpenAPI document and the docs page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::Data::new(openapi::json()));
    endpoints::register(cfg, &endpoints(), Some(reservations::SCOPE));
    endpoints::register_docs(cfg);
}
