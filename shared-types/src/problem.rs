//! The RFC 9457 problem+json body every error response carries.

use crate::ErrorCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The content type of every error response.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An error response body. `code` is the stable member clients branch on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"type": "urn:course-platform:problem:sold_out", "title": "Conflict", "status": 409, "detail": "no seats left", "code": "sold_out"}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: ErrorCode,
    /// The course's current price, on `price_changed` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_cents: Option<i64>,
}

impl Problem {
    /// A problem whose `type` is derived from its code and whose `title` is the status text.
    pub fn new(status: u16, title: &str, code: ErrorCode, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: format!("urn:course-platform:problem:{}", code.as_str()),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code,
            price_cents: None,
        }
    }
}
