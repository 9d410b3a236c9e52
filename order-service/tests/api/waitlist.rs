//! The waitlist routes over HTTP, against the fake course-service's waitlist: joining (once),
//! listing one's own entries, leaving (twice), someone else's entry, bad requests, roles, an
//! unreachable course-service, and an offer's order shown on its entry and cancelled when the
//! offer is given up.

use crate::{
    app::{Options, Reply, TestApp, eventually},
    fake::{FakeCourseClient, Op, Step, unknown},
};
use order_service::{course_client::CourseError, domain::Status};
use reqwest::Method;
use serde_json::json;
use shared_types::{PaymentStatus, Role};
use std::sync::Arc;
use uuid::Uuid;

/// An app over a course with one seat, which `s0` bought.
async fn sold_out() -> TestApp {
    sold_out_with(Options::default()).await
}

async fn sold_out_with(options: Options) -> TestApp {
    let app = TestApp::spawn_with(Arc::new(FakeCourseClient::with_seats(1)), options).await;
    let bought = app.buy("s0").await;
    assert_eq!(bought.status, 201, "{}", bought.body);
    app
}

impl TestApp {
    pub async fn buy(&self, who: &str) -> Reply {
        let body = json!({"course_id": self.course.course_id().as_uuid()});
        self.student(who, Method::POST, "/api/orders", Some(body))
            .await
    }

    pub async fn join(&self, who: &str) -> Reply {
        let body = json!({"course_id": self.course.course_id().as_uuid()});
        self.student(who, Method::POST, "/api/waitlist", Some(body))
            .await
    }

    pub async fn entries(&self, who: &str) -> Reply {
        self.student(who, Method::GET, "/api/waitlist", None).await
    }

    pub async fn leave(&self, who: &str, entry: &serde_json::Value) -> Reply {
        let path = format!("/api/waitlist/{}", entry.as_str().expect("an id"));
        self.student(who, Method::DELETE, &path, None).await
    }

    pub async fn cancel(&self, who: &str, order: &serde_json::Value) -> Reply {
        let path = format!("/api/orders/{}/cancel", order.as_str().expect("an id"));
        self.student(who, Method::POST, &path, None).await
    }
}

#[tokio::test]
async fn joining_a_sold_out_course_answers_201_waiting_then_200_with_the_same_entry() {
    let app = sold_out().await;
    let first = app.join("s1").await;
    assert_eq!(first.status, 201, "{}", first.body);
    let entry = &first.body;
    assert_eq!(entry["status"], "waiting");
    assert_eq!(entry["position"], 1);
    assert_eq!(entry["student_id"], "s1");
    assert_eq!(entry["course_id"], json!(app.course.course_id().as_uuid()));
    assert_eq!(entry["order_id"], json!(null));
    assert!(entry["created_at"].is_string() && entry["updated_at"].is_string());
    let again = app.join("s1").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body, first.body);
    let second = app.join("s2").await;
    assert_eq!(
        (second.status.as_u16(), &second.body["position"]),
        (201, &json!(2))
    );
    assert_ne!(second.body["id"], first.body["id"]);
}

#[tokio::test]
async fn a_course_with_free_seats_answers_seats_available() {
    let app = TestApp::spawn(Arc::new(FakeCourseClient::with_seats(1))).await;
    app.join("s1").await.assert_problem(409, "seats_available");
    assert!(app.course.entries_of("s1").is_empty());
}

#[tokio::test]
async fn a_student_holding_a_seat_answers_already_enrolled() {
    let app = sold_out().await;
    app.join("s0").await.assert_problem(409, "already_enrolled");
}

#[tokio::test]
async fn an_unknown_course_answers_course_not_found() {
    let app = sold_out().await;
    let body = json!({"course_id": Uuid::now_v7()});
    let reply = app
        .student("s1", Method::POST, "/api/waitlist", Some(body))
        .await;
    reply.assert_problem(404, "course_not_found");
}

#[tokio::test]
async fn the_list_shows_the_callers_own_entries_only() {
    let app = sold_out().await;
    let mine = app.join("s1").await.body;
    app.join("s2").await;
    let listed = app.entries("s1").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body, json!({"items": [mine]}));
    let nobody = app.entries("s3").await;
    assert_eq!(
        (nobody.status.as_u16(), nobody.body),
        (200, json!({"items": []}))
    );
}

#[tokio::test]
async fn leaving_answers_left_and_leaving_again_answers_200_unchanged() {
    let app = sold_out().await;
    let entry = app.join("s1").await.body;
    let left = app.leave("s1", &entry["id"]).await;
    assert_eq!(left.status, 200, "{}", left.body);
    assert_eq!(left.body["status"], "left");
    assert_eq!(left.body["position"], json!(null));
    assert_eq!(left.body["id"], entry["id"]);
    let again = app.leave("s1", &entry["id"]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, left.body);
    // Gone from the queue: the next student to join is first.
    assert_eq!(app.join("s2").await.body["position"], 1);
}

#[tokio::test]
async fn another_students_entry_and_an_unknown_one_read_as_absent() {
    let app = sold_out().await;
    let entry = app.join("s1").await.body;
    app.leave("s2", &entry["id"])
        .await
        .assert_problem(404, "waitlist_entry_not_found");
    app.leave("s1", &json!(Uuid::now_v7().to_string()))
        .await
        .assert_problem(404, "waitlist_entry_not_found");
    let kept = app.course.entries_of("s1");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].status, shared_types::WaitlistStatus::Waiting);
}

#[tokio::test]
async fn malformed_requests_answer_400_validation_failed() {
    let app = sold_out().await;
    for body in [
        json!({"course_id": "not-a-uuid"}),
        json!({"course_id": Uuid::now_v7(), "student_id": "s9"}),
        json!({}),
    ] {
        app.student("s1", Method::POST, "/api/waitlist", Some(body))
            .await
            .assert_problem(400, "validation_failed");
    }
    app.student("s1", Method::DELETE, "/api/waitlist/not-a-uuid", None)
        .await
        .assert_problem(400, "validation_failed");
    assert!(app.course.entries_of("s9").is_empty() && app.course.entries_of("s1").is_empty());
}

#[tokio::test]
async fn only_students_may_use_the_waitlist() {
    let app = sold_out().await;
    let body = json!({"course_id": app.course.course_id().as_uuid()});
    let entry = format!("/api/waitlist/{}", Uuid::now_v7());
    for role in [Role::Instructor, Role::Service] {
        let token = app.token("someone", role);
        for (method, path, body) in [
            (Method::POST, "/api/waitlist", Some(body.clone())),
            (Method::GET, "/api/waitlist", None),
            (Method::DELETE, entry.as_str(), None),
        ] {
            app.call(method, path, Some(&token), body)
                .await
                .assert_problem(403, "forbidden");
        }
    }
    let anonymous = app.call(Method::GET, "/api/waitlist", None, None).await;
    anonymous.assert_problem(401, "unauthorized");
    assert!(anonymous.headers.contains_key("www-authenticate"));
}

#[tokio::test]
async fn an_unreachable_course_service_answers_503_with_retry_after() {
    let app = sold_out().await;
    let entry = app.join("s1").await.body;
    app.course
        .script(Op::Join, [Step::Fail(CourseError::NotDelivered)]);
    app.course.script(Op::Entries, [Step::Fail(unknown())]);
    app.course.script(Op::Leave, [Step::Fail(unknown())]);
    for reply in [
        app.join("s2").await,
        app.entries("s1").await,
        app.leave("s1", &entry["id"]).await,
    ] {
        reply.assert_problem(503, "course_service_unavailable");
        assert!(
            reply.headers.contains_key("retry-after"),
            "{:?}",
            reply.headers
        );
    }
}

#[tokio::test]
async fn an_offer_shows_its_confirmed_order_and_leaving_afterwards_changes_nothing() {
    let app = sold_out().await;
    let entry = app.join("s1").await.body;
    let bought = app.orders_of("s0").await;
    app.cancel("s0", &json!(bought[0].id.to_string())).await;
    let enrolled = eventually("the offer's order confirmed", || async {
        let listed = app.entries("s1").await.body;
        let shown = listed["items"][0].clone();
        (shown["status"] == "enrolled" && shown["order_id"].is_string()).then_some(shown)
    })
    .await;
    let orders = eventually("the order confirmed in order-service", || async {
        let orders = app.orders_of("s1").await;
        orders
            .iter()
            .all(|o| o.status == Status::Confirmed)
            .then_some(orders)
    })
    .await;
    assert_eq!(orders.len(), 1);
    assert_eq!(enrolled["order_id"], json!(orders[0].id.as_uuid()));
    assert_eq!(enrolled["id"], entry["id"]);
    let left = app.leave("s1", &entry["id"]).await;
    assert_eq!(
        (left.status.as_u16(), &left.body["status"]),
        (200, &json!("enrolled"))
    );
    let after = app.orders_of("s1").await;
    assert_eq!(after[0].status, Status::Confirmed, "an enrolled seat stays");
}

#[tokio::test]
async fn giving_an_offer_up_cancels_its_order_and_closes_its_checkout() {
    let options = Options {
        payments: true,
        ..Options::default()
    };
    let app = sold_out_with(options).await;
    let entry = app.join("s1").await.body;
    let bought = app.orders_of("s0").await;
    app.cancel("s0", &json!(bought[0].id.to_string())).await;
    let offered = eventually("the offer's order awaiting payment", || async {
        let shown = app.entries("s1").await.body["items"][0].clone();
        (shown["status"] == "offered" && shown["order_id"].is_string()).then_some(shown)
    })
    .await;
    let order = eventually("the checkout open", || async {
        let mut orders = app.orders_of("s1").await;
        assert_eq!(orders.len(), 1);
        let order = orders.remove(0);
        (order.status == Status::AwaitingPayment).then_some(order)
    })
    .await;
    let session = order
        .payment
        .as_ref()
        .expect("a checkout")
        .session_id
        .clone();
    assert_eq!(offered["order_id"], json!(order.id.as_uuid()));
    let left = app.leave("s1", &entry["id"]).await;
    assert_eq!(left.status, 200, "{}", left.body);
    assert_eq!(left.body["status"], "left");
    assert_eq!(left.body["order_id"], json!(order.id.as_uuid()));
    let cancelled = app.orders_of("s1").await.remove(0);
    assert_eq!(cancelled.status, Status::Cancelled);
    let payments = app.payments.as_ref().expect("payments");
    let closed = payments.session(&session).expect("session");
    assert_eq!(
        closed.status,
        order_service::payment_client::SessionStatus::Expired
    );
    assert_eq!(
        cancelled.payment.as_ref().map(|p| p.status),
        Some(PaymentStatus::Expired)
    );
    assert_eq!(app.course.taken(), 0, "the seat is free again");
}
