//! Tests of token verification and minting.

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

fn keys() -> TokenKeys {
    TokenKeys::from_secret(SECRET).expect("valid secret")
}

fn sign(claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn now() -> i64 {
    unix_now()
}

#[test]
fn a_subject_with_a_control_character_is_refused_at_the_edge() {
    for sub in ["bob\tsmith", "bob\n", "nul\u{0}", "\u{7f}del"] {
        let token = sign(
            &serde_json::json!({"sub": sub, "role": "student", "exp": now() + 60}),
            SECRET,
        );
        let err = keys().verify(&token).expect_err(sub);
        assert!(err.to_string().contains("control characters"), "{err}");
        assert_eq!(err.status_code(), StatusCode::UNAUTHORIZED);
    }
    let token = sign(
        &serde_json::json!({"sub": "Zoë O'Brien", "role": "student", "exp": now() + 60}),
        SECRET,
    );
    assert!(keys().verify(&token).is_ok(), "printable ids stay valid");
}

#[test]
fn a_token_not_valid_yet_is_refused_beyond_a_minute_of_leeway() {
    let claims = |nbf: i64| serde_json::json!({"sub": "bob", "role": "student", "exp": now() + 600, "nbf": nbf});
    let err = keys()
        .verify(&sign(&claims(now() + 120), SECRET))
        .expect_err("nbf two minutes ahead");
    assert!(err.to_string().contains("not valid yet"), "{err}");
    assert!(
        keys().verify(&sign(&claims(now() + 30), SECRET)).is_ok(),
        "within leeway"
    );
    assert!(
        keys().verify(&sign(&claims(now() - 30), SECRET)).is_ok(),
        "already valid"
    );
    let issued_later = serde_json::json!(
        {"sub": "bob", "role": "student", "exp": now() + 600, "iat": now() + 3600});
    assert!(
        keys().verify(&sign(&issued_later, SECRET)).is_err(),
        "iat an hour ahead"
    );
}

#[test]
fn a_minted_token_verifies_with_its_claims() {
    let token = keys().mint("alice", Role::Instructor, 60);
    let identity = keys().verify(&token).expect("valid");
    assert_eq!(identity.sub, "alice");
    assert!(identity.has(Role::Instructor));
    assert!(!identity.has(Role::Student) && !identity.has(Role::Service));
}

#[test]
fn short_and_missing_secrets_are_refused() {
    assert!(matches!(
        TokenKeys::from_secret(""),
        Err(SecretError::Missing)
    ));
    assert!(matches!(
        TokenKeys::from_secret("short"),
        Err(SecretError::TooShort(5))
    ));
}

#[test]
fn expired_badly_signed_and_unsigned_tokens_are_refused() {
    let now = unix_now();
    let expired = sign(
        &serde_json::json!({"sub": "a", "role": "student", "exp": now - 1}),
        SECRET,
    );
    assert!(matches!(
        keys().verify(&expired),
        Err(AuthError::Invalid(_))
    ));
    let other = sign(
        &serde_json::json!({"sub": "a", "role": "student", "exp": now + 60}),
        "another-secret-another-secret-another-secret",
    );
    assert!(matches!(keys().verify(&other), Err(AuthError::Invalid(_))));
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&format!(
            r#"{{"sub":"a","role":"student","exp":{}}}"#,
            now + 60
        ))
    );
    assert!(matches!(
        keys().verify(&unsigned),
        Err(AuthError::Invalid(_))
    ));
}

#[test]
fn tokens_without_role_or_with_an_unknown_role_are_refused() {
    let now = unix_now();
    let no_role = sign(&serde_json::json!({"sub": "a", "exp": now + 60}), SECRET);
    assert!(keys().verify(&no_role).is_err());
    let odd = sign(
        &serde_json::json!({"sub": "a", "role": "admin", "exp": now + 60}),
        SECRET,
    );
    assert!(keys().verify(&odd).is_err());
}

#[test]
fn service_tokens_need_the_audience_and_a_short_life() {
    let now = unix_now();
    let good = keys().mint("order-service", Role::Service, 240);
    assert!(keys().verify(&good).is_ok());
    let wrong_aud = sign(
        &serde_json::json!({"sub": "s", "role": "service", "exp": now + 60, "aud": "billing"}),
        SECRET,
    );
    assert!(keys().verify(&wrong_aud).is_err());
    let long = sign(
        &serde_json::json!({"sub": "s", "role": "service", "exp": now + 3600, "iat": now, "aud": SERVICE_AUDIENCE}),
        SECRET,
    );
    assert!(keys().verify(&long).is_err());
}

#[test]
fn a_cached_token_still_expires_and_an_altered_one_is_still_checked() {
    let keys = keys();
    let now = unix_now();
    let short = sign(
        &serde_json::json!({"sub": "a", "role": "student", "exp": now + 1}),
        SECRET,
    );
    assert!(keys.verify(&short).is_ok());
    assert!(keys.verify(&short).is_ok(), "served from the cache");
    assert!(
        keys.verified.get(&short, now + 1).is_none(),
        "not past its exp"
    );
    let mut forged = short.clone();
    forged.pop();
    forged.push(if short.ends_with('A') { 'B' } else { 'A' });
    assert!(
        keys.verify(&forged).is_err(),
        "a different string is verified afresh"
    );
}

#[test]
fn a_cached_service_token_is_rechecked_for_lifetime() {
    let keys = keys();
    let token = keys.mint("order-service", Role::Service, 240);
    assert!(keys.verify(&token).is_ok());
    assert_eq!(keys.verified.len(), 1);
    assert!(keys.verify(&token).is_ok(), "served from the cache");
    // A cached entry whose service checks no longer hold (here: claims that live longer than a
    // service token may, as if cached under another clock) is refused on use, not trusted.
    let now = unix_now();
    let mut roles = Roles::default();
    roles.insert(Role::Service);
    let stale = Identity {
        sub: "order-service".into(),
        roles,
        exp: now + 3600,
        iat: Some(now),
        generation: None,
    };
    keys.verified.insert(&token, std::sync::Arc::new(stale));
    assert!(
        keys.verify(&token).is_err(),
        "the lifetime is checked on every use of a cached service token"
    );
}

#[test]
fn the_secret_is_not_in_debug_output() {
    assert!(!format!("{:?}", keys()).contains("0123456789"));
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[test]
fn provider_algorithms_are_refused_without_a_provider() {
    // An RS256 header with an HMAC signature: with no provider configured there is no key that
    // may verify it, and the shared secret is never tried for it.
    let header = b64(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
    let body = b64(&format!(
        r#"{{"sub":"eve","role":"instructor","exp":{}}}"#,
        now() + 60
    ));
    let token = format!("{header}.{body}.c2lnbmF0dXJl");
    let err = keys().verify(&token).expect_err("refused");
    assert!(err.to_string().contains("algorithm not allowed"), "{err}");
    for alg in ["none", "HS512", "PS256", "EdDSA", "xyz"] {
        let header = b64(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let token = format!("{header}.{body}.");
        assert!(keys().verify(&token).is_err(), "{alg} refused");
    }
}
