//! `loadgen reference-server`: a **benchmark reference, not the product**.
//!
//! A bare actix-web handler doing the core work of the product's hot paths and nothing more, so
//! that a benchmark can report "the product / a bare handler doing the same work" and that ratio
//! can be reproduced with one command (`loadgen reserve --hold-only --reference`,
//! `loadgen orders --reference`, `scripts/bench.sh ratio`).
//!
//! - **Course mode** (the default) stands in for course-service's seat holds:
//!   `PUT /api/courses/{course_id}/reservations/{reservation_id}` takes the course's
//!   `parking_lot::Mutex`, checks that a seat is free, inserts the hold into the course's
//!   `HashMap<Uuid, _>` and answers 201 with a body shaped like the product's reservation;
//!   `POST .../confirm` turns it into a sale (200). `POST /api/courses` creates a course (201,
//!   `{"id": ...}`); a course unknown to a hold is created on the spot with
//!   [`IMPLICIT_SEATS`] seats. `GET /api/courses/{course_id}` reads its seat counters.
//! - **Orders mode** (`--orders --course-url URL`) stands in for order-service: `POST /api/orders`
//!   keeps the order in a `Mutex<HashMap>`, holds and then confirms its seat at `URL` over
//!   `reqwest` with `reqwest-middleware` and `reqwest-retry` (exponential backoff, a timeout on
//!   every attempt, as the product's course client has) and answers 201 with the confirmed order.
//!
//! What it leaves out, and the product does: token checks (the reference accepts and ignores the
//! `Authorization` header, where the product verifies a JWT, cached per token), roles and rate
//! limits, validation beyond parsing the ids and bodies (and a student id's length), the
//! one-hold-per-student and hold-limit rules, expiry of holds, the event feed and waitlist,
//! persistence, request ids, access logs, metrics and traces, problem+json error bodies (the
//! reference answers a small `{"code", "detail"}`), and in orders mode the `Idempotency-Key`
//! replay, the one-order-per-student-and-course rule, the saga's recorded steps and its
//! reconciler. Every order is placed for one fixed student, since the token is not read. Nothing
//! here is part of the product, and no deployment should run it.

use actix_web::{
    App, HttpResponse, HttpServer, ResponseError,
    http::{StatusCode, header},
    web,
};
use anyhow::Context;
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, RequestBuilder};
use reqwest_retry::{Jitter, RetryTransientMiddleware, policies::ExponentialBackoff};
use serde::{Deserialize, Serialize};
use shared_types::{
    CreateOrder, ErrorCode, Order, OrderStatus, PutReservation, Reservation, ReservationStatus,
};
use std::{collections::HashMap, io::Write, net::TcpListener, sync::Arc, time::Duration};
use uuid::Uuid;

/// Seats of a course a hold creates on first use.
pub const IMPLICIT_SEATS: u32 = 10_000_000;
/// Price of a course a hold creates on first use.
const IMPLICIT_PRICE_CENTS: i64 = 1000;
/// How long a hold is said to last (`expires_at`); the reference never expires one.
const HOLD_SECS: i64 = 300;
/// The student of every order placed in orders mode (the token is not read).
const STUDENT: &str = "reference-student";
/// One attempt of a call to the course handler, as the product's `COURSE_TIMEOUT_MS` default.
const CALL_TIMEOUT: Duration = Duration::from_millis(2000);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Retries of a call that failed transiently, as the product's `COURSE_RETRY_MAX` default.
const MAX_RETRIES: u32 = 3;

/// What the report says in place of the correctness checks when the load went to the reference.
pub const CHECKS_SKIPPED: &str = "skipped: the load went to the bare benchmark reference \
     (loadgen reference-server), not the product; the checks verify the product";
/// What the report says the load went to.
pub const TARGET: &str = "bare benchmark reference (loadgen reference-server), not the product";

/// The options of `loadgen reference-server` (its help is on the subcommand, in `main.rs`).
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Port to listen on at 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
    /// Orders mode: serve POST /api/orders, each order holding and confirming its seat at
    /// --course-url.
    #[arg(long, requires = "course_url")]
    pub orders: bool,
    /// The course handler of orders mode: a reference-server in course mode, e.g.
    /// http://127.0.0.1:8081.
    #[arg(long, requires = "orders")]
    pub course_url: Option<String>,
}

/// Serves until stopped (a signal, or the process is killed).
pub fn main(args: Args) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let address = listener.local_addr()?;
    let workers = usize::from(args.workers);
    let server = match &args.course_url {
        Some(url) if args.orders => {
            let orders = web::Data::new(Orders::new(url)?);
            HttpServer::new(move || {
                App::new()
                    .app_data(orders.clone())
                    .route("/health/live", web::get().to(live))
                    .route("/api/orders", web::post().to(place_order))
                    .route("/api/orders/{order_id}", web::get().to(read_order))
                    .default_service(web::to(not_found))
            })
            .workers(workers)
            .tcp_nodelay(true)
            .listen(listener)?
            .run()
        }
        _ => {
            let courses = web::Data::new(Courses::default());
            HttpServer::new(move || {
                App::new()
                    .app_data(courses.clone())
                    .route("/health/live", web::get().to(live))
                    .configure(course_routes)
                    .default_service(web::to(not_found))
            })
            .workers(workers)
            .tcp_nodelay(true)
            .listen(listener)?
            .run()
        }
    };
    // The first line on stdout, which a parent process reads; nothing else goes to stdout.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{address}")?;
    stdout.flush()?;
    server.await?;
    Ok(())
}

/// The error body: `{"code": ..., "detail": ...}` (and the current price on `price_changed`).
#[derive(Debug, Serialize, Deserialize)]
struct ErrorBody {
    code: ErrorCode,
    #[serde(default)]
    detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    price_cents: Option<i64>,
}

/// A refusal: its status and body.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    body: ErrorBody,
}

impl Refusal {
    fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Refusal {
        Refusal {
            status,
            body: ErrorBody {
                code,
                detail: detail.into(),
                price_cents: None,
            },
        }
    }

    fn bad_request(detail: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, detail)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.body.code.as_str(), self.body.detail)
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(&self.body)
    }
}

/// A handler's answer: a success, or a small JSON error.
type Answer = Result<HttpResponse, Refusal>;

fn parse_id(text: &str, what: &str) -> Result<Uuid, Refusal> {
    Uuid::parse_str(text).map_err(|_| Refusal::bad_request(format!("{what} is not a UUID")))
}

fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| Refusal::bad_request(format!("invalid JSON body: {e}")))
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> HttpResponse {
    Refusal::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route").error_response()
}

// ---- course mode ----------------------------------------------------------------------------

/// Every course, by id; each behind a mutex of its own.
#[derive(Debug, Default)]
struct Courses {
    map: RwLock<HashMap<Uuid, Arc<Mutex<Course>>>>,
}

impl Courses {
    fn get(&self, id: Uuid) -> Result<Arc<Mutex<Course>>, Refusal> {
        self.map.read().get(&id).cloned().ok_or_else(|| {
            Refusal::new(
                StatusCode::NOT_FOUND,
                ErrorCode::CourseNotFound,
                "no such course",
            )
        })
    }

    fn get_or_create(&self, id: Uuid) -> Arc<Mutex<Course>> {
        if let Some(course) = self.map.read().get(&id) {
            return Arc::clone(course);
        }
        let mut map = self.map.write();
        let course = map.entry(id).or_insert_with(|| {
            Arc::new(Mutex::new(Course::new(
                "Implicit",
                IMPLICIT_PRICE_CENTS,
                IMPLICIT_SEATS,
            )))
        });
        Arc::clone(course)
    }
}

#[derive(Debug)]
struct Course {
    title: String,
    price_cents: i64,
    seats_total: u32,
    seats_held: u32,
    seats_sold: u32,
    reservations: HashMap<Uuid, Held>,
}

impl Course {
    fn new(title: &str, price_cents: i64, seats_total: u32) -> Course {
        Course {
            title: title.to_owned(),
            price_cents,
            seats_total,
            seats_held: 0,
            seats_sold: 0,
            reservations: HashMap::new(),
        }
    }

    fn view(&self, id: Uuid) -> CourseView {
        CourseView {
            id,
            title: self.title.clone(),
            price_cents: self.price_cents,
            currency: "USD",
            seats_total: self.seats_total,
            seats_available: self.seats_total - self.seats_held - self.seats_sold,
            seats_held: self.seats_held,
            seats_sold: self.seats_sold,
        }
    }
}

/// One reservation: who, in what state, at what price.
#[derive(Debug)]
struct Held {
    student: String,
    status: ReservationStatus,
    unit_price_cents: i64,
    /// The hold's `expected_price_cents`: a repeat must send the same to be replayed.
    expected_price_cents: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Held {
    /// The answer, shaped like the product's reservation.
    fn wire(&self, course_id: Uuid, id: Uuid) -> Reservation {
        Reservation {
            id,
            course_id,
            student_id: Some(self.student.clone()),
            unit_price_cents: self.unit_price_cents,
            currency: "USD".to_owned(),
            status: self.status,
            expires_at: self.created_at + chrono::Duration::seconds(HOLD_SECS),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
struct CourseView {
    id: Uuid,
    title: String,
    price_cents: i64,
    currency: &'static str,
    seats_total: u32,
    seats_available: u32,
    seats_held: u32,
    seats_sold: u32,
}

/// `POST /api/courses`: the fields the reference uses; any others are ignored.
#[derive(Debug, Deserialize)]
struct NewCourse {
    #[serde(default)]
    title: Option<String>,
    price_cents: i64,
    seats: u32,
}

/// The course handler's routes.
fn course_routes(config: &mut web::ServiceConfig) {
    config
        .route("/api/courses", web::post().to(create_course))
        .route("/api/courses/{course_id}", web::get().to(read_course))
        .route(
            "/api/courses/{course_id}/reservations/{reservation_id}",
            web::put().to(hold),
        )
        .route(
            "/api/courses/{course_id}/reservations/{reservation_id}/confirm",
            web::post().to(confirm),
        );
}

async fn create_course(courses: web::Data<Courses>, body: web::Bytes) -> Answer {
    let new: NewCourse = parse_body(&body)?;
    if !(0..=1_000_000_000).contains(&new.price_cents) {
        return Err(Refusal::bad_request("price_cents must be 0..=1000000000"));
    }
    if !(1..=IMPLICIT_SEATS).contains(&new.seats) {
        return Err(Refusal::bad_request(format!(
            "seats must be 1..={IMPLICIT_SEATS}"
        )));
    }
    let id = Uuid::now_v7();
    let course = Course::new(
        new.title.as_deref().unwrap_or("Untitled"),
        new.price_cents,
        new.seats,
    );
    let view = course.view(id);
    courses.map.write().insert(id, Arc::new(Mutex::new(course)));
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/courses/{id}")))
        .json(view))
}

async fn read_course(courses: web::Data<Courses>, path: web::Path<String>) -> Answer {
    let id = parse_id(&path, "course_id")?;
    let view = courses.get(id)?.lock().view(id);
    Ok(HttpResponse::Ok().json(view))
}

fn reservation_ids(path: &(String, String)) -> Result<(Uuid, Uuid), Refusal> {
    Ok((
        parse_id(&path.0, "course_id")?,
        parse_id(&path.1, "reservation_id")?,
    ))
}

/// 1..=255 characters, none of them a control character (as the product asks of a student id).
fn valid_student(student: &str) -> bool {
    (1..=255).contains(&student.chars().count()) && !student.chars().any(char::is_control)
}

async fn hold(
    courses: web::Data<Courses>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Answer {
    let (course_id, id) = reservation_ids(&path)?;
    let request: PutReservation = parse_body(&body)?;
    if !valid_student(&request.student_id) {
        return Err(Refusal::bad_request(
            "student_id must be 1..=255 characters, no control characters",
        ));
    }
    let course = courses.get_or_create(course_id);
    let now = Utc::now();
    let mut course = course.lock();
    if let Some(existing) = course.reservations.get(&id) {
        if existing.student != request.student_id
            || existing.expected_price_cents != request.expected_price_cents
        {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                ErrorCode::IdempotencyConflict,
                "this reservation id is taken by another request",
            ));
        }
        let replay = existing.wire(course_id, id);
        drop(course);
        return Ok(HttpResponse::Ok().json(replay));
    }
    if let Some(expected) = request.expected_price_cents
        && expected != course.price_cents
    {
        let mut refusal = Refusal::new(
            StatusCode::CONFLICT,
            ErrorCode::PriceChanged,
            "the price is not the one expected",
        );
        refusal.body.price_cents = Some(course.price_cents);
        return Err(refusal);
    }
    if course.seats_held + course.seats_sold >= course.seats_total {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            ErrorCode::SoldOut,
            "no seat is free",
        ));
    }
    let held = Held {
        student: request.student_id,
        status: ReservationStatus::Held,
        unit_price_cents: course.price_cents,
        expected_price_cents: request.expected_price_cents,
        created_at: now,
        updated_at: now,
    };
    let answer = held.wire(course_id, id);
    course.reservations.insert(id, held);
    course.seats_held += 1;
    drop(course);
    Ok(HttpResponse::Created().json(answer))
}

async fn confirm(courses: web::Data<Courses>, path: web::Path<(String, String)>) -> Answer {
    let (course_id, id) = reservation_ids(&path)?;
    let course = courses.get(course_id)?;
    let mut course = course.lock();
    let course = &mut *course;
    let held = course.reservations.get_mut(&id).ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ReservationNotFound,
            "no such reservation",
        )
    })?;
    match held.status {
        ReservationStatus::Held => {
            held.status = ReservationStatus::Confirmed;
            held.updated_at = Utc::now();
            course.seats_held -= 1;
            course.seats_sold += 1;
        }
        ReservationStatus::Confirmed => {}
        other => {
            return Err(Refusal::new(
                StatusCode::CONFLICT,
                ErrorCode::ReservationCancelled,
                format!("the reservation is {}", other.as_str()),
            ));
        }
    }
    let answer = held.wire(course_id, id);
    Ok(HttpResponse::Ok().json(answer))
}

// ---- orders mode ----------------------------------------------------------------------------

/// Orders mode's state: the client of the course handler and every order, by id.
#[derive(Debug)]
struct Orders {
    http: ClientWithMiddleware,
    /// The course handler's base URL, without a trailing `/`.
    course_url: String,
    orders: Mutex<HashMap<Uuid, Order>>,
}

impl Orders {
    fn new(course_url: &str) -> anyhow::Result<Orders> {
        let parsed = reqwest::Url::parse(course_url)
            .with_context(|| format!("--course-url `{course_url}` is not a URL"))?;
        anyhow::ensure!(
            parsed.scheme() == "http" && parsed.has_host(),
            "--course-url `{course_url}` must be an http URL with a host"
        );
        let raw = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let backoff = ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(20), Duration::from_millis(500))
            .jitter(Jitter::Bounded)
            .build_with_max_retries(MAX_RETRIES);
        let http = ClientBuilder::new(raw)
            .with(RetryTransientMiddleware::new_with_policy(backoff))
            .build();
        Ok(Orders {
            http,
            course_url: course_url.trim_end_matches('/').to_owned(),
            orders: Mutex::new(HashMap::new()),
        })
    }

    /// Sends one call (retried on transient failures) and reads the reservation it answers. A
    /// 4xx refusal (other than 429) is passed on with its status and code; anything else that
    /// is not a success is a 503 `course_service_unavailable`.
    async fn call(request: RequestBuilder) -> Result<Reservation, Refusal> {
        let unavailable = |detail: String| {
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::CourseServiceUnavailable,
                detail,
            )
        };
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(format!("course handler unreachable: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<Reservation>()
                .await
                .map_err(|e| unavailable(format!("unreadable answer: {e}")));
        }
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            let passed_on =
                StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = response.json::<ErrorBody>().await.unwrap_or(ErrorBody {
                code: ErrorCode::Unknown,
                detail: format!("course handler answered {status}"),
                price_cents: None,
            });
            return Err(Refusal {
                status: passed_on,
                body,
            });
        }
        Err(unavailable(format!("course handler answered {status}")))
    }

    /// Holds the order's seat, then confirms it.
    async fn reserve_and_confirm(
        &self,
        order: &Order,
        expected_price_cents: Option<i64>,
    ) -> Result<Reservation, Refusal> {
        let url = format!(
            "{}/api/courses/{}/reservations/{}",
            self.course_url, order.course_id, order.reservation_id
        );
        let body = PutReservation {
            student_id: order.student_id.clone(),
            expected_price_cents,
        };
        Orders::call(self.http.put(&url).json(&body)).await?;
        Orders::call(self.http.post(format!("{url}/confirm"))).await
    }

    fn save(&self, order: &Order) {
        self.orders.lock().insert(order.id, order.clone());
    }
}

async fn place_order(orders: web::Data<Orders>, body: web::Bytes) -> Answer {
    let request: CreateOrder = parse_body(&body)?;
    let now = Utc::now();
    let mut order = Order {
        id: Uuid::now_v7(),
        student_id: STUDENT.to_owned(),
        course_id: request.course_id,
        reservation_id: Uuid::now_v7(),
        unit_price_cents: None,
        currency: None,
        status: OrderStatus::Pending,
        failure_code: None,
        payment: None,
        created_at: now,
        updated_at: now,
    };
    orders.save(&order);
    let outcome = orders
        .reserve_and_confirm(&order, request.expected_price_cents)
        .await;
    order.updated_at = Utc::now();
    match outcome {
        Ok(reservation) => {
            order.status = OrderStatus::Confirmed;
            order.unit_price_cents = Some(reservation.unit_price_cents);
            order.currency = Some(reservation.currency);
            orders.save(&order);
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/api/orders/{}", order.id)))
                .json(order))
        }
        Err(refusal) => {
            order.status = OrderStatus::Failed;
            order.failure_code = Some(refusal.body.code);
            orders.save(&order);
            Err(refusal)
        }
    }
}

async fn read_order(orders: web::Data<Orders>, path: web::Path<String>) -> Answer {
    let id = parse_id(&path, "order_id")?;
    let order = orders.orders.lock().get(&id).cloned();
    let order = order.ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            ErrorCode::OrderNotFound,
            "no such order",
        )
    })?;
    Ok(HttpResponse::Ok().json(order))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{body::to_bytes, test};

    async fn call(
        courses: &web::Data<Courses>,
        request: test::TestRequest,
    ) -> (u16, serde_json::Value) {
        let app = test::init_service(
            App::new()
                .app_data(courses.clone())
                .configure(course_routes)
                .default_service(web::to(not_found)),
        )
        .await;
        let response = test::call_service(&app, request.to_request()).await;
        let status = response.status().as_u16();
        let body = to_bytes(response.into_body()).await.unwrap_or_default();
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    #[actix_web::test]
    async fn a_hold_answers_like_the_product_and_a_confirm_sells_the_seat() {
        let courses = web::Data::new(Courses::default());
        let created = test::TestRequest::post()
            .uri("/api/courses")
            .set_payload(r#"{"title":"t","price_cents":1000,"seats":1}"#);
        let (status, course) = call(&courses, created).await;
        assert_eq!(status, 201, "{course}");
        let course_id = course["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/api/courses/{course_id}/reservations/{}", Uuid::now_v7());
        let body = r#"{"student_id":"s1"}"#;
        let (status, held) = call(
            &courses,
            test::TestRequest::put().uri(&path).set_payload(body),
        )
        .await;
        assert_eq!(status, 201, "{held}");
        assert_eq!(held["status"], "held");
        assert_eq!(held["unit_price_cents"], 1000);
        assert!(held["expires_at"].is_string(), "{held}");
        let (status, _) = call(
            &courses,
            test::TestRequest::put().uri(&path).set_payload(body),
        )
        .await;
        assert_eq!(status, 200, "a repeat replays");
        let other = format!("/api/courses/{course_id}/reservations/{}", Uuid::now_v7());
        let (status, refused) = call(
            &courses,
            test::TestRequest::put().uri(&other).set_payload(body),
        )
        .await;
        assert_eq!((status, refused["code"].as_str()), (409, Some("sold_out")));
        let (status, confirmed) = call(
            &courses,
            test::TestRequest::post().uri(&format!("{path}/confirm")),
        )
        .await;
        assert_eq!(
            (status, confirmed["status"].as_str()),
            (200, Some("confirmed"))
        );
        let (_, counts) = call(
            &courses,
            test::TestRequest::get().uri(&format!("/api/courses/{course_id}")),
        )
        .await;
        assert_eq!(
            (counts["seats_sold"].as_u64(), counts["seats_held"].as_u64()),
            (Some(1), Some(0))
        );
    }

    #[actix_web::test]
    async fn bad_ids_and_bodies_answer_400_and_unknown_things_404_in_json() {
        let courses = web::Data::new(Courses::default());
        let course = Uuid::now_v7();
        let cases = [
            (
                test::TestRequest::put()
                    .uri("/api/courses/x/reservations/y")
                    .set_payload("{}"),
                400,
                "validation_failed",
            ),
            (
                test::TestRequest::put()
                    .uri(&format!("/api/courses/{course}/reservations/{course}"))
                    .set_payload("not json"),
                400,
                "validation_failed",
            ),
            (
                test::TestRequest::put()
                    .uri(&format!("/api/courses/{course}/reservations/{course}"))
                    .set_payload(r#"{"student_id":""}"#),
                400,
                "validation_failed",
            ),
            (
                test::TestRequest::post().uri(&format!(
                    "/api/courses/{course}/reservations/{course}/confirm"
                )),
                404,
                "course_not_found",
            ),
            (
                test::TestRequest::post()
                    .uri("/api/courses")
                    .set_payload(r#"{"price_cents":-1,"seats":1}"#),
                400,
                "validation_failed",
            ),
            (test::TestRequest::get().uri("/nowhere"), 404, "not_found"),
        ];
        for (request, status, code) in cases {
            let (got, body) = call(&courses, request).await;
            assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        }
    }
}
