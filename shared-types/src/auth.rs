//! Roles and JWT claims shared by every caller of the two services.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// The audience order-service puts in the service tokens it sends to course-service.
pub const SERVICE_AUDIENCE: &str = "course-service";

/// What a bearer token allows its holder to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Creates courses and changes price and capacity of their own courses.
    Instructor,
    /// Places, reads and cancels their own orders.
    Student,
    /// Another service of this system (order-service calling course-service).
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Instructor => "instructor",
            Role::Student => "student",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "instructor" => Ok(Role::Instructor),
            "student" => Ok(Role::Student),
            "service" => Ok(Role::Service),
            other => Err(format!(
                "unknown role `{other}` (expected instructor, student or service)"
            )),
        }
    }
}

/// The claims of an HS256 bearer token. `sub`, `role` and `exp` are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Claims {
    /// The user id (or the calling service's name).
    pub sub: String,
    pub role: Role,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not valid before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Audience; required on service tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}
