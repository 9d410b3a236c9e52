//! The instructor's pages: their courses with live counts, a new course, and one course's live
//! view with its price and capacity.

use super::{Frame, Notice, amount, counts, form_token, layout, money};
use maud::{Markup, html};
use shared_types::{Course, CourseSales};

/// What a person typed into the new-course form, shown again when it is refused.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewCourse {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub seats: String,
}

const CURRENCIES: [&str; 3] = ["USD", "EUR", "GBP"];

pub fn page(
    frame: &Frame<'_>,
    courses: &[Course],
    typed: &NewCourse,
    notice: Option<&Notice>,
) -> Markup {
    let ids: Vec<String> = courses.iter().map(|c| c.id.to_string()).collect();
    let currency = if typed.currency.is_empty() {
        "USD"
    } else {
        typed.currency.as_str()
    };
    layout(
        "Teach",
        frame,
        notice,
        html! {
            h1 { "Your courses" }
            @if courses.is_empty() {
                p { "You have no courses yet." }
            } @else {
                div class="table" {
                    table data-live=(ids.join(",")) {
                        caption class="visually-hidden" { "Your courses with their seats, live" }
                        thead { tr { th scope="col" { "Course" } th scope="col" { "Price" } th scope="col" { "Left" } th scope="col" { "On hold" } th scope="col" { "Sold" } th scope="col" { "Waiting" } } }
                        tbody {
                            @for course in courses {
                                tr data-course=(course.id) {
                                    td { a href={ "/teach/courses/" (course.id) } { (course.title) } }
                                    td { (money(course.price_cents, &course.currency)) }
                                    td data-field="seats_available" { (course.seats_available) }
                                    td data-field="seats_held" { (course.seats_held) }
                                    td data-field="seats_sold" { (course.seats_sold) }
                                    td data-field="waitlist_length" { (course.waitlist_length) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="new-h" {
                h2 id="new-h" { "New course" }
                form method="post" action="/teach/courses" class="stack" {
                    (form_token(frame))
                    p { label for="title" { "Title" } input id="title" name="title" required maxlength="200" value=(typed.title); }
                    p { label for="description" { "Description (optional)" } textarea id="description" name="description" maxlength="5000" rows="3" { (typed.description) } }
                    div class="row" {
                        p { label for="price" { "Price" } input id="price" name="price" required inputmode="decimal" placeholder="49.00" value=(typed.price); }
                        p {
                            label for="currency" { "Currency" }
                            select id="currency" name="currency" {
                                @for code in CURRENCIES {
                                    option value=(code) selected[code == currency] { (code) }
                                }
                            }
                        }
                        p { label for="seats" { "Seats" } input id="seats" name="seats" required type="number" min="1" max="1000000" value=(typed.seats); }
                    }
                    button type="submit" { "Create the course" }
                }
            }
        },
    )
}

/// One course's live view, with its price and capacity forms.
pub fn manage(
    frame: &Frame<'_>,
    course: &Course,
    sales: Option<&CourseSales>,
    notice: Option<&Notice>,
) -> Markup {
    let typed_price = amount(course.price_cents, &course.currency);
    layout(
        &course.title,
        frame,
        notice,
        html! {
            article data-live=(course.id) data-course=(course.id) {
                h1 { (course.title) }
                p { "Price " strong { (money(course.price_cents, &course.currency)) } " · " (course.seats_total) " seats · " a href={ "/courses/" (course.id) } { "see it as students do" } }
                h2 { "Live" }
                (counts(course))
                p class="revenue" {
                    "Revenue: "
                    strong data-revenue={ "/teach/courses/" (course.id) "/sales" } {
                        @match sales {
                            Some(sales) => (money(sales.revenue_cents, &sales.currency)),
                            None => "not available right now",
                        }
                    }
                    span class="muted" { " (sold seats, each at the price it was bought at)" }
                }
                div class="row" {
                    form method="post" action={ "/teach/courses/" (course.id) "/price" } class="stack" {
                        (form_token(frame))
                        p { label for="price" { "New price (" (course.currency) ")" } input id="price" name="price" required inputmode="decimal" value=(typed_price); }
                        button type="submit" { "Change the price" }
                    }
                    form method="post" action={ "/teach/courses/" (course.id) "/seats" } class="stack" {
                        (form_token(frame))
                        p { label for="seats" { "Seats in total" } input id="seats" name="seats" required type="number" min="1" max="1000000" value=(course.seats_total); }
                        button type="submit" { "Change the capacity" }
                    }
                }
            }
        },
    )
}
