//! A course: its details and live counts, Buy (or, sold out, the waitlist) for students, and a
//! link to manage it for its instructor.

use super::{Frame, Notice, counts, form_token, layout, money};
use maud::{Markup, html};
use shared_types::{Course, WaitlistEntry};

/// What the signed-in student has to do with this course.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    /// Their open waitlist entry, if any.
    pub waiting: Option<WaitlistEntry>,
}

pub fn page(
    frame: &Frame<'_>,
    course: &Course,
    standing: &Standing,
    notice: Option<&Notice>,
) -> Markup {
    let price = money(course.price_cents, &course.currency);
    let student = frame.user.filter(|u| u.student);
    let owner = frame
        .user
        .is_some_and(|u| u.instructor && u.id == course.instructor_id);
    layout(
        &course.title,
        frame,
        notice,
        html! {
            article class="course" data-live=(course.id) data-course=(course.id) {
                h1 { (course.title) }
                p class="muted" { "By " (course.instructor_id) }
                @if let Some(description) = &course.description {
                    p class="description" { (description) }
                }
                p class="price" { (price) }
                (counts(course))
                @if let Some(_student) = student {
                    @if let Some(entry) = &standing.waiting {
                        section aria-labelledby="waitlist-h" {
                            h2 id="waitlist-h" { "Waitlist" }
                            @if let Some(position) = entry.position {
                                p { "You are number " (position) " on the waitlist." }
                            } @else {
                                p { "A seat is being offered to you: see My orders." }
                            }
                            form method="post" action={ "/waitlist/" (entry.id) "/leave" } {
                                (form_token(frame))
                                input type="hidden" name="course_id" value=(course.id);
                                button type="submit" class="secondary" { "Leave the waitlist" }
                            }
                        }
                    } @else if course.seats_available > 0 {
                        form method="post" action={ "/courses/" (course.id) "/buy" } class="buy" {
                            (form_token(frame))
                            input type="hidden" name="expected_price_cents" value=(course.price_cents);
                            input type="hidden" name="key" value=(uuid::Uuid::new_v4());
                            button type="submit" { "Buy for " (price) }
                        }
                    } @else {
                        section aria-labelledby="soldout-h" {
                            h2 id="soldout-h" { "Sold out" }
                            p { "Join the waitlist: the next seat that frees up is offered to the first student waiting." }
                            form method="post" action={ "/courses/" (course.id) "/waitlist" } {
                                (form_token(frame))
                                button type="submit" { "Join the waitlist" }
                            }
                        }
                    }
                } @else if frame.user.is_none() {
                    p { a href="/signin" { "Sign in" } " to buy a seat." }
                }
                @if owner {
                    p { a href={ "/teach/courses/" (course.id) } { "Manage this course" } }
                }
            }
        },
    )
}
