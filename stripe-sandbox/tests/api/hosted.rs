//! The hosted checkout page: what it shows, Pay (303 to `success_url`, once), Cancel (303 to
//! `cancel_url`, the session stays open), and expired or unknown sessions.

use serde_json::Value;

use crate::common::{Env, reply, session_form};

#[tokio::test]
async fn the_page_shows_the_purchase_escaped_with_pay_and_cancel() {
    let env = Env::start().await;
    let mut form = session_form("o1");
    form.retain(|(k, _)| *k != "line_items[0][price_data][product_data][name]");
    form.push((
        "line_items[0][price_data][product_data][name]",
        "Rust <script>alert(1)</script> & Co".into(),
    ));
    let session = env.post("/v1/checkout/sessions", &form, None).await.body;
    let url = session["url"].as_str().expect("url");
    let id = session["id"].as_str().expect("id");
    let page = reply(env.http.get(url).send().await.expect("send")).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = &page.text;
    assert!(
        html.contains("Rust &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(html.contains("$49.00"));
    assert!(html.contains(&format!("action=\"/checkout/{id}/pay\"")));
    assert!(html.contains(&format!("action=\"/checkout/{id}/cancel\"")));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
}

#[tokio::test]
async fn pay_completes_once_and_redirects_to_success_url() {
    let env = Env::start().await;
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let pay = format!("{}/checkout/{id}/pay", env.base);
    let first = reply(env.http.post(&pay).send().await.expect("send")).await;
    assert_eq!(first.status, 303);
    let success = format!("http://shop.test/done?session_id={id}");
    assert_eq!(first.header("location"), Some(success.as_str()));

    let s = env.get(&format!("/v1/checkout/sessions/{id}")).await.body;
    assert_eq!(s["status"], "complete");
    assert_eq!(s["payment_status"], "paid");
    assert_eq!(s["url"], Value::Null);
    let intent = s["payment_intent"].as_str().expect("intent").to_owned();
    assert!(intent.starts_with("pi_"));

    let second = reply(env.http.post(&pay).send().await.expect("send")).await;
    assert_eq!(second.status, 303);
    assert_eq!(second.header("location"), Some(success.as_str()));
    let s = env.get(&format!("/v1/checkout/sessions/{id}")).await.body;
    assert_eq!(s["payment_intent"], intent.as_str());

    let completed: Vec<Value> = env
        .events()
        .await
        .into_iter()
        .filter(|e| e["type"] == "checkout.session.completed")
        .collect();
    assert_eq!(completed.len(), 1);
    let object = &completed[0]["event"]["data"]["object"];
    assert_eq!(object["payment_intent"], intent.as_str());
    assert_eq!(object["metadata"]["order_id"], "o1");
    assert_eq!(completed[0]["event"]["request"]["id"], Value::Null);

    let page = reply(
        env.http
            .get(format!("{}/checkout/{id}", env.base))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Payment complete"));
}

#[tokio::test]
async fn cancel_goes_back_and_leaves_the_session_open() {
    let env = Env::start().await;
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let cancel = reply(
        env.http
            .post(format!("{}/checkout/{id}/cancel", env.base))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(cancel.status, 303);
    assert_eq!(
        cancel.header("location"),
        Some("http://shop.test/cancelled")
    );
    assert_eq!(
        env.get(&format!("/v1/checkout/sessions/{id}")).await.body["status"],
        "open"
    );

    let mut form = session_form("o2");
    form.retain(|(k, _)| *k != "cancel_url");
    let bare = env.post("/v1/checkout/sessions", &form, None).await.body;
    assert_eq!(bare["cancel_url"], Value::Null);
    let id2 = bare["id"].as_str().expect("id");
    let page = reply(
        env.http
            .post(format!("{}/checkout/{id2}/cancel", env.base))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Payment cancelled"));
}

#[tokio::test]
async fn expired_and_unknown_sessions_show_a_clear_page() {
    let env = Env::start().await;
    let id = env.create_session("o1").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    env.post(&format!("/v1/checkout/sessions/{id}/expire"), &[], None)
        .await;
    for (method, path) in [
        ("GET", String::new()),
        ("POST", "/pay".to_owned()),
        ("POST", "/cancel".to_owned()),
    ] {
        let url = format!("{}/checkout/{id}{path}", env.base);
        let request = if method == "GET" {
            env.http.get(&url)
        } else {
            env.http.post(&url)
        };
        let r = reply(request.send().await.expect("send")).await;
        assert_eq!(r.status, 410, "{method} {path}");
        assert!(r.text.contains("expired"));
    }
    assert_eq!(
        env.get(&format!("/v1/checkout/sessions/{id}")).await.body["payment_status"],
        "unpaid"
    );
    let r = reply(
        env.http
            .get(format!("{}/checkout/cs_test_nope", env.base))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("not found"));
}
