//! Parsing and token checks over arbitrary input: never a panic, never an invalid value let
//! through. (Run longer with `PROPTEST_CASES=100000`.)

use course_service::domain::{NewCourse, course};
use proptest::prelude::*;
use service_kit::TokenKeys;
use shared_types::{CreateCourse, PutReservation, UpdatePrice, UpdateSeats};

/// The fields the request bodies know, and a few they do not.
const KNOWN_FIELDS: [&str; 8] = [
    "title",
    "description",
    "price_cents",
    "currency",
    "seats",
    "seats_total",
    "student_id",
    "expected_price_cents",
];

/// A JSON value of any shape, leaves included.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(-1i64),
            Just(0),
            Just(1),
            Just(1_000_000),
            Just(1_000_000_001)
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        "[A-Z]{3}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object made mostly of the bodies' own fields (with values of any type), sometimes with an
/// unknown one: shaped like a request, so most cases reach the parsers.
fn json_body() -> impl Strategy<Value = serde_json::Value> {
    let field = prop_oneof![
        8 => prop::sample::select(KNOWN_FIELDS.to_vec()).prop_map(str::to_owned),
        1 => "[a-z_]{1,12}",
    ];
    prop::collection::btree_map(field, json_value(), 0..7)
        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
}

proptest! {
    #[test]
    fn json_shaped_bodies_never_make_a_value_out_of_range(body in json_body()) {
        let bytes = serde_json::to_vec(&body).expect("json");
        let unknown = body
            .as_object()
            .is_some_and(|o| o.keys().any(|k| !KNOWN_FIELDS.contains(&k.as_str())));
        let course = serde_json::from_slice::<CreateCourse>(&bytes);
        prop_assert!(!(unknown && course.is_ok()), "an unknown field was accepted: {}", body);
        if let Ok(body) = course
            && let Ok(course) = NewCourse::parse(body, "alice")
        {
            prop_assert!((1..=1_000_000).contains(&course.seats));
            prop_assert!((0..=1_000_000_000).contains(&course.price_cents));
            prop_assert!(!course.details.title.trim().is_empty());
            prop_assert!(!course.details.title.chars().any(char::is_control));
        }
        if let Ok(body) = serde_json::from_slice::<UpdatePrice>(&bytes)
            && let Ok(price) = course::parse_price(body.price_cents)
        {
            prop_assert!((0..=1_000_000_000).contains(&price));
        }
        if let Ok(body) = serde_json::from_slice::<UpdateSeats>(&bytes)
            && let Ok(seats) = course::parse_seats(body.seats_total, "seats_total")
        {
            prop_assert!((1..=1_000_000).contains(&seats));
        }
        if let Ok(body) = serde_json::from_slice::<PutReservation>(&bytes)
            && let Ok(id) = course::parse_user_id(&body.student_id, "student_id")
        {
            prop_assert!(!id.is_empty() && !id.chars().any(char::is_control));
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
