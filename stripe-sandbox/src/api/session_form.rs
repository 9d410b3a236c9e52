//! The parameters of `POST /v1/checkout/sessions` as Stripe takes them: payment mode,
//! `line_items[N]` with `price_data` (`currency`, `unit_amount`, `product_data[name]`) and
//! `quantity`, the URLs, `client_reference_id`, `customer_email`, `metadata`,
//! `payment_intent_data[metadata]` and `expires_at` within 30 minutes to 24 hours; anything else is
//! refused with Stripe's error for it.

use std::collections::BTreeMap;

use crate::currency;
use crate::error::ApiError;
use crate::form::Params;
use crate::ids;
use crate::model::{LineItem, PaymentStatus, Session, SessionStatus};
use crate::shared::Shared;

/// Stripe's window for `expires_at`, in seconds after creation.
const MIN_EXPIRY: i64 = 30 * 60;
const MAX_EXPIRY: i64 = 24 * 60 * 60;
/// The largest amount Stripe takes in one payment, in minor units.
const MAX_AMOUNT: i64 = 99_999_999;
const MAX_LINE_ITEMS: usize = 100;

type Raw = BTreeMap<&'static str, Option<String>>;

/// Reads `line_items[N]`: only `price_data[currency|unit_amount|product_data][name]` and
/// `quantity`.
fn take_line_items(params: &mut Params) -> Result<Vec<(String, Raw)>, ApiError> {
    let indices = params.indices(&["line_items"])?;
    if indices.len() > MAX_LINE_ITEMS {
        return Err(ApiError::invalid_param(
            "line_items",
            format!("You may only specify up to {MAX_LINE_ITEMS} line items."),
        ));
    }
    let mut items = Vec::new();
    for index in indices {
        let n = index.to_string();
        let mut raw = Raw::new();
        let fields: [(&'static str, &[&str]); 4] = [
            ("currency", &["price_data", "currency"]),
            ("unit_amount", &["price_data", "unit_amount"]),
            ("name", &["price_data", "product_data", "name"]),
            ("quantity", &["quantity"]),
        ];
        for (field, path) in fields {
            let mut full = vec!["line_items", n.as_str()];
            full.extend_from_slice(path);
            raw.insert(field, params.take(&full));
        }
        items.push((format!("line_items[{n}]"), raw));
    }
    Ok(items)
}

fn check_line_item(prefix: &str, raw: &Raw) -> Result<LineItem, ApiError> {
    let field = |name: &str| raw.get(name).cloned().flatten().filter(|v| !v.is_empty());
    let currency = field("currency")
        .ok_or_else(|| ApiError::missing_param(&format!("{prefix}[price_data][currency]")))?;
    currency::check(&currency, &format!("{prefix}[price_data][currency]"))?;
    let amount_param = format!("{prefix}[price_data][unit_amount]");
    let unit_amount = field("unit_amount").ok_or_else(|| ApiError::missing_param(&amount_param))?;
    let unit_amount: i64 = unit_amount
        .parse()
        .map_err(|_| ApiError::invalid_integer(&amount_param, &unit_amount))?;
    if !(0..=MAX_AMOUNT).contains(&unit_amount) {
        return Err(ApiError::invalid_param(
            &amount_param,
            format!("This value must be greater than or equal to 0 and at most {MAX_AMOUNT}."),
        ));
    }
    let name = field("name").ok_or_else(|| {
        ApiError::missing_param(&format!("{prefix}[price_data][product_data][name]"))
    })?;
    let quantity_param = format!("{prefix}[quantity]");
    let quantity = field("quantity").ok_or_else(|| {
        ApiError::invalid_param(
            &quantity_param,
            format!("Quantity is required. Add `quantity` to `{prefix}`."),
        )
        .with_code("parameter_missing")
    })?;
    let quantity: i64 = quantity
        .parse()
        .map_err(|_| ApiError::invalid_integer(&quantity_param, &quantity))?;
    if !(1..=999_999).contains(&quantity) {
        return Err(ApiError::invalid_param(
            &quantity_param,
            "This value must be greater than or equal to 1 and at most 999999.",
        ));
    }
    Ok(LineItem {
        name,
        currency,
        unit_amount,
        quantity,
    })
}

fn check_url(param: &str, url: &str) -> Result<(), ApiError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
    if !host_ok || url.len() > 5000 || url.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid_param(param, "Not a valid URL"));
    }
    Ok(())
}

/// A session to create, as validated.
pub struct NewSession {
    pub session: Session,
}

pub fn validate_create(mut p: Params, shared: &Shared) -> Result<NewSession, ApiError> {
    let now = shared.now();
    let mode = p.take(&["mode"]);
    let items = take_line_items(&mut p)?;
    let success_url = p.take(&["success_url"]).filter(|v| !v.is_empty());
    let cancel_url = p.take(&["cancel_url"]).filter(|v| !v.is_empty());
    let client_reference_id = p.take(&["client_reference_id"]).filter(|v| !v.is_empty());
    let customer_email = p.take(&["customer_email"]).filter(|v| !v.is_empty());
    let expires_at = p.take_int(&["expires_at"])?;
    let metadata = p.take_metadata(&["metadata"])?;
    let intent_metadata = p.take_metadata(&["payment_intent_data", "metadata"])?;
    p.take(&["payment_intent_data"])
        .filter(|v| !v.is_empty())
        .map_or(Ok(()), |_| {
            Err(ApiError::invalid_param(
                "payment_intent_data",
                "Invalid object: payment_intent_data must be a hash",
            ))
        })?;
    p.finish()?;

    match mode.as_deref() {
        None | Some("") => return Err(ApiError::missing_param("mode")),
        Some("payment") => {}
        Some("setup" | "subscription") => {
            return Err(ApiError::invalid_param(
                "mode",
                "This sandbox supports only mode=payment.",
            ));
        }
        Some(_) => {
            return Err(ApiError::invalid_param(
                "mode",
                "Invalid mode: must be one of payment, setup, or subscription",
            ));
        }
    }
    if items.is_empty() {
        return Err(ApiError::invalid_param(
            "line_items",
            "`line_items` is required in `payment` mode.",
        )
        .with_code("parameter_missing"));
    }
    let mut line_items = Vec::with_capacity(items.len());
    for (prefix, raw) in &items {
        line_items.push(check_line_item(prefix, raw)?);
    }
    let currency = line_items[0].currency.clone();
    if let Some((i, _)) = line_items
        .iter()
        .enumerate()
        .find(|(_, l)| l.currency != currency)
    {
        return Err(ApiError::invalid_param(
            &format!("line_items[{i}][price_data][currency]"),
            "All line items must have the same currency.",
        ));
    }
    let total = line_items.iter().try_fold(0i64, |sum, l| {
        l.unit_amount
            .checked_mul(l.quantity)
            .and_then(|a| sum.checked_add(a))
    });
    let total = total.filter(|t| *t <= MAX_AMOUNT).ok_or_else(|| {
        ApiError::invalid(format!(
            "The Checkout Session's total amount due must be no more than {}.",
            currency::format(MAX_AMOUNT, &currency)
        ))
        .with_code("amount_too_large")
    })?;
    let success_url = success_url.ok_or_else(|| ApiError::missing_param("success_url"))?;
    check_url("success_url", &success_url)?;
    if let Some(url) = &cancel_url {
        check_url("cancel_url", url)?;
    }
    if client_reference_id
        .as_ref()
        .is_some_and(|c| c.chars().count() > 200)
    {
        return Err(ApiError::invalid_param(
            "client_reference_id",
            "client_reference_id must be at most 200 characters long.",
        ));
    }
    if let Some(email) = &customer_email {
        let valid = email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !email.chars().any(char::is_whitespace)
        });
        if !valid {
            return Err(ApiError::invalid_param(
                "customer_email",
                format!("Invalid email address: {email}"),
            ));
        }
    }
    let expires_at = match expires_at {
        None => now + MAX_EXPIRY,
        Some(at) if at - now < MIN_EXPIRY => {
            return Err(ApiError::invalid_param(
                "expires_at",
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session \
                 creation.",
            ));
        }
        Some(at) if at - now > MAX_EXPIRY => {
            return Err(ApiError::invalid_param(
                "expires_at",
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session \
                 creation.",
            ));
        }
        Some(at) => at,
    };
    let id = ids::session();
    let session = Session {
        url: Some(shared.hosted_url(&id)),
        id,
        object: "checkout.session",
        amount_subtotal: total,
        amount_total: total,
        cancel_url,
        client_reference_id,
        created: now,
        currency,
        customer_email,
        expires_at,
        livemode: false,
        metadata,
        mode: "payment",
        payment_intent: None,
        payment_method_types: vec!["card"],
        payment_status: PaymentStatus::Unpaid,
        status: SessionStatus::Open,
        success_url: Some(success_url),
        ui_mode: "hosted",
        line_items,
        payment_intent_metadata: intent_metadata,
    };
    Ok(NewSession { session })
}
