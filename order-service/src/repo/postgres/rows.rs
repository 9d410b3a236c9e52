//! The `orders` row and its conversion to the entity: decoded with `sqlx::FromRow`, its status,
//! step and failure strings parsed with the domain enums' `FromStr` (the strings the rule book's
//! types print). Nothing here runs a query.

use crate::{
    domain::{
        CourseId, Failure, Order, OrderId, Payment, Price, ReservationId, Status, Step, StudentId,
        rules::State,
    },
    repo::RepoError,
};
use chrono::{DateTime, Utc};
use std::str::FromStr;
use uuid::Uuid;

/// The columns [`OrderRow`] reads, for `SELECT` and `RETURNING` (a macro, so queries stay
/// literals).
macro_rules! order_columns {
    () => {
        "id, student_id, course_id, reservation_id, expected_price_cents, unit_price_cents, \
         currency, status, failure_code, step, hold_expires_at, payment, created_at, updated_at"
    };
}
pub(super) use order_columns;

/// One row of `orders`, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct OrderRow {
    id: Uuid,
    student_id: String,
    course_id: Uuid,
    reservation_id: Uuid,
    expected_price_cents: Option<i64>,
    unit_price_cents: Option<i64>,
    currency: Option<String>,
    status: String,
    failure_code: Option<String>,
    step: String,
    hold_expires_at: Option<DateTime<Utc>>,
    payment: Option<sqlx::types::Json<Payment>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A row of `UPDATE ... RETURNING` that also says whether the rules allowed the change.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct AppliedRow {
    pub allowed: bool,
    #[sqlx(flatten)]
    pub order: OrderRow,
}

/// A row of the cancellation request, with whether the caller took the lease.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct LeasedRow {
    pub leased: bool,
    #[sqlx(flatten)]
    pub order: OrderRow,
}

fn parse<T: FromStr>(what: &str, text: &str) -> Result<T, RepoError> {
    T::from_str(text).map_err(|_| RepoError::Corrupt(format!("unknown {what} {text:?}")))
}

impl TryFrom<OrderRow> for Order {
    type Error = RepoError;

    fn try_from(row: OrderRow) -> Result<Self, RepoError> {
        let price = match (row.unit_price_cents, row.currency) {
            (Some(cents), Some(currency)) => Some(Price { cents, currency }),
            _ => None,
        };
        Ok(Order {
            id: OrderId::from_uuid(row.id),
            student: StudentId::new(row.student_id),
            course: CourseId::from_uuid(row.course_id),
            reservation: ReservationId::from_uuid(row.reservation_id),
            expected_price_cents: row.expected_price_cents,
            price,
            hold_expires_at: row.hold_expires_at,
            payment: row.payment.map(|p| p.0),
            status: parse::<Status>("order status", &row.status)?,
            failure: row
                .failure_code
                .map(|code| parse::<Failure>("failure code", &code))
                .transpose()?,
            step: parse::<Step>("step", &row.step)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Orders from rows.
pub(super) fn orders(rows: Vec<OrderRow>) -> Result<Vec<Order>, RepoError> {
    rows.into_iter().map(Order::try_from).collect()
}

/// A state as the conditional updates compare it: `status/step`.
pub(super) fn state_key(state: State) -> String {
    format!("{}/{}", state.status.as_str(), state.step.as_str())
}
