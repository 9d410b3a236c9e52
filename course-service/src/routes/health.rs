//! `/health/live`, `/health/ready` and `/api/health` (the original system's path, an alias of live).

use actix_web::{HttpResponse, web};
use service_kit::health::health_response;
use std::collections::BTreeMap;

pub const SERVICE_NAME: &str = "course-service";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").get(live))
        .service(web::resource("/api/health").get(live))
        .service(web::resource("/health/ready").get(ready));
}

async fn live() -> HttpResponse {
    health_response(SERVICE_NAME, BTreeMap::new())
}

/// Ready whenever it serves: the listener opens only after the inventory is built and the expiry
/// job has started, and neither depends on anything outside the process.
async fn ready() -> HttpResponse {
    let checks = BTreeMap::from([
        ("inventory".to_owned(), "ok".to_owned()),
        ("expiry_job".to_owned(), "ok".to_owned()),
    ]);
    health_response(SERVICE_NAME, checks)
}
