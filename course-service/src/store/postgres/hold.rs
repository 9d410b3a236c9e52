//! Holding a seat in PostgreSQL: the common case in one statement, and the full path that decides
//! every other answer (a replay, the hold limit, a changed price, a live reservation, no seat).

use super::{
    PgStore, batch,
    hold_batch::HoldSpec,
    rows::{currency_from, reservation_from},
    transactions::{Outcome, violates},
    transitions::{lock_reservation, settle},
    waitlist::{frees_a_seat, offer_freed_seats},
};
use crate::{
    domain::{BookError, CourseId, Held, HoldRequest, Reservation, ReservationId, Status, book},
    store::{Refusal, StoreError},
};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use std::sync::Arc;

impl PgStore {
    pub(super) async fn hold_seat(
        &self,
        course: CourseId,
        id: ReservationId,
        request: &HoldRequest,
    ) -> Result<Held, StoreError> {
        let now = self.now();
        let expires_at = now + self.hold_ttl;
        let max_holds = self.max_holds_per_student;
        let lifetime = self.offer_lifetime;
        let held_request = request.clone();
        let attempt: batch::Attempt<_> = Box::new(move |tx| {
            let request = held_request.clone();
            Box::pin(async move {
                let hold = (course, id, &request, now, expires_at, max_holds);
                let (outcome, entered) = match fast_hold(tx, hold).await? {
                    Some(outcome) => outcome,
                    None => try_hold(tx, course, id, &request, now, expires_at, max_holds).await?,
                };
                Ok(match outcome {
                    Outcome::Commit(r) => {
                        // The student's own lapsed hold, expired on the way, frees a seat: it
                        // goes to the waitlist in this transaction.
                        let offered = match frees_a_seat(&entered) {
                            true => offer_freed_seats(tx, course, now, lifetime).await?,
                            false => 0,
                        };
                        Outcome::Commit(Ok((r, entered, offered)))
                    }
                    Outcome::Rollback(r) => Outcome::Rollback(Ok((r, Vec::new(), 0))),
                })
            })
        });
        let together = batch::Together {
            spec: HoldSpec {
                id,
                request: request.clone(),
                now,
                expires_at,
                max_holds,
            },
            answer: |held| (Ok(held), vec![Status::Held], 0),
        };
        let (held, entered, offered) = self.batched_with(course, attempt, Some(together)).await?;
        entered.into_iter().for_each(|s| self.count(s));
        self.transitions.count_offers(offered);
        held
    }
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
           WHERE id = $1 AND seats_held + seats_sold + waitlist_length < seats_total \
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
/// One attempt at a hold, inside its transaction, deciding in the order every backend does (see
/// [`book::check_price`]): an unknown course, an id already used (replayed), the hold limit,
/// then the course's own rules; the seat is then taken by a conditional update.
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
    let Some(price) = course_price(tx, course).await? else {
        let refusal = Refusal::CourseNotFound.into();
        return Ok((Outcome::Commit(Err(refusal)), Vec::new()));
    };
    // A retry of a reserve call is answered from what is stored, whatever else changed since.
    if let Some(mut existing) = lock_reservation(tx, course, id).await? {
        let entered = settle(tx, course, id, &mut existing, now).await?;
        let answer = book::replay(&existing, request).map_err(StoreError::from);
        return Ok((Outcome::Commit(answer), entered));
    }
    if max_holds > 0 && holds_of(tx, student).await? >= max_holds {
        return Ok((Outcome::Commit(Err(limit(max_holds))), Vec::new()));
    }
    if let Err(refusal) = book::check_price(request, price) {
        return Ok((Outcome::Commit(Err(refusal.into())), Vec::new()));
    }
    // The student's live reservation of this course, if any, expired first if it lapsed.
    let (student_live, entered) = student_live(tx, course, student, now).await?;
    // The seat count is not needed to decide yet: the conditional update below takes one if any.
    if let Err(refusal) = book::check_seat(student_live, 1) {
        return Ok((Outcome::Commit(Err(refusal.into())), entered));
    }
    let seat = sqlx::query(
        "UPDATE courses SET seats_held = seats_held + 1 \
         WHERE id = $1 AND seats_held + seats_sold + waitlist_length < seats_total AND price_cents = $2 \
         RETURNING currency",
    )
    .bind(course)
    .bind(price)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(seat) = seat else {
        // No seat, or the price moved since it was read: decide again on what is there now.
        let now_price = course_price(tx, course).await?.unwrap_or(price);
        let refusal = book::check_price(request, now_price)
            .and_then(|()| book::check_seat(false, 0))
            .err()
            .unwrap_or(BookError::SoldOut);
        return Ok((Outcome::Commit(Err(refusal.into())), entered));
    };
    let currency: String = seat.try_get("currency")?;
    take_hold_slot_and_insert(
        tx,
        (course, id, request, now, expires_at, max_holds),
        price,
        &currency,
        entered,
    )
    .await
}

/// The course's price, or `None` when there is no such course.
async fn course_price(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT price_cents FROM courses WHERE id = $1")
        .bind(course)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| row.try_get("price_cents"))
        .transpose()
}

/// Whether `student` holds or bought a seat of `course` (a lapsed hold is expired first, and the
/// statuses that entered are returned with the answer).
async fn student_live(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    student: &str,
    now: DateTime<Utc>,
) -> Result<(bool, Vec<Status>), sqlx::Error> {
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
    let Some(row) = live else {
        return Ok((false, Vec::new()));
    };
    let other: ReservationId = row.try_get("id")?;
    let mut r = reservation_from(&row)?;
    let entered = settle(tx, course, other, &mut r, now).await?;
    Ok((r.is_live(), entered))
}

/// With the seat taken: counts the hold against the student's limit and writes the reservation.
async fn take_hold_slot_and_insert(
    tx: &mut Transaction<'static, Postgres>,
    (course, id, request, now, expires_at, max_holds): HoldArgs<'_>,
    price: i64,
    currency: &str,
    mut entered: Vec<Status>,
) -> Result<(Outcome<Held>, Vec<Status>), sqlx::Error> {
    let student: &str = &request.student;
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
    let held = new_hold(request, price, currency, now, expires_at)?;
    let inserted = sqlx::query(
        "INSERT INTO reservations (course_id, id, student_id, unit_price_cents, currency, \
         expected_price_cents, status, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'held', $7, $8, $8)",
    )
    .bind(course)
    .bind(id)
    .bind(student)
    .bind(price)
    .bind(currency)
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
    Refusal::HoldLimitReached { limit: max_holds }.into()
}
pub(super) async fn holds_of(
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
