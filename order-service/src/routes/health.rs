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

async fn live() -> HttpResponse {
    health_response(SERVICE_NAME, BTreeMap::new())
}

async fn ready(workflow: web::Data<Workflow>) -> HttpResponse {
    let course_service = if workflow.client().is_reachable().await {
        "ok"
    } else {
        "unreachable"
    };
    let checks = BTreeMap::from([("course_service".to_owned(), course_service.to_owned())]);
    health_response(SERVICE_NAME, checks)
}
