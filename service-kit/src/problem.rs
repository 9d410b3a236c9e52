//! problem+json (RFC 9457) responses, including for errors the framework raises before a handler
//! runs.
//!
//! Services answer their own errors through [`problem_response`]. Everything else is caught here:
//! [`json_config`], [`path_config`] and [`query_config`] turn extractor failures into
//! `validation_failed`, `payload_too_large` or `unsupported_media_type`; [`not_found`] answers
//! unknown routes; and [`fallback`] rewrites any remaining error response without a problem body
//! (such as actix's bare 405) into one, so no client ever sees an empty or HTML error.

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    dev::ServiceResponse,
    error::{InternalError, JsonPayloadError, PathError, QueryPayloadError},
    http::{StatusCode, header},
    middleware::{ErrorHandlerResponse, ErrorHandlers},
    web,
};
use shared_types::{ErrorCode, PROBLEM_CONTENT_TYPE, Problem};

/// The request body limit of both services.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A problem+json response with `status`, `code` and a human-readable `detail`.
pub fn problem_response(
    status: StatusCode,
    code: ErrorCode,
    detail: impl Into<String>,
) -> HttpResponse {
    problem_body(Problem::new(
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        code,
        detail,
    ))
}

/// A response carrying an already built problem.
pub fn problem_body(problem: Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE))
        .body(body)
}

/// A ready-made error value carrying a status, code and detail, for code outside the services'
/// own error enums.
#[derive(Debug)]
pub struct ApiProblem {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: String,
}

impl ApiProblem {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiProblem {
            status,
            code,
            detail: detail.into(),
        }
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        ApiProblem::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, detail)
    }
}

impl std::fmt::Display for ApiProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl ResponseError for ApiProblem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        problem_response(self.status, self.code, self.detail.clone())
    }
}

fn into_error(problem: ApiProblem) -> actix_web::Error {
    let response = problem.error_response();
    InternalError::from_response(problem, response).into()
}

/// JSON bodies: 64 KiB limit (413), `application/json` only (415), and every decoding failure,
/// unknown fields included, as 400 `validation_failed`.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(BODY_LIMIT_BYTES)
        .error_handler(|err, _req| into_error(json_problem(&err)))
}

fn json_problem(err: &JsonPayloadError) -> ApiProblem {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiProblem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("the body exceeds {BODY_LIMIT_BYTES} bytes"),
            )
        }
        JsonPayloadError::ContentType => ApiProblem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "the body must be application/json",
        ),
        JsonPayloadError::Payload(actix_web::error::PayloadError::Io(e))
            if e.kind() == std::io::ErrorKind::TimedOut =>
        {
            ApiProblem::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                e.to_string(),
            )
        }
        JsonPayloadError::Deserialize(e) => {
            ApiProblem::validation(format!("invalid JSON body: {e}"))
        }
        JsonPayloadError::Serialize(_) => ApiProblem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "internal error",
        ),
        other => ApiProblem::validation(format!("could not read the body: {other}")),
    }
}

/// Path parameters that do not parse (a course id that is not a UUID): 400 `validation_failed`.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        into_error(ApiProblem::validation(format!(
            "invalid path parameter: {err}"
        )))
    })
}

/// Query strings that do not parse: 400 `validation_failed`.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        into_error(ApiProblem::validation(format!(
            "invalid query string: {err}"
        )))
    })
}

/// The default service: 404 `not_found` for every unknown route.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    problem_response(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route for {} {}", req.method(), req.path()),
    )
}

/// Rewrites error responses that carry no JSON body into problem+json.
pub fn fallback<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(rewrite_as_problem)
}

fn rewrite_as_problem<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Problem bodies and deliberate JSON bodies (a 503 health report) are left as they are.
    let is_json = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(PROBLEM_CONTENT_TYPE.as_bytes()) || v.starts_with(b"application/json")
    });
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such resource".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            format!(
                "{} is not allowed on {}",
                res.request().method(),
                res.request().path()
            ),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "the body is too large".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "unsupported content type".to_owned(),
        ),
        StatusCode::TOO_MANY_REQUESTS => (ErrorCode::RateLimited, "too many requests".to_owned()),
        StatusCode::REQUEST_TIMEOUT => (
            ErrorCode::RequestTimeout,
            "the request arrived too slowly".to_owned(),
        ),
        s if s.is_server_error() => (ErrorCode::InternalError, "internal error".to_owned()),
        _ => (
            ErrorCode::ValidationFailed,
            "the request could not be processed".to_owned(),
        ),
    };
    let (req, old) = res.into_parts();
    let mut new = problem_response(status, code, detail);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}
