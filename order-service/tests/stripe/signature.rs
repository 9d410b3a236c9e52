//! Stripe's webhook signature scheme against signatures computed independently with OpenSSL.
//!
//! Every signature below is HMAC-SHA256 keyed with the whole secret over `<t>.<payload>`, where
//! the payload is `fixtures/checkout_session_completed.json` byte for byte (trailing newline
//! included) and t = 1700000000. Reproduce one from `order-service/tests/stripe/fixtures` with:
//!
//! ```sh
//! { printf '%s.' 1700000000; cat checkout_session_completed.json; } \
//!   | openssl dgst -sha256 -hmac 'whsec_order_service_test_secret_1'
//! ```

use order_service::payment_client::signature::{
    SignatureError, TOLERANCE_SECS, verify, verify_any,
};

const PAYLOAD: &[u8] = include_bytes!("fixtures/checkout_session_completed.json");
const T: i64 = 1_700_000_000;
const SECRET: &str = "whsec_order_service_test_secret_1";
/// `openssl dgst -sha256 -hmac 'whsec_order_service_test_secret_1'` over `1700000000.<payload>`.
const SIG: &str = "268e39d58aee27c579e7795e1008fcf33b64a8fcb9627a3ace8b3fa5a98acc04";
const OLD_SECRET: &str = "whsec_order_service_rotated_out_0";
/// `openssl dgst -sha256 -hmac 'whsec_order_service_rotated_out_0'` over `1700000000.<payload>`.
const OLD_SIG: &str = "5e573e7a87767b52ebc2a652d6c99a8dfb6d9762dc067ef56f20272ffd6c0762";

fn check(header: &str, now: i64) -> Result<i64, SignatureError> {
    verify(Some(header), PAYLOAD, SECRET, now, TOLERANCE_SECS)
}

#[test]
fn a_valid_signature_answers_its_timestamp() {
    assert_eq!(check(&format!("t={T},v1={SIG}"), T + 12), Ok(T));
    assert_eq!(
        check(&format!("t={T}, v1={SIG}"), T),
        Ok(T),
        "a space after a comma"
    );
}

#[test]
fn the_tolerance_is_five_minutes_either_way() {
    let header = format!("t={T},v1={SIG}");
    assert_eq!(TOLERANCE_SECS, 300);
    assert_eq!(check(&header, T + 300), Ok(T));
    assert_eq!(check(&header, T - 300), Ok(T));
    assert_eq!(check(&header, T + 301), Err(SignatureError::Stale));
    assert_eq!(check(&header, T - 301), Err(SignatureError::Stale));
    assert_eq!(check(&header, T + 86_400), Err(SignatureError::Stale));
}

#[test]
fn another_secret_does_not_verify() {
    let header = format!("t={T},v1={SIG}");
    assert_eq!(
        verify(Some(&header), PAYLOAD, OLD_SECRET, T, TOLERANCE_SECS),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(&format!("t={T},v1={OLD_SIG}"), T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn a_changed_payload_or_timestamp_does_not_verify() {
    let mut changed = PAYLOAD.to_vec();
    let at = changed
        .iter()
        .position(|b| *b == b'4')
        .expect("an amount digit");
    changed[at] = b'1';
    assert_eq!(
        verify(
            Some(&format!("t={T},v1={SIG}")),
            &changed,
            SECRET,
            T,
            TOLERANCE_SECS
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        check(&format!("t={},v1={SIG}", T + 1), T),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn a_missing_header_is_missing() {
    assert_eq!(
        verify(None, PAYLOAD, SECRET, T, TOLERANCE_SECS),
        Err(SignatureError::Missing)
    );
    assert_eq!(check("  ", T), Err(SignatureError::Missing));
}

#[test]
fn a_malformed_header_is_malformed() {
    for header in [
        "garbage",
        &format!("v1={SIG}"),
        &format!("t=yesterday,v1={SIG}"),
        &format!("t={T},t={T},v1={SIG}"),
        &format!("t={T};v1={SIG}"),
        &format!("t={T},v1={SIG},"),
    ] {
        assert_eq!(check(header, T), Err(SignatureError::Malformed), "{header}");
    }
}

#[test]
fn one_matching_v1_among_several_is_enough() {
    assert_eq!(check(&format!("t={T},v1={OLD_SIG},v1={SIG}"), T), Ok(T));
    assert_eq!(
        check(&format!("t={T},v1=not-hex,v1={SIG},v0={OLD_SIG}"), T),
        Ok(T)
    );
}

#[test]
fn a_header_with_only_v0_has_no_signature() {
    assert_eq!(
        check(&format!("t={T},v0={SIG}"), T),
        Err(SignatureError::NoSignature)
    );
}

#[test]
fn any_of_several_secrets_verifies_during_a_rotation() {
    let header = format!("t={T},v1={OLD_SIG}");
    assert_eq!(
        verify_any(
            Some(&header),
            PAYLOAD,
            &[SECRET, OLD_SECRET],
            T,
            TOLERANCE_SECS
        ),
        Ok(T)
    );
    assert_eq!(
        verify_any(Some(&header), PAYLOAD, &[SECRET], T, TOLERANCE_SECS),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_any(Some(&header), PAYLOAD, &[], T, TOLERANCE_SECS),
        Err(SignatureError::Mismatch)
    );
}
