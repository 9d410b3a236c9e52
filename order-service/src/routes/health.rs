//! `/health/live`, `/health/ready` (503 while course-service is unreachable) and `/api/health`.

use crate::workflow::Workflow;
use actix_web::{HttpResponse, web};
use service_kit::health::health_response;
use std::collections::BTreeMap;

pub const SERVICE_NAME: &str = "order-service";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").get(live))
        .service(web::resource("/api/health").get(live))
        .service(web::resource("/health/ready").get(ready));
}

/// Live unless the store failed a write: only a restart (which reloads the durable state) brings
/// the service back then.
async fn live(workflow: web::Data<Workflow>) -> HttpResponse {
    health_response(SERVICE_NAME, storage_check(&workflow))
}

fn storage_check(workflow: &Workflow) -> BTreeMap<String, String> {
    let status = if workflow.store().storage_healthy() {
        "ok"
    } else {
        "failed"
    };
    BTreeMap::from([("storage".to_owned(), status.to_owned())])
}

async fn ready(workflow: web::Data<Workflow>) -> HttpResponse {
    let course_service = if workflow.client().is_reachable().await {
        "ok"
    } else {
        "unreachable"
    };
    let mut checks = storage_check(&workflow);
    checks.insert("course_service".to_owned(), course_service.to_owned());
    health_response(SERVICE_NAME, checks)
}
