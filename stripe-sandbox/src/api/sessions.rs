//! `/v1/checkout/sessions`: create (payment mode, `price_data` line items), retrieve, list and
//! expire Checkout Sessions.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use super::session_form::{NewSession, validate_create};
use super::{get, post, to_json};
use crate::error::ApiError;
use crate::events::RequestInfo;
use crate::model::{List, SessionStatus};
use crate::shared::Shared;
use crate::store::{CreateFault, Page};

async fn execute_create(
    shared: Arc<Shared>,
    new: NewSession,
    _request: RequestInfo,
) -> Result<String, ApiError> {
    let fault = shared.state.lock().create_fault;
    match fault {
        CreateFault::None => {}
        CreateFault::Error500 => return Err(ApiError::server_error()),
        CreateFault::Hang(duration) => tokio::time::sleep(duration).await,
    }
    let session = new.session;
    let text = to_json(&session)?;
    shared.change(|state| state.insert_session(session));
    Ok(text)
}

pub async fn create(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    post(
        req,
        body,
        shared.into_inner(),
        validate_create,
        execute_create,
    )
    .await
}

pub async fn retrieve(
    req: HttpRequest,
    path: web::Path<String>,
    shared: web::Data<Shared>,
) -> HttpResponse {
    get(&req, &shared, |p| {
        p.finish()?;
        to_json(shared.state.lock().session(&path)?)
    })
}

pub async fn list(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    get(&req, &shared, |mut p| {
        let page = Page::from_params(&mut p)?;
        let intent = p.take(&["payment_intent"]).filter(|v| !v.is_empty());
        let status = match p.take(&["status"]).as_deref() {
            None | Some("") => None,
            Some("open") => Some(SessionStatus::Open),
            Some("complete") => Some(SessionStatus::Complete),
            Some("expired") => Some(SessionStatus::Expired),
            Some(other) => {
                return Err(ApiError::invalid_param(
                    "status",
                    format!(
                        "Invalid status: must be one of open, complete, or expired (got {other})"
                    ),
                ));
            }
        };
        p.finish()?;
        let state = shared.state.lock();
        let (data, has_more) = state.list_sessions(intent.as_deref(), status, &page)?;
        to_json(&List::new(data, has_more, "/v1/checkout/sessions"))
    })
}

pub async fn expire(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let id = path.into_inner();
    post(
        req,
        body,
        shared.into_inner(),
        |p, _| p.finish(),
        move |shared, (), request| async move {
            let now = shared.now();
            let session = shared.change(|state| state.expire_session(&id, now, &request))?;
            to_json(&session)
        },
    )
    .await
}
