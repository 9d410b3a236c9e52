//! Tokens from a real OpenID Connect provider (`tests/oidc-provider`: panva's oidc-provider on
//! Node.js) accepted by both services: obtained through the authorization-code flow with PKCE,
//! RS256 and ES256, roles from a string, an array or a nested claim; refused when another issuer,
//! audience, time, key or algorithm is involved; key rotation, the refresh rate limit, and a
//! provider that is down at start-up or later.

use base64::Engine;
use e2e_tests::{
    ClusterOptions, TestCluster,
    oidc::{AUDIENCE, ProviderOptions, SigningKey, TestProvider, free_port},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service_kit::auth::provider::OidcArgs;
use shared_types::Role;
use std::time::{Duration, Instant};

fn oidc(provider: &TestProvider) -> OidcArgs {
    OidcArgs::provider(&provider.issuer, AUDIENCE)
}

async fn cluster_for(args: OidcArgs) -> TestCluster {
    TestCluster::spawn_with(ClusterOptions {
        oidc: Some(args),
        ..ClusterOptions::default()
    })
    .await
}

/// `POST /api/courses` with `token`: the status.
async fn create_course(cluster: &TestCluster, token: &str) -> StatusCode {
    cluster
        .send(
            Method::POST,
            format!("{}/api/courses", cluster.course_url),
            Some(token),
            Some(json!({"title": "Rust", "price_cents": 1000, "seats": 5})),
            &[],
        )
        .await
        .status
}

/// `GET /api/orders` with `token`: the status.
async fn list_orders(cluster: &TestCluster, token: &str) -> StatusCode {
    cluster
        .send(
            Method::GET,
            format!("{}/api/orders", cluster.order_url),
            Some(token),
            None,
            &[],
        )
        .await
        .status
}

async fn ready(cluster: &TestCluster, url: &str) -> (StatusCode, Value) {
    let reply = cluster
        .send(Method::GET, format!("{url}/health/ready"), None, None, &[])
        .await;
    (reply.status, reply.body)
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn provider_tokens_from_a_real_grant_work_on_both_services() {
    let provider = TestProvider::start().await;
    let cluster = cluster_for(oidc(&provider)).await;
    for url in [&cluster.course_url, &cluster.order_url] {
        let (status, body) = ready(&cluster, url).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["checks"]["identity_provider"], "ok", "{body}");
    }

    // An instructor signs in through the ES256 client, a student through the RS256 one.
    let instructor = provider
        .token_with("ines", &[Role::Instructor], "storefront-es", AUDIENCE)
        .await;
    let header = jsonwebtoken::decode_header(&instructor).expect("header");
    assert_eq!(header.alg, Algorithm::ES256);
    let created = cluster
        .send(
            Method::POST,
            format!("{}/api/courses", cluster.course_url),
            Some(&instructor),
            Some(json!({"title": "Rust", "price_cents": 1000, "seats": 2})),
            &[],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["instructor_id"], "ines",
        "the id is the token's sub"
    );
    let course = created.body["id"].as_str().expect("id").to_owned();

    let student = provider.token("sam", &[Role::Student]).await;
    assert_eq!(
        jsonwebtoken::decode_header(&student).expect("header").alg,
        Algorithm::RS256
    );
    let order = cluster
        .send(
            Method::POST,
            format!("{}/api/orders", cluster.order_url),
            Some(&student),
            Some(json!({"course_id": course})),
            &[],
        )
        .await;
    assert_eq!(order.status, StatusCode::CREATED, "{}", order.body);
    assert_eq!(order.body["status"], "confirmed");
    assert_eq!(order.body["student_id"], "sam");

    // Roles are checked: the student may not create courses, the instructor may not buy.
    assert_eq!(
        create_course(&cluster, &student).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        list_orders(&cluster, &instructor).await,
        StatusCode::FORBIDDEN
    );
    // A user with both roles (an array claim) may do both.
    let both = provider
        .token("bo", &[Role::Student, Role::Instructor])
        .await;
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&both)
        .expect("claims")
        .claims;
    assert_eq!(claims["role"], json!(["student", "instructor"]));
    assert_eq!(create_course(&cluster, &both).await, StatusCode::CREATED);
    assert_eq!(list_orders(&cluster, &both).await, StatusCode::OK);
    // A token without any of this API's roles is authenticated but not authorized.
    let none = provider
        .key(Algorithm::RS256)
        .await
        .sign(&provider.claims("nobody", json!({"role": ["offline_access"]})));
    assert_eq!(list_orders(&cluster, &none).await, StatusCode::FORBIDDEN);
    // Service calls still use the shared secret (order-service bought the seat above with it).
    let seats = cluster.course(course.parse().expect("uuid")).await;
    assert_eq!(seats["seats_sold"], 1, "{seats}");
}

#[tokio::test]
async fn roles_from_a_nested_array_claim_as_keycloak_sends_them() {
    let provider = TestProvider::start_with(ProviderOptions {
        role_claim: "realm_access.roles".into(),
        role_array: true,
        ..ProviderOptions::default()
    })
    .await;
    let mut args = oidc(&provider);
    args.role_claim = "realm_access.roles".into();
    let cluster = cluster_for(args).await;
    let instructor = provider.token("kim", &[Role::Instructor]).await;
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&instructor)
        .expect("claims")
        .claims;
    assert_eq!(claims["realm_access"]["roles"], json!(["instructor"]));
    assert_eq!(
        create_course(&cluster, &instructor).await,
        StatusCode::CREATED
    );
    // The same claims under the default name are not read by this configuration.
    let flat = provider
        .key(Algorithm::RS256)
        .await
        .sign(&provider.claims("kim", json!({"role": "instructor"})));
    assert_eq!(create_course(&cluster, &flat).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tokens_not_issued_by_the_provider_for_this_api_are_refused() {
    let provider = TestProvider::start().await;
    let cluster = cluster_for(oidc(&provider)).await;
    let rs = provider.key(Algorithm::RS256).await;
    let es = provider.key(Algorithm::ES256).await;
    let now = chrono::Utc::now().timestamp();
    let instructor = |extra: Value| {
        let mut claims = provider.claims("mallory", json!({"role": "instructor"}));
        for (k, v) in extra.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let good = rs.sign(&instructor(json!({})));
    let unknown_kid = SigningKey {
        kid: "not-published".into(),
        ..rs.clone()
    };
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let body = b64(&instructor(json!({"sub": "root"})));
        format!("{}.{body}.{}", parts[0], parts[2])
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": rs.kid})),
        b64(&instructor(json!({})))
    );
    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(rs.kid.clone());
        jsonwebtoken::encode(
            &header,
            &instructor(json!({})),
            &EncodingKey::from_secret(rs.public_pem.as_bytes()),
        )
        .expect("signed")
    };
    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &instructor(json!({})),
        &rs.encoding_key(),
    )
    .expect("signed");
    // An RS256 signature presented under the EC key's kid.
    let wrong_key_kind = SigningKey {
        kid: es.kid.clone(),
        ..rs.clone()
    };
    let other_audience = provider
        .token_with(
            "mallory",
            &[Role::Instructor],
            "storefront",
            "https://other.example.com/api",
        )
        .await;
    let cases: Vec<(&str, String)> = vec![
        (
            "another issuer",
            rs.sign(&instructor(json!({"iss": "http://127.0.0.1:1"}))),
        ),
        ("another audience, from a real grant", other_audience),
        (
            "expired",
            rs.sign(&instructor(json!({"exp": now - 5, "iat": now - 3600}))),
        ),
        (
            "not valid for two minutes",
            rs.sign(&instructor(json!({"nbf": now + 120}))),
        ),
        (
            "issued an hour from now",
            es.sign(&instructor(json!({"iat": now + 3600}))),
        ),
        ("no exp", rs.sign(&instructor(json!({"exp": null})))),
        ("no sub", rs.sign(&instructor(json!({"sub": null})))),
        (
            "a kid the provider does not publish",
            unknown_kid.sign(&instructor(json!({}))),
        ),
        ("no kid", no_kid),
        ("alg none", none),
        (
            "HS256 signed with the provider's public key",
            hs256_with_public_key,
        ),
        ("a changed payload", tampered),
        (
            "a key used for another algorithm",
            wrong_key_kind.sign(&instructor(json!({}))),
        ),
    ];
    for (what, token) in &cases {
        let reply = cluster
            .send(
                Method::POST,
                format!("{}/api/courses", cluster.course_url),
                Some(token),
                Some(json!({"title": "Rust", "price_cents": 1000, "seats": 5})),
                &[],
            )
            .await;
        reply.assert_problem(401, "unauthorized");
        assert!(
            reply.headers.contains_key("www-authenticate"),
            "{what}: WWW-Authenticate"
        );
        let reply = cluster
            .send(
                Method::GET,
                format!("{}/api/orders", cluster.order_url),
                Some(token),
                None,
                &[],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{what}: order-service"
        );
    }
    // Nothing was created; the well-formed token next to them is accepted, within the clock
    // leeway too.
    let listed = cluster
        .send(
            Method::GET,
            format!("{}/api/courses", cluster.course_url),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.body);
    assert_eq!(create_course(&cluster, &good).await, StatusCode::CREATED);
    let soon = rs.sign(&instructor(json!({"nbf": now + 30, "iat": now + 30})));
    assert_eq!(create_course(&cluster, &soon).await, StatusCode::CREATED);
}

#[tokio::test]
async fn rotated_keys_are_fetched_on_an_unknown_kid_at_most_once_a_minute() {
    let provider = TestProvider::start().await;
    let cluster = cluster_for(oidc(&provider)).await;
    let started = provider.jwks_requests().await;
    assert_eq!(started, 2, "each service fetched the keys once at start-up");

    let old = provider.token("sam", &[Role::Student]).await;
    assert_eq!(list_orders(&cluster, &old).await, StatusCode::OK);
    let kids = provider.rotate().await;
    let new = provider.token("sam", &[Role::Student]).await;
    assert_eq!(
        jsonwebtoken::decode_header(&new)
            .expect("header")
            .kid
            .as_deref(),
        Some(kids[0].as_str()),
        "signed with the new key"
    );
    assert_eq!(
        list_orders(&cluster, &new).await,
        StatusCode::OK,
        "a new kid is accepted after one refresh"
    );
    assert_eq!(provider.jwks_requests().await, started + 1);
    assert_eq!(
        list_orders(&cluster, &old).await,
        StatusCode::OK,
        "the old key is still published"
    );

    // Within the minute, another new key is not fetched for...
    provider.rotate().await;
    let newest = provider.token("sam", &[Role::Student]).await;
    assert_eq!(
        list_orders(&cluster, &newest).await,
        StatusCode::UNAUTHORIZED
    );
    // ...nor is a flood of tokens naming forged kids.
    let key = provider.key(Algorithm::RS256).await;
    let forged = futures::future::join_all((0..50).map(|i| {
        let token = SigningKey {
            kid: format!("forged-{i}"),
            ..key.clone()
        }
        .sign(&provider.claims(&format!("f{i}"), json!({})));
        let cluster = &cluster;
        async move { list_orders(cluster, &token).await }
    }))
    .await;
    assert!(forged.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    assert_eq!(
        provider.jwks_requests().await,
        started + 1,
        "no fetch for kids within a minute of the last one"
    );

    // The limit is per service: course-service has not fetched for an unknown kid yet.
    let instructor = provider.token("ines", &[Role::Instructor]).await;
    assert_eq!(
        create_course(&cluster, &instructor).await,
        StatusCode::CREATED
    );
    assert_eq!(provider.jwks_requests().await, started + 2);
}

#[tokio::test]
async fn a_removed_key_is_refused_after_the_next_scheduled_refresh() {
    let provider = TestProvider::start().await;
    let mut args = oidc(&provider);
    args.jwks_refresh_secs = 1;
    let cluster = cluster_for(args).await;
    let old = provider.token("sam", &[Role::Student]).await;
    assert_eq!(list_orders(&cluster, &old).await, StatusCode::OK);
    provider.rotate().await;
    let new = provider.token("sam", &[Role::Student]).await;
    assert_eq!(list_orders(&cluster, &new).await, StatusCode::OK);

    provider.retire().await;
    // The old token was verified and cached before; once a refresh sees its key gone, it is
    // refused all the same.
    let deadline = Instant::now() + Duration::from_secs(10);
    while list_orders(&cluster, &old).await == StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the removed key is dropped within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(list_orders(&cluster, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(list_orders(&cluster, &new).await, StatusCode::OK);
}

#[tokio::test]
async fn a_provider_down_at_start_up_makes_the_services_not_ready_until_its_keys_load() {
    let port = free_port();
    let mut args = OidcArgs::provider(format!("http://127.0.0.1:{port}"), AUDIENCE);
    args.jwks_refresh_secs = 1;
    let cluster = cluster_for(args).await;
    for url in [&cluster.course_url, &cluster.order_url] {
        let (status, body) = ready(&cluster, url).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["checks"]["identity_provider"], "no_keys", "{body}");
    }
    // The shared secret's tokens work meanwhile.
    let hs = cluster.keys.mint("ines", Role::Instructor, 600);
    assert_eq!(create_course(&cluster, &hs).await, StatusCode::CREATED);

    let provider = TestProvider::start_with(ProviderOptions {
        port,
        ..ProviderOptions::default()
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(40);
    for url in [&cluster.course_url, &cluster.order_url] {
        while ready(&cluster, url).await.0 != StatusCode::OK {
            assert!(Instant::now() < deadline, "ready once the provider answers");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let student = provider.token("sam", &[Role::Student]).await;
    assert_eq!(list_orders(&cluster, &student).await, StatusCode::OK);

    // An outage later keeps the keys: a token never seen before still verifies, and the services
    // stay ready while refreshes fail.
    let key = provider.key(Algorithm::RS256).await;
    provider.stop();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let fresh = key.sign(&provider.claims("late", json!({})));
    assert_eq!(list_orders(&cluster, &fresh).await, StatusCode::OK);
    for url in [&cluster.course_url, &cluster.order_url] {
        assert_eq!(ready(&cluster, url).await.0, StatusCode::OK);
    }
}
