//! The catalogue: every course with its price, seats left and waitlist, kept live.

use super::{Frame, Notice, layout, money};
use maud::{Markup, html};
use shared_types::Course;

pub fn page(
    frame: &Frame<'_>,
    courses: &[Course],
    next: Option<&str>,
    notice: Option<&Notice>,
) -> Markup {
    let ids: Vec<String> = courses.iter().map(|c| c.id.to_string()).collect();
    layout(
        "Courses",
        frame,
        notice,
        html! {
            h1 { "Courses" }
            @if courses.is_empty() {
                p { "No courses yet." }
            } @else {
                ul class="cards" data-live=(ids.join(",")) {
                    @for course in courses {
                        li class="card" data-course=(course.id) {
                            h2 { a href={ "/courses/" (course.id) } { (course.title) } }
                            p class="price" { (money(course.price_cents, &course.currency)) }
                            p {
                                span data-field="seats_available" { (course.seats_available) }
                                " of " (course.seats_total) " seats left"
                            }
                            p class="muted" {
                                span data-field="waitlist_length" { (course.waitlist_length) }
                                " waiting"
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a href={ "/?cursor=" (next) } { "More courses" } }
            }
        },
    )
}
