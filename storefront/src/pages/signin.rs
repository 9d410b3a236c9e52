//! Sign-in: through the OpenID Connect provider when one is configured, and the development
//! sign-in (a name and a role) when it is on.

use super::{Frame, Notice, layout};
use maud::{Markup, html};

pub fn page(frame: &Frame<'_>, notice: Option<&Notice>) -> Markup {
    layout(
        "Sign in",
        frame,
        notice,
        html! {
            h1 { "Sign in" }
            @if let Some(provider) = &frame.provider {
                p { a class="button" href="/signin/oidc" { "Sign in with " (provider) } }
            }
            @if frame.dev_sign_in {
                p class="dev" {
                    "Development sign-in: pick any name and a role. It exists only because the launcher generated this run's token secret; a production storefront signs people in through the operator's identity provider."
                }
                form method="post" action="/signin" class="stack" {
                    p {
                        label for="name" { "Name" }
                        input id="name" name="name" required maxlength="64" autocomplete="username" pattern=r"[A-Za-z0-9._@\-]+" title="Letters, digits and . _ @ -";
                    }
                    fieldset {
                        legend { "Role" }
                        p { input type="radio" id="role-student" name="role" value="student" checked; label for="role-student" { "Student: buy seats" } }
                        p { input type="radio" id="role-instructor" name="role" value="instructor"; label for="role-instructor" { "Instructor: create and price courses" } }
                    }
                    button type="submit" { "Sign in" }
                }
            } @else if frame.provider.is_none() {
                p { "Sign-in is not configured for this storefront." }
            }
        },
    )
}
