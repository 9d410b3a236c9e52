//! Courses in PostgreSQL: created, read, listed, repriced and resized, and the totals across them.

use super::{
    PgStore, batch,
    rows::{course_from, currency_from},
    transactions::{Outcome, unavailable},
    waitlist::offer_freed_seats,
};
use crate::{
    domain::{BookError, CourseId, CourseSnapshot, NewCourse, Sales, waitlist::EntryStatus},
    store::{EntryTotals, Refusal, StoreError, Totals},
};
use sqlx::Row;
use std::sync::Arc;

impl PgStore {
    pub(super) async fn insert_course(
        &self,
        course: NewCourse,
    ) -> Result<CourseSnapshot, StoreError> {
        let now = self.now();
        let row = sqlx::query(concat!(
            "INSERT INTO courses (id, title, description, instructor_id, currency, price_cents, \
             seats_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             RETURNING ",
            course_columns!()
        ))
        .bind(CourseId::new_v7())
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

    pub(super) async fn course_row(&self, id: CourseId) -> Result<CourseSnapshot, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            course_columns!(),
            " FROM courses WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .ok_or(Refusal::CourseNotFound)?;
        course_from(&row).map_err(unavailable)
    }

    /// Seats sold and the sum of the prices their reservations were held at.
    pub(super) async fn course_sales(&self, id: CourseId) -> Result<Sales, StoreError> {
        let row = sqlx::query(
            "SELECT c.instructor_id, c.currency, c.seats_sold, \
                    (SELECT COALESCE(sum(r.unit_price_cents), 0)::bigint FROM reservations r \
                      WHERE r.course_id = c.id AND r.status = 'confirmed') AS revenue_cents \
             FROM courses c WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .ok_or(Refusal::CourseNotFound)?;
        let currency: String = row.try_get("currency").map_err(unavailable)?;
        let instructor: String = row.try_get("instructor_id").map_err(unavailable)?;
        let sold: i32 = row.try_get("seats_sold").map_err(unavailable)?;
        Ok(Sales {
            instructor_id: Arc::from(instructor),
            currency: currency_from(&currency).map_err(unavailable)?,
            seats_sold: u32::try_from(sold).unwrap_or(0),
            revenue_cents: row.try_get("revenue_cents").map_err(unavailable)?,
        })
    }

    pub(super) async fn course_page(
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

    pub(super) async fn update_price(
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
                self.course_row(id).await?;
                Err(BookError::NotOwner.into())
            }
        }
    }

    pub(super) async fn update_seats(
        &self,
        id: CourseId,
        owner: &str,
        total: u32,
    ) -> Result<CourseSnapshot, StoreError> {
        let now = self.now();
        let lifetime = self.offer_lifetime;
        let who: Arc<str> = Arc::from(owner);
        let attempt: batch::Attempt<_> = Box::new(move |tx| {
            let owner = Arc::clone(&who);
            Box::pin(async move {
                let row = sqlx::query(
                    "UPDATE courses SET seats_total = $3, updated_at = $4 \
                     WHERE id = $1 AND instructor_id = $2 AND seats_held + seats_sold <= $3",
                )
                .bind(id)
                .bind(owner.as_ref())
                .bind(i32::try_from(total).unwrap_or(i32::MAX))
                .bind(now)
                .execute(&mut **tx)
                .await?;
                // More seats go to the waitlist first, in this transaction.
                let offered = match row.rows_affected() {
                    0 => None,
                    _ => Some(offer_freed_seats(tx, id, now, lifetime).await?),
                };
                Ok(Outcome::Commit(Ok(offered)))
            })
        });
        if let Some(offered) = self.batched(id, attempt).await? {
            self.transitions.count_offers(offered);
            return self.course_row(id).await;
        }
        let course = self.course_row(id).await?;
        if &*course.details.instructor_id != owner {
            return Err(BookError::NotOwner.into());
        }
        Err(BookError::SeatsBelowCommitted {
            committed: course.seats_held + course.seats_sold,
        }
        .into())
    }

    pub(super) async fn seat_totals(&self) -> Result<Totals, StoreError> {
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
            waitlist: self.entry_totals().await?,
        })
    }

    /// Waitlist entries by status, across courses.
    async fn entry_totals(&self) -> Result<EntryTotals, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, count(*) FROM waitlist_entries GROUP BY status")
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        let mut totals = EntryTotals::default();
        for (status, n) in rows {
            if let Some(status) = EntryStatus::parse(&status) {
                totals.add(status, u64::try_from(n).unwrap_or(0));
            }
        }
        Ok(totals)
    }
}
