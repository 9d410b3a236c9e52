//! `/health/live`, `/health/ready` and `/api/health` (the original system's path, an alias of live).

use crate::inventory::Inventory;
use actix_web::{HttpResponse, web};
use service_kit::health::health_response;
use std::collections::BTreeMap;

pub const SERVICE_NAME: &str = "course-service";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").get(live))
        .service(web::resource("/api/health").get(live))
        .service(web::resource("/health/ready").get(ready));
}

/// Live unless the store failed a write: then memory may hold changes the disk does not, and only
/// a restart (which reloads the durable state) brings the service back.
async fn live(inventory: web::Data<Inventory>) -> HttpResponse {
    health_response(SERVICE_NAME, storage_check(&inventory))
}

fn storage_check(inventory: &Inventory) -> BTreeMap<String, String> {
    let status = if inventory.storage_healthy() {
        "ok"
    } else {
        "failed"
    };
    BTreeMap::from([("storage".to_owned(), status.to_owned())])
}

/// Ready whenever it serves with a working store: the listener opens only after the inventory is
/// loaded and the expiry job has started.
async fn ready(inventory: web::Data<Inventory>) -> HttpResponse {
    let mut checks = storage_check(&inventory);
    checks.insert("expiry_job".to_owned(), "ok".to_owned());
    health_response(SERVICE_NAME, checks)
}
