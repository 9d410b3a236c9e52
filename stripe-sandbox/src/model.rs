//! The objects the API answers, field for field as Stripe names them: a Checkout Session, the
//! Charge behind a paid session's PaymentIntent, and a Refund. Each serializes to the JSON
//! Stripe sends; fields Stripe does not show are skipped.

use std::collections::BTreeMap;

use serde::Serialize;

/// `status` of a Checkout Session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }
}

/// `payment_status` of a Checkout Session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Paid,
    Unpaid,
}

/// One `line_items[N]` entry as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub name: String,
    pub currency: String,
    pub unit_amount: i64,
    pub quantity: i64,
}

/// A Checkout Session (`object: "checkout.session"`).
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub id: String,
    pub object: &'static str,
    pub amount_subtotal: i64,
    pub amount_total: i64,
    pub cancel_url: Option<String>,
    pub client_reference_id: Option<String>,
    pub created: i64,
    pub currency: String,
    pub customer_email: Option<String>,
    pub expires_at: i64,
    pub livemode: bool,
    pub metadata: BTreeMap<String, String>,
    pub mode: &'static str,
    pub payment_intent: Option<String>,
    pub payment_method_types: Vec<&'static str>,
    pub payment_status: PaymentStatus,
    pub status: SessionStatus,
    pub success_url: Option<String>,
    pub ui_mode: &'static str,
    /// The hosted page, while the session is open.
    pub url: Option<String>,
    #[serde(skip)]
    pub line_items: Vec<LineItem>,
    /// `payment_intent_data[metadata]`, given to the PaymentIntent when one is made.
    #[serde(skip)]
    pub payment_intent_metadata: BTreeMap<String, String>,
}

impl Session {
    /// What the hosted page calls the purchase: the line items' names.
    pub fn product_names(&self) -> String {
        let names: Vec<&str> = self.line_items.iter().map(|l| l.name.as_str()).collect();
        names.join(", ")
    }

    /// `success_url` with `{CHECKOUT_SESSION_ID}` replaced by the id, as Stripe does.
    pub fn success_redirect(&self) -> Option<String> {
        self.success_url
            .as_ref()
            .map(|u| u.replace("{CHECKOUT_SESSION_ID}", &self.id))
    }
}

/// The Charge of a paid session (`object: "charge"`), what a refund draws on.
#[derive(Debug, Clone, Serialize)]
pub struct Charge {
    pub id: String,
    pub object: &'static str,
    pub amount: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub captured: bool,
    pub created: i64,
    pub currency: String,
    pub livemode: bool,
    pub metadata: BTreeMap<String, String>,
    pub paid: bool,
    pub payment_intent: String,
    pub refunded: bool,
    pub status: &'static str,
}

impl Charge {
    /// What can still be refunded.
    pub fn refundable(&self) -> i64 {
        self.amount - self.amount_refunded
    }
}

/// A Refund (`object: "refund"`).
#[derive(Debug, Clone, Serialize)]
pub struct Refund {
    pub id: String,
    pub object: &'static str,
    pub amount: i64,
    pub charge: String,
    pub created: i64,
    pub currency: String,
    pub metadata: BTreeMap<String, String>,
    pub payment_intent: String,
    pub reason: Option<String>,
    pub status: &'static str,
}

/// Stripe's list object: `{"object": "list", "data", "has_more", "url"}`.
#[derive(Debug, Clone, Serialize)]
pub struct List<T> {
    pub object: &'static str,
    pub data: Vec<T>,
    pub has_more: bool,
    pub url: &'static str,
}

impl<T> List<T> {
    pub fn new(data: Vec<T>, has_more: bool, url: &'static str) -> Self {
        Self {
            object: "list",
            data,
            has_more,
            url,
        }
    }
}
