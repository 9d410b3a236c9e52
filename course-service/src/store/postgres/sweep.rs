//! The expiry sweep in PostgreSQL: due holds taken in batches with `FOR UPDATE SKIP LOCKED`, so
//! any number of replicas sweep side by side without waiting on each other; then tombstones past
//! their time are forgotten.

use super::{
    PgStore,
    transactions::{Outcome, unavailable},
    waitlist::offer_freed_seats,
};
use crate::{
    domain::{CourseId, Status},
    store::{StoreError, SweepReport},
};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Postgres, Row, Transaction};
use std::collections::BTreeMap;

/// Holds expired per sweep transaction.
const SWEEP_BATCH: i64 = 1000;

impl PgStore {
    pub(super) async fn sweep_due(&self) -> Result<SweepReport, StoreError> {
        let now = self.now();
        let lifetime = self.offer_lifetime;
        let mut report = SweepReport::default();
        loop {
            let (expired, offered) = self
                .in_transaction(|tx| Box::pin(async move { expire_batch(tx, now, lifetime).await }))
                .await?;
            report.due += expired;
            report.expired += expired;
            self.transitions.count_many(Status::Expired, expired as u64);
            self.transitions.count_offers(offered);
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
}

/// Expires up to [`SWEEP_BATCH`] due holds that no other transaction has locked, and returns
/// their seats, course by course and student by student in id order; then hands the freed seats
/// to the courses' waitlists. Answers how many expired and how many seats were offered.
async fn expire_batch(
    tx: &mut Transaction<'static, Postgres>,
    now: DateTime<Utc>,
    lifetime: TimeDelta,
) -> Result<Outcome<(usize, u64)>, sqlx::Error> {
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
    let mut offered = 0;
    for course in per_course.keys() {
        offered += offer_freed_seats(tx, *course, now, lifetime).await?;
    }
    Ok(Outcome::Commit(Ok((rows.len(), offered))))
}
