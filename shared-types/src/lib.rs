//! The wire contract between course-service, order-service and their clients.
//!
//! Only serializable shapes live here: request and response bodies, roles and token claims,
//! stable error codes and the problem+json body. No validation rules, no I/O, no HTTP framework:
//! each service parses these into its own domain types at the edge.

pub mod auth;
pub mod course;
pub mod currency;
pub mod error_code;
pub mod event;
pub mod health;
pub mod json_int;
pub mod order;
pub mod problem;
pub mod reservation;
pub mod waitlist;

pub use auth::{Claims, Role, SERVICE_AUDIENCE};
pub use course::{Course, CourseSales, CreateCourse, UpdatePrice, UpdateSeats};
pub use error_code::ErrorCode;
pub use event::{Event, EventCounts};
pub use health::{Health, HealthStatus};
pub use order::{CreateOrder, Order, OrderPayment, OrderStatus, PaymentStatus};
pub use problem::{PROBLEM_CONTENT_TYPE, Problem};
pub use reservation::{PutReservation, Reservation, ReservationStatus};
pub use waitlist::{Items, JoinWaitlist, WaitEntry, WaitFor, WaitlistEntry, WaitlistStatus};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One page of a listing, with the opaque cursor of the next page (`null` on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The `X-Request-Id` header, accepted from callers, echoed on responses and forwarded between
/// the services.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The `Idempotency-Key` header of `POST /api/orders`.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
