//! `/health/live`, `/health/ready` (503 while course-service is unreachable) and `/api/health`.
//! They ask the repository and the course client, and change nothing.

use crate::{course_client::CourseClient, repo::OrderRepo};
use actix_web::{HttpResponse, web};
use service_kit::{TokenKeys, health::health_response};
use shared_types::Health;
use std::collections::BTreeMap;

pub const SERVICE_NAME: &str = "order-service";

/// Liveness (public): live unless the store failed a write; only a restart (which reloads the
/// durable state) brings the service back then.
#[utoipa::path(get, path = "/health/live", operation_id = "health_live", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn live(orders: web::Data<dyn OrderRepo>) -> HttpResponse {
    let status = if orders.live() { "ok" } else { "failed" };
    health_response(
        SERVICE_NAME,
        BTreeMap::from([("storage".to_owned(), status.to_owned())]),
    )
}

/// Liveness at `/api/health`, the path clients of earlier releases probe: the same answer as
/// `/health/live`.
#[utoipa::path(get, path = "/api/health", operation_id = "health", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn api_health(orders: web::Data<dyn OrderRepo>) -> HttpResponse {
    live(orders).await
}

/// Readiness (public): 503 while course-service is unreachable or the store cannot answer (the
/// embedded store failed a write; PostgreSQL does not answer a query), or while an OpenID Connect
/// provider is configured and its keys are not loaded.
#[utoipa::path(get, path = "/health/ready", operation_id = "health_ready", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn ready(
    orders: web::Data<dyn OrderRepo>,
    course: web::Data<dyn CourseClient>,
    keys: web::Data<TokenKeys>,
) -> HttpResponse {
    let course_service = if course.is_reachable().await {
        "ok"
    } else {
        "unreachable"
    };
    let (check, ok) = orders.ready().await;
    let mut checks = BTreeMap::from([(
        check.to_owned(),
        if ok { "ok" } else { "failed" }.to_owned(),
    )]);
    checks.insert("course_service".to_owned(), course_service.to_owned());
    if let Some((name, state)) = keys.readiness() {
        checks.insert(name.to_owned(), state.to_owned());
    }
    health_response(SERVICE_NAME, checks)
}
