//! `/health/live`, `/health/ready` and `/api/health` (the original system's path, an alias of live).

use crate::inventory::Inventory;
use actix_web::{HttpResponse, web};
use service_kit::health::health_response;
use shared_types::Health;
use std::collections::BTreeMap;

pub const SERVICE_NAME: &str = "course-service";

/// Liveness (public): 200 while the process serves. Live unless the store failed a write: then memory may hold changes the disk does not, and only
/// a restart (which reloads the durable state) brings the service back.
#[utoipa::path(get, path = "/health/live", tag = "health", responses(
    (status = 200, body = Health), (status = 503, description = "The store failed a write: restart the service", body = Health)))]
pub(crate) async fn live(inventory: web::Data<Inventory>) -> HttpResponse {
    health_response(SERVICE_NAME, storage_check(&inventory))
}

/// The original system's health path, an alias of `/health/live`.
#[utoipa::path(get, path = "/api/health", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn api_health(inventory: web::Data<Inventory>) -> HttpResponse {
    live(inventory).await
}

fn storage_check(inventory: &Inventory) -> BTreeMap<String, String> {
    let status = if inventory.storage_healthy() {
        "ok"
    } else {
        "failed"
    };
    BTreeMap::from([("storage".to_owned(), status.to_owned())])
}

/// Readiness (public): ready whenever it serves with a working store: the listener opens only after the inventory is
/// loaded and the expiry job has started.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn ready(inventory: web::Data<Inventory>) -> HttpResponse {
    let mut checks = storage_check(&inventory);
    checks.insert("expiry_job".to_owned(), "ok".to_owned());
    health_response(SERVICE_NAME, checks)
}
