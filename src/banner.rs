//! What the launcher prints once both services serve: where they are, `export` lines for every
//! variable the README's examples use, how to mint more tokens, and a first order to try.
//!
//! The README's examples are run against this output by `tests/e2e/readme.rs`, so a variable an
//! example needs must be exported here.

use service_kit::TokenKeys;
use shared_types::Role;
use std::{fmt, path::Path};

/// The instructor who owns the demo course; the instructor token is minted for them, so it may
/// change the demo course too.
pub const DEMO_INSTRUCTOR: &str = "instructor-1";

/// The student the student token is minted for.
const DEMO_STUDENT: &str = "student-1";

/// Lifetime of the printed tokens.
const DAY: i64 = 24 * 3600;

/// The banner of one start.
pub struct Banner<'a> {
    /// The web storefront, printed first.
    pub storefront_url: &'a str,
    /// Whether its development sign-in is on.
    pub dev_sign_in: bool,
    pub course_url: &'a str,
    pub order_url: &'a str,
    pub demo_course: &'a str,
    pub keys: &'a TokenKeys,
    /// Where the generated secret is kept; `None` when it came from AUTH_JWT_SECRET.
    pub kept_in: Option<&'a Path>,
    pub data_dir: &'a Path,
    /// The local Stripe sandbox, when payments go through it.
    pub sandbox_url: Option<&'a str>,
}

impl Banner<'_> {
    /// The command that mints a token, as the user would type it from the repository root.
    fn mint_command(&self) -> String {
        let prefix = match (self.kept_in, self.data_dir.to_str()) {
            (Some(_), Some(dir)) if dir != "./data" => format!("DATA_DIR={} ", shell_word(dir)),
            _ => String::new(),
        };
        format!("{prefix}cargo run -q --release -- token")
    }
}

/// `word` as one shell word.
fn shell_word(word: &str) -> String {
    let plain = word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=,@".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

impl fmt::Display for Banner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Banner {
            storefront_url,
            course_url,
            order_url,
            demo_course,
            ..
        } = self;
        let sign_in = if self.dev_sign_in {
            "(sign in with any name, as a student or an instructor)"
        } else {
            "(the development sign-in is off: AUTH_JWT_SECRET was given)"
        };
        let instructor = self.keys.mint(DEMO_INSTRUCTOR, Role::Instructor, DAY);
        let student = self.keys.mint(DEMO_STUDENT, Role::Student, DAY);
        let signed_with = match self.kept_in {
            Some(path) => format!(
                "signed with the secret kept in\n{}, so they still work after a restart",
                path.display()
            ),
            None => "signed with AUTH_JWT_SECRET".to_owned(),
        };
        let mint = self.mint_command();
        let sandbox = match self.sandbox_url {
            Some(url) => {
                format!("\n  stripe-sandbox  {url}   (local Stripe: checkout pages, webhooks)")
            }
            None => String::new(),
        };
        let pay = match self.sandbox_url {
            Some(_) => concat!(
                "\nThe answer is 201 \"awaiting_payment\": open its payment.checkout_url in a browser and\n",
                "click Pay (or POST to that URL + /pay, as the button does); the order is then \"confirmed\".\n",
                "Read it with: curl -s \"$ORDER_URL/api/orders/<id>\" -H \"Authorization: Bearer $STUDENT_TOKEN\"\n"
            ),
            None => "",
        };
        write!(
            f,
            r#"Storefront: {storefront_url}   {sign_in}

course-platform is running
  storefront      {storefront_url}
  course-service  {course_url}   (health: {course_url}/health/ready)
  order-service   {order_url}   (health: {order_url}/health/ready){sandbox}

Paste these into your shell; the README's examples use them (tokens valid 24 h,
{signed_with}):
  export COURSE_URL={course_url}
  export ORDER_URL={order_url}
  export COURSE_ID={demo_course}
  export INSTRUCTOR_TOKEN={instructor}
  export STUDENT_TOKEN={student}

More tokens, with the same secret (from another terminal in this directory):
  {mint} --role student --sub bob
  {mint} --role instructor --sub carol
  {mint} --role service --sub ops    # course-service's reservation endpoints, 5 min max

Buy a seat of the demo course ({DEMO_INSTRUCTOR}'s, which $INSTRUCTOR_TOKEN may change):
  curl -s -X POST "$ORDER_URL/api/orders" \
    -H "Authorization: Bearer $STUDENT_TOKEN" -H 'Content-Type: application/json' \
    -d "{{\"course_id\": \"$COURSE_ID\"}}"
{pay}
See the seats move:
  curl -s "$COURSE_URL/api/courses/$COURSE_ID"

Press Ctrl-C to stop.
"#
        )
    }
}
