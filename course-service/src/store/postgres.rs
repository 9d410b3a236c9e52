//! The PostgreSQL store: every replica of course-service on one database.
//!
//! Seat safety lives in SQL, not in any process: a seat is taken by a conditional update
//! (`seats_held + seats_sold < seats_total`), CHECK constraints keep the counters inside the
//! capacity, a partial unique index allows one live reservation per student and course, the
//! primary key makes a reservation id single-use per course, and a student's holds across courses
//! are counted by a conditional upsert. Which transition is legal is still decided by the pure
//! [`Reservation`] state machine, on a row locked `FOR UPDATE`, and written back with
//! `UPDATE ... WHERE status = <the status it was read in>`.
//!
//! Holds and transitions of one course are group-committed ([`batch`]): the changes waiting for a
//! course run in one transaction, each in its own savepoint, so the course row is locked and the
//! commit synced once per batch rather than once per seat. Transactions are short and no lock is
//! ever held across an HTTP call; one that loses a race (a deadlock, an insert of the same id) is
//! run again. The expiry sweep takes due holds in batches with `FOR UPDATE SKIP
//! LOCKED`, so any number of replicas may sweep at once without waiting on each other.
//!
//! Times are kept to the microsecond, as PostgreSQL stores them, so an answer read back from the
//! database equals the one given when the change was made.

mod batch;

use super::{SeatStore, StoreError};
use crate::{
    clock::Clock,
    domain::{
        BookError, CourseDetails, CourseId, CourseSnapshot, Currency, Held, HoldRequest, NewCourse,
        Reservation, ReservationId, SeatEffect, Status, TransitionError, book::TOMBSTONE_LIFETIME,
    },
    expiry::SweepReport,
    inventory::{InventoryError, Totals},
    metrics::TransitionCounters,
};
use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use service_kit::postgres::{self, PgSettings};
use sqlx::{PgPool, Postgres, Row, Transaction, migrate::Migrator, postgres::PgRow};
use std::{collections::BTreeMap, sync::Arc};

/// Holds expired per sweep transaction.
const SWEEP_BATCH: i64 = 1000;

/// How often a transaction that lost a race (a deadlock, a serialization failure, a concurrent
/// insert of the same id) is run again before the request fails.
const ATTEMPTS: usize = 3;

/// course-service state in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    hold_ttl: TimeDelta,
    max_holds_per_student: u32,
    transitions: TransitionCounters,
    batches: Arc<batch::Batcher>,
}

/// The columns of `courses` that [`course_from`] reads (a macro, so queries stay literals).
macro_rules! course_columns {
    () => {
        "id, title, description, instructor_id, currency, price_cents, seats_total, seats_held, \
         seats_sold, created_at, updated_at"
    };
}

/// The columns of `reservations` that [`reservation_from`] reads.
macro_rules! reservation_columns {
    () => {
        "student_id, unit_price_cents, currency, expected_price_cents, status, expires_at, \
         created_at, updated_at"
    };
}

impl PgStore {
    /// Connects, runs the embedded migrations and refuses a schema newer than this binary.
    pub async fn connect(
        settings: &PgSettings,
        clock: Arc<dyn Clock>,
        hold_ttl: TimeDelta,
        max_holds_per_student: u32,
    ) -> anyhow::Result<Self> {
        let pool = postgres::connect(settings, "course-service", migrator()).await?;
        Ok(PgStore {
            batches: batch::Batcher::new(pool.clone()),
            pool,
            clock,
            hold_ttl,
            max_holds_per_student,
            transitions: TransitionCounters::default(),
        })
    }

    /// Now, to the microsecond.
    fn now(&self) -> DateTime<Utc> {
        let now = self.clock.now();
        DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    }

    /// Runs `attempt` in a transaction, again (up to [`ATTEMPTS`] times) when it lost a race.
    async fn in_transaction<T, F>(&self, mut attempt: F) -> Result<T, StoreError>
    where
        F: for<'t> FnMut(
            &'t mut Transaction<'static, Postgres>,
        )
            -> futures::future::BoxFuture<'t, Result<Outcome<T>, sqlx::Error>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut tx = self.pool.begin().await.map_err(unavailable)?;
            match attempt(&mut tx).await {
                Ok(Outcome::Commit(value)) => {
                    tx.commit().await.map_err(unavailable)?;
                    return value;
                }
                Ok(Outcome::Rollback(value)) => {
                    tx.rollback().await.map_err(unavailable)?;
                    return value;
                }
                Err(e) if tries < ATTEMPTS && retryable(&e) => continue,
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    fn count(&self, status: Status) {
        let t = &self.transitions;
        match status {
            Status::Held => t.held.inc(),
            Status::Confirmed => t.confirmed.inc(),
            Status::Cancelled => t.cancelled.inc(),
            Status::Expired => t.expired.inc(),
            Status::Released => t.released.inc(),
        };
    }

    /// Runs `attempt` in the next batch of `course`'s changes (or on its own, when it lost a race
    /// inside the batch).
    async fn batched<T: Send + 'static>(
        &self,
        course: CourseId,
        attempt: batch::Attempt<T>,
    ) -> Result<T, StoreError> {
        match self.batches.run(course, attempt).await {
            batch::Answer::Done(answer) => answer,
            batch::Answer::Alone(attempt) => self.in_transaction(attempt).await,
        }
    }

    /// Applies `change` to a reservation; changes go in a batch of their course's changes, a read
    /// (which may apply a lapsed hold's expiry) runs on its own.
    async fn transition(
        &self,
        course: CourseId,
        id: ReservationId,
        change: Change,
    ) -> Result<Reservation, StoreError> {
        let now = self.now();
        let attempt: batch::Attempt<_> = Box::new(move |tx| {
            Box::pin(async move {
                let fast = match change {
                    Change::Confirm => fast_confirm(tx, course, id, now).await?,
                    Change::Read | Change::Cancel | Change::Release => None,
                };
                let moved = match fast {
                    Some(confirmed) => (Ok(confirmed), vec![Status::Confirmed]),
                    None => try_transition(tx, course, id, change.step(), now).await?,
                };
                Ok(Outcome::Commit(Ok(moved)))
            })
        });
        let (result, entered) = if change != Change::Read {
            self.batched(course, attempt).await?
        } else {
            self.in_transaction(attempt).await?
        };
        entered.into_iter().for_each(|s| self.count(s));
        result
    }
}

/// One attempt at a transition, inside its transaction: the answer, and the statuses entered.
async fn try_transition(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
    step: Step,
    now: DateTime<Utc>,
) -> Result<(Result<Reservation, StoreError>, Vec<Status>), sqlx::Error> {
    let Some(mut r) = lock_reservation(tx, course, id).await? else {
        let refusal = match course_exists(tx, course).await? {
            true => BookError::ReservationNotFound.into(),
            false => InventoryError::CourseNotFound.into(),
        };
        return Ok((Err(refusal), Vec::new()));
    };
    let mut entered = settle(tx, course, id, &mut r, now).await?;
    let before = r.status;
    let outcome = match step(&mut r, now) {
        Ok(effect) => {
            write_status(tx, course, id, before, &r, effect).await?;
            if effect != SeatEffect::None {
                entered.push(r.status);
            }
            Ok(r)
        }
        Err(e) => Err(StoreError::from(BookError::Transition(e))),
    };
    Ok((outcome, entered))
}

/// A transition of the reservation state machine.
type Step = fn(&mut Reservation, DateTime<Utc>) -> Result<SeatEffect, TransitionError>;

/// What a call does to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Read,
    Confirm,
    Cancel,
    Release,
}

impl Change {
    fn step(self) -> Step {
        match self {
            Change::Read => |_, _| Ok(SeatEffect::None),
            Change::Confirm => Reservation::confirm,
            Change::Cancel => Reservation::cancel,
            Change::Release => Reservation::release,
        }
    }
}

/// The common confirm in one statement: a hold that has not lapsed becomes confirmed and its seat
/// sold. `None` when the reservation is anything else; [`try_transition`] then decides.
async fn fast_confirm(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>, sqlx::Error> {
    let row = sqlx::query(concat!(
        "WITH r AS ( \
           UPDATE reservations SET status = 'confirmed', updated_at = $3 \
           WHERE course_id = $1 AND id = $2 AND status = 'held' AND expires_at > $3 \
           RETURNING ",
        reservation_columns!(),
        "), seat AS ( \
           UPDATE courses SET seats_held = seats_held - 1, seats_sold = seats_sold + 1 \
           WHERE id = $1 AND EXISTS (SELECT 1 FROM r)), \
         counted AS ( \
           UPDATE student_holds SET holds = holds - 1 \
           WHERE student_id = (SELECT student_id FROM r) AND holds > 0) \
         SELECT * FROM r"
    ))
    .bind(course)
    .bind(id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| reservation_from(&row)).transpose()
}

/// What [`fast_hold`] needs: course, id, request, now, expiry and the per-student hold limit.
type HoldArgs<'a> = (
    CourseId,
    ReservationId,
    &'a HoldRequest,
    DateTime<Utc>,
    DateTime<Utc>,
    u32,
);

/// The common hold in one statement: a new id, a student with no live reservation of the course
/// and under the hold limit, the expected price, a free seat. `None` when any of that is not so
/// (nothing changed then); [`try_hold`] then decides.
async fn fast_hold(
    tx: &mut Transaction<'static, Postgres>,
    (course, id, request, now, expires_at, max_holds): HoldArgs<'_>,
) -> Result<Option<(Outcome<Held>, Vec<Status>)>, sqlx::Error> {
    let max = i32::try_from(max_holds).unwrap_or(i32::MAX);
    let row = sqlx::query(
        "WITH seat AS ( \
           UPDATE courses SET seats_held = seats_held + 1 \
           WHERE id = $1 AND seats_held + seats_sold < seats_total \
             AND ($4::bigint IS NULL OR price_cents = $4) \
             AND NOT EXISTS (SELECT 1 FROM reservations WHERE course_id = $1 AND id = $2) \
             AND NOT EXISTS (SELECT 1 FROM reservations WHERE course_id = $1 \
                             AND student_id = $3 AND status IN ('held', 'confirmed')) \
             AND ($7 = 0 OR coalesce( \
                   (SELECT holds FROM student_holds WHERE student_id = $3), 0) < $7) \
           RETURNING price_cents, currency), \
         counted AS ( \
           INSERT INTO student_holds (student_id, holds) SELECT $3, 1 FROM seat WHERE $7 > 0 \
           ON CONFLICT (student_id) DO UPDATE SET holds = student_holds.holds + 1 \
           WHERE student_holds.holds < $7 RETURNING holds), \
         reserved AS ( \
           INSERT INTO reservations (course_id, id, student_id, unit_price_cents, currency, \
             expected_price_cents, status, expires_at, created_at, updated_at) \
           SELECT $1, $2, $3, price_cents, currency, $4, 'held', $5, $6, $6 FROM seat \
           WHERE $7 = 0 OR EXISTS (SELECT 1 FROM counted) \
           RETURNING unit_price_cents, currency) \
         SELECT EXISTS (SELECT 1 FROM seat) AS seat, \
                (SELECT unit_price_cents FROM reserved) AS price, \
                (SELECT currency FROM reserved) AS currency",
    )
    .bind(course)
    .bind(id)
    .bind(&*request.student)
    .bind(request.expected_price_cents)
    .bind(expires_at)
    .bind(now)
    .bind(max)
    .fetch_one(&mut **tx)
    .await;
    let row = match row {
        Ok(row) => row,
        // Another request of the same student won the race for this course.
        Err(e) if violates(&e, "one_live_reservation_per_student") => {
            let refusal = BookError::AlreadyHolding.into();
            return Ok(Some((Outcome::Rollback(Err(refusal)), Vec::new())));
        }
        Err(e) => return Err(e),
    };
    let seat: bool = row.try_get("seat")?;
    let price: Option<i64> = row.try_get("price")?;
    let currency: Option<String> = row.try_get("currency")?;
    match (seat, price, currency) {
        (true, Some(price), Some(currency)) => {
            let held = new_hold(request, price, &currency, now, expires_at)?;
            Ok(Some((Outcome::Commit(Ok(held)), vec![Status::Held])))
        }
        (true, _, _) => {
            // The student's counter moved under the statement (another course's hold, on another
            // replica): give the seat back, and let the full path answer.
            sqlx::query("UPDATE courses SET seats_held = seats_held - 1 WHERE id = $1")
                .bind(course)
                .execute(&mut **tx)
                .await?;
            Ok(None)
        }
        (false, _, _) => Ok(None),
    }
}

/// What a transaction attempt decided: keep its writes or drop them, and the answer.
enum Outcome<T> {
    Commit(Result<T, StoreError>),
    Rollback(Result<T, StoreError>),
}

/// The schema, embedded from `course-service/migrations`.
fn migrator() -> Migrator {
    sqlx::migrate!("./migrations")
}

fn unavailable(e: sqlx::Error) -> StoreError {
    tracing::error!(error = %e, "database call failed");
    StoreError::Unavailable(format!("database: {e}"))
}

/// Errors worth running the transaction again for.
fn retryable(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    // deadlock_detected, serialization_failure, and the primary key raced by a concurrent insert.
    matches!(db.code().as_deref(), Some("40P01" | "40001"))
        || db.constraint() == Some("reservations_pkey")
}

fn violates(e: &sqlx::Error, constraint: &str) -> bool {
    e.as_database_error()
        .is_some_and(|db| db.constraint() == Some(constraint))
}

fn status_text(status: Status) -> &'static str {
    status.as_str()
}

fn status_from(text: &str) -> Result<Status, sqlx::Error> {
    Ok(match text {
        "held" => Status::Held,
        "confirmed" => Status::Confirmed,
        "cancelled" => Status::Cancelled,
        "expired" => Status::Expired,
        "released" => Status::Released,
        other => {
            return Err(sqlx::Error::Decode(
                format!("unknown reservation status {other:?}").into(),
            ));
        }
    })
}

fn currency_from(text: &str) -> Result<Currency, sqlx::Error> {
    Currency::parse(text).map_err(|e| sqlx::Error::Decode(e.0.into()))
}

fn seats_from(row: &PgRow, column: &str) -> Result<u32, sqlx::Error> {
    let n: i32 = row.try_get(column)?;
    u32::try_from(n).map_err(|e| sqlx::Error::Decode(e.into()))
}

fn course_from(row: &PgRow) -> Result<CourseSnapshot, sqlx::Error> {
    let currency: String = row.try_get("currency")?;
    let title: String = row.try_get("title")?;
    let description: Option<String> = row.try_get("description")?;
    let instructor: String = row.try_get("instructor_id")?;
    Ok(CourseSnapshot {
        id: row.try_get("id")?,
        details: Arc::new(CourseDetails {
            title: title.into(),
            description: description.map(Into::into),
            instructor_id: instructor.into(),
            currency: currency_from(&currency)?,
        }),
        price_cents: row.try_get("price_cents")?,
        seats_total: seats_from(row, "seats_total")?,
        seats_held: seats_from(row, "seats_held")?,
        seats_sold: seats_from(row, "seats_sold")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn reservation_from(row: &PgRow) -> Result<Reservation, sqlx::Error> {
    let student: Option<String> = row.try_get("student_id")?;
    let currency: String = row.try_get("currency")?;
    let status: String = row.try_get("status")?;
    Ok(Reservation {
        student: student.map(Into::into),
        unit_price_cents: row.try_get("unit_price_cents")?,
        currency: currency_from(&currency)?,
        expected_price_cents: row.try_get("expected_price_cents")?,
        status: status_from(&status)?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn lock_reservation(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
) -> Result<Option<Reservation>, sqlx::Error> {
    sqlx::query(concat!(
        "SELECT ",
        reservation_columns!(),
        " FROM reservations \
         WHERE course_id = $1 AND id = $2 FOR UPDATE"
    ))
    .bind(course)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|row| reservation_from(&row))
    .transpose()
}

async fn course_exists(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM courses WHERE id = $1")
        .bind(course)
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

/// Expires `r` in the database if its hold lapsed at `now`; returns the status it entered.
async fn settle(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
    r: &mut Reservation,
    now: DateTime<Utc>,
) -> Result<Vec<Status>, sqlx::Error> {
    let before = r.status;
    let effect = r.expire(now);
    if effect == SeatEffect::None {
        return Ok(Vec::new());
    }
    write_status(tx, course, id, before, r, effect).await?;
    Ok(vec![Status::Expired])
}

/// Writes `r`'s new status (conditional on the one it was read in) and moves its seat.
async fn write_status(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
    before: Status,
    r: &Reservation,
    effect: SeatEffect,
) -> Result<(), sqlx::Error> {
    if effect == SeatEffect::None && r.status == before {
        return Ok(());
    }
    let updated = sqlx::query(
        "UPDATE reservations SET status = $3, updated_at = $4 \
         WHERE course_id = $1 AND id = $2 AND status = $5",
    )
    .bind(course)
    .bind(id)
    .bind(status_text(r.status))
    .bind(r.updated_at)
    .bind(status_text(before))
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() != 1 {
        // The row is locked by this transaction, so this cannot happen; refuse to go on if it does.
        return Err(sqlx::Error::Protocol(format!(
            "reservation {id} left status {} under its lock",
            before.as_str()
        )));
    }
    let (held, sold) = match effect {
        SeatEffect::None => return Ok(()),
        SeatEffect::HeldToSold => (-1, 1),
        SeatEffect::HeldToAvailable => (-1, 0),
        SeatEffect::SoldToAvailable => (0, -1),
    };
    sqlx::query(
        "UPDATE courses SET seats_held = seats_held + $2, seats_sold = seats_sold + $3 \
         WHERE id = $1",
    )
    .bind(course)
    .bind(held)
    .bind(sold)
    .execute(&mut **tx)
    .await?;
    if held < 0
        && let Some(student) = &r.student
    {
        sqlx::query(
            "UPDATE student_holds SET holds = holds - 1 WHERE student_id = $1 AND holds > 0",
        )
        .bind(student.as_ref())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The answer to a reserve call for an id already stored: a replay, a conflict or a tombstone.
fn replay(existing: Reservation, request: &HoldRequest) -> Result<Held, StoreError> {
    if existing.is_tombstone() {
        return Err(BookError::CancelledBeforeReserved.into());
    }
    let same_body = existing.student.as_deref() == Some(&*request.student)
        && existing.expected_price_cents == request.expected_price_cents;
    if same_body {
        Ok(Held {
            reservation: existing,
            created: false,
        })
    } else {
        Err(BookError::IdempotencyConflict.into())
    }
}

/// One attempt at a hold, inside its transaction.
async fn try_hold(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
    request: &HoldRequest,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    max_holds: u32,
) -> Result<(Outcome<Held>, Vec<Status>), sqlx::Error> {
    let student: &str = &request.student;
    // A retry of a reserve call is answered from what is stored, whatever else changed since.
    if let Some(mut existing) = lock_reservation(tx, course, id).await? {
        let entered = settle(tx, course, id, &mut existing, now).await?;
        return Ok((Outcome::Commit(replay(existing, request)), entered));
    }
    if max_holds > 0 && holds_of(tx, student).await? >= max_holds {
        return Ok((Outcome::Commit(Err(limit(max_holds))), Vec::new()));
    }
    let Some(row) = sqlx::query("SELECT price_cents, currency FROM courses WHERE id = $1")
        .bind(course)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok((
            Outcome::Commit(Err(InventoryError::CourseNotFound.into())),
            Vec::new(),
        ));
    };
    let price: i64 = row.try_get("price_cents")?;
    if let Some(expected) = request.expected_price_cents
        && expected != price
    {
        let refusal = BookError::PriceChanged { price_cents: price };
        return Ok((Outcome::Commit(Err(refusal.into())), Vec::new()));
    }
    // The student's live reservation of this course, if any, expired first if it lapsed.
    let mut entered = Vec::new();
    let live = sqlx::query(concat!(
        "SELECT id, ",
        reservation_columns!(),
        " FROM reservations \
         WHERE course_id = $1 AND student_id = $2 AND status IN ('held', 'confirmed') FOR UPDATE"
    ))
    .bind(course)
    .bind(student)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = live {
        let other: ReservationId = row.try_get("id")?;
        let mut r = reservation_from(&row)?;
        entered = settle(tx, course, other, &mut r, now).await?;
        if r.is_live() {
            let refusal = BookError::AlreadyHolding.into();
            return Ok((Outcome::Commit(Err(refusal)), entered));
        }
    }
    let seat = sqlx::query(
        "UPDATE courses SET seats_held = seats_held + 1 \
         WHERE id = $1 AND seats_held + seats_sold < seats_total AND price_cents = $2 \
         RETURNING currency",
    )
    .bind(course)
    .bind(price)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(seat) = seat else {
        // No seat, or the price moved since it was read: say which.
        let now_price: i64 = sqlx::query("SELECT price_cents FROM courses WHERE id = $1")
            .bind(course)
            .fetch_one(&mut **tx)
            .await?
            .try_get("price_cents")?;
        let refusal = match request.expected_price_cents {
            Some(expected) if expected != now_price => BookError::PriceChanged {
                price_cents: now_price,
            },
            _ => BookError::SoldOut,
        };
        return Ok((Outcome::Commit(Err(refusal.into())), entered));
    };
    let currency: String = seat.try_get("currency")?;
    if max_holds > 0 {
        let counted = sqlx::query(
            "INSERT INTO student_holds (student_id, holds) VALUES ($1, 1) \
             ON CONFLICT (student_id) DO UPDATE SET holds = student_holds.holds + 1 \
             WHERE student_holds.holds < $2 RETURNING holds",
        )
        .bind(student)
        .bind(i32::try_from(max_holds).unwrap_or(i32::MAX))
        .fetch_optional(&mut **tx)
        .await?;
        if counted.is_none() {
            return Ok((Outcome::Rollback(Err(limit(max_holds))), Vec::new()));
        }
    }
    let held = new_hold(request, price, &currency, now, expires_at)?;
    let inserted = sqlx::query(
        "INSERT INTO reservations (course_id, id, student_id, unit_price_cents, currency, \
         expected_price_cents, status, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'held', $7, $8, $8)",
    )
    .bind(course)
    .bind(id)
    .bind(student)
    .bind(price)
    .bind(&currency)
    .bind(request.expected_price_cents)
    .bind(expires_at)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => {
            entered.push(Status::Held);
            Ok((Outcome::Commit(Ok(held)), entered))
        }
        // Another request of the same student won the race for this course.
        Err(e) if violates(&e, "one_live_reservation_per_student") => Ok((
            Outcome::Rollback(Err(BookError::AlreadyHolding.into())),
            Vec::new(),
        )),
        Err(e) => Err(e),
    }
}

/// The answer to a hold just written.
fn new_hold(
    request: &HoldRequest,
    price: i64,
    currency: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Held, sqlx::Error> {
    let reservation = Reservation::hold(
        Arc::clone(&request.student),
        (price, currency_from(currency)?),
        request.expected_price_cents,
        now,
        expires_at,
    );
    Ok(Held {
        reservation,
        created: true,
    })
}

fn limit(max_holds: u32) -> StoreError {
    InventoryError::HoldLimitReached { limit: max_holds }.into()
}

async fn holds_of(
    tx: &mut Transaction<'static, Postgres>,
    student: &str,
) -> Result<u32, sqlx::Error> {
    let holds: Option<i32> = sqlx::query("SELECT holds FROM student_holds WHERE student_id = $1")
        .bind(student)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| row.try_get("holds"))
        .transpose()?;
    Ok(holds.map_or(0, |h| u32::try_from(h).unwrap_or(0)))
}

#[async_trait]
impl SeatStore for PgStore {
    async fn create_course(&self, course: NewCourse) -> Result<CourseSnapshot, StoreError> {
        let now = self.now();
        let row = sqlx::query(concat!(
            "INSERT INTO courses (id, title, description, instructor_id, currency, price_cents, \
             seats_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             RETURNING ",
            course_columns!()
        ))
        .bind(uuid::Uuid::now_v7())
        .bind(course.details.title.as_ref())
        .bind(course.details.description.as_deref())
        .bind(course.details.instructor_id.as_ref())
        .bind(course.details.currency.as_str())
        .bind(course.price_cents)
        .bind(i32::try_from(course.seats).unwrap_or(i32::MAX))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        course_from(&row).map_err(unavailable)
    }

    async fn course(&self, id: CourseId) -> Result<CourseSnapshot, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            course_columns!(),
            " FROM courses WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .ok_or(InventoryError::CourseNotFound)?;
        course_from(&row).map_err(unavailable)
    }

    async fn list_courses(
        &self,
        instructor: Option<&str>,
        after: Option<CourseId>,
        limit: usize,
    ) -> Result<(Vec<CourseSnapshot>, bool), StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            course_columns!(),
            " FROM courses \
             WHERE ($1::text IS NULL OR instructor_id = $1) AND ($2::uuid IS NULL OR id > $2) \
             ORDER BY id LIMIT $3"
        ))
        .bind(instructor)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let more = rows.len() > limit;
        let page = rows
            .iter()
            .take(limit)
            .map(course_from)
            .collect::<Result<_, _>>()
            .map_err(unavailable)?;
        Ok((page, more))
    }

    async fn set_price(
        &self,
        id: CourseId,
        owner: &str,
        price_cents: i64,
    ) -> Result<CourseSnapshot, StoreError> {
        let now = self.now();
        let row = sqlx::query(concat!(
            "UPDATE courses SET price_cents = $3, updated_at = $4 \
             WHERE id = $1 AND instructor_id = $2 RETURNING ",
            course_columns!()
        ))
        .bind(id)
        .bind(owner)
        .bind(price_cents)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match row {
            Some(row) => course_from(&row).map_err(unavailable),
            None => {
                self.course(id).await?;
                Err(BookError::NotOwner.into())
            }
        }
    }

    async fn set_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<CourseSnapshot, StoreError> {
        let now = self.now();
        let row = sqlx::query(concat!(
            "UPDATE courses SET seats_total = $3, updated_at = $4 \
             WHERE id = $1 AND instructor_id = $2 AND seats_held + seats_sold <= $3 \
             RETURNING ",
            course_columns!()
        ))
        .bind(id)
        .bind(owner)
        .bind(i32::try_from(total).unwrap_or(i32::MAX))
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        if let Some(row) = row {
            return course_from(&row).map_err(unavailable);
        }
        let course = self.course(id).await?;
        if &*course.details.instructor_id != owner {
            return Err(BookError::NotOwner.into());
        }
        Err(BookError::SeatsBelowCommitted {
            committed: course.seats_held + course.seats_sold,
        }
        .into())
    }

    async fn hold(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Held, StoreError> {
        let now = self.now();
        let expires_at = now + self.hold_ttl;
        let max_holds = self.max_holds_per_student;
        let request = request.clone();
        let attempt: batch::Attempt<_> = Box::new(move |tx| {
            let request = request.clone();
            Box::pin(async move {
                let hold = (course, id, &request, now, expires_at, max_holds);
                let (outcome, entered) = match fast_hold(tx, hold).await? {
                    Some(outcome) => outcome,
                    None => try_hold(tx, course, id, &request, now, expires_at, max_holds).await?,
                };
                Ok(match outcome {
                    Outcome::Commit(r) => Outcome::Commit(Ok((r, entered))),
                    Outcome::Rollback(r) => Outcome::Rollback(Ok((r, Vec::new()))),
                })
            })
        });
        let (held, entered) = self.batched(course, attempt).await?;
        entered.into_iter().for_each(|s| self.count(s));
        held
    }

    async fn reservation(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        self.transition(course, id, Change::Read).await
    }

    async fn confirm(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        self.transition(course, id, Change::Confirm).await
    }

    async fn cancel(&self, course: CourseId, id: ReservationId) -> Result<Reservation, StoreError> {
        let now = self.now();
        // An unknown id becomes a tombstone, so that a reserve call arriving late cannot take a
        // seat under it; a concurrent hold or cancel of the same id wins the insert instead.
        let tombstone = sqlx::query(
            "INSERT INTO reservations (course_id, id, student_id, unit_price_cents, currency, \
             status, expires_at, created_at, updated_at) \
             SELECT id, $2, NULL, price_cents, currency, 'cancelled', $3, $4, $4 \
             FROM courses WHERE id = $1 \
             ON CONFLICT (course_id, id) DO NOTHING \
             RETURNING unit_price_cents, currency",
        )
        .bind(course)
        .bind(id)
        .bind(now + TOMBSTONE_LIFETIME)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        if let Some(row) = tombstone {
            let currency: String = row.try_get("currency").map_err(unavailable)?;
            return Ok(Reservation::tombstone(
                (
                    row.try_get("unit_price_cents").map_err(unavailable)?,
                    currency_from(&currency).map_err(unavailable)?,
                ),
                now,
                now + TOMBSTONE_LIFETIME,
            ));
        }
        self.transition(course, id, Change::Cancel).await
    }

    async fn release(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
        self.transition(course, id, Change::Release).await
    }

    async fn sweep(&self) -> Result<SweepReport, StoreError> {
        let now = self.now();
        let mut report = SweepReport::default();
        loop {
            let expired = self
                .in_transaction(|tx| Box::pin(async move { expire_batch(tx, now).await }))
                .await?;
            report.due += expired;
            report.expired += expired;
            self.transitions.expired.inc_by(expired as u64);
            if (expired as i64) < SWEEP_BATCH {
                break;
            }
        }
        sqlx::query(
            "DELETE FROM reservations WHERE (course_id, id) IN (SELECT course_id, id \
             FROM reservations WHERE student_id IS NULL AND expires_at <= $1 LIMIT 10000)",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(report)
    }

    async fn totals(&self) -> Result<Totals, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS courses, coalesce(sum(seats_total), 0)::bigint AS total, \
             coalesce(sum(seats_held), 0)::bigint AS held, \
             coalesce(sum(seats_sold), 0)::bigint AS sold, \
             (SELECT count(*) FROM reservations WHERE status = 'held') AS backlog \
             FROM courses",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let get = |column: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get(column).map_err(unavailable)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let (total, held, sold) = (get("total")?, get("held")?, get("sold")?);
        Ok(Totals {
            courses: get("courses")?,
            seats_total: total,
            seats_available: total.saturating_sub(held + sold),
            seats_held: held,
            seats_sold: sold,
            expiry_backlog: get("backlog")?,
        })
    }

    fn transitions(&self) -> TransitionCounters {
        self.transitions.clone()
    }

    fn live(&self) -> bool {
        true
    }

    async fn ready(&self) -> (&'static str, bool) {
        ("database", postgres::answers(&self.pool).await)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every answer was given after its commit; nothing is buffered.
        self.pool.close().await;
        Ok(())
    }

    async fn check_invariants(&self) -> Result<(), String> {
        let broken: Vec<String> = sqlx::query(
            "SELECT c.id::text || ': held ' || c.seats_held || ' sold ' || c.seats_sold \
             || ' total ' || c.seats_total || ' but reservations held ' \
             || coalesce(r.held, 0) || ' sold ' || coalesce(r.sold, 0) AS problem \
             FROM courses c LEFT JOIN ( \
               SELECT course_id, count(*) FILTER (WHERE status = 'held') AS held, \
                      count(*) FILTER (WHERE status = 'confirmed') AS sold \
               FROM reservations GROUP BY course_id) r ON r.course_id = c.id \
             WHERE c.seats_held <> coalesce(r.held, 0) OR c.seats_sold <> coalesce(r.sold, 0) \
                OR c.seats_held + c.seats_sold > c.seats_total",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|row| row.try_get("problem"))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
        if !broken.is_empty() {
            return Err(broken.join("; "));
        }
        if self.max_holds_per_student > 0 {
            let miscounted: i64 = sqlx::query(
                "SELECT count(*) AS n FROM ( \
                   SELECT student_id, count(*) AS holds FROM reservations \
                   WHERE status = 'held' GROUP BY student_id) r \
                 FULL JOIN student_holds s USING (student_id) \
                 WHERE coalesce(r.holds, 0) <> coalesce(s.holds, 0)",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(|e| e.to_string())?
            .try_get("n")
            .map_err(|e| e.to_string())?;
            if miscounted > 0 {
                return Err(format!("{miscounted} students' hold counts disagree"));
            }
        }
        Ok(())
    }

    async fn holds_of(&self, student: &str) -> Result<u32, StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let holds = holds_of(&mut tx, student).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(holds)
    }
}

/// Expires up to [`SWEEP_BATCH`] due holds that no other transaction has locked, and returns
/// their seats, course by course and student by student in id order.
async fn expire_batch(
    tx: &mut Transaction<'static, Postgres>,
    now: DateTime<Utc>,
) -> Result<Outcome<usize>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH due AS ( \
           SELECT course_id, id FROM reservations \
           WHERE status = 'held' AND expires_at <= $1 \
           ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE reservations r SET status = 'expired', updated_at = $1 \
         FROM due WHERE r.course_id = due.course_id AND r.id = due.id \
         RETURNING r.course_id, r.student_id",
    )
    .bind(now)
    .bind(SWEEP_BATCH)
    .fetch_all(&mut **tx)
    .await?;
    let mut per_course: BTreeMap<CourseId, i32> = BTreeMap::new();
    let mut per_student: BTreeMap<String, i32> = BTreeMap::new();
    for row in &rows {
        *per_course.entry(row.try_get("course_id")?).or_default() += 1;
        let student: Option<String> = row.try_get("student_id")?;
        if let Some(student) = student {
            *per_student.entry(student).or_default() += 1;
        }
    }
    for (course, n) in &per_course {
        sqlx::query("UPDATE courses SET seats_held = seats_held - $2 WHERE id = $1")
            .bind(course)
            .bind(n)
            .execute(&mut **tx)
            .await?;
    }
    if !per_student.is_empty() {
        let (students, counts): (Vec<String>, Vec<i32>) = per_student.into_iter().unzip();
        sqlx::query(
            "UPDATE student_holds s SET holds = greatest(s.holds - d.n, 0) \
             FROM (SELECT * FROM unnest($1::text[], $2::int[]) AS t(student_id, n) \
                   ORDER BY student_id) d \
             WHERE s.student_id = d.student_id",
        )
        .bind(&students)
        .bind(&counts)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Outcome::Commit(Ok(rows.len())))
}
