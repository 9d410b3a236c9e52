//! How rows of `courses` and `reservations` read back as domain values, and the column lists the
//! queries select (macros, so every query stays one literal).

use crate::domain::{CourseDetails, CourseId, CourseSnapshot, Currency, Reservation, Status};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, postgres::PgRow};
use std::sync::Arc;

/// The columns of `courses` that [`course_from`] reads (a macro, so queries stay literals).
macro_rules! course_columns {
    () => {
        "id, title, description, instructor_id, currency, price_cents, seats_total, seats_held, \
         seats_sold, waitlist_length, created_at, updated_at"
    };
}

/// The columns of `reservations` that [`reservation_from`] reads.
macro_rules! reservation_columns {
    () => {
        "student_id, unit_price_cents, currency, expected_price_cents, status, expires_at, \
         created_at, updated_at"
    };
}

pub(super) fn status_text(status: Status) -> &'static str {
    status.as_str()
}

pub(super) fn status_from(text: &str) -> Result<Status, sqlx::Error> {
    text.parse::<Status>()
        .map_err(|_| sqlx::Error::Decode(format!("unknown reservation status {text:?}").into()))
}

pub(super) fn currency_from(text: &str) -> Result<Currency, sqlx::Error> {
    Currency::parse(text).map_err(|e| sqlx::Error::Decode(e.0.into()))
}

/// A row of `courses`, as [`course_columns!`] selects it.
#[derive(sqlx::FromRow)]
struct CourseRow {
    id: CourseId,
    title: String,
    description: Option<String>,
    instructor_id: String,
    currency: String,
    price_cents: i64,
    seats_total: i32,
    seats_held: i32,
    seats_sold: i32,
    waitlist_length: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A row of `reservations`, as [`reservation_columns!`] selects it.
#[derive(sqlx::FromRow)]
struct ReservationRow {
    student_id: Option<String>,
    unit_price_cents: i64,
    currency: String,
    expected_price_cents: Option<i64>,
    status: String,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn seats(n: i32) -> Result<u32, sqlx::Error> {
    u32::try_from(n).map_err(|e| sqlx::Error::Decode(e.into()))
}

pub(super) fn course_from(row: &PgRow) -> Result<CourseSnapshot, sqlx::Error> {
    let row = CourseRow::from_row(row)?;
    Ok(CourseSnapshot {
        id: row.id,
        details: Arc::new(CourseDetails {
            title: row.title.into(),
            description: row.description.map(Into::into),
            instructor_id: row.instructor_id.into(),
            currency: currency_from(&row.currency)?,
        }),
        price_cents: row.price_cents,
        seats_total: seats(row.seats_total)?,
        seats_held: seats(row.seats_held)?,
        seats_sold: seats(row.seats_sold)?,
        waitlist_length: seats(row.waitlist_length)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub(super) fn reservation_from(row: &PgRow) -> Result<Reservation, sqlx::Error> {
    let row = ReservationRow::from_row(row)?;
    Ok(Reservation {
        student: row.student_id.map(Into::into),
        unit_price_cents: row.unit_price_cents,
        currency: currency_from(&row.currency)?,
        expected_price_cents: row.expected_price_cents,
        status: status_from(&row.status)?,
        expires_at: row.expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The id types are UUIDs in the database: encoded and decoded as such, so queries bind them
/// directly and a course id cannot be bound where a reservation id belongs without the compiler
/// seeing it.
macro_rules! uuid_column {
    ($id:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $id {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <uuid::Uuid as sqlx::Type<sqlx::Postgres>>::type_info()
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $id {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <uuid::Uuid as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_uuid(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $id {
            fn decode(
                value: sqlx::postgres::PgValueRef<'_>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <uuid::Uuid as sqlx::Decode<sqlx::Postgres>>::decode(value).map(<$id>::from)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $id {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <uuid::Uuid as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
    };
}

uuid_column!(crate::domain::CourseId);
uuid_column!(crate::domain::ReservationId);
uuid_column!(crate::domain::EntryId);
