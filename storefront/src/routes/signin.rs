//! Signing in and out: the development sign-in (a name and a role, only when the launcher
//! generated the secret), the OpenID Connect sign-in, and signing out.

use super::{FormToken, REFUSED, frame, html, redirect};
use crate::{
    State,
    pages::{self, Notice},
    session::{self, User},
};
use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use serde::Deserialize;
use shared_types::Role;

pub(super) async fn signin_page(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let user = User::from_request(&req, &state.keys);
    html(
        StatusCode::OK,
        pages::signin::page(&frame(&state, user.as_ref()), None),
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    name: String,
    role: String,
}

/// How long a development sign-in lasts.
const DEV_SIGN_IN_SECS: i64 = 8 * 3600;

pub(super) async fn signin(state: web::Data<State>, form: web::Form<SignInForm>) -> HttpResponse {
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
pub(super) async fn signin_oidc(state: web::Data<State>) -> HttpResponse {
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
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the provider sends the browser back.
pub(super) async fn signin_callback(
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

pub(super) async fn signout(
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
