//! Waitlists in PostgreSQL: joining and leaving (each in its course's batch, so under the course
//! row's lock like every seat change), reading entries, and [`offer_freed_seats`], which every
//! transaction that frees a seat runs before it commits.

use super::{
    PgStore, batch,
    transactions::{Outcome, unavailable},
    transitions::{lock_reservation, settle, write_status},
};
use crate::{
    domain::{
        BookError, CourseId, EntryId, Reservation, ReservationId, SeatEffect, Status,
        book::seats_for_buyers,
        waitlist::{EntryStatus, WaitEntry},
    },
    store::{Refusal, StoreError, Waiting},
};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Postgres, Row, Transaction, postgres::PgRow};
use std::sync::Arc;

/// The columns [`entry_from`] reads, with the entry's place in its queue.
macro_rules! entry_columns {
    () => {
        "w.id, w.course_id, w.student_id, w.status, w.reservation_id, w.joined, w.created_at, \
         w.updated_at, CASE WHEN w.status = 'waiting' THEN (SELECT count(*) FROM waitlist_entries q \
         WHERE q.course_id = w.course_id AND q.status = 'waiting' AND q.joined <= w.joined) END \
         AS position"
    };
}

fn entry_from(row: &PgRow) -> Result<Waiting, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let status = EntryStatus::parse(&status)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown entry status {status:?}").into()))?;
    let student: String = row.try_get("student_id")?;
    let joined: i64 = row.try_get("joined")?;
    let position: Option<i64> = row.try_get("position")?;
    Ok(Waiting {
        course: row.try_get("course_id")?,
        position: position.and_then(|p| u32::try_from(p).ok()),
        entry: WaitEntry {
            id: row.try_get("id")?,
            student: Arc::from(student),
            status,
            reservation: row.try_get::<Option<ReservationId>, _>("reservation_id")?,
            joined: u64::try_from(joined).unwrap_or(0),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
    })
}

/// Hands the course's free seats to its first waiting students (holds until `now + lifetime`);
/// returns how many were offered. Run in every transaction that frees a seat.
pub(super) async fn offer_freed_seats(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    now: DateTime<Utc>,
    lifetime: TimeDelta,
) -> Result<u64, sqlx::Error> {
    let offered: i32 = sqlx::query_scalar(
        "SELECT offer_freed_seats($1, $2, make_interval(secs => $3::double precision))",
    )
    .bind(course)
    .bind(now)
    .bind(lifetime.num_milliseconds() as f64 / 1000.0)
    .fetch_one(&mut **tx)
    .await?;
    Ok(u64::try_from(offered).unwrap_or(0))
}

/// Whether a status a reservation entered gave its seat back.
pub(super) fn frees_a_seat(entered: &[Status]) -> bool {
    entered
        .iter()
        .any(|s| matches!(s, Status::Expired | Status::Cancelled | Status::Released))
}

impl PgStore {
    pub(super) async fn join(
        &self,
        course: CourseId,
        student: &Arc<str>,
    ) -> Result<(Waiting, bool), StoreError> {
        let now = self.now();
        let lifetime = self.offer_lifetime;
        let student = Arc::clone(student);
        let attempt: batch::Attempt<_> = Box::new(move |tx| {
            let student = Arc::clone(&student);
            Box::pin(async move {
                let answer = try_join(tx, course, &student, now).await?;
                let offered = match &answer.1 {
                    true => offer_freed_seats(tx, course, now, lifetime).await?,
                    false => 0,
                };
                Ok(Outcome::Commit(Ok((answer.0, offered))))
            })
        });
        let (joined, offered) = self.batched(course, attempt).await?;
        self.transitions.count_offers(offered);
        joined
    }

    pub(super) async fn entry(&self, id: EntryId) -> Result<Waiting, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM waitlist_entries w WHERE w.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        match row {
            Some(row) => entry_from(&row).map_err(unavailable),
            None => Err(BookError::EntryNotFound.into()),
        }
    }

    pub(super) async fn entries_of(&self, student: &str) -> Result<Vec<Waiting>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM waitlist_entries w WHERE w.student_id = $1 ORDER BY w.created_at, w.id"
        ))
        .bind(student)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(entry_from)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    pub(super) async fn leave(&self, id: EntryId, student: &str) -> Result<Waiting, StoreError> {
        let found = self.entry(id).await?;
        if &*found.entry.student != student {
            return Err(BookError::EntryNotFound.into());
        }
        let course = found.course;
        let now = self.now();
        let lifetime = self.offer_lifetime;
        let attempt: batch::Attempt<_> = Box::new(move |tx| {
            Box::pin(async move {
                let entered = try_leave(tx, course, id, now).await?;
                let offered = match frees_a_seat(&entered) {
                    true => offer_freed_seats(tx, course, now, lifetime).await?,
                    false => 0,
                };
                Ok(Outcome::Commit(Ok((entered, offered))))
            })
        });
        let (entered, offered) = self.batched(course, attempt).await?;
        entered.into_iter().for_each(|s| self.count(s));
        self.transitions.count_offers(offered);
        self.entry(id).await
    }
}

/// One attempt at joining, in the course's batch (its row locked first): the answer, and whether
/// a seat may have come back on the way (the student's lapsed hold expired).
async fn try_join(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    student: &str,
    now: DateTime<Utc>,
) -> Result<(Result<(Waiting, bool), StoreError>, bool), sqlx::Error> {
    if !lock_course(tx, course).await? {
        return Ok((Err(Refusal::CourseNotFound.into()), false));
    }
    let live: Option<(ReservationId,)> = sqlx::query_as(
        "SELECT id FROM reservations WHERE course_id = $1 AND student_id = $2 \
         AND status IN ('held', 'confirmed')",
    )
    .bind(course)
    .bind(student)
    .fetch_optional(&mut **tx)
    .await?;
    let mut freed = false;
    if let Some((live,)) = live
        && let Some(mut r) = lock_reservation(tx, course, live).await?
    {
        freed = !settle(tx, course, live, &mut r, now).await?.is_empty();
        if r.is_live() {
            return Ok((Err(BookError::AlreadyEnrolled.into()), freed));
        }
    }
    let open = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM waitlist_entries w WHERE w.course_id = $1 AND w.student_id = $2 \
         AND w.status IN ('waiting', 'offered')"
    ))
    .bind(course)
    .bind(student)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(open) = open {
        return Ok((Ok((entry_from(&open)?, false)), freed));
    }
    let counts = sqlx::query(
        "SELECT seats_total - seats_held - seats_sold AS free, waitlist_length FROM courses \
         WHERE id = $1",
    )
    .bind(course)
    .fetch_one(&mut **tx)
    .await?;
    let free: i32 = counts.try_get("free")?;
    let waiting: i32 = counts.try_get("waitlist_length")?;
    let for_buyers = seats_for_buyers(
        u32::try_from(free).unwrap_or(0),
        u32::try_from(waiting).unwrap_or(0),
    );
    if for_buyers > 0 {
        return Ok((Err(BookError::SeatsAvailable.into()), freed));
    }
    sqlx::query(
        "INSERT INTO waitlist_entries (id, course_id, student_id, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'waiting', $4, $4)",
    )
    .bind(EntryId::new_v7())
    .bind(course)
    .bind(student)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE courses SET waitlist_length = waitlist_length + 1 WHERE id = $1")
        .bind(course)
        .execute(&mut **tx)
        .await?;
    let joined = sqlx::query(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM waitlist_entries w WHERE w.course_id = $1 AND w.student_id = $2 \
         AND w.status = 'waiting'"
    ))
    .bind(course)
    .bind(student)
    .fetch_one(&mut **tx)
    .await?;
    Ok((Ok((entry_from(&joined)?, true)), freed))
}

/// One attempt at leaving, in the course's batch: a waiting entry leaves the queue; an offered
/// one gives its seat up (its hold cancelled, unless it lapsed first: then it stays lapsed).
/// Returns the statuses reservations entered.
async fn try_leave(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: EntryId,
    now: DateTime<Utc>,
) -> Result<Vec<Status>, sqlx::Error> {
    lock_course(tx, course).await?;
    let row: Option<(String, Option<ReservationId>)> = sqlx::query_as(
        "SELECT status, reservation_id FROM waitlist_entries WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((status, reservation)) = row else {
        return Ok(Vec::new());
    };
    let mut entered = Vec::new();
    match (EntryStatus::parse(&status), reservation) {
        (Some(EntryStatus::Waiting), _) => {
            sqlx::query(
                "UPDATE waitlist_entries SET status = 'left', updated_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE courses SET waitlist_length = waitlist_length - 1 WHERE id = $1")
                .bind(course)
                .execute(&mut **tx)
                .await?;
        }
        (Some(EntryStatus::Offered), Some(reservation)) => {
            let Some(mut r) = lock_reservation(tx, course, reservation).await? else {
                return Ok(entered);
            };
            // A lapsed offer ends as lapsed (the trigger marks the entry), not left.
            entered = settle(tx, course, reservation, &mut r, now).await?;
            if r.status == Status::Held {
                sqlx::query(
                    "UPDATE waitlist_entries SET status = 'left', updated_at = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                give_up(tx, course, reservation, &mut r, now).await?;
                entered.push(Status::Cancelled);
            }
        }
        _ => {}
    }
    Ok(entered)
}

/// Cancels an offer's hold that its student gave up.
async fn give_up(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    id: ReservationId,
    r: &mut Reservation,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let before = r.status;
    let effect = r
        .cancel(now)
        .map_err(|e| sqlx::Error::Protocol(format!("offer {id} cannot be cancelled: {e}")))?;
    debug_assert_eq!(effect, SeatEffect::HeldToAvailable);
    write_status(tx, course, id, before, r, effect).await
}

/// Locks the course row (what every seat change of the course takes first); false when there is
/// no such course.
async fn lock_course(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 FROM courses WHERE id = $1 FOR UPDATE")
            .bind(course)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}
