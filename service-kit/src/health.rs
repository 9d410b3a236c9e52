//! The health body and response shared by `/health/live`, `/health/ready` and `/api/health`.

use actix_web::{HttpResponse, http::StatusCode};
use shared_types::{Health, HealthStatus};
use std::collections::BTreeMap;

/// 200 with `status: ok` when every check reads `"ok"`, 503 with `status: unavailable` otherwise.
pub fn health_response(service: &str, checks: BTreeMap<String, String>) -> HttpResponse {
    let healthy = checks.values().all(|v| v == "ok");
    let body = Health {
        status: if healthy {
            HealthStatus::Ok
        } else {
            HealthStatus::Unavailable
        },
        service: service.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        checks,
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .json(body)
}
