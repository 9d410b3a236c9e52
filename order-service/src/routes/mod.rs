//! The HTTP surface of order-service: thin handlers over the workflow, the repository, the
//! key store and the waitlist, each handed in as application data of its own. [`endpoints`](fn@endpoints) is the one list of
//! routes the server is built from and the OpenAPI document describes. Handlers parse, call and
//! answer; they hold no rules.

mod answer;
pub mod health;
pub mod openapi;
pub mod orders;
pub mod payments;
pub mod waitlist;

use actix_web::{Route, http::Method, web};
use service_kit::endpoints::{self, Endpoint};

/// Every route.
pub fn endpoints() -> Vec<Endpoint> {
    let e = |method: Method, path: &'static str, route: fn() -> Route| {
        Endpoint::new(method, path, route)
    };
    vec![
        e(Method::POST, "/api/orders", || {
            web::post().to(orders::create)
        }),
        e(Method::GET, "/api/orders", || web::get().to(orders::list)),
        e(Method::GET, "/api/orders/{order_id}", || {
            web::get().to(orders::read)
        }),
        e(Method::POST, "/api/orders/{order_id}/cancel", || {
            web::post().to(orders::cancel)
        }),
        e(Method::POST, "/api/waitlist", || {
            web::post().to(waitlist::join)
        }),
        e(Method::GET, "/api/waitlist", || {
            web::get().to(waitlist::list)
        }),
        e(Method::DELETE, "/api/waitlist/{entry_id}", || {
            web::delete().to(waitlist::leave)
        }),
        e(Method::POST, payments::STRIPE_WEBHOOK_PATH, || {
            web::post().to(payments::stripe_webhook)
        }),
        e(Method::GET, "/checkout/complete", || {
            web::get().to(payments::checkout_complete)
        }),
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
    endpoints::register(cfg, &endpoints(), None);
    endpoints::register_docs(cfg);
}
