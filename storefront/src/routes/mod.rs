//! The storefront's routes: thin handlers that call the services' APIs and render a page, or
//! redirect after a form (so reloading never sends it twice). [`student`]: the catalogue, course
//! pages, buying, orders and waitlists; [`teach`]: the instructor's pages; [`signin`]: the
//! development sign-in, the OpenID Connect sign-in and signing out. What they share is here.

use crate::{
    State,
    api::ApiError,
    assets, live, messages,
    pages::{self, Frame, Notice},
    session::User,
};
use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use maud::Markup;
use serde::Deserialize;
use shared_types::Role;

mod signin;
mod student;
mod teach;

pub fn configure(cfg: &mut web::ServiceConfig) {
    use {signin::*, student::*, teach::*};
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

/// The status a service's refusal stands for (502 when it did not answer).
fn status_of(error: &ApiError) -> StatusCode {
    match error {
        ApiError::Problem { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
        }
        ApiError::Unreachable(_) => StatusCode::BAD_GATEWAY,
    }
}

/// The page for an error with no page of its own.
fn error_page(state: &State, user: Option<&User>, error: &ApiError) -> HttpResponse {
    let status = status_of(error);
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
