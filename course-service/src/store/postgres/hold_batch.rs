//! Many holds of one course in one statement. A batch's holds are mostly the common case (a new
//! id, a student with no live reservation of the course and under the hold limit, the expected
//! price, a free seat); taking them one statement and one savepoint each made a popular course's
//! seats cost two round trips apiece while its row stayed locked. [`hold_together`] takes them all
//! with one statement: `unnest` turns the batch into rows, the same checks as the single hold
//! pick the ones that pass (the first of each student and of each id, in batch order, while seats
//! last), and the seats, the students' hold counters and the reservations are written together.
//! The database's constraints still guard every row. A hold the statement does not take is left
//! untouched, to be decided on its own by the full path: replays, refusals and races keep exactly
//! the answers they have alone.
//!
//! A hold alone keeps its own one-row statement (`fast_hold`): for one hold this statement's
//! `unnest` and joins cost more than they save (hold + confirm over 100 courses, mostly batches
//! of one, ran at 1,386-1,396 pairs/s through it against 1,712-1,953 through `fast_hold`).
//!
//! The two reservation checks end in `OFFSET 0`, which keeps each a lookup per hold in its index
//! (the primary key, the live-reservation index): flattened into joins, a freshly filled table's
//! estimates had them scan every reservation of the course once per hold.

use super::rows::currency_from;
use crate::domain::{CourseId, Held, HoldRequest, Reservation, ReservationId};
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use std::sync::Arc;
use uuid::Uuid;

/// A hold as the set statement takes it.
#[derive(Debug, Clone)]
pub(super) struct HoldSpec {
    pub id: ReservationId,
    pub request: HoldRequest,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The per-student hold limit; 0 for none.
    pub max_holds: u32,
}

/// Takes a seat for every hold in `holds` that the common case covers, inside `tx` (which has
/// locked the course row). Answers, in the order of `holds`, the new hold or `None` for a hold
/// left to the full path. Fails as a whole, changing nothing, when the statement fails.
pub(super) async fn hold_together(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    holds: &[&HoldSpec],
) -> Result<Vec<Option<Held>>, sqlx::Error> {
    let Some(first) = holds.first() else {
        return Ok(Vec::new());
    };
    let max = i32::try_from(first.max_holds).unwrap_or(i32::MAX);
    let ids: Vec<Uuid> = holds.iter().map(|h| h.id.as_uuid()).collect();
    let students: Vec<&str> = holds.iter().map(|h| &*h.request.student).collect();
    let expected: Vec<Option<i64>> = holds
        .iter()
        .map(|h| h.request.expected_price_cents)
        .collect();
    let expiries: Vec<DateTime<Utc>> = holds.iter().map(|h| h.expires_at).collect();
    let nows: Vec<DateTime<Utc>> = holds.iter().map(|h| h.now).collect();
    let rows = sqlx::query(
        "WITH req AS ( \
           SELECT * FROM unnest($2::uuid[], $3::text[], $4::bigint[], $5::timestamptz[], \
                                $6::timestamptz[]) \
             WITH ORDINALITY AS r(id, student, expected, expires_at, at, ord)), \
         course AS ( \
           SELECT price_cents, currency, \
                  seats_total - seats_held - seats_sold - waitlist_length AS free \
           FROM courses WHERE id = $1), \
         eligible AS ( \
           SELECT r.* FROM req r CROSS JOIN course c \
           WHERE (r.expected IS NULL OR r.expected = c.price_cents) \
             AND NOT EXISTS (SELECT 1 FROM req o WHERE o.ord < r.ord \
                             AND (o.student = r.student OR o.id = r.id)) \
             AND NOT EXISTS (SELECT 1 FROM reservations x \
                             WHERE x.course_id = $1 AND x.id = r.id OFFSET 0) \
             AND NOT EXISTS (SELECT 1 FROM reservations x WHERE x.course_id = $1 \
                             AND x.student_id = r.student AND x.status IN ('held', 'confirmed') \
                             OFFSET 0) \
             AND ($7 = 0 OR coalesce( \
                   (SELECT holds FROM student_holds s WHERE s.student_id = r.student), 0) < $7)), \
         chosen AS ( \
           SELECT * FROM eligible ORDER BY ord \
           LIMIT (SELECT greatest(free, 0) FROM course)), \
         counted AS ( \
           INSERT INTO student_holds (student_id, holds) \
           SELECT student, 1 FROM chosen WHERE $7 > 0 ORDER BY student \
           ON CONFLICT (student_id) DO UPDATE SET holds = student_holds.holds + 1 \
           WHERE student_holds.holds < $7 RETURNING student_id), \
         reserved AS ( \
           INSERT INTO reservations (course_id, id, student_id, unit_price_cents, currency, \
             expected_price_cents, status, expires_at, created_at, updated_at) \
           SELECT $1, ch.id, ch.student, c.price_cents, c.currency, ch.expected, 'held', \
                  ch.expires_at, ch.at, ch.at \
           FROM chosen ch CROSS JOIN course c \
           WHERE $7 = 0 OR ch.student IN (SELECT student_id FROM counted) \
           RETURNING id, unit_price_cents, currency), \
         seats AS ( \
           UPDATE courses SET seats_held = seats_held + (SELECT count(*) FROM reserved) \
           WHERE id = $1 AND EXISTS (SELECT 1 FROM reserved)) \
         SELECT ch.ord, r.unit_price_cents, r.currency \
         FROM reserved r JOIN chosen ch ON ch.id = r.id",
    )
    .bind(course)
    .bind(&ids)
    .bind(&students)
    .bind(&expected)
    .bind(&expiries)
    .bind(&nows)
    .bind(max)
    .fetch_all(&mut **tx)
    .await?;
    // By position in the batch (`ord` counts from 1): an id sent twice is taken once, for its
    // first copy.
    let mut taken: Vec<Option<Held>> = vec![None; holds.len()];
    for row in &rows {
        let ord: i64 = row.try_get("ord")?;
        let Some(i) = usize::try_from(ord - 1).ok().filter(|&i| i < holds.len()) else {
            continue;
        };
        let hold = holds[i];
        let currency: String = row.try_get("currency")?;
        let reservation = Reservation::hold(
            Arc::clone(&hold.request.student),
            (row.try_get("unit_price_cents")?, currency_from(&currency)?),
            hold.request.expected_price_cents,
            hold.now,
            hold.expires_at,
        );
        taken[i] = Some(Held {
            reservation,
            created: true,
        });
    }
    Ok(taken)
}
