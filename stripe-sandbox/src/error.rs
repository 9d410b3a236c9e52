//! Stripe's error object and statuses: every refusal the API gives is an [`ApiError`], answered as
//! `{"error": {"type", "code"?, "message", "param"?}}` with the status Stripe uses for it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

/// One refusal, as Stripe words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// `error.type`: `invalid_request_error`, `idempotency_error`, `api_error`.
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
}

const INVALID: &str = "invalid_request_error";

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            message: message.into(),
            param: None,
        }
    }

    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, INVALID, message)
    }

    /// 400 `invalid_request_error` about one parameter.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::invalid(message).with_param(param)
    }

    pub fn unknown_param(param: &str) -> Self {
        Self::invalid_param(param, format!("Received unknown parameter: {param}"))
            .with_code("parameter_unknown")
    }

    pub fn missing_param(param: &str) -> Self {
        Self::invalid_param(param, format!("Missing required param: {param}."))
            .with_code("parameter_missing")
    }

    pub fn invalid_integer(param: &str, value: &str) -> Self {
        Self::invalid_param(param, format!("Invalid integer: {value}"))
            .with_code("parameter_invalid_integer")
    }

    /// 404 `resource_missing`: `No such <object>: '<id>'`.
    pub fn no_such(object: &str, id: &str, param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            INVALID,
            format!("No such {object}: '{id}'"),
        )
        .with_code("resource_missing")
        .with_param(param)
    }

    /// 401 for a missing or wrong secret key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, INVALID, message)
    }

    /// 400 `idempotency_error`: the key was first used for another request.
    pub fn idempotency(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "idempotency_error", message)
    }

    /// 409 `idempotency_key_in_use`: the first request with the key is still executing.
    pub fn key_in_use() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_error",
            "There is currently another in-progress request using this Idempotency Key (that \
             probably means you submitted twice, and the other request is still going through). \
             Please try again later.",
        )
        .with_code("idempotency_key_in_use")
    }

    /// 500 `api_error`.
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "An unknown error occurred",
        )
    }

    /// 404 for a path the API does not have.
    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            INVALID,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs \
                 or we can help at https://support.stripe.com/."
            ),
        )
    }

    /// The JSON body: `{"error": {...}}`.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        json!({ "error": error })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_only_the_fields_that_are_set() {
        let e = ApiError::unknown_param("line_items[0][x]");
        assert_eq!(
            e.body(),
            json!({"error": {
                "type": "invalid_request_error",
                "code": "parameter_unknown",
                "message": "Received unknown parameter: line_items[0][x]",
                "param": "line_items[0][x]"
            }})
        );
        assert_eq!(
            ApiError::server_error().body(),
            json!({"error": {"type": "api_error", "message": "An unknown error occurred"}})
        );
    }
}
