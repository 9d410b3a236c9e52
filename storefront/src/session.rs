//! Who is signed in: the person's bearer token kept in an `HttpOnly`, `SameSite=Lax` cookie (the
//! services verify it on every call; the storefront keeps no sessions of its own, so a restart
//! signs nobody out), and the check that a form was sent from one of the storefront's own pages.

use actix_web::{HttpRequest, cookie::Cookie};
use service_kit::TokenKeys;
use sha2::{Digest, Sha256};
use shared_types::Role;

/// The cookie holding the bearer token.
pub const COOKIE: &str = "storefront_token";

/// The signed-in person.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub student: bool,
    pub instructor: bool,
    /// The bearer token the services are called with.
    pub token: String,
}

impl User {
    /// The person whose valid token the request's cookie holds, if any.
    pub fn from_request(req: &HttpRequest, keys: &TokenKeys) -> Option<User> {
        let token = req.cookie(COOKIE)?.value().to_owned();
        let identity = keys.verify(&token).ok()?;
        Some(User {
            id: identity.sub.clone(),
            student: identity.has(Role::Student),
            instructor: identity.has(Role::Instructor),
            token,
        })
    }

    /// The value every form of this person's pages carries: derived from their token, which a
    /// page elsewhere cannot read, so a form posted from another site is refused.
    pub fn form_token(&self) -> String {
        form_token(&self.token)
    }
}

pub fn form_token(token: &str) -> String {
    let digest = Sha256::digest(format!("storefront-form:{token}").as_bytes());
    hex::encode(&digest[..16])
}

/// The cookie that signs `token` in, for `max_age_secs`.
pub fn sign_in_cookie(token: &str, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

/// The cookie that signs out.
pub fn sign_out_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}

/// The cookie holding a sign-in in progress at the provider (only `/signin/...` sees it).
pub fn pending_cookie(value: &str) -> Cookie<'static> {
    Cookie::build(crate::oidc::PENDING_COOKIE, value.to_owned())
        .path("/signin")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            crate::oidc::PENDING_SECS,
        ))
        .finish()
}
