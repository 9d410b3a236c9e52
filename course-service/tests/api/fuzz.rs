//! Parsing and token checks over arbitrary input: never a panic, never an invalid value let
//! through. (Run longer with `PROPTEST_CASES=100000`.)

use course_service::domain::{NewCourse, course};
use proptest::prelude::*;
use service_kit::TokenKeys;
use shared_types::{CreateCourse, PutReservation, UpdatePrice, UpdateSeats};

proptest! {
    #[test]
    fn arbitrary_bytes_never_make_a_course_out_of_range(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(body) = serde_json::from_slice::<CreateCourse>(&bytes)
            && let Ok(course) = NewCourse::parse(body, "alice")
        {
            prop_assert!((1..=1_000_000).contains(&course.seats));
            prop_assert!((0..=1_000_000_000).contains(&course.price_cents));
            prop_assert!(!course.details.title.trim().is_empty());
        }
        if let Ok(body) = serde_json::from_slice::<UpdatePrice>(&bytes) {
            let _ = course::parse_price(body.price_cents);
        }
        if let Ok(body) = serde_json::from_slice::<UpdateSeats>(&bytes) {
            let _ = course::parse_seats(body.seats_total, "seats_total");
        }
        if let Ok(body) = serde_json::from_slice::<PutReservation>(&bytes) {
            let _ = course::parse_user_id(&body.student_id, "student_id");
        }
    }

    #[test]
    fn json_shaped_bodies_with_any_values_are_parsed_or_refused(
        title in ".{0,300}", price in any::<i64>(), seats in any::<i64>(), currency in proptest::option::of("[A-Za-z]{0,5}")
    ) {
        let body = CreateCourse { title, description: None, price_cents: price, currency, seats };
        if let Ok(course) = NewCourse::parse(body, "alice") {
            prop_assert!((1..=1_000_000).contains(&course.seats));
            prop_assert_eq!(course.details.currency.as_str().len(), 3);
        }
    }

    #[test]
    fn arbitrary_strings_are_never_accepted_as_tokens(token in ".{0,400}", parts in prop::collection::vec("[A-Za-z0-9_-]{0,60}", 3)) {
        let keys = TokenKeys::from_secret("fuzz-secret-0123456789abcdefghijklmnopqrstu").expect("keys");
        prop_assert!(keys.verify(&token).is_err());
        prop_assert!(keys.verify(&parts.join(".")).is_err());
    }
}
