//! Currencies as Stripe takes them: three lower-case ISO 4217 letters, and amounts in the
//! currency's minor unit, shown to a person as `$49.00` or `4900 JPY`.

use iso_currency::{Currency, IntoEnumIterator};

use crate::error::ApiError;

fn lookup(code: &str) -> Option<Currency> {
    Currency::from_code(&code.to_ascii_uppercase())
        .filter(|c| c.exponent().is_some() && c.is_superseded().is_none())
}

/// Checks `code` as the value of `param`: lower case and an ISO 4217 currency in circulation.
/// Stripe refuses `USD` as it refuses `xyz`.
pub fn check(code: &str, param: &str) -> Result<(), ApiError> {
    let lower = code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase());
    if lower && lookup(code).is_some() {
        return Ok(());
    }
    let supported: Vec<String> = Currency::iter()
        .filter(|c| c.exponent().is_some() && c.is_superseded().is_none())
        .map(|c| c.code().to_ascii_lowercase())
        .collect();
    Err(ApiError::invalid_param(
        param,
        format!(
            "Invalid currency: {code}. Stripe currently supports these currencies: {}",
            supported.join(", ")
        ),
    ))
}

/// `amount` minor units of `code` for a person: `$49.00`, `€5.10`, `4900 JPY` when the
/// currency has no common symbol.
pub fn format(amount: i64, code: &str) -> String {
    let Some(currency) = lookup(code) else {
        return format!("{amount} {}", code.to_ascii_uppercase());
    };
    let exponent = u32::from(currency.exponent().unwrap_or(2));
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    let number = if exponent == 0 {
        abs.to_string()
    } else {
        let unit = 10u64.pow(exponent);
        format!(
            "{}.{:0width$}",
            abs / unit,
            abs % unit,
            width = exponent as usize
        )
    };
    let symbol = currency.symbol().symbol;
    if symbol.is_empty() || symbol.chars().all(|c| c.is_ascii_alphabetic()) {
        format!("{sign}{number} {}", currency.code())
    } else {
        format!("{sign}{symbol}{number}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_case_iso_codes_only() {
        assert!(check("usd", "currency").is_ok());
        assert!(check("eur", "currency").is_ok());
        let upper = check("USD", "line_items[0][price_data][currency]").expect_err("upper");
        assert!(upper.message.starts_with("Invalid currency: USD."));
        assert_eq!(
            upper.param.as_deref(),
            Some("line_items[0][price_data][currency]")
        );
        assert!(check("xyz", "currency").is_err());
        assert!(check("usdd", "currency").is_err());
    }

    #[test]
    fn amounts_are_shown_in_major_units() {
        assert_eq!(format(4900, "usd"), "$49.00");
        assert_eq!(format(5, "usd"), "$0.05");
        assert!(format(4900, "jpy").contains("4900"));
        assert!(format(1234, "kwd").contains("1.234"));
    }
}
