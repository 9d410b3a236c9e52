//! `/health/live`, `/health/ready` and `/api/health` (the original system's path, an alias of live).

use crate::store::SeatStore;
use actix_web::{HttpResponse, web};
use service_kit::health::health_response;
use shared_types::Health;
use std::collections::BTreeMap;

pub const SERVICE_NAME: &str = "course-service";

/// Liveness (public): 200 while the process serves. Live unless the store failed a write: then memory may hold changes the disk does not, and only
/// a restart (which reloads the durable state) brings the service back.
#[utoipa::path(get, path = "/health/live", tag = "health", responses(
    (status = 200, body = Health), (status = 503, description = "The store failed a write: restart the service", body = Health)))]
pub(crate) async fn live(store: web::Data<dyn SeatStore>) -> HttpResponse {
    let status = if store.live() { "ok" } else { "failed" };
    health_response(
        SERVICE_NAME,
        BTreeMap::from([("storage".to_owned(), status.to_owned())]),
    )
}

/// The original system's health path, an alias of `/health/live`.
#[utoipa::path(get, path = "/api/health", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn api_health(store: web::Data<dyn SeatStore>) -> HttpResponse {
    live(store).await
}

/// Readiness (public): ready when its store answers (the embedded store has not failed a write;
/// PostgreSQL answers a query): the listener opens only after the state is loaded and the expiry
/// job has started.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn ready(store: web::Data<dyn SeatStore>) -> HttpResponse {
    let (check, ok) = store.ready().await;
    let mut checks = BTreeMap::from([(
        check.to_owned(),
        if ok { "ok" } else { "failed" }.to_owned(),
    )]);
    checks.insert("expiry_job".to_owned(), "ok".to_owned());
    health_response(SERVICE_NAME, checks)
}
