//! What the Stripe client sends: form bodies in Stripe's bracket notation
//! (`line_items[0][price_data][currency]=eur`), the `expires_at` Stripe accepts, idempotency keys
//! and ids made safe for a URL path.

use crate::payment_client::CheckoutRequest;
use chrono::{DateTime, TimeDelta, Utc};

/// The earliest `expires_at` Stripe accepts is 30 minutes from when it receives the request; one
/// more minute covers the time the request (with its retries) takes to arrive.
pub const MIN_EXPIRY: TimeDelta = TimeDelta::minutes(31);
/// The latest Stripe accepts is 24 hours from then; one minute less stays inside it.
pub const MAX_EXPIRY: TimeDelta = TimeDelta::minutes(24 * 60 - 1);

/// Where the student lands after paying or giving up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnUrls {
    /// May contain `{CHECKOUT_SESSION_ID}`, which Stripe replaces; sent as is.
    pub success_url: String,
    pub cancel_url: Option<String>,
}

/// `expires_at` in unix seconds: the requested time moved into
/// `[now + MIN_EXPIRY, now + MAX_EXPIRY]`, rounded inwards to whole seconds.
pub fn clamp_expires_at(requested: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let earliest = ceil_secs(now + MIN_EXPIRY);
    let latest = (now + MAX_EXPIRY).timestamp();
    ceil_secs(requested).clamp(earliest, latest)
}

fn ceil_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

/// The form pairs of `POST /v1/checkout/sessions` for one order: one line item of the course at
/// its price, quantity 1, paid once (`mode=payment`), tied to the order by
/// `client_reference_id` and metadata.
pub fn checkout_pairs(
    request: &CheckoutRequest,
    urls: &ReturnUrls,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("mode", "payment".to_owned()),
        ("client_reference_id", request.order_id.clone()),
        ("success_url", urls.success_url.clone()),
    ];
    if let Some(cancel_url) = &urls.cancel_url {
        pairs.push(("cancel_url", cancel_url.clone()));
    }
    pairs.extend([
        (
            "line_items[0][price_data][currency]",
            request.currency.to_ascii_lowercase(),
        ),
        (
            "line_items[0][price_data][unit_amount]",
            request.amount_cents.to_string(),
        ),
        (
            "line_items[0][price_data][product_data][name]",
            request.product_name.clone(),
        ),
        ("line_items[0][quantity]", "1".to_owned()),
        ("metadata[order_id]", request.order_id.clone()),
        ("metadata[course_id]", request.course_id.clone()),
        ("metadata[student_id]", request.student_id.clone()),
        (
            "expires_at",
            clamp_expires_at(request.expires_at, now).to_string(),
        ),
    ]);
    pairs
}

/// The form pairs of `POST /v1/refunds`: the whole payment, marked with the order.
pub fn refund_pairs(payment_intent: &str, order_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("payment_intent", payment_intent.to_owned()),
        ("metadata[order_id]", order_id.to_owned()),
    ]
}

/// `application/x-www-form-urlencoded` of `pairs`, in their order.
pub fn encode(pairs: &[(&'static str, String)]) -> String {
    serde_urlencoded::to_string(pairs)
        .unwrap_or_else(|_| unreachable!("pairs of strings always encode"))
}

/// `checkout-<order id>`: one session per order, however often creating it is repeated.
pub fn checkout_key(order_id: &str) -> String {
    format!("checkout-{order_id}")
}

/// `expire-<session id>`.
pub fn expire_key(session_id: &str) -> String {
    format!("expire-{session_id}")
}

/// `refund-<order id>`: one refund per order.
pub fn refund_key(order_id: &str) -> String {
    format!("refund-{order_id}")
}

/// `id` as one path segment: every byte other than ASCII letters, digits, `_` and `-` is
/// percent-encoded (Stripe's ids use none), so no id can name another path (`/`, `..`, `?`).
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    #[test]
    fn a_checkout_re_sent_while_its_hold_lives_asks_for_the_same_end() {
        let hold_end = at(1_700_000_300);
        let asked = crate::domain::checkout::session_end(hold_end);
        let first = clamp_expires_at(asked, at(1_700_000_000));
        for later in [1_700_000_001, 1_700_000_150, 1_700_000_300] {
            assert_eq!(
                clamp_expires_at(asked, at(later)),
                first,
                "re-sent at {later}"
            );
        }
        assert!(first >= 1_700_000_300 + 30 * 60, "inside Stripe's window");
    }

    #[test]
    fn expires_at_is_moved_into_stripes_window() {
        let now = at(1_700_000_000);
        let earliest = 1_700_000_000 + 31 * 60;
        let latest = 1_700_000_000 + 24 * 3600 - 60;
        assert_eq!(clamp_expires_at(at(1_700_000_000 - 10), now), earliest);
        assert_eq!(clamp_expires_at(now + TimeDelta::minutes(5), now), earliest);
        assert_eq!(
            clamp_expires_at(now + TimeDelta::hours(2), now),
            1_700_007_200
        );
        assert_eq!(clamp_expires_at(now + TimeDelta::hours(48), now), latest);
    }

    #[test]
    fn a_fraction_of_a_second_never_leaves_the_window() {
        let now = at(1_700_000_000) + TimeDelta::milliseconds(400);
        assert_eq!(clamp_expires_at(now, now), 1_700_000_001 + 31 * 60);
        assert_eq!(
            clamp_expires_at(now + TimeDelta::hours(30), now),
            1_700_000_000 + 24 * 3600 - 60
        );
    }

    #[test]
    fn ids_are_one_path_segment() {
        assert_eq!(path_segment("cs_test_a1B2"), "cs_test_a1B2");
        assert_eq!(path_segment("../x y?z"), "%2E%2E%2Fx%20y%3Fz");
        assert_eq!(path_segment("é"), "%C3%A9");
    }
}
