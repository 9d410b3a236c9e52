//! The currencies a course may be priced in: the ISO 4217 codes of money in use. Metals, funds,
//! test codes (`XAU`, `BOV`, `XTS`, ...) and codes superseded by another are not on the list.
//! The list is part of the contract: the OpenAPI document enumerates it.

use iso_currency::{Currency, IntoEnumIterator};
use std::sync::OnceLock;
use utoipa::openapi::{
    Object, ObjectBuilder,
    schema::{SchemaType, Type},
};

/// Every accepted code, in alphabetical order.
pub fn accepted_codes() -> &'static [&'static str] {
    static CODES: OnceLock<Vec<&'static str>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut codes: Vec<&'static str> = Currency::iter()
            .filter(|c| !c.is_special() && !c.is_fund() && c.is_superseded().is_none())
            .map(|c| c.code())
            .collect();
        codes.sort_unstable();
        codes
    })
}

/// Whether `code` is accepted.
pub fn is_accepted(code: &str) -> bool {
    accepted_codes().binary_search(&code).is_ok()
}

/// The schema of an optional `currency` field: one of [`accepted_codes`], or null (or absent)
/// for `USD`.
pub fn schema() -> Object {
    let values = accepted_codes()
        .iter()
        .map(|code| serde_json::Value::from(*code))
        .chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(
            "An ISO 4217 code of money in use, such as `USD`, `EUR` or `JPY` (default `USD`)",
        ))
        .enum_values(Some(values))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_use_is_accepted_and_anything_else_is_not() {
        for code in ["USD", "EUR", "JPY", "GBP", "CHF", "INR"] {
            assert!(is_accepted(code), "{code}");
        }
        for code in ["XYZ", "usd", "XAU", "XTS", "XXX", "BOV", "HRK", "", "EURO"] {
            assert!(!is_accepted(code), "{code}");
        }
        assert!(accepted_codes().len() > 140, "{}", accepted_codes().len());
    }
}
