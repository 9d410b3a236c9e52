//! What verifying a bearer token costs on the request path, with and without an OpenID Connect
//! provider configured:
//!
//! - `reference/cache_lookup`: the bare minimum of a cache hit, a map lookup by the token string
//!   and a clone of what it holds (a reference, not the product);
//! - `cached/*`: a token verified before (every request after a client's first);
//! - `uncached/*`: the full check of a token seen for the first time.
//!
//! The provider is a local HTTP listener serving a discovery document and a key set for the
//! RSA key in `bench-rsa-key.pem` (made for this benchmark only).
//!
//!   cargo bench -p service-kit --bench verify

use criterion::{Criterion, criterion_group, criterion_main};
use dashmap::DashMap;
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use service_kit::{
    TokenKeys,
    auth::provider::{OidcArgs, Provider},
};
use shared_types::Role;
use std::{
    hint::black_box,
    io::{Read, Write},
    net::TcpListener,
    sync::Arc,
};

const SECRET: &str = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const AUDIENCE: &str = "https://courses.example.com/api";
const KEY: &str = include_str!("bench-rsa-key.pem");

/// Serves `<issuer>/.well-known/openid-configuration` and `<issuer>/jwks` until the process ends.
fn serve_provider() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let encoding = EncodingKey::from_rsa_pem(KEY.as_bytes()).expect("key");
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some("bench-1".into());
    let jwks = serde_json::json!({ "keys": [jwk] }).to_string();
    let discovery =
        serde_json::json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") }).to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let head = String::from_utf8_lossy(&request[..n]);
            let body = if head.starts_with("GET /jwks") {
                &jwks
            } else {
                &discovery
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    issuer
}

fn provider_token(issuer: &str, sub: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("bench-1".into());
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "iss": issuer, "aud": AUDIENCE, "sub": sub, "role": "student",
        "iat": now, "exp": now + 3600,
    });
    let key = EncodingKey::from_rsa_pem(KEY.as_bytes()).expect("key");
    jsonwebtoken::encode(&header, &claims, &key).expect("signed")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let issuer = serve_provider();
    let provider = runtime
        .block_on(Provider::start(&OidcArgs::provider(&issuer, AUDIENCE)))
        .expect("settings")
        .expect("a provider");
    assert!(provider.has_keys(), "the provider's keys loaded");

    let plain = TokenKeys::from_secret(SECRET).expect("keys");
    let with_provider = TokenKeys::from_secret(SECRET)
        .expect("keys")
        .with_provider(Some(Arc::clone(&provider)));
    let hs256 = plain.mint("stu-1", Role::Student, 3600);
    let rs256 = provider_token(&issuer, "stu-2");
    for (keys, token) in [
        (&plain, &hs256),
        (&with_provider, &hs256),
        (&with_provider, &rs256),
    ] {
        keys.verify(token).expect("valid");
    }

    let reference: DashMap<Box<str>, Arc<String>, foldhash::fast::RandomState> = DashMap::default();
    reference.insert(hs256.as_str().into(), Arc::new("stu-1".to_owned()));

    let mut group = c.benchmark_group("verify");
    group.bench_function("reference/cache_lookup", |b| {
        b.iter(|| {
            let hit = reference.get(black_box(hs256.as_str())).expect("hit");
            black_box((**hit.value()).clone())
        })
    });
    group.bench_function("cached/hs256_no_provider", |b| {
        b.iter(|| black_box(plain.verify(black_box(&hs256)).expect("valid")))
    });
    group.bench_function("cached/hs256_with_provider", |b| {
        b.iter(|| black_box(with_provider.verify(black_box(&hs256)).expect("valid")))
    });
    group.bench_function("cached/rs256_from_provider", |b| {
        b.iter(|| black_box(with_provider.verify(black_box(&rs256)).expect("valid")))
    });
    // A fresh TokenKeys per iteration would measure its construction: instead each iteration
    // verifies a token the cache has not seen (a new subject), for both kinds.
    let mut n = 0u64;
    group.bench_function("uncached/hs256", |b| {
        b.iter_batched(
            || {
                n += 1;
                plain.mint(&format!("u{n}"), Role::Student, 3600)
            },
            |token| black_box(plain.verify(&token).expect("valid")),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("uncached/rs256_from_provider", |b| {
        b.iter_batched(
            || {
                n += 1;
                provider_token(&issuer, &format!("p{n}"))
            },
            |token| black_box(with_provider.verify(&token).expect("valid")),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
