//! `/health/live`, `/health/ready` and `/api/health` (an alias of live, for clients of earlier
//! releases).

use crate::{expiry::SweepStats, store::SeatStore};
use actix_web::{HttpResponse, web};
use service_kit::{TokenKeys, health::health_response};
use shared_types::Health;
use std::collections::BTreeMap;

pub const SERVICE_NAME: &str = "course-service";

/// Liveness (public): 200 while the process serves. Live unless the store failed a write: then memory may hold changes the disk does not, and only
/// a restart (which reloads the durable state) brings the service back.
#[utoipa::path(get, path = "/health/live", operation_id = "health_live", tag = "health", responses(
    (status = 200, body = Health), (status = 503, description = "The store failed a write: restart the service", body = Health)))]
pub(crate) async fn live(store: web::Data<dyn SeatStore>) -> HttpResponse {
    let status = if store.live() { "ok" } else { "failed" };
    health_response(
        SERVICE_NAME,
        BTreeMap::from([("storage".to_owned(), status.to_owned())]),
    )
}

/// Liveness at `/api/health`, the path clients of earlier releases probe: the same answer as
/// `/health/live`.
#[utoipa::path(get, path = "/api/health", operation_id = "health", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn api_health(store: web::Data<dyn SeatStore>) -> HttpResponse {
    live(store).await
}

/// Readiness (public): ready when its store answers (the embedded store has not failed a write;
/// PostgreSQL answers a query), the expiry job is scheduled and its latest sweep succeeded, and,
/// with an OpenID Connect provider configured, its keys are loaded.
#[utoipa::path(get, path = "/health/ready", operation_id = "health_ready", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn ready(
    store: web::Data<dyn SeatStore>,
    expiry: web::Data<SweepStats>,
    keys: web::Data<TokenKeys>,
) -> HttpResponse {
    let (check, ok) = store.ready().await;
    let mut checks = BTreeMap::from([
        (
            check.to_owned(),
            if ok { "ok" } else { "failed" }.to_owned(),
        ),
        ("expiry_job".to_owned(), expiry.health().to_owned()),
    ]);
    if let Some((name, state)) = keys.readiness() {
        checks.insert(name.to_owned(), state.to_owned());
    }
    health_response(SERVICE_NAME, checks)
}
