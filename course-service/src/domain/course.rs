//! Course attributes and their validation: what `POST /api/courses` and the PATCH routes accept.

use shared_types::CreateCourse;
use std::sync::Arc;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000;
pub const MAX_SEATS: u32 = 1_000_000;
pub const MAX_USER_ID_CHARS: usize = 255;

/// A request value outside what the API accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

fn invalid(msg: impl Into<String>) -> ValidationError {
    ValidationError(msg.into())
}

/// The attributes of a course that never change after creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseDetails {
    pub title: Arc<str>,
    pub description: Option<Arc<str>>,
    pub instructor_id: Arc<str>,
    pub currency: Currency,
}

/// A validated course to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCourse {
    pub details: CourseDetails,
    pub price_cents: i64,
    pub seats: u32,
}

impl NewCourse {
    pub fn parse(body: CreateCourse, instructor_id: &str) -> Result<Self, ValidationError> {
        let title = body.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(invalid(format!(
                "title must be 1..={MAX_TITLE_CHARS} characters"
            )));
        }
        if title.chars().any(char::is_control) {
            return Err(invalid("title must not contain control characters"));
        }
        if let Some(d) = &body.description {
            if d.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(invalid(format!(
                    "description must be at most {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            // Line breaks and tabs are text; NUL and the other control characters are not (and
            // no backend can store NUL in text).
            if d.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(invalid(
                    "description must not contain control characters other than line breaks and tabs",
                ));
            }
        }
        let currency = match body.currency.as_deref() {
            None => Currency::USD,
            Some(code) => Currency::iso(code)?,
        };
        Ok(NewCourse {
            details: CourseDetails {
                title: Arc::from(title),
                description: body.description.map(Arc::from),
                instructor_id: Arc::from(instructor_id),
                currency,
            },
            price_cents: parse_price(body.price_cents)?,
            seats: parse_seats(body.seats, "seats")?,
        })
    }
}

/// A price in minor units, 0..=1_000_000_000.
pub fn parse_price(cents: i64) -> Result<i64, ValidationError> {
    if (0..=MAX_PRICE_CENTS).contains(&cents) {
        Ok(cents)
    } else {
        Err(invalid(format!(
            "price_cents must be 0..={MAX_PRICE_CENTS}"
        )))
    }
}

/// A capacity, 1..=1_000_000.
pub fn parse_seats(seats: i64, field: &str) -> Result<u32, ValidationError> {
    match u32::try_from(seats) {
        Ok(n) if (1..=MAX_SEATS).contains(&n) => Ok(n),
        _ => Err(invalid(format!("{field} must be 1..={MAX_SEATS}"))),
    }
}

/// A student or instructor id as carried in a token or a reservation body.
pub fn parse_user_id(id: &str, field: &str) -> Result<Arc<str>, ValidationError> {
    if id.is_empty() || id.chars().count() > MAX_USER_ID_CHARS || id.chars().any(char::is_control) {
        Err(invalid(format!(
            "{field} must be 1..={MAX_USER_ID_CHARS} printable characters"
        )))
    } else {
        Ok(Arc::from(id))
    }
}

/// An ISO 4217 code: three capital ASCII letters. A new course's currency must be on the ISO
/// list ([`Currency::iso`]); codes read back from a store need only the shape ([`Currency::parse`]),
/// so data written before a code left the list still loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// A currency a request names: an ISO 4217 code of money in use
    /// ([`shared_types::currency::accepted_codes`]).
    pub fn iso(code: &str) -> Result<Self, ValidationError> {
        let currency = Currency::parse(code)?;
        if shared_types::currency::is_accepted(code) {
            return Ok(currency);
        }
        let why = match iso_currency::Currency::from_code(code) {
            None => "is not an ISO 4217 code".to_owned(),
            Some(known) => match known.is_superseded() {
                Some(by) => format!("is no longer in use (use {})", by.code()),
                None => "names a metal, fund or test unit, not money".to_owned(),
            },
        };
        Err(invalid(format!(
            "currency {code} {why}; use an ISO 4217 code such as USD, EUR or JPY"
        )))
    }

    /// Three capital letters, as stored.
    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Currency([a, b, c])),
            _ => Err(invalid("currency must be three capital letters (ISO 4217)")),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII capitals are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("USD")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> CreateCourse {
        CreateCourse {
            title: "Rust".into(),
            description: None,
            price_cents: 1000,
            currency: None,
            seats: 10,
        }
    }

    #[test]
    fn a_valid_course_parses_with_usd_by_default() {
        let c = NewCourse::parse(body(), "alice").expect("valid");
        assert_eq!(c.details.currency.as_str(), "USD");
        assert_eq!(c.seats, 10);
        assert_eq!(&*c.details.instructor_id, "alice");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let cases = [
            CreateCourse {
                title: "".into(),
                ..body()
            },
            CreateCourse {
                title: "   ".into(),
                ..body()
            },
            CreateCourse {
                title: "x".repeat(201),
                ..body()
            },
            CreateCourse {
                description: Some("d".repeat(5001)),
                ..body()
            },
            CreateCourse {
                price_cents: -1,
                ..body()
            },
            CreateCourse {
                price_cents: MAX_PRICE_CENTS + 1,
                ..body()
            },
            CreateCourse { seats: 0, ..body() },
            CreateCourse {
                seats: 1_000_001,
                ..body()
            },
            CreateCourse {
                seats: -5,
                ..body()
            },
            CreateCourse {
                currency: Some("usd".into()),
                ..body()
            },
            CreateCourse {
                currency: Some("EURO".into()),
                ..body()
            },
            CreateCourse {
                currency: Some("XYZ".into()),
                ..body()
            },
        ];
        for case in cases {
            assert!(NewCourse::parse(case.clone(), "alice").is_err(), "{case:?}");
        }
    }

    #[test]
    fn boundary_values_are_accepted() {
        let c = CreateCourse {
            title: "x".repeat(200),
            price_cents: 0,
            seats: 1_000_000,
            ..body()
        };
        assert!(NewCourse::parse(c, "alice").is_ok());
        let c = CreateCourse {
            price_cents: MAX_PRICE_CENTS,
            seats: 1,
            currency: Some("EUR".into()),
            ..body()
        };
        assert!(NewCourse::parse(c, "alice").is_ok());
    }

    #[test]
    fn titles_and_descriptions_refuse_nul_and_control_characters() {
        for title in ["nul\u{0}byte", "tab\there", "bell\u{7}"] {
            let c = CreateCourse {
                title: title.into(),
                ..body()
            };
            assert!(NewCourse::parse(c, "alice").is_err(), "{title:?}");
        }
        let nul = CreateCourse {
            description: Some("has a NUL \u{0} inside".into()),
            ..body()
        };
        assert!(NewCourse::parse(nul, "alice").is_err());
        let lines = CreateCourse {
            description: Some("Lines\nand\ttabs\r\nare fine".into()),
            ..body()
        };
        assert!(NewCourse::parse(lines, "alice").is_ok());
    }

    #[test]
    fn user_ids_must_be_short_and_printable() {
        assert!(parse_user_id("s1", "student_id").is_ok());
        assert!(parse_user_id("", "student_id").is_err());
        assert!(parse_user_id(&"a".repeat(256), "student_id").is_err());
        assert!(parse_user_id("a\nb", "student_id").is_err());
    }
}
