//! The launcher as a newcomer meets it: its banner exports what the examples use, its generated
//! secret is kept (mode 0600) so tokens outlive a restart and `token` mints more with it, it checks
//! settings and secrets as the services do, and its log lines name their service, leave the
//! dependencies' start-up chatter out and show no refusal on the happy path.

use e2e_tests::{launcher::Launcher, procs};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn get(url: &str, token: &str) -> StatusCode {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
}

#[tokio::test]
async fn tokens_outlive_a_restart_and_token_mints_more_with_the_kept_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut first = Launcher::start(&data, &[]);
    let student = first.export("STUDENT_TOKEN").to_owned();
    let demo = first.export("COURSE_ID").to_owned();
    let secret = data.join("auth-jwt-secret");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret)
            .expect("kept secret")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner may read the secret");
    }
    assert!(
        first
            .text()
            .contains("cargo run -q --release -- token --role student")
    );
    assert_eq!(first.stop(), Some(0));

    let second = Launcher::start(&data, &[]);
    assert_eq!(
        second.export("COURSE_ID"),
        demo,
        "the demo course is made once"
    );
    let orders = format!("{}/api/orders", second.export("ORDER_URL"));
    assert_eq!(
        get(&orders, &student).await,
        StatusCode::OK,
        "an old token still works"
    );

    let minted = procs::run(
        "course-platform",
        &["token", "--role", "student", "--sub", "bob"],
        &[("DATA_DIR", data.display().to_string())],
    );
    assert_eq!(minted.code, Some(0), "{}", minted.stderr);
    assert_eq!(get(&orders, minted.stdout.trim()).await, StatusCode::OK);
}

#[test]
fn the_launcher_refuses_a_hold_lifetime_the_services_refuse() {
    for binary in ["course-platform", "course-service"] {
        let refused = procs::run(binary, &[], &[("RESERVATION_TTL_SECS", "0".into())]);
        assert_eq!(refused.code, Some(2), "{binary}: {}", refused.stderr);
        assert!(
            refused.stderr.contains("1..=86400"),
            "{binary}: {}",
            refused.stderr
        );
    }
}

/// The value `.env.example` gives AUTH_JWT_SECRET.
fn example_secret() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.env.example");
    std::fs::read_to_string(path)
        .expect(".env.example")
        .lines()
        .find_map(|l| l.strip_prefix("AUTH_JWT_SECRET="))
        .expect("AUTH_JWT_SECRET in .env.example")
        .to_owned()
}

#[test]
fn placeholder_and_uniform_secrets_are_refused_with_how_to_make_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    for secret in [example_secret(), "x".repeat(40)] {
        for binary in ["course-service", "order-service", "course-platform"] {
            let env = [
                ("AUTH_JWT_SECRET", secret.clone()),
                ("DATA_DIR", dir.path().display().to_string()),
            ];
            let refused = procs::run(binary, &[], &env);
            assert_eq!(refused.code, Some(1), "{binary}: {}", refused.stderr);
            assert!(
                refused.stderr.contains("head -c 32 /dev/urandom | base64"),
                "{binary}: {}",
                refused.stderr
            );
            assert!(
                !refused.stderr.contains(&secret),
                "the secret is not echoed"
            );
        }
    }
}

/// The JSON log lines of a launcher's output.
fn json_lines(launcher: &Launcher) -> Vec<Value> {
    launcher
        .lines()
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn log_lines_name_their_service_and_the_happy_path_logs_no_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut launcher = Launcher::start(&dir.path().join("data"), &[("LOG_FORMAT", "json".into())]);
    let client = reqwest::Client::new();
    let (orders, student) = (
        launcher.export("ORDER_URL"),
        launcher.export("STUDENT_TOKEN"),
    );
    let placed: Value = client
        .post(format!("{orders}/api/orders"))
        .bearer_auth(student)
        .json(&json!({"course_id": launcher.export("COURSE_ID")}))
        .send()
        .await
        .expect("order")
        .json()
        .await
        .expect("order body");
    // The launcher collects payments through its Stripe sandbox: pay as the checkout's button does.
    assert_eq!(placed["status"], "awaiting_payment", "{placed}");
    let checkout = placed["payment"]["checkout_url"]
        .as_str()
        .expect("checkout");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let paid = no_redirects.post(format!("{checkout}/pay")).send().await;
    assert_eq!(paid.expect("paid").status(), StatusCode::SEE_OTHER);
    let order_url = format!("{orders}/api/orders/{}", placed["id"].as_str().expect("id"));
    let mut status = Value::Null;
    for _ in 0..100 {
        let read: Value = client
            .get(&order_url)
            .bearer_auth(student)
            .send()
            .await
            .expect("read")
            .json()
            .await
            .expect("order body");
        status = read["status"].clone();
        if status == "confirmed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "confirmed");
    let cancelled = client
        .post(format!(
            "{orders}/api/orders/{}/cancel",
            placed["id"].as_str().expect("id")
        ))
        .bearer_auth(student)
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(launcher.stop(), Some(0));

    let lines = json_lines(&launcher);
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    let services: std::collections::BTreeSet<&str> = requests
        .iter()
        .map(|l| l["span"]["service"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        services,
        ["course-service", "order-service"].into(),
        "every request line names its service"
    );
    for line in &lines {
        let target = line["target"].as_str().unwrap_or_default();
        assert!(
            !["fjall", "lsm_tree", "actix"]
                .iter()
                .any(|t| target.starts_with(t))
                || line["level"] != "INFO",
            "dependency chatter at info: {line}"
        );
        let status = line["fields"]["status"].as_u64().unwrap_or(200);
        assert!(status < 400, "a refusal on the happy path: {line}");
    }
}

#[tokio::test]
async fn the_launcher_prints_the_storefront_first_and_serves_it_with_the_development_sign_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut generated = Launcher::start(&dir.path().join("data"), &[]);
    let banner_line = generated
        .lines()
        .into_iter()
        .find(|l| l.starts_with("Storefront: "))
        .expect("a storefront line");
    let url = banner_line
        .strip_prefix("Storefront: ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect("its URL")
        .to_owned();
    let text = generated.text();
    let banner = &text[text.find("Storefront: ").expect("banner")..];
    assert!(
        banner.find("Storefront: ") < banner.find("course-service "),
        "the storefront comes first:\n{banner}"
    );
    let client = reqwest::Client::new();
    let page = client
        .get(&url)
        .send()
        .await
        .expect("the storefront answers");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let policy = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let signin = client
        .get(format!("{url}/signin"))
        .send()
        .await
        .expect("sign-in page")
        .text()
        .await
        .expect("html");
    assert!(
        signin.contains("Development sign-in"),
        "the secret was generated"
    );
    assert_eq!(generated.stop(), Some(0));

    // With a secret of one's own there is no development sign-in.
    let own = [(
        "AUTH_JWT_SECRET",
        "an-operator-chosen-secret-0123456789abcdefXYZ".to_owned(),
    )];
    let mut given = Launcher::start(&dir.path().join("data2"), &own);
    let url = given
        .lines()
        .into_iter()
        .find_map(|l| {
            l.strip_prefix("Storefront: ")
                .and_then(|r| r.split_whitespace().next().map(str::to_owned))
        })
        .expect("storefront URL");
    let signin = client
        .get(format!("{url}/signin"))
        .send()
        .await
        .expect("sign-in page");
    let html = signin.text().await.expect("html");
    assert!(!html.contains("Development sign-in"), "{html}");
    let refused = client
        .post(format!("{url}/signin"))
        .form(&[("name", "mallory"), ("role", "instructor")])
        .send()
        .await
        .expect("answer");
    assert!(
        refused.headers().get("set-cookie").is_none(),
        "no sign-in without the development sign-in"
    );
    assert_eq!(given.stop(), Some(0));
}
