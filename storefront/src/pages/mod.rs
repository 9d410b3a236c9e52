//! The HTML of every page, from maud templates (every interpolated value is escaped, so text a
//! person typed always shows as text). Pages get what the services answered and render it; they
//! decide nothing.

pub mod catalogue;
pub mod course;
pub mod orders;
pub mod signin;
pub mod teach;

use crate::session::User;
use maud::{DOCTYPE, Markup, html};

/// What the header shows and the forms carry.
#[derive(Debug, Clone, Default)]
pub struct Frame<'a> {
    pub user: Option<&'a User>,
    /// The development sign-in is on (the page says so).
    pub dev_sign_in: bool,
    /// The OpenID Connect provider people sign in with, by name.
    pub provider: Option<String>,
}

/// A message at the top of the page: `ok` or an error.
#[derive(Debug, Clone)]
pub enum Notice {
    Ok(String),
    Error(String),
}

/// `cents` (minor units) in `currency`, e.g. `$49.00`, `€12.05`, `JPY 500`.
pub fn money(cents: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    let amount = amount(cents, &code);
    match code.as_str() {
        "USD" => format!("${amount}"),
        "EUR" => format!("€{amount}"),
        "GBP" => format!("£{amount}"),
        other => format!("{other} {amount}"),
    }
}

/// The number of `money`, as a price field shows it: `49.00`.
pub fn amount(cents: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    let exponent = iso_currency::Currency::from_code(&code)
        .and_then(|c| c.exponent())
        .unwrap_or(2) as u32;
    let sign = if cents < 0 { "-" } else { "" };
    let unit = 10i64.pow(exponent);
    let (major, minor) = (cents.abs() / unit, cents.abs() % unit);
    if exponent == 0 {
        format!("{sign}{major}")
    } else {
        format!("{sign}{major}.{minor:0width$}", width = exponent as usize)
    }
}

/// A price typed as people write it (`49`, `49.5`, `49.90`) in minor units of `currency`, or
/// `None` when it is not one.
pub fn parse_money(text: &str, currency: &str) -> Option<i64> {
    let exponent = iso_currency::Currency::from_code(&currency.to_ascii_uppercase())
        .and_then(|c| c.exponent())
        .unwrap_or(2) as usize;
    let text = text.trim().trim_start_matches(['$', '€', '£']);
    let (major, minor) = text.split_once('.').unwrap_or((text, ""));
    if text.contains('.') && minor.is_empty() {
        return None;
    }
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) || major.len() > 12 {
        return None;
    }
    if minor.len() > exponent || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minor = format!("{minor:0<exponent$}");
    let major: i64 = major.parse().ok()?;
    let minor: i64 = if minor.is_empty() {
        0
    } else {
        minor.parse().ok()?
    };
    major
        .checked_mul(10i64.pow(exponent as u32))?
        .checked_add(minor)
}

/// The page around `body`.
pub fn layout(title: &str, frame: &Frame<'_>, notice: Option<&Notice>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Course seats" }
                link rel="icon" href="/static/icon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    nav aria-label="Main" {
                        a class="brand" href="/" { "Course seats" }
                        ul {
                            li { a href="/" { "Courses" } }
                            @if let Some(user) = frame.user {
                                @if user.student { li { a href="/orders" { "My orders" } } }
                                @if user.instructor { li { a href="/teach" { "Teach" } } }
                            }
                        }
                        div class="who" {
                            @if let Some(user) = frame.user {
                                span { "Signed in as " strong { (user.id) } }
                                form method="post" action="/signout" class="inline" {
                                    input type="hidden" name="form_token" value=(user.form_token());
                                    button type="submit" class="link" { "Sign out" }
                                }
                            } @else {
                                a href="/signin" { "Sign in" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    @if let Some(notice) = notice {
                        @match notice {
                            Notice::Ok(text) => p class="notice ok" role="status" { (text) },
                            Notice::Error(text) => p class="notice error" role="alert" { (text) },
                        }
                    }
                    (body)
                }
                footer {
                    p {
                        "Seat counts update live. "
                        span id="live-status" class="live-status" aria-live="polite" {}
                    }
                    @if frame.dev_sign_in {
                        p class="dev" { "Development sign-in is on: this run's token secret was generated by the launcher." }
                    }
                }
            }
        }
    }
}

/// The hidden field every form of a signed-in person carries.
pub fn form_token(frame: &Frame<'_>) -> Markup {
    html! {
        @if let Some(user) = frame.user {
            input type="hidden" name="form_token" value=(user.form_token());
        }
    }
}

/// Seat counts of a course that the page's live stream keeps current.
pub fn counts(course: &shared_types::Course) -> Markup {
    html! {
        dl class="counts" {
            div { dt { "Seats left" } dd data-field="seats_available" { (course.seats_available) } }
            div { dt { "On hold" } dd data-field="seats_held" { (course.seats_held) } }
            div { dt { "Sold" } dd data-field="seats_sold" { (course.seats_sold) } }
            div { dt { "Waiting" } dd data-field="waitlist_length" { (course.waitlist_length) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(money(4900, "USD"), "$49.00");
        assert_eq!(money(1205, "eur"), "€12.05");
        assert_eq!(money(0, "GBP"), "£0.00");
        assert_eq!(money(500, "JPY"), "JPY 500");
    }

    #[test]
    fn typed_prices_become_minor_units() {
        assert_eq!(parse_money("49", "USD"), Some(4900));
        assert_eq!(parse_money("49.5", "USD"), Some(4950));
        assert_eq!(parse_money("$0.99", "USD"), Some(99));
        assert_eq!(parse_money("500", "JPY"), Some(500));
        for bad in ["", "-1", "1.234", "abc", "1,5", "1.", "1e3"] {
            assert_eq!(parse_money(bad, "USD"), None, "{bad}");
        }
        assert_eq!(parse_money("5.5", "JPY"), None);
    }
}
