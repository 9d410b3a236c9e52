//! Integers in request bodies. JSON does not tell `3` from `3.0` (and JSON Schema calls both
//! integers), so neither do we: a number with no fractional part is accepted as an integer;
//! `3.5` is still refused.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use std::fmt;

/// Largest magnitude accepted from a float: beyond 2^53 floats are not exact anyway.
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

struct Integer;

impl Visitor<'_> for Integer {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.abs() <= MAX_EXACT_FLOAT {
            // Exact: integral and within the range where f64 holds every integer.
            Ok(v as i64)
        } else {
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }
}

struct OptionalInteger;

impl<'de> Visitor<'de> for OptionalInteger {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        integer(d).map(Some)
    }
}

/// `#[serde(deserialize_with = "json_int::integer")]`.
pub fn integer<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(Integer)
}

/// `#[serde(default, deserialize_with = "json_int::optional")]`.
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptionalInteger)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::integer")]
        n: i64,
        #[serde(default, deserialize_with = "super::optional")]
        m: Option<i64>,
    }

    fn parse(json: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn integral_numbers_are_integers_however_written() {
        for (json, n) in [
            (r#"{"n":3}"#, 3),
            (r#"{"n":-3}"#, -3),
            (r#"{"n":3.0}"#, 3),
            (r#"{"n":3e2}"#, 300),
        ] {
            assert_eq!(parse(json).expect(json).n, n, "{json}");
        }
    }

    #[test]
    fn fractions_strings_and_huge_values_are_refused() {
        for json in [
            r#"{"n":3.5}"#,
            r#"{"n":"3"}"#,
            r#"{"n":null}"#,
            r#"{"n":1e300}"#,
            r#"{"n":18446744073709551615}"#,
        ] {
            assert!(parse(json).is_err(), "{json}");
        }
    }

    #[test]
    fn an_optional_integer_may_be_missing_or_null() {
        assert_eq!(parse(r#"{"n":1}"#).expect("missing").m, None);
        assert_eq!(parse(r#"{"n":1,"m":null}"#).expect("null").m, None);
        assert_eq!(parse(r#"{"n":1,"m":7.0}"#).expect("float").m, Some(7));
        assert!(parse(r#"{"n":1,"m":7.25}"#).is_err());
    }
}
