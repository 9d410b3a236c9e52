//! The order entity: what an order is, independent of how it travels (the wire
//! [`shared_types::Order`]) and of how it is kept (the embedded record, the PostgreSQL row). Owns
//! the order's fields, its status and failure values, and the conversion to the wire form; the
//! rules that change it are in [`super::rules`], the saga that drives it in [`super::saga`].

use super::{
    ids::{CourseId, OrderId, ReservationId, StudentId},
    rules::State,
    saga::Step,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_types::{CreateOrder, ErrorCode, OrderStatus, PaymentStatus};

/// The highest price a request may expect, in minor units.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000;

/// Where an order stands, as its student sees it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Status {
    Pending,
    /// Held, while the student pays.
    AwaitingPayment,
    Confirmed,
    Failed,
    Cancelled,
    /// The payment went back.
    Refunded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl From<Status> for OrderStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Pending => OrderStatus::Pending,
            Status::AwaitingPayment => OrderStatus::AwaitingPayment,
            Status::Confirmed => OrderStatus::Confirmed,
            Status::Failed => OrderStatus::Failed,
            Status::Cancelled => OrderStatus::Cancelled,
            Status::Refunded => OrderStatus::Refunded,
        }
    }
}

impl From<OrderStatus> for Status {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Pending => Status::Pending,
            OrderStatus::AwaitingPayment => Status::AwaitingPayment,
            OrderStatus::Confirmed => Status::Confirmed,
            OrderStatus::Failed => Status::Failed,
            OrderStatus::Cancelled => Status::Cancelled,
            OrderStatus::Refunded => Status::Refunded,
        }
    }
}

/// Why an order failed. The strings are the wire `failure_code`s, and what the stores keep.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Failure {
    SoldOut,
    PriceChanged,
    HoldLimitReached,
    CourseNotFound,
    /// The student already holds or bought a seat of the course.
    AlreadyEnrolled,
    ReservationExpired,
    ReservationCancelled,
    /// No seat could be held because course-service could not be reached, or the order gave up
    /// on a hold whose fate it could not learn.
    CourseServiceUnavailable,
    /// The student did not pay before the hold ended.
    PaymentNotCompleted,
    /// No checkout could be opened with the payment provider.
    PaymentProviderUnavailable,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The stable code this failure is published under.
    pub fn code(self) -> ErrorCode {
        match self {
            Failure::SoldOut => ErrorCode::SoldOut,
            Failure::PriceChanged => ErrorCode::PriceChanged,
            Failure::HoldLimitReached => ErrorCode::HoldLimitReached,
            Failure::CourseNotFound => ErrorCode::CourseNotFound,
            Failure::AlreadyEnrolled => ErrorCode::AlreadyEnrolled,
            Failure::ReservationExpired => ErrorCode::ReservationExpired,
            Failure::ReservationCancelled => ErrorCode::ReservationCancelled,
            Failure::CourseServiceUnavailable => ErrorCode::CourseServiceUnavailable,
            Failure::PaymentNotCompleted => ErrorCode::PaymentNotCompleted,
            Failure::PaymentProviderUnavailable => ErrorCode::PaymentProviderUnavailable,
        }
    }
}

/// The unit price course-service locked for the order's hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    pub cents: i64,
    pub currency: String,
}

/// An order's checkout with the payment provider, as order-service last learned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The provider's checkout session id (`cs_...`).
    pub session_id: String,
    /// Where the student pays, while the checkout is open.
    pub url: Option<String>,
    pub status: PaymentStatus,
    /// When the offer ends: the end of the seat's hold (order-service closes the checkout then).
    pub expires_at: DateTime<Utc>,
    /// The provider's payment (`pi_...`), once paid: what a refund refers to.
    pub payment_intent: Option<String>,
    /// The refund (`re_...`), once refunded.
    pub refund_id: Option<String>,
}

impl Payment {
    /// The wire form.
    pub fn to_wire(&self) -> shared_types::OrderPayment {
        shared_types::OrderPayment {
            provider: "stripe".into(),
            checkout_session_id: self.session_id.clone(),
            checkout_url: self
                .url
                .clone()
                .filter(|_| self.status == PaymentStatus::Open),
            status: self.status,
            expires_at: self.expires_at,
        }
    }

    /// Whether money was taken and not given back.
    pub fn holds_money(&self) -> bool {
        self.status == PaymentStatus::Paid
    }
}

/// A request to buy one seat, parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub student: StudentId,
    pub course: CourseId,
    /// The price the student saw; course-service refuses the hold at any other.
    pub expected_price_cents: Option<i64>,
}

/// A request that cannot become an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidOrder(pub String);

impl NewOrder {
    pub fn parse(student: &str, body: &CreateOrder) -> Result<NewOrder, InvalidOrder> {
        if body
            .expected_price_cents
            .is_some_and(|p| !(0..=MAX_PRICE_CENTS).contains(&p))
        {
            return Err(InvalidOrder(format!(
                "expected_price_cents must be 0..={MAX_PRICE_CENTS}"
            )));
        }
        Ok(NewOrder {
            student: StudentId::new(student),
            course: CourseId::from_uuid(body.course_id),
            expected_price_cents: body.expected_price_cents,
        })
    }
}

/// A student's purchase of one seat, and the step its saga is at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub student: StudentId,
    pub course: CourseId,
    pub reservation: ReservationId,
    pub expected_price_cents: Option<i64>,
    pub price: Option<Price>,
    /// When the seat's hold ends, as course-service answered the hold.
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// The checkout, when a payment is collected.
    pub payment: Option<Payment>,
    pub status: Status,
    pub failure: Option<Failure>,
    pub step: Step,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// A new order, recorded and not yet sent anywhere: its ids are chosen now, before any call.
    pub fn new(request: &NewOrder, now: DateTime<Utc>) -> Order {
        Order {
            id: OrderId::generate(),
            student: request.student.clone(),
            course: request.course,
            reservation: ReservationId::generate(),
            expected_price_cents: request.expected_price_cents,
            price: None,
            hold_expires_at: None,
            payment: None,
            status: Status::Pending,
            failure: None,
            step: Step::Recorded,
            created_at: now,
            updated_at: now,
        }
    }

    /// Its status and step, as the rules see them.
    pub fn state(&self) -> State {
        State {
            status: self.status,
            step: self.step,
        }
    }

    /// The wire form (what `GET /api/orders/{id}` shows).
    pub fn to_wire(&self) -> shared_types::Order {
        shared_types::Order {
            id: self.id.as_uuid(),
            student_id: self.student.as_str().to_owned(),
            course_id: self.course.as_uuid(),
            reservation_id: self.reservation.as_uuid(),
            unit_price_cents: self.price.as_ref().map(|p| p.cents),
            currency: self.price.as_ref().map(|p| p.currency.clone()),
            status: self.status.into(),
            failure_code: self.failure.map(Failure::code),
            payment: self.payment.as_ref().map(Payment::to_wire),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
