//! The storefront's routes: thin handlers that call the services' APIs and render a page, or
//! redirect after a form (so reloading never sends it twice).

use crate::{
    State,
    api::ApiError,
    assets, live, messages,
    pages::{self, Frame, Notice, course::Standing, parse_money, teach::NewCourse},
    session::{self, User},
};
use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use maud::Markup;
use serde::Deserialize;
use shared_types::{Course, OrderStatus, Role};
use std::collections::HashMap;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(catalogue))
        .route("/courses/{id}", web::get().to(course))
        .route("/courses/{id}/buy", web::post().to(buy))
        .route("/courses/{id}/waitlist", web::post().to(join_waitlist))
        .route("/waitlist/{entry}/leave", web::post().to(leave_waitlist))
        .route("/orders", web::get().to(orders))
        .route("/orders/{id}/pay", web::get().to(pay))
        .route("/orders/{id}/cancel", web::post().to(cancel))
        .route("/teach", web::get().to(teach))
        .route("/teach/courses", web::post().to(create_course))
        .route("/teach/courses/{id}", web::get().to(manage))
        .route("/teach/courses/{id}/sales", web::get().to(sales))
        .route("/teach/courses/{id}/price", web::post().to(set_price))
        .route("/teach/courses/{id}/seats", web::post().to(set_seats))
        .route("/signin", web::get().to(signin_page))
        .route("/signin", web::post().to(signin))
        .route("/signin/oidc", web::get().to(signin_oidc))
        .route("/signin/callback", web::get().to(signin_callback))
        .route("/signout", web::post().to(signout))
        .route("/live", web::get().to(live::stream))
        .route("/static/{file}", web::get().to(assets::serve))
        .route("/health/live", web::get().to(health))
        .route("/health/ready", web::get().to(health));
}

/// `?done=` after a redirect: what just succeeded.
#[derive(Debug, Deserialize, Default)]
struct Done {
    done: Option<String>,
    cursor: Option<String>,
}

fn done_notice(done: &Done) -> Option<Notice> {
    let text = match done.done.as_deref()? {
        "bought" => "Your seat is confirmed.",
        "pending" => "Your order is being processed: it shows here once it settles.",
        "cancelled" => "The order was cancelled and its seat given back.",
        "joined" => "You are on the waitlist.",
        "left" => "You left the waitlist.",
        "created" => "The course was created.",
        "price" => "The price was changed. Holds already made keep their price.",
        "seats" => "The capacity was changed.",
        "signedin" => "You are signed in.",
        "paid" => {
            "Thank you: your payment is being confirmed. The order shows Confirmed once it is."
        }
        "unpaid" => {
            "The payment was not made. The seat stays held for you until the time shown; pay from here."
        }
        _ => return None,
    };
    Some(Notice::Ok(text.into()))
}

/// The status of a page shown again with why its form was refused: the page itself is what was
/// asked for (a browser reports any other status of a page as an error).
const REFUSED: StatusCode = StatusCode::OK;

fn html(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.into_string())
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

fn frame<'a>(state: &State, user: Option<&'a User>) -> Frame<'a> {
    Frame {
        user,
        dev_sign_in: state.dev_sign_in,
        provider: state.oidc.as_ref().map(|o| o.provider_name()),
    }
}

/// The page for an error with no page of its own.
fn error_page(state: &State, user: Option<&User>, error: &ApiError) -> HttpResponse {
    let status = match error {
        ApiError::Problem { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
        }
        ApiError::Unreachable(_) => StatusCode::BAD_GATEWAY,
    };
    let text = messages::for_error(error, "USD");
    html(
        status,
        pages::layout(
            "Something went wrong",
            &frame(state, user),
            Some(&Notice::Error(text)),
            maud::html! { p { a href="/" { "Back to the courses" } } },
        ),
    )
}

/// The signed-in person with `role`, after checking the form came from one of their pages; or
/// the answer to send instead.
fn signed_in(
    state: &State,
    req: &HttpRequest,
    role: Role,
    form_token: Option<&str>,
) -> Result<User, Box<HttpResponse>> {
    let Some(user) = User::from_request(req, &state.keys) else {
        return Err(Box::new(redirect("/signin")));
    };
    if let Some(sent) = form_token
        && sent != user.form_token()
    {
        return Err(Box::new(html(
            StatusCode::FORBIDDEN,
            pages::layout(
                "Form expired",
                &frame(state, Some(&user)),
                Some(&Notice::Error(
                    "This form was not sent from this storefront's page. Reload the page and try again."
                        .into(),
                )),
                maud::html! {},
            ),
        )));
    }
    let allowed = match role {
        Role::Student => user.student,
        Role::Instructor => user.instructor,
        Role::Service => false,
    };
    if !allowed {
        let text = messages::for_code(shared_types::ErrorCode::Forbidden).unwrap_or_default();
        return Err(Box::new(html(
            StatusCode::FORBIDDEN,
            pages::layout(
                "Not allowed",
                &frame(state, Some(&user)),
                Some(&Notice::Error(text.into())),
                maud::html! {},
            ),
        )));
    }
    Ok(user)
}

#[derive(Debug, Deserialize)]
struct FormToken {
    #[serde(default)]
    form_token: String,
}

async fn catalogue(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<Done>,
) -> HttpResponse {
    let user = User::from_request(&req, &state.keys);
    match state.api.courses(None, query.cursor.as_deref()).await {
        Ok(page) => html(
            StatusCode::OK,
            pages::catalogue::page(
                &frame(&state, user.as_ref()),
                &page.items,
                page.next_cursor.as_deref(),
                done_notice(&query).as_ref(),
            ),
        ),
        Err(e) => error_page(&state, user.as_ref(), &e),
    }
}

/// The course page, with `notice` (and `status`) when a form on it was refused.
async fn course_page(
    state: &State,
    user: Option<&User>,
    id: Uuid,
    notice: Option<Notice>,
    status: StatusCode,
) -> HttpResponse {
    let course = match state.api.course(id).await {
        Ok(course) => course,
        Err(e) => return error_page(state, user, &e),
    };
    let mut standing = Standing::default();
    if let Some(user) = user.filter(|u| u.student)
        && let Ok(entries) = state.api.waitlist(&user.token).await
    {
        standing.waiting = entries
            .into_iter()
            .find(|e| e.course_id == id && e.status.is_open());
    }
    html(
        status,
        pages::course::page(&frame(state, user), &course, &standing, notice.as_ref()),
    )
}

async fn course(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<Done>,
) -> HttpResponse {
    let user = User::from_request(&req, &state.keys);
    course_page(
        &state,
        user.as_ref(),
        *path,
        done_notice(&query),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct BuyForm {
    #[serde(default)]
    form_token: String,
    expected_price_cents: i64,
    key: String,
}

/// The answer to a refused form on the course page: the page again, saying why.
async fn refused_on_course(state: &State, user: &User, id: Uuid, error: &ApiError) -> HttpResponse {
    let currency = state
        .api
        .course(id)
        .await
        .map_or_else(|_| "USD".to_owned(), |c| c.currency);
    let notice = Notice::Error(messages::for_error(error, &currency));
    course_page(state, Some(user), id, Some(notice), REFUSED).await
}

async fn buy(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<BuyForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    match state
        .api
        .buy(&user.token, id, form.expected_price_cents, &form.key)
        .await
    {
        Ok(order) => match order.status {
            OrderStatus::AwaitingPayment => redirect(&format!("/orders/{}/pay", order.id)),
            OrderStatus::Confirmed => redirect("/orders?done=bought"),
            OrderStatus::Failed => {
                let notice = order
                    .failure_code
                    .and_then(messages::for_code)
                    .unwrap_or("The order failed.");
                course_page(
                    &state,
                    Some(&user),
                    id,
                    Some(Notice::Error(notice.into())),
                    REFUSED,
                )
                .await
            }
            _ => redirect("/orders?done=pending"),
        },
        Err(e) => refused_on_course(&state, &user, id, &e).await,
    }
}

async fn join_waitlist(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<FormToken>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    match state.api.join_waitlist(&user.token, id).await {
        Ok(_) => redirect(&format!("/courses/{id}?done=joined")),
        Err(e) => refused_on_course(&state, &user, id, &e).await,
    }
}

#[derive(Debug, Deserialize)]
struct LeaveForm {
    #[serde(default)]
    form_token: String,
    course_id: Option<Uuid>,
}

async fn leave_waitlist(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<LeaveForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.leave_waitlist(&user.token, *path).await {
        Ok(_) => match form.course_id {
            Some(course) => redirect(&format!("/courses/{course}?done=left")),
            None => redirect("/orders?done=left"),
        },
        Err(e) => error_page(&state, Some(&user), &e),
    }
}

/// Titles of `ids`, read concurrently (courses that cannot be read are left out).
async fn courses_by_id(state: &State, ids: impl Iterator<Item = Uuid>) -> HashMap<Uuid, Course> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort();
    ids.dedup();
    let read = futures::future::join_all(ids.iter().map(|id| state.api.course(*id))).await;
    read.into_iter()
        .filter_map(Result::ok)
        .map(|c| (c.id, c))
        .collect()
}

async fn orders_page(state: &State, user: &User, notice: Option<Notice>) -> HttpResponse {
    let (orders, waitlist) = futures::join!(
        state.api.orders(&user.token),
        state.api.waitlist(&user.token)
    );
    let orders = match orders {
        Ok(orders) => orders,
        Err(e) => return error_page(state, Some(user), &e),
    };
    let waitlist = waitlist.unwrap_or_default();
    let courses = courses_by_id(
        state,
        orders
            .iter()
            .map(|o| o.course_id)
            .chain(waitlist.iter().map(|e| e.course_id)),
    )
    .await;
    html(
        StatusCode::OK,
        pages::orders::page(
            &frame(state, Some(user)),
            &orders,
            &waitlist,
            &courses,
            notice.as_ref(),
        ),
    )
}

async fn orders(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<Done>,
) -> HttpResponse {
    match signed_in(&state, &req, Role::Student, None) {
        Ok(user) => orders_page(&state, &user, done_notice(&query)).await,
        Err(answer) => *answer,
    }
}

async fn pay(state: web::Data<State>, req: HttpRequest, path: web::Path<Uuid>) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, None) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.order(&user.token, *path).await {
        Ok(order) => {
            let course = state.api.course(order.course_id).await.ok();
            html(
                StatusCode::OK,
                pages::orders::pay(&frame(&state, Some(&user)), &order, course.as_ref()),
            )
        }
        Err(e) => error_page(&state, Some(&user), &e),
    }
}

async fn cancel(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<FormToken>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Student, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.cancel(&user.token, *path).await {
        Ok(_) => redirect("/orders?done=cancelled"),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, "USD"));
            orders_page(&state, &user, Some(notice)).await
        }
    }
}

async fn teach_page(
    state: &State,
    user: &User,
    typed: &NewCourse,
    notice: Option<Notice>,
    status: StatusCode,
) -> HttpResponse {
    match state.api.courses(Some(&user.id), None).await {
        Ok(page) => html(
            status,
            pages::teach::page(
                &frame(state, Some(user)),
                &page.items,
                typed,
                notice.as_ref(),
            ),
        ),
        Err(e) => error_page(state, Some(user), &e),
    }
}

async fn teach(state: web::Data<State>, req: HttpRequest, query: web::Query<Done>) -> HttpResponse {
    match signed_in(&state, &req, Role::Instructor, None) {
        Ok(user) => {
            teach_page(
                &state,
                &user,
                &NewCourse::default(),
                done_notice(&query),
                StatusCode::OK,
            )
            .await
        }
        Err(answer) => *answer,
    }
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    #[serde(default)]
    form_token: String,
    #[serde(flatten)]
    course: NewCourse,
}

async fn create_course(
    state: web::Data<State>,
    req: HttpRequest,
    form: web::Form<CreateForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let typed = &form.course;
    let currency = if typed.currency.is_empty() {
        "USD"
    } else {
        typed.currency.as_str()
    };
    let refused = |text: &str| Notice::Error(text.to_owned());
    let Some(price) = parse_money(&typed.price, currency) else {
        let notice = refused("The price must be an amount such as 49 or 49.90.");
        return teach_page(&state, &user, typed, Some(notice), REFUSED).await;
    };
    let Ok(seats) = typed.seats.trim().parse::<u32>() else {
        let notice = refused("The number of seats must be a whole number.");
        return teach_page(&state, &user, typed, Some(notice), REFUSED).await;
    };
    let description = Some(typed.description.trim()).filter(|d| !d.is_empty());
    match state
        .api
        .create_course(
            &user.token,
            typed.title.trim(),
            description,
            price,
            currency,
            seats,
        )
        .await
    {
        Ok(course) => redirect(&format!("/teach/courses/{}?done=created", course.id)),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, currency));
            teach_page(&state, &user, typed, Some(notice), REFUSED).await
        }
    }
}

async fn manage_page(
    state: &State,
    user: &User,
    id: Uuid,
    notice: Option<Notice>,
    status: StatusCode,
) -> HttpResponse {
    let (course, sales) = futures::join!(state.api.course(id), state.api.sales(&user.token, id));
    match course {
        Ok(course) if course.instructor_id == user.id => html(
            status,
            pages::teach::manage(
                &frame(state, Some(user)),
                &course,
                sales.ok().as_ref(),
                notice.as_ref(),
            ),
        ),
        Ok(_) => error_page(
            state,
            Some(user),
            &ApiError::Problem {
                status: 403,
                code: shared_types::ErrorCode::Forbidden,
                detail: String::new(),
                price_cents: None,
            },
        ),
        Err(e) => error_page(state, Some(user), &e),
    }
}

async fn manage(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<Done>,
) -> HttpResponse {
    match signed_in(&state, &req, Role::Instructor, None) {
        Ok(user) => manage_page(&state, &user, *path, done_notice(&query), StatusCode::OK).await,
        Err(answer) => *answer,
    }
}

/// The course's revenue as the live view shows it (JSON, for the page's script).
async fn sales(state: web::Data<State>, req: HttpRequest, path: web::Path<Uuid>) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, None) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    match state.api.sales(&user.token, *path).await {
        Ok(sales) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "seats_sold": sales.seats_sold,
                "revenue": pages::money(sales.revenue_cents, &sales.currency),
            })),
        Err(e) => HttpResponse::build(match &e {
            ApiError::Problem { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ApiError::Unreachable(_) => StatusCode::BAD_GATEWAY,
        })
        .json(serde_json::json!({"error": messages::for_error(&e, "USD")})),
    }
}

#[derive(Debug, Deserialize)]
struct PriceForm {
    #[serde(default)]
    form_token: String,
    price: String,
}

async fn set_price(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<PriceForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    let currency = match state.api.course(id).await {
        Ok(course) => course.currency,
        Err(e) => return error_page(&state, Some(&user), &e),
    };
    let Some(price) = parse_money(&form.price, &currency) else {
        let notice = Notice::Error("The price must be an amount such as 49 or 49.90.".into());
        return manage_page(&state, &user, id, Some(notice), REFUSED).await;
    };
    match state.api.set_price(&user.token, id, price).await {
        Ok(_) => redirect(&format!("/teach/courses/{id}?done=price")),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, &currency));
            manage_page(&state, &user, id, Some(notice), REFUSED).await
        }
    }
}

#[derive(Debug, Deserialize)]
struct SeatsForm {
    #[serde(default)]
    form_token: String,
    seats: String,
}

async fn set_seats(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<SeatsForm>,
) -> HttpResponse {
    let user = match signed_in(&state, &req, Role::Instructor, Some(&form.form_token)) {
        Ok(user) => user,
        Err(answer) => return *answer,
    };
    let id = *path;
    let Ok(seats) = form.seats.trim().parse::<u32>() else {
        let notice = Notice::Error("The number of seats must be a whole number.".into());
        return manage_page(&state, &user, id, Some(notice), REFUSED).await;
    };
    match state.api.set_seats(&user.token, id, seats).await {
        Ok(_) => redirect(&format!("/teach/courses/{id}?done=seats")),
        Err(e) => {
            let notice = Notice::Error(messages::for_error(&e, "USD"));
            manage_page(&state, &user, id, Some(notice), REFUSED).await
        }
    }
}

async fn signin_page(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let user = User::from_request(&req, &state.keys);
    html(
        StatusCode::OK,
        pages::signin::page(&frame(&state, user.as_ref()), None),
    )
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    name: String,
    role: String,
}

/// How long a development sign-in lasts.
const DEV_SIGN_IN_SECS: i64 = 8 * 3600;

async fn signin(state: web::Data<State>, form: web::Form<SignInForm>) -> HttpResponse {
    if !state.dev_sign_in {
        return html(
            StatusCode::NOT_FOUND,
            pages::signin::page(&frame(&state, None), None),
        );
    }
    let name = form.name.trim();
    let role = match form.role.as_str() {
        "student" => Role::Student,
        "instructor" => Role::Instructor,
        _ => Role::Service,
    };
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c));
    if !valid_name || role == Role::Service {
        let notice = Notice::Error(
            "Pick a name of letters, digits and . _ @ - and the role student or instructor.".into(),
        );
        return html(
            REFUSED,
            pages::signin::page(&frame(&state, None), Some(&notice)),
        );
    }
    let token = state.keys.mint(name, role, DEV_SIGN_IN_SECS);
    let to = if role == Role::Instructor {
        "/teach?done=signedin"
    } else {
        "/?done=signedin"
    };
    HttpResponse::SeeOther()
        .cookie(session::sign_in_cookie(&token, DEV_SIGN_IN_SECS))
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Starts a sign-in at the provider.
async fn signin_oidc(state: web::Data<State>) -> HttpResponse {
    let Some(oidc) = &state.oidc else {
        return redirect("/signin");
    };
    match oidc.start().await {
        Ok(started) => HttpResponse::SeeOther()
            .cookie(session::pending_cookie(&started.pending))
            .insert_header((header::LOCATION, started.url))
            .finish(),
        Err(e) => {
            tracing::warn!(error = %e, "sign-in through the identity provider could not start");
            let notice = Notice::Error(
                "The identity provider could not be reached. Try again in a moment.".into(),
            );
            html(
                REFUSED,
                pages::signin::page(&frame(&state, None), Some(&notice)),
            )
        }
    }
}

#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the provider sends the browser back.
async fn signin_callback(
    state: web::Data<State>,
    req: HttpRequest,
    query: web::Query<Callback>,
) -> HttpResponse {
    let Some(oidc) = &state.oidc else {
        return redirect("/signin");
    };
    let pending = req
        .cookie(crate::oidc::PENDING_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let outcome = match (&query.code, &query.state, &query.error) {
        (_, _, Some(error)) => Err(crate::oidc::SignInError::Refused(format!(
            "{error}: {}",
            query.error_description.as_deref().unwrap_or("")
        ))),
        (Some(code), Some(sent_state), None) => oidc.finish(&pending, sent_state, code).await,
        _ => Err(crate::oidc::SignInError::State),
    };
    let refused = |text: String| {
        let mut answer = html(
            REFUSED,
            pages::signin::page(&frame(&state, None), Some(&Notice::Error(text))),
        );
        let _ = answer.add_removal_cookie(&session::pending_cookie(""));
        answer
    };
    let token = match outcome {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in through the identity provider failed");
            return refused(format!("The sign-in did not complete: {e}."));
        }
    };
    let identity = match state.keys.verify_fetching(&token).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(error = %e, "the identity provider's access token was refused");
            return refused(
                "The identity provider's token is not for this storefront (audience or role)."
                    .into(),
            );
        }
    };
    let lifetime = identity.expires_at() - chrono::Utc::now().timestamp();
    let to = if identity.has(Role::Instructor) && !identity.has(Role::Student) {
        "/teach?done=signedin"
    } else {
        "/?done=signedin"
    };
    let mut answer = HttpResponse::SeeOther()
        .cookie(session::sign_in_cookie(&token, lifetime.max(0)))
        .insert_header((header::LOCATION, to))
        .finish();
    let _ = answer.add_removal_cookie(&session::pending_cookie(""));
    answer
}

async fn signout(
    state: web::Data<State>,
    req: HttpRequest,
    form: web::Form<FormToken>,
) -> HttpResponse {
    if let Some(user) = User::from_request(&req, &state.keys)
        && form.form_token != user.form_token()
    {
        return redirect("/");
    }
    HttpResponse::SeeOther()
        .cookie(session::sign_out_cookie())
        .insert_header((header::LOCATION, "/"))
        .finish()
}

async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"status": "ok", "service": "storefront"}))
}

/// Any other path.
pub async fn not_found(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let user = User::from_request(&req, &state.keys);
    html(
        StatusCode::NOT_FOUND,
        pages::layout(
            "Not found",
            &frame(&state, user.as_ref()),
            Some(&Notice::Error("There is no page here.".into())),
            maud::html! { p { a href="/" { "Back to the courses" } } },
        ),
    )
}
