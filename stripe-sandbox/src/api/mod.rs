//! Stripe's HTTP API under `/v1`: the routes, the secret-key check, and the one path every call
//! takes: parse the form, claim the `Idempotency-Key` (POST), validate, execute, save the result
//! for replays. Execution runs as its own task, so it finishes, and its result is saved, even
//! when the caller hangs up.

mod refunds;
mod session_form;
mod sessions;

use std::future::Future;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine;
use serde::Serialize;

use crate::error::ApiError;
use crate::events::RequestInfo;
use crate::form::Params;
use crate::idempotency::{Claim, Fingerprint, MAX_KEY_LEN, Saved};
use crate::ids;
use crate::shared::Shared;

/// The `Request-Id` given to a request (by the middleware in [`crate::server`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(ids::request)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/checkout/sessions", web::post().to(sessions::create))
        .route("/v1/checkout/sessions", web::get().to(sessions::list))
        .route(
            "/v1/checkout/sessions/{id}",
            web::get().to(sessions::retrieve),
        )
        .route(
            "/v1/checkout/sessions/{id}/expire",
            web::post().to(sessions::expire),
        )
        .route("/v1/refunds", web::post().to(refunds::create))
        .route("/v1/refunds", web::get().to(refunds::list))
        .route("/v1/refunds/{id}", web::get().to(refunds::retrieve));
}

/// Checks the secret key: `Authorization: Bearer <key>`, or Basic with the key as user name.
fn authenticate(req: &HttpRequest, shared: &Shared) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = if let Some(token) = header.strip_prefix("Bearer ") {
        token.trim().to_owned()
    } else if let Some(encoded) = header.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .map(|pair| pair.split(':').next().unwrap_or("").to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    if key.is_empty() {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the \
             Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
             YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or \
             we can help at https://support.stripe.com/.",
        ));
    }
    if key != shared.config.api_key {
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}",
            mask(&key)
        )));
    }
    Ok(())
}

/// A key as Stripe echoes it: the start and the last four characters.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

fn answer(status: StatusCode, body: String) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header(("WWW-Authenticate", "Basic realm=\"Stripe\""));
    }
    response.body(body)
}

fn refuse(error: &ApiError) -> HttpResponse {
    answer(error.status, error.body().to_string())
}

/// A value as the JSON text of a 200 answer.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|_| ApiError::server_error())
}

/// A GET: check the key, read the query, answer what `f` makes of it.
fn get(
    req: &HttpRequest,
    shared: &Shared,
    f: impl FnOnce(Params) -> Result<String, ApiError>,
) -> HttpResponse {
    let result = authenticate(req, shared)
        .and_then(|()| Params::parse(req.query_string().as_bytes()))
        .and_then(f);
    match result {
        Ok(body) => answer(StatusCode::OK, body),
        Err(e) => refuse(&e),
    }
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| {
        ApiError::invalid("Invalid idempotency key: it must be printable ASCII characters.")
    })?;
    if key.len() > MAX_KEY_LEN {
        return Err(ApiError::invalid(format!(
            "Invalid idempotency key: it can be at most {MAX_KEY_LEN} characters long."
        )));
    }
    Ok(Some(key.to_owned()).filter(|k| !k.is_empty()))
}

/// A POST, idempotent under its key: `validate` reads the parameters (a refusal there saves
/// nothing), `execute` acts and answers the JSON text of the object (its result, success or
/// refusal, is saved for the key).
async fn post<I, F, Fut>(
    req: HttpRequest,
    body: web::Bytes,
    shared: Arc<Shared>,
    validate: impl FnOnce(Params, &Shared) -> Result<I, ApiError>,
    execute: F,
) -> HttpResponse
where
    I: Send + 'static,
    F: FnOnce(Arc<Shared>, I, RequestInfo) -> Fut + Send + 'static,
    Fut: Future<Output = Result<String, ApiError>> + Send + 'static,
{
    let request = request_id(&req);
    let before = authenticate(&req, &shared)
        .and_then(|()| Ok((Params::parse(&body)?, idempotency_key(&req)?)));
    let (params, key) = match before {
        Ok(found) => found,
        Err(e) => return refuse(&e),
    };
    if let Some(key) = &key {
        let fingerprint = Fingerprint {
            endpoint: format!("{} {}", req.method(), req.path()),
            params: params.canonical(),
        };
        let claim = shared
            .state
            .lock()
            .idempotency
            .claim(key, fingerprint, shared.now());
        match claim {
            Claim::Fresh => {}
            Claim::Refuse(e) => return refuse(&e),
            Claim::Replay(saved) => {
                let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
                let mut response = answer(status, saved.body);
                let headers = response.headers_mut();
                for (name, value) in [
                    ("idempotent-replayed", "true".to_owned()),
                    ("original-request", saved.request_id),
                    ("idempotency-key", key.clone()),
                ] {
                    if let Ok(value) = value.parse() {
                        headers.insert(
                            actix_web::http::header::HeaderName::from_static(name),
                            value,
                        );
                    }
                }
                return response;
            }
        }
    }
    let input = match validate(params, &shared) {
        Ok(input) => input,
        Err(e) => {
            if let Some(key) = &key {
                shared.state.lock().idempotency.release(key);
            }
            return refuse(&e);
        }
    };
    let info = RequestInfo {
        id: Some(request.clone()),
        idempotency_key: key.clone(),
    };
    let task = {
        let (shared, key) = (Arc::clone(&shared), key.clone());
        shared.runtime.clone().spawn(async move {
            let (status, text) = match execute(Arc::clone(&shared), input, info).await {
                Ok(text) => (StatusCode::OK, text),
                Err(e) => (e.status, e.body().to_string()),
            };
            if let Some(key) = &key {
                let saved = Saved {
                    status: status.as_u16(),
                    body: text.clone(),
                    request_id: request,
                };
                shared.state.lock().idempotency.save(key, saved);
            }
            (status, text)
        })
    };
    let (status, text) = match task.await {
        Ok(done) => done,
        Err(_) => {
            // The execution panicked: give the key back rather than leave it in use forever.
            if let Some(key) = &key {
                shared.state.lock().idempotency.release(key);
            }
            let e = ApiError::server_error();
            (e.status, e.body().to_string())
        }
    };
    let mut response = answer(status, text);
    if let Some(value) = key.and_then(|k| k.parse().ok()) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("idempotency-key"),
            value,
        );
    }
    response
}

/// Any other path: Stripe's `Unrecognized request URL`.
pub async fn unrecognized(req: HttpRequest) -> HttpResponse {
    refuse(&ApiError::unrecognized_url(
        req.method().as_str(),
        req.path(),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_masked_like_stripe() {
        assert_eq!(super::mask("sk_test_abcdefgh1234"), "sk_test_********1234");
        assert_eq!(super::mask("short"), "*****");
    }
}
