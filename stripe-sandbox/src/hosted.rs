//! The hosted checkout page a person opens at a session's `url`: what is bought and for how much,
//! and two buttons. Pay completes the session and redirects (303) to `success_url`; Cancel
//! redirects to `cancel_url` and leaves the session open, as on Stripe. Self-contained HTML,
//! every value escaped.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpResponse, web};

use crate::currency;
use crate::model::{Session, SessionStatus};
use crate::shared::Shared;
use crate::store::PayOutcome;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/checkout/{id}", web::get().to(show))
        .route("/checkout/{id}/pay", web::post().to(pay))
        .route("/checkout/{id}/cancel", web::post().to(cancel));
}

/// `text` with `& < > " '` escaped for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',sans-serif;\
background:#f6f9fc;color:#1a1f36}main{max-width:420px;margin:10vh auto;background:#fff;\
border-radius:12px;box-shadow:0 4px 24px rgba(0,0,0,.08);padding:32px}\
.tag{display:inline-block;font-size:12px;font-weight:600;color:#a05a00;background:#fff4e0;\
border-radius:4px;padding:2px 8px;margin-bottom:16px}h1{font-size:20px;margin:0 0 8px}\
.amount{font-size:32px;font-weight:700;margin:8px 0 24px}p{line-height:1.5;color:#4f566b}\
form{display:inline}button{font:inherit;font-size:16px;border-radius:6px;padding:10px 20px;cursor:pointer;\
border:1px solid #d0d5dd;background:#fff;margin-right:8px}button.pay{background:#635bff;\
color:#fff;border-color:#635bff}small{display:block;margin-top:24px;color:#8792a2;overflow-wrap:anywhere}\
a{color:#635bff}";

/// A whole page: `title` and `body` (HTML, already escaped where needed).
fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body><main>\
         <span class=\"tag\">Stripe sandbox · test mode</span>{body}</main></body></html>\n",
        escape(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(html)
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

fn missing() -> HttpResponse {
    page(
        StatusCode::NOT_FOUND,
        "Checkout session not found",
        "<h1>Checkout session not found</h1><p>There is no checkout session at this address.</p>",
    )
}

fn expired() -> HttpResponse {
    page(
        StatusCode::GONE,
        "Checkout session expired",
        "<h1>This checkout session has expired</h1>\
         <p>It can no longer be paid. Go back to the shop to start again.</p>",
    )
}

fn complete(session: &Session) -> HttpResponse {
    let link = match session.success_redirect() {
        Some(url) => format!("<p><a href=\"{}\">Continue</a></p>", escape(&url)),
        None => String::new(),
    };
    page(
        StatusCode::OK,
        "Payment complete",
        &format!("<h1>Payment complete</h1><p>This session has been paid.</p>{link}"),
    )
}

fn open(session: &Session) -> HttpResponse {
    let id = escape(&session.id);
    let amount = currency::format(session.amount_total, &session.currency);
    let body = format!(
        "<h1>{name}</h1>\
         <div class=\"amount\">{amount} <span style=\"font-size:16px;color:#8792a2\">{code}</span></div>\
         <form method=\"post\" action=\"/checkout/{id}/pay\"><button class=\"pay\" type=\"submit\">Pay {amount}</button></form>\
         <form method=\"post\" action=\"/checkout/{id}/cancel\"><button type=\"submit\">Cancel</button></form>\
         <small>No card is needed: this sandbox takes no real money.<br>Session {id}</small>",
        name = escape(&session.product_names()),
        amount = escape(&amount),
        code = escape(&session.currency.to_ascii_uppercase()),
    );
    page(StatusCode::OK, &format!("Pay {amount}"), &body)
}

async fn show(path: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let now = shared.now();
    let session = shared.state.lock().sessions.get(path.as_str()).cloned();
    match session {
        None => missing(),
        Some(s) if s.status == SessionStatus::Expired => expired(),
        Some(s) if s.status == SessionStatus::Complete => complete(&s),
        Some(s) if s.expires_at <= now => expired(),
        Some(s) => open(&s),
    }
}

async fn pay(path: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let shared = shared.into_inner();
    let now = shared.now();
    match shared.change(|state| state.pay(&path, now)) {
        PayOutcome::Paid(s) | PayOutcome::AlreadyPaid(s) => match s.success_redirect() {
            Some(url) => redirect(&url),
            None => complete(&s),
        },
        PayOutcome::Expired(_) => expired(),
        PayOutcome::Missing => missing(),
    }
}

async fn cancel(path: web::Path<String>, shared: web::Data<Shared>) -> HttpResponse {
    let now = shared.now();
    let session = shared.state.lock().sessions.get(path.as_str()).cloned();
    match session {
        None => missing(),
        Some(s) if s.status == SessionStatus::Expired || s.expires_at <= now => expired(),
        Some(s) if s.status == SessionStatus::Complete => complete(&s),
        Some(s) => match &s.cancel_url {
            Some(url) => redirect(url),
            None => page(
                StatusCode::OK,
                "Payment cancelled",
                "<h1>Payment cancelled</h1><p>Nothing was charged. You can close this page.</p>",
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
        );
    }
}
