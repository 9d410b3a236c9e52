//! The storefront in a real browser: both services and the storefront in this process, and
//! `tests/browser/storefront.mjs` (playwright-core driving Debian's chromium headless, axe-core
//! for accessibility) run against them. It browses, signs in as a student, buys, sees the order
//! confirmed and cancels it, watches a purchase made through the API change the open catalogue
//! within 3 s, meets a price change and a sold-out course, joins and leaves a waitlist, and signs
//! in as an instructor to create a course and change its price; a course titled
//! `<script>alert(1)</script>` shows as text; no console error, dialog or request leaving
//! 127.0.0.1; no axe-core violation on any page; screenshots of each page at desktop and phone
//! size in `target/screenshots/`. Also: signing in through a real OpenID Connect provider's page,
//! paying at the checkout page of the local Stripe sandbox, and a page's live stream carrying on
//! through a restart of course-service.

use e2e_tests::{
    ClusterOptions, TestCluster,
    oidc::{AUDIENCE, ProviderOptions, TestProvider, free_port},
};
use reqwest::{Method, StatusCode};
use serde_json::json;
use service_kit::Secret;
use service_kit::auth::provider::OidcArgs;
use shared_types::Role;
use std::{path::PathBuf, process::Command};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Debian's chromium (CHROMIUM overrides); `scripts/ensure-chromium.sh` installs it.
fn chromium() -> PathBuf {
    let path = std::env::var("CHROMIUM")
        .map_or_else(|_| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run scripts/ensure-chromium.sh (Debian's chromium), or set CHROMIUM",
        path.display()
    );
    path
}

fn ensure_installed() {
    let dir = repo().join("tests/browser");
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm runs");
    assert!(status.success(), "npm ci in {}", dir.display());
}

async fn course(cluster: &TestCluster, title: &str, seats: u32, price_cents: i64) -> String {
    let token = cluster.token(Role::Instructor, "ines");
    let reply = cluster
        .send(
            Method::POST,
            format!("{}/api/courses", cluster.course_url),
            Some(&token),
            Some(json!({"title": title, "price_cents": price_cents, "seats": seats})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// The storefront over `cluster` on `port` (0: any), with `adjust` applied to its settings;
/// answers its URL and its handle.
async fn start_shop(
    cluster: &TestCluster,
    port: u16,
    adjust: impl FnOnce(&mut storefront::Config),
) -> (String, actix_web::dev::ServerHandle) {
    let mut config = storefront::Config::local(
        cluster.course_url.clone(),
        cluster.order_url.clone(),
        Secret::new(e2e_tests::cluster::SECRET),
    );
    config.port = port;
    config.public_url = format!("http://127.0.0.1:{port}");
    adjust(&mut config);
    let shop = storefront::Application::build(&config)
        .await
        .expect("storefront");
    let url = format!("http://127.0.0.1:{}", shop.port());
    let handle = shop.handle();
    tokio::spawn(shop.run_until_stopped());
    (url, handle)
}

/// The arguments of one of the browser script's short scenarios.
fn scenario(name: &str, shop: &str, chromium: &std::path::Path, course: &str) -> Vec<String> {
    vec![
        repo()
            .join("tests/browser/storefront.mjs")
            .display()
            .to_string(),
        format!("--scenario={name}"),
        format!("--shop={shop}"),
        format!("--chromium={}", chromium.display()),
        format!(
            "--screenshots={}",
            repo().join("target/screenshots").display()
        ),
        format!("--live-course={course}"),
    ]
}

/// Runs `tests/browser/storefront.mjs` with `args`; panics with its output unless every check
/// passed.
async fn run_browser(args: Vec<String>) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(&args)
            .current_dir(repo().join("tests/browser"))
            .output()
            .expect("node runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all storefront browser checks passed"));
}

#[tokio::test]
async fn the_storefront_works_in_a_real_browser() {
    let chromium = chromium();
    ensure_installed();
    let cluster = TestCluster::spawn().await;
    let (shop_url, handle) = start_shop(&cluster, 0, |_| {}).await;

    let xss = course(&cluster, "<script>alert(1)</script>", 5, 900).await;
    let live = course(&cluster, "Async Rust", 30, 4900).await;
    let tight = course(&cluster, "Embedded Rust", 1, 1000).await;
    let screenshots = repo().join("target/screenshots");
    let script = repo().join("tests/browser/storefront.mjs");
    let args = vec![
        script.display().to_string(),
        format!("--shop={shop_url}"),
        format!("--course-url={}", cluster.course_url),
        format!("--order-url={}", cluster.order_url),
        format!("--chromium={}", chromium.display()),
        format!("--screenshots={}", screenshots.display()),
        format!(
            "--student-token={}",
            cluster.token(Role::Student, "api-buyer")
        ),
        format!(
            "--instructor-token={}",
            cluster.token(Role::Instructor, "ines")
        ),
        format!("--xss-course={xss}"),
        format!("--live-course={live}"),
        format!("--tight-course={tight}"),
    ];
    run_browser(args).await;
    for page in ["catalogue", "course", "orders", "teach", "manage"] {
        for size in ["desktop", "phone"] {
            let shot = screenshots.join(format!("{page}-{size}.png"));
            assert!(shot.exists(), "{} saved", shot.display());
        }
    }
    // What the browser did went through the services: the instructor's new course exists.
    let courses = cluster
        .send(
            Method::GET,
            format!("{}/api/courses?instructor_id=ines", cluster.course_url),
            None,
            None,
            &[],
        )
        .await;
    let titles: Vec<&str> = courses.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["title"].as_str())
        .collect();
    assert!(titles.contains(&"Ownership in practice"), "{titles:?}");
    let created = courses.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["title"] == "Ownership in practice")
        .expect("created");
    assert_eq!(created["price_cents"], 3000, "the price the browser set");
    let ids: Vec<uuid::Uuid> = [&xss, &live, &tight]
        .iter()
        .map(|id| id.parse().expect("uuid"))
        .collect();
    cluster.settle_and_check(&ids).await;
    drop(handle.stop(true));
}

#[tokio::test]
async fn people_sign_in_through_the_identity_provider_in_a_real_browser() {
    let chromium = chromium();
    ensure_installed();
    let port = free_port();
    let shop_url = format!("http://127.0.0.1:{port}");
    let provider = TestProvider::start_with(ProviderOptions {
        redirect_uris: vec![format!("{shop_url}/signin/callback")],
        ..ProviderOptions::default()
    })
    .await;
    let oidc = OidcArgs::provider(&provider.issuer, AUDIENCE);
    let cluster = TestCluster::spawn_with(ClusterOptions {
        oidc: Some(oidc.clone()),
        ..ClusterOptions::default()
    })
    .await;
    let (_, handle) = start_shop(&cluster, port, |config| {
        config.oidc = oidc;
        // As in production: the secret was not generated by the launcher, so no development
        // sign-in.
        config.dev_sign_in = false;
    })
    .await;
    let live = course(&cluster, "Async Rust", 30, 4900).await;
    let args = scenario("oidc", &shop_url, &chromium, &live);
    run_browser(args).await;
    // The order was placed with the provider's token: its student is the provider's subject.
    let orders = cluster.all_orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].student_id, "olga");
    assert_eq!(orders[0].status, shared_types::OrderStatus::Confirmed);
    drop(handle.stop(true));
}

#[tokio::test]
async fn a_student_pays_at_the_checkout_page_and_the_order_is_confirmed() {
    let chromium = chromium();
    ensure_installed();
    let port = free_port();
    let shop_url = format!("http://127.0.0.1:{port}");
    let cluster = TestCluster::spawn_with(ClusterOptions {
        payments: true,
        checkout_success_url: Some(format!("{shop_url}/orders?done=paid")),
        ..ClusterOptions::default()
    })
    .await;
    let (_, handle) = start_shop(&cluster, port, |_| {}).await;
    let priced = course(&cluster, "Async Rust", 30, 4900).await;
    let args = scenario("payments", &shop_url, &chromium, &priced);
    run_browser(args).await;
    let orders = cluster.all_orders().await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].status, shared_types::OrderStatus::Confirmed);
    assert_eq!(orders[0].unit_price_cents, Some(4900));
    cluster
        .settle_and_check(&[priced.parse().expect("uuid")])
        .await;
    drop(handle.stop(true));
}

/// The next `seats` event of a storefront live stream (at most `secs` seconds).
async fn next_seats<B: AsRef<[u8]>>(
    events: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    buffer: &mut String,
    secs: u64,
) -> Option<serde_json::Value> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                return serde_json::from_str(data).ok();
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, events.next())
            .await
            .ok()??;
        buffer.push_str(&String::from_utf8_lossy(chunk.ok()?.as_ref()));
    }
}

#[tokio::test]
async fn live_counts_follow_course_service_through_a_restart() {
    use e2e_tests::procs::{self, ServiceProcess};
    let data = tempfile::tempdir().expect("tempdir");
    let env = [
        ("AUTH_JWT_SECRET", e2e_tests::cluster::SECRET.to_owned()),
        ("DATA_DIR", data.path().display().to_string()),
    ];
    let mut course = ServiceProcess::start("course-service", &env);
    let keys = service_kit::TokenKeys::from_secret(e2e_tests::cluster::SECRET).expect("keys");
    let id = procs::create_course(&course.base(), &keys, 5, 1000).await;
    let config = storefront::Config::local(
        course.base(),
        "http://127.0.0.1:9".into(),
        Secret::new(e2e_tests::cluster::SECRET),
    );
    let shop = storefront::Application::build(&config)
        .await
        .expect("storefront");
    let shop_url = format!("http://127.0.0.1:{}", shop.port());
    let handle = shop.handle();
    tokio::spawn(shop.run_until_stopped());

    let response = reqwest::Client::new()
        .get(format!("{shop_url}/live?courses={id}"))
        .send()
        .await
        .expect("live stream");
    assert_eq!(response.status(), StatusCode::OK);
    let mut events = Box::pin(response.bytes_stream());
    let mut buffer = String::new();
    let first = next_seats(&mut events, &mut buffer, 10)
        .await
        .expect("first counts");
    assert_eq!(first["course_id"], id.as_str());
    assert_eq!(first["seats_available"], 5);

    // course-service goes away and comes back on the same port; the page's stream stays open
    // and shows the next change.
    course.terminate();
    course.restart();
    let hold = reqwest::Client::new()
        .put(format!(
            "{}/api/courses/{id}/reservations/{}",
            course.base(),
            uuid::Uuid::now_v7()
        ))
        .bearer_auth(keys.mint("checker", Role::Service, 300))
        .json(&json!({"student_id": "s1"}))
        .send()
        .await
        .expect("hold");
    assert_eq!(hold.status(), StatusCode::CREATED);
    let mut seen = Vec::new();
    loop {
        let Some(counts) = next_seats(&mut events, &mut buffer, 15).await else {
            panic!("no seat counts after the restart; saw {seen:?}");
        };
        if counts["seats_available"] == 4 && counts["seats_held"] == 1 {
            break;
        }
        seen.push(counts);
    }
    drop(handle.stop(true));
}
