//! The body of `/health/live`, `/health/ready` and `/api/health`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub service: String,
    pub version: String,
    /// One entry per dependency or subsystem checked, each `"ok"` or a short reason.
    pub checks: BTreeMap<String, String>,
}
