//! Webhook deliveries to a local receiver: Stripe's headers and signature (checked here with an
//! independent HMAC), retries after failures, bounded attempts per endpoint, hold and release
//! out of order, duplicates, drops and resends, delays.

use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use stripe_sandbox::SandboxConfig;

use crate::common::{Env, Hit, Receiver, eventually};

const WAIT: Duration = Duration::from_secs(10);

/// Checks `Stripe-Signature` as a receiver would: HMAC-SHA256 of "<t>.<body>" under the secret.
fn verify(secret: &str, hit: &Hit) -> i64 {
    let header = hit
        .headers
        .get("stripe-signature")
        .expect("a Stripe-Signature header");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (t, v1) = (t.expect("t="), v1.expect("v1="));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{}", hit.body).as_bytes());
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        v1,
        "signature of {}",
        hit.body
    );
    t.parse().expect("t is unix seconds")
}

async fn with_receiver(config: SandboxConfig) -> (Env, Receiver) {
    let env = Env::start_with(config).await;
    let receiver = Receiver::start().await;
    env.sandbox.set_webhook_urls([receiver.url.clone()]);
    (env, receiver)
}

async fn event_status(env: &Env, id: &str) -> Value {
    env.events()
        .await
        .into_iter()
        .find(|e| e["id"] == id)
        .expect("the event")
}

#[tokio::test]
async fn a_delivery_is_a_signed_stripe_event() {
    let (env, receiver) = with_receiver(SandboxConfig::local()).await;
    let session = env.create_session("o1").await;
    let id = session["id"].as_str().expect("id");
    env.pay(id).await;
    let hits = receiver.wait_for(1, WAIT).await;
    let hit = &hits[0];
    let t = verify(env.sandbox.webhook_secret(), hit);
    assert!((t - chrono::Utc::now().timestamp()).abs() <= 5);
    assert_eq!(
        hit.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        hit.headers["user-agent"],
        "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    );
    let event = hit.json();
    assert!(event["id"].as_str().expect("id").starts_with("evt_"));
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "checkout.session.completed");
    assert_eq!(event["livemode"], false);
    assert_eq!(event["pending_webhooks"], 1);
    assert_eq!(event["api_version"], stripe_sandbox::API_VERSION);
    assert!(event["created"].is_i64());
    assert_eq!(
        event["request"],
        json!({"id": null, "idempotency_key": null})
    );
    assert_eq!(event["data"]["object"]["id"], id);
    assert_eq!(event["data"]["object"]["status"], "complete");
    assert_eq!(event["data"]["object"]["metadata"]["order_id"], "o1");

    let eid = event["id"].as_str().expect("id").to_owned();
    eventually("delivered", WAIT, || async {
        event_status(&env, &eid).await["status"] == "delivered"
    })
    .await;
}

#[tokio::test]
async fn failed_attempts_are_retried_until_one_succeeds() {
    let (env, receiver) = with_receiver(SandboxConfig::local()).await;
    receiver.answer_next(&[500, 503]);
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    env.pay(&id).await;
    let hits = receiver.wait_for(3, WAIT).await;
    let ids: Vec<Value> = hits.iter().map(|h| h.json()["id"].clone()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "the same event each time");
    for hit in &hits {
        verify(env.sandbox.webhook_secret(), hit);
    }
    let eid = ids[0].as_str().expect("id").to_owned();
    eventually("delivered", WAIT, || async {
        event_status(&env, &eid).await["status"] == "delivered"
    })
    .await;
    let record = event_status(&env, &eid).await;
    let attempts = record["endpoints"][0]["attempts"]
        .as_array()
        .expect("attempts")
        .clone();
    let codes: Vec<Value> = attempts.iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(codes, vec![json!(500), json!(503), json!(200)]);
    assert_eq!(record["endpoints"][0]["status"], "succeeded");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 3, "no attempt after a success");
}

#[tokio::test]
async fn attempts_are_bounded_and_endpoints_independent() {
    let config = SandboxConfig {
        webhook_max_attempts: 3,
        ..SandboxConfig::local()
    };
    let env = Env::start_with(config).await;
    let failing = Receiver::start().await;
    let working = Receiver::start().await;
    failing.answer_next(&[500; 10]);
    env.sandbox
        .set_webhook_urls([failing.url.clone(), working.url.clone()]);
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    env.post(
        &format!("/v1/checkout/sessions/{id}/expire"),
        &[],
        Some("expire-1"),
    )
    .await;
    let hit = &working.wait_for(1, WAIT).await[0];
    assert_eq!(hit.json()["pending_webhooks"], 2);
    assert_eq!(hit.json()["request"]["idempotency_key"], "expire-1");
    let eid = hit.json()["id"].as_str().expect("id").to_owned();
    eventually("failed", WAIT, || async {
        event_status(&env, &eid).await["status"] == "failed"
    })
    .await;
    assert_eq!(failing.hits().len(), 3);
    assert_eq!(working.hits().len(), 1);
}

/// Four held events released at an endpoint that takes 600 ms to answer each: how many reached
/// it within 300 ms.
async fn arrived_at_a_slow_endpoint(concurrency: usize) -> usize {
    let config = SandboxConfig {
        webhook_concurrency: concurrency,
        ..SandboxConfig::local()
    };
    let (env, receiver) = with_receiver(config).await;
    receiver.stall(600);
    env.control("webhooks", json!({"mode": "hold"})).await;
    for i in 0..4 {
        let session = env.create_session(&format!("o{i}")).await;
        let id = session["id"].as_str().expect("id");
        env.post(&format!("/v1/checkout/sessions/{id}/expire"), &[], None)
            .await;
    }
    env.control("webhooks/release", json!({"order": "fifo"}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    receiver.hits().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_one_endpoint_overlap_up_to_the_concurrency() {
    assert_eq!(arrived_at_a_slow_endpoint(4).await, 4);
    assert_eq!(arrived_at_a_slow_endpoint(1).await, 1, "one at a time");
}

#[tokio::test]
async fn held_events_are_released_in_reverse() {
    let (env, receiver) = with_receiver(SandboxConfig::local()).await;
    env.control("webhooks", json!({"mode": "hold"})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = env.create_session(&format!("o{i}")).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        env.post(&format!("/v1/checkout/sessions/{id}/expire"), &[], None)
            .await;
        ids.push(id);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.hits().is_empty(), "held events are not sent");
    assert!(env.events().await.iter().all(|e| e["status"] == "held"));
    let released = env
        .control("webhooks/release", json!({"order": "reverse"}))
        .await;
    assert_eq!(released["released"], 3);
    let hits = receiver.wait_for(3, WAIT).await;
    let order: Vec<String> = hits
        .iter()
        .map(|h| {
            h.json()["data"]["object"]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    ids.reverse();
    assert_eq!(order, ids);
}

#[tokio::test]
async fn duplicates_drops_resends_and_delays() {
    let (env, receiver) = with_receiver(SandboxConfig::local()).await;
    env.control("webhooks", json!({"mode": "deliver", "duplicate": 2}))
        .await;
    let a = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    env.pay(&a).await;
    let hits = receiver.wait_for(3, WAIT).await;
    let first = hits[0].json()["id"].clone();
    assert!(
        hits.iter().all(|h| h.json()["id"] == first),
        "three copies of one event"
    );

    env.control("webhooks", json!({"mode": "drop"})).await;
    let b = env.create_session("o2").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    env.pay(&b).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 3, "a dropped event is not sent");
    let dropped = env.events().await.into_iter().last().expect("event");
    assert_eq!(dropped["status"], "dropped");
    let eid = dropped["id"].as_str().expect("id").to_owned();
    env.control(&format!("events/{eid}/resend"), Value::Null)
        .await;
    let hits = receiver.wait_for(4, WAIT).await;
    assert_eq!(hits[3].json()["id"], eid.as_str());

    env.control("webhooks", json!({"mode": "deliver", "delay_ms": 400}))
        .await;
    let c = env.create_session("o3").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let started = Instant::now();
    env.pay(&c).await;
    receiver.wait_for(5, WAIT).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    receiver.stop().await;
}
