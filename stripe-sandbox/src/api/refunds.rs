//! `/v1/refunds`: refund a paid session's PaymentIntent (all that is left, or `amount`),
//! retrieve and list refunds.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use super::{get, post, to_json};
use crate::error::ApiError;
use crate::events::RequestInfo;
use crate::form::Params;
use crate::model::List;
use crate::shared::Shared;
use crate::store::{NewRefund, Page};

const REASONS: [&str; 3] = ["duplicate", "fraudulent", "requested_by_customer"];

fn validate_create(mut p: Params, _shared: &Shared) -> Result<NewRefund, ApiError> {
    let payment_intent = p.take(&["payment_intent"]).filter(|v| !v.is_empty());
    let charge = p.take(&["charge"]).filter(|v| !v.is_empty());
    let amount = p.take_int(&["amount"])?;
    let reason = p.take(&["reason"]).filter(|v| !v.is_empty());
    let metadata = p.take_metadata(&["metadata"])?;
    p.finish()?;
    if payment_intent.is_none() && charge.is_none() {
        return Err(ApiError::invalid(
            "One of the following params should be provided for this request: payment_intent \
             or charge.",
        ));
    }
    if payment_intent.is_some() && charge.is_some() {
        return Err(ApiError::invalid_param(
            "charge",
            "You may only specify one of these parameters: charge, payment_intent.",
        ));
    }
    if amount.is_some_and(|a| a < 1) {
        return Err(ApiError::invalid_param(
            "amount",
            "This value must be greater than or equal to 1.",
        ));
    }
    if let Some(reason) = &reason
        && !REASONS.contains(&reason.as_str())
    {
        return Err(ApiError::invalid_param(
            "reason",
            format!("Invalid reason: must be one of {}", REASONS.join(", ")),
        ));
    }
    Ok(NewRefund {
        payment_intent,
        charge,
        amount,
        reason,
        metadata,
    })
}

async fn execute_create(
    shared: Arc<Shared>,
    new: NewRefund,
    request: RequestInfo,
) -> Result<String, ApiError> {
    let now = shared.now();
    let refund = shared.change(|state| state.create_refund(new, now, &request))?;
    to_json(&refund)
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
        to_json(shared.state.lock().refund(&path)?)
    })
}

pub async fn list(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    get(&req, &shared, |mut p| {
        let page = Page::from_params(&mut p)?;
        let intent = p.take(&["payment_intent"]).filter(|v| !v.is_empty());
        let charge = p.take(&["charge"]).filter(|v| !v.is_empty());
        p.finish()?;
        let state = shared.state.lock();
        let (data, has_more) = state.list_refunds(intent.as_deref(), charge.as_deref(), &page)?;
        to_json(&List::new(data, has_more, "/v1/refunds"))
    })
}
