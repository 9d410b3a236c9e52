//! Waitlist offers as order-service sees them: which events of course-service's feed are offers
//! ([`Offer::of`]), and the order an offer becomes ([`Order::for_offer`]): its id is the offer's
//! reservation id, so that every reader of the same offer (a redelivery, another replica, a
//! restart) names the same order, and recording it twice records it once. Pure values; what an
//! offer's order does next is the saga's ([`super::saga`]), from reading the offer's hold.

use super::{
    ids::{CourseId, OrderId, ReservationId, StudentId},
    order::{NewOrder, Order},
    saga::Step,
};
use chrono::{DateTime, Utc};
use shared_types::Event;

/// The feed's event type of an offer: course-service holds a freed seat for a waiting student.
pub const OFFERED: &str = "reservation.offered";

/// A seat course-service holds for a waiting student, under `reservation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub course: CourseId,
    pub reservation: ReservationId,
    pub student: StudentId,
}

impl Offer {
    /// The offer `event` tells of; `None` for any other event (and for an offer event missing
    /// its reservation or student, which no order can be made for).
    pub fn of(event: &Event) -> Option<Offer> {
        if event.kind != OFFERED {
            return None;
        }
        let student = event.student_id.as_deref().filter(|s| !s.is_empty())?;
        Some(Offer {
            course: CourseId::from_uuid(event.course_id),
            reservation: ReservationId::from_uuid(event.reservation_id?),
            student: StudentId::new(student),
        })
    }

    /// The id of the order made for this offer: the offer's reservation id.
    pub fn order_id(&self) -> OrderId {
        OrderId::from_uuid(self.reservation.as_uuid())
    }

    /// The order an offer is: the student's, for the course, at no expected price (the hold's
    /// price was locked when the seat was offered).
    pub fn request(&self) -> NewOrder {
        NewOrder {
            student: self.student.clone(),
            course: self.course,
            expected_price_cents: None,
        }
    }
}

impl Order {
    /// The order of `offer`, recorded and not yet sent anywhere. Its seat is held already (the
    /// offer is the hold), so it starts by reading that hold: a read that reaches no one leaves
    /// the order pending to be asked again, where a hold step that reached no one would fail it
    /// and strand the held seat until the offer lapsed.
    pub fn for_offer(offer: &Offer, now: DateTime<Utc>) -> Order {
        Order {
            id: offer.order_id(),
            reservation: offer.reservation,
            step: Step::FindingOut,
            ..Order::new(&offer.request(), now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use shared_types::EventCounts;
    use uuid::Uuid;

    fn event(kind: &str, reservation: Option<Uuid>, student: Option<&str>) -> Event {
        Event {
            cursor: "ev1_0000000000000001".into(),
            kind: kind.into(),
            course_id: Uuid::now_v7(),
            reservation_id: reservation,
            student_id: student.map(str::to_owned),
            at: Utc::now(),
            course: EventCounts {
                seats_total: 1,
                seats_available: 0,
                seats_held: 1,
                seats_sold: 0,
                waitlist_length: 0,
            },
        }
    }

    #[test]
    fn only_an_offer_with_its_reservation_and_student_is_an_offer() {
        let r = Uuid::now_v7();
        let offer = Offer::of(&event(OFFERED, Some(r), Some("s1"))).expect("an offer");
        assert_eq!(offer.reservation.as_uuid(), r);
        assert_eq!(offer.student.as_str(), "s1");
        for other in [
            event("reservation.held", Some(r), Some("s1")),
            event("course.updated", None, None),
            event(OFFERED, None, Some("s1")),
            event(OFFERED, Some(r), None),
            event(OFFERED, Some(r), Some("")),
        ] {
            assert_eq!(Offer::of(&other), None, "{other:?}");
        }
    }

    #[test]
    fn an_offers_order_is_named_by_the_offer_and_starts_by_reading_its_hold() {
        let e = event(OFFERED, Some(Uuid::now_v7()), Some("s1"));
        let offer = Offer::of(&e).expect("an offer");
        let order = Order::for_offer(&offer, Utc::now());
        assert_eq!(order.id.as_uuid(), offer.reservation.as_uuid());
        assert_eq!(order.reservation, offer.reservation);
        assert_eq!(order.course.as_uuid(), e.course_id);
        assert_eq!(order.expected_price_cents, None);
        assert_eq!(
            (order.status, order.step),
            (Status::Pending, Step::FindingOut)
        );
        assert_eq!(Order::for_offer(&offer, Utc::now()).id, order.id);
    }
}
