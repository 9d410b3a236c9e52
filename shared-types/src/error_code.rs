//! Stable, machine-readable error codes: the `code` member of every problem+json body.
//!
//! Clients branch on these strings, never on `title` or `detail`, so a variant's string never
//! changes once released.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! error_codes {
    ($($variant:ident => $text:literal,)*) => {
        /// Every error code either service can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $(#[serde(rename = $text)] $variant,)*
            /// A code this version does not know (sent by a newer peer).
            #[serde(other)]
            Unknown,
        }

        impl ErrorCode {
            /// Every known code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                    ErrorCode::Unknown => "unknown",
                }
            }
        }
    };
}

error_codes! {
    ValidationFailed => "validation_failed",
    Unauthorized => "unauthorized",
    Forbidden => "forbidden",
    NotFound => "not_found",
    MethodNotAllowed => "method_not_allowed",
    PayloadTooLarge => "payload_too_large",
    UnsupportedMediaType => "unsupported_media_type",
    RateLimited => "rate_limited",
    RequestTimeout => "request_timeout",
    HeadersTooLarge => "headers_too_large",
    InternalError => "internal_error",
    ServiceUnavailable => "service_unavailable",
    CourseNotFound => "course_not_found",
    SeatsBelowCommitted => "seats_below_committed",
    SoldOut => "sold_out",
    PriceChanged => "price_changed",
    AlreadyHolding => "already_holding",
    HoldLimitReached => "hold_limit_reached",
    IdempotencyConflict => "idempotency_conflict",
    ReservationNotFound => "reservation_not_found",
    ReservationExpired => "reservation_expired",
    ReservationCancelled => "reservation_cancelled",
    ReservationConfirmed => "reservation_confirmed",
    ReservationNotConfirmed => "reservation_not_confirmed",
    OrderNotFound => "order_not_found",
    AlreadyEnrolled => "already_enrolled",
    CourseServiceUnavailable => "course_service_unavailable",
    IdempotencyKeyReused => "idempotency_key_reused",
    RequestInProgress => "request_in_progress",
    OrderNotCancellable => "order_not_cancellable",
    PaymentProviderUnavailable => "payment_provider_unavailable",
    PaymentNotCompleted => "payment_not_completed",
    InvalidSignature => "invalid_signature",
    CursorExpired => "cursor_expired",
    SeatsAvailable => "seats_available",
    WaitlistEntryNotFound => "waitlist_entry_not_found",
}

/// The schema is written by hand from [`ErrorCode::as_str`]: the derive cannot
/// see `serde(rename)` through the macro and would document the variant names.
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some(
                "Stable machine-readable error code; clients branch on this, never on `title` or `detail`.",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_json() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn the_schema_lists_the_wire_strings() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(ErrorCode::schema()).expect("schema");
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .map(|v| v.as_str().expect("string"))
            .collect();
        let wire: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, wire);
    }

    #[test]
    fn an_unknown_code_from_a_newer_peer_is_not_an_error() {
        let code: ErrorCode = serde_json::from_str("\"brand_new\"").expect("deserialize");
        assert_eq!(code, ErrorCode::Unknown);
    }
}
