//! Moving reservations in PostgreSQL: read, confirm (the common case in one statement), cancel
//! (an unknown id becomes a tombstone) and release, each decided by the pure reservation state
//! machine on a row locked `FOR UPDATE` and written back conditional on the status it was read in.

use super::{
    PgStore, batch,
    rows::{currency_from, reservation_from, status_text},
    transactions::{Outcome, unavailable},
    waitlist::{frees_a_seat, offer_freed_seats},
};
use crate::{
    domain::{
        BookError, CourseId, Reservation, ReservationId, SeatEffect, Status, TransitionError,
        book::TOMBSTONE_LIFETIME,
    },
    store::{Refusal, StoreError},
};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};

impl PgStore {
    /// Applies `change` to a reservation; changes go in a batch of their course's changes, a read
    /// (which may apply a lapsed hold's expiry) runs on its own.
    pub(super) async fn transition(
        &self,
        course: CourseId,
        id: ReservationId,
        change: Change,
    ) -> Result<Reservation, StoreError> {
        let now = self.now();
        let lifetime = self.offer_lifetime;
        let attempt: batch::Attempt<_> = Box::new(move |tx| {
            Box::pin(async move {
                let fast = match change {
                    Change::Confirm => fast_confirm(tx, course, id, now).await?,
                    Change::Read | Change::Cancel | Change::Release => None,
                };
                let (answer, entered) = match fast {
                    Some(confirmed) => (Ok(confirmed), vec![Status::Confirmed]),
                    None => try_transition(tx, course, id, change.step(), now).await?,
                };
                // A seat that came back goes to the waitlist in this same transaction.
                let offered = match frees_a_seat(&entered) {
                    true => offer_freed_seats(tx, course, now, lifetime).await?,
                    false => 0,
                };
                Ok(Outcome::Commit(Ok((answer, entered, offered))))
            })
        });
        let (result, entered, offered) = if change != Change::Read {
            self.batched(course, attempt).await?
        } else {
            self.in_transaction(attempt).await?
        };
        entered.into_iter().for_each(|s| self.count(s));
        self.transitions.count_offers(offered);
        result
    }

    pub(super) async fn cancel_or_tombstone(
        &self,
        course: CourseId,
        id: ReservationId,
    ) -> Result<Reservation, StoreError> {
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
            false => Refusal::CourseNotFound.into(),
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
pub(super) enum Change {
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
///
/// The status is compared with a parameter, not a literal: a literal `'held'` matches the partial
/// indexes on live reservations, which a young table's statistics made look as cheap as the
/// primary key, and the update then read every live reservation of the course to find one.
async fn fast_confirm(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Option<Reservation>, sqlx::Error> {
    let row = sqlx::query(concat!(
        "WITH r AS ( \
           UPDATE reservations SET status = 'confirmed', updated_at = $3 \
           WHERE course_id = $1 AND id = $2 AND status = $4 AND expires_at > $3 \
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
    .bind(Status::Held.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| reservation_from(&row)).transpose()
}
pub(super) async fn lock_reservation(
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
pub(super) async fn settle(
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
pub(super) async fn write_status(
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
