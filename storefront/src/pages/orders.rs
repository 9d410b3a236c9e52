//! The student's orders (status, cancel, pay) and waitlist entries, and the hand-over to the
//! payment page.

use super::{Frame, Notice, form_token, layout, money};
use crate::messages;
use maud::{Markup, html};
use shared_types::{Course, Order, OrderStatus, WaitlistEntry};
use std::collections::HashMap;
use uuid::Uuid;

fn title(courses: &HashMap<Uuid, Course>, id: Uuid) -> &str {
    courses
        .get(&id)
        .map_or("(a removed course)", |c| c.title.as_str())
}

pub fn page(
    frame: &Frame<'_>,
    orders: &[Order],
    waitlist: &[WaitlistEntry],
    courses: &HashMap<Uuid, Course>,
    notice: Option<&Notice>,
) -> Markup {
    layout(
        "My orders",
        frame,
        notice,
        html! {
            h1 { "My orders" }
            @if orders.is_empty() {
                p { "No orders yet. " a href="/" { "Find a course" } "." }
            } @else {
                div class="table" {
                    table {
                        caption class="visually-hidden" { "Your orders, newest first" }
                        thead { tr { th scope="col" { "Course" } th scope="col" { "Price" } th scope="col" { "Status" } th scope="col" { "Ordered" } th scope="col" { span class="visually-hidden" { "Actions" } } } }
                        tbody {
                            @for order in orders {
                                tr data-order=(order.id) {
                                    td { a href={ "/courses/" (order.course_id) } { (title(courses, order.course_id)) } }
                                    td { @if let (Some(price), Some(currency)) = (order.unit_price_cents, &order.currency) { (money(price, currency)) } }
                                    td {
                                        span class={ "status " (order.status.as_str()) } data-field="status" { (messages::status(order.status)) }
                                        @if let Some(code) = order.failure_code {
                                            @if let Some(why) = messages::for_code(code) { br; span class="muted" { (why) } }
                                        }
                                    }
                                    td { time datetime=(order.created_at.to_rfc3339()) { (order.created_at.format("%Y-%m-%d %H:%M UTC")) } }
                                    td class="actions" {
                                        @if order.status == OrderStatus::AwaitingPayment {
                                            a class="button" href={ "/orders/" (order.id) "/pay" } { "Pay" }
                                        }
                                        @if matches!(order.status, OrderStatus::Pending | OrderStatus::AwaitingPayment | OrderStatus::Confirmed) {
                                            form method="post" action={ "/orders/" (order.id) "/cancel" } class="inline" {
                                                (form_token(frame))
                                                button type="submit" class="secondary" aria-label={ "Cancel the order for " (title(courses, order.course_id)) } { "Cancel" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Waitlists" }
            @let open: Vec<&WaitlistEntry> = waitlist.iter().filter(|e| e.status.is_open()).collect();
            @if open.is_empty() {
                p { "You are not waiting for any course." }
            } @else {
                ul class="plain" {
                    @for entry in open {
                        li {
                            a href={ "/courses/" (entry.course_id) } { (title(courses, entry.course_id)) }
                            @if let Some(position) = entry.position { " — number " (position) " in line " } @else { " — a seat is offered to you " }
                            form method="post" action={ "/waitlist/" (entry.id) "/leave" } class="inline" {
                                (form_token(frame))
                                button type="submit" class="secondary" aria-label={ "Leave the waitlist of " (title(courses, entry.course_id)) } { "Leave" }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Where a student goes to pay for a held seat.
pub fn pay(frame: &Frame<'_>, order: &Order, course: Option<&Course>) -> Markup {
    let name = course.map_or("this course", |c| c.title.as_str());
    layout(
        "Payment",
        frame,
        None,
        html! {
            h1 { "Pay for " (name) }
            @match &order.payment {
                Some(payment) if order.status == OrderStatus::AwaitingPayment => {
                    p { "Your seat is held for you until " time datetime=(payment.expires_at.to_rfc3339()) { (payment.expires_at.format("%H:%M UTC")) } "." }
                    @if let Some(url) = &payment.checkout_url {
                        p { a class="button" href=(url) { "Continue to payment" } }
                    }
                }
                _ => {
                    p { "This order is " (messages::status(order.status).to_lowercase()) ": there is nothing to pay." }
                }
            }
            p { a href="/orders" { "Back to my orders" } }
        },
    )
}
