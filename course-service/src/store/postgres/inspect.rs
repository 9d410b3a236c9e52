//! What tests and checks read inside the PostgreSQL store: that every course's counters agree with
//! its reservations, and each student's count of holds.

use super::{PgStore, hold::holds_of, transactions::unavailable};
use crate::store::{Inspect, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl Inspect for PgStore {
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
        // The waitlist: its length is the count of waiting entries, no seat is free while a
        // student waits, and every offer holds a seat for its student.
        let waitlists: Vec<String> = sqlx::query_scalar(
            "SELECT c.id::text || ': waitlist_length ' || c.waitlist_length || ', ' \
             || coalesce(w.waiting, 0) || ' waiting, ' \
             || (c.seats_total - c.seats_held - c.seats_sold) || ' seats free' \
             FROM courses c LEFT JOIN ( \
               SELECT course_id, count(*) AS waiting FROM waitlist_entries \
               WHERE status = 'waiting' GROUP BY course_id) w ON w.course_id = c.id \
             WHERE c.waitlist_length <> coalesce(w.waiting, 0) \
                OR (c.waitlist_length > 0 AND c.seats_held + c.seats_sold < c.seats_total) \
             UNION ALL \
             SELECT 'offered entry ' || w.id::text || ' holds no seat' FROM waitlist_entries w \
             LEFT JOIN reservations r ON r.course_id = w.course_id AND r.id = w.reservation_id \
             WHERE w.status = 'offered' AND (r.status IS DISTINCT FROM 'held' \
                   OR r.student_id IS DISTINCT FROM w.student_id)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        if !waitlists.is_empty() {
            return Err(waitlists.join("; "));
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
