//! Conversions from domain values to wire bodies.

use crate::{
    domain::{
        CourseId, CourseSnapshot, Reservation, ReservationId,
        feed::{Cursor, FeedEvent},
        waitlist::EntryStatus,
    },
    store::Waiting,
};
use shared_types as wire;

pub fn course(c: &CourseSnapshot) -> wire::Course {
    wire::Course {
        id: c.id.into(),
        title: c.details.title.to_string(),
        description: c.details.description.as_deref().map(str::to_owned),
        instructor_id: c.details.instructor_id.to_string(),
        price_cents: c.price_cents,
        currency: c.details.currency.as_str().to_owned(),
        seats_total: c.seats_total,
        seats_available: c.seats_available(),
        waitlist_length: c.waitlist_length,
        seats_held: c.seats_held,
        seats_sold: c.seats_sold,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

pub fn reservation(course_id: CourseId, id: ReservationId, r: &Reservation) -> wire::Reservation {
    wire::Reservation {
        id: id.into(),
        course_id: course_id.into(),
        student_id: r.student.as_deref().map(str::to_owned),
        unit_price_cents: r.unit_price_cents,
        currency: r.currency.as_str().to_owned(),
        status: r.status,
        expires_at: r.expires_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

pub fn event(e: &FeedEvent) -> wire::Event {
    let c = &e.change;
    wire::Event {
        cursor: Cursor(e.seq).encode(),
        kind: c.kind.as_str().to_owned(),
        course_id: c.course_id.into(),
        reservation_id: c.reservation_id.map(Into::into),
        student_id: c.student_id.as_deref().map(str::to_owned),
        at: c.at,
        course: wire::EventCounts {
            seats_total: c.course.seats_total,
            seats_available: c.course.seats_available,
            seats_held: c.course.seats_held,
            seats_sold: c.course.seats_sold,
            waitlist_length: c.course.waitlist_length,
        },
    }
}

pub fn wait_entry(w: &Waiting) -> wire::WaitEntry {
    let e = &w.entry;
    wire::WaitEntry {
        id: e.id.into(),
        course_id: w.course.into(),
        student_id: e.student.to_string(),
        status: match e.status {
            EntryStatus::Waiting => wire::WaitlistStatus::Waiting,
            EntryStatus::Offered => wire::WaitlistStatus::Offered,
            EntryStatus::Enrolled => wire::WaitlistStatus::Enrolled,
            EntryStatus::Left => wire::WaitlistStatus::Left,
            EntryStatus::Lapsed => wire::WaitlistStatus::Lapsed,
        },
        position: w.position,
        reservation_id: e.reservation.map(Into::into),
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}
