//! Waitlist offers and the feed follower's place, as every backend keeps them: an offer's order
//! is recorded once under the offer's id (again, concurrently, after it ended, after a reopen),
//! an offer for a student with another live order is refused, and the cursor is stored only under
//! an unexpired lease, which one holder has at a time.

use super::{LEASE, Subject};
use futures::future::join_all;
use order_service::{
    domain::{
        CourseId, Failure, Offer, Outcome, ReservationId, Status, Step, StudentId, Transition,
    },
    feed::Lead,
    repo::{AlreadyLive, Begun, Note},
};

fn offer_to(student: &str) -> Offer {
    Offer {
        course: CourseId::generate(),
        reservation: ReservationId::generate(),
        student: StudentId::new(student),
    }
}

pub async fn an_offers_order_is_recorded_once_under_the_offers_id(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let offer = offer_to("s1");
    let Ok(Begun::New(order)) = orders.begin_offer(&offer).await.expect("begin") else {
        panic!("a new order");
    };
    assert_eq!(order.id, offer.order_id());
    assert_eq!(order.reservation, offer.reservation);
    assert_eq!(
        (order.status, order.step),
        (Status::Pending, Step::FindingOut)
    );
    assert_eq!(order.expected_price_cents, None);
    assert!(
        !s.backend.orders.try_lease(order.id).await.expect("lease"),
        "leased to the caller"
    );
    let again = orders.begin_offer(&offer).await.expect("begin");
    assert_eq!(again, Ok(Begun::Existing(order.clone())));

    let concurrent = offer_to("s2");
    let attempts = (0..8).map(|_| orders.begin_offer(&concurrent));
    let begun: Vec<_> = join_all(attempts).await;
    let new = begun
        .iter()
        .filter(|b| matches!(b, Ok(Ok(Begun::New(_)))))
        .count();
    let existing = begun
        .iter()
        .filter(|b| matches!(b, Ok(Ok(Begun::Existing(_)))))
        .count();
    assert_eq!((new, existing), (1, 7), "{begun:?}");

    // An offer's order that ended is still the one recorded for the offer.
    let failed = Transition::Settle {
        from: Step::FindingOut,
        outcome: Outcome::Failed(Failure::ReservationExpired),
    };
    orders
        .apply(order.id, failed, Note::none())
        .await
        .expect("apply");
    let ended = orders.begin_offer(&offer).await.expect("begin");
    let Ok(Begun::Existing(ended)) = ended else {
        panic!("the ended order: {ended:?}");
    };
    assert_eq!((ended.id, ended.status), (order.id, Status::Failed));
    let all = s.backend.inspect.all().await.expect("all");
    assert_eq!(all.len(), 2);
}

pub async fn an_offer_for_a_student_with_another_live_order_is_refused(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let offer = offer_to("s1");
    let request = order_service::domain::NewOrder {
        student: offer.student.clone(),
        course: offer.course,
        expected_price_cents: None,
    };
    let live = orders.begin(&request).await.expect("begin").expect("new");
    let refused = orders.begin_offer(&offer).await.expect("begin");
    assert_eq!(refused, Err(AlreadyLive(live.id)));
    assert_eq!(orders.get(offer.order_id()).await.expect("get"), None);
}

pub async fn the_feed_cursor_is_stored_only_by_the_holder_of_an_unexpired_lease(s: Subject) {
    let feed = s.backend.feed.as_ref();
    let lead = |cursor: Option<&str>| {
        Some(Lead {
            cursor: cursor.map(str::to_owned),
        })
    };
    assert_eq!(feed.lead_feed("a", LEASE).await.expect("lead"), lead(None));
    assert_eq!(
        feed.lead_feed("b", LEASE).await.expect("lead"),
        None,
        "a leads"
    );
    assert!(feed.save_feed_cursor("a", "c1", LEASE).await.expect("save"));
    assert!(!feed.save_feed_cursor("b", "c2", LEASE).await.expect("save"));
    assert_eq!(
        feed.lead_feed("a", LEASE).await.expect("renew"),
        lead(Some("c1"))
    );

    // a stops renewing: once its lease lapses, b takes over, and a stores nothing more.
    s.clock.advance(LEASE + chrono::TimeDelta::seconds(1));
    assert_eq!(
        feed.lead_feed("b", LEASE).await.expect("lead"),
        lead(Some("c1"))
    );
    assert!(!feed.save_feed_cursor("a", "c3", LEASE).await.expect("save"));
    assert!(feed.save_feed_cursor("b", "c4", LEASE).await.expect("save"));
    assert_eq!(feed.lead_feed("a", LEASE).await.expect("lead"), None);

    // A lapsed lease stores nothing, even for its holder.
    s.clock.advance(LEASE + chrono::TimeDelta::seconds(1));
    assert!(!feed.save_feed_cursor("b", "c5", LEASE).await.expect("save"));

    // Given up, the lease is free at once.
    assert_eq!(
        feed.lead_feed("b", LEASE).await.expect("lead"),
        lead(Some("c4"))
    );
    feed.release_feed("a").await.expect("release");
    assert_eq!(
        feed.lead_feed("a", LEASE).await.expect("lead"),
        None,
        "a never held it"
    );
    feed.release_feed("b").await.expect("release");
    assert_eq!(
        feed.lead_feed("a", LEASE).await.expect("lead"),
        lead(Some("c4"))
    );
}

pub async fn offers_orders_and_the_feed_cursor_survive_a_reopen(s: Subject) {
    let offer = offer_to("s1");
    let begun = s.backend.orders.begin_offer(&offer).await.expect("begin");
    let Ok(Begun::New(order)) = begun else {
        panic!("a new order");
    };
    let feed = s.backend.feed.as_ref();
    assert!(feed.lead_feed("a", LEASE).await.expect("lead").is_some());
    assert!(
        feed.save_feed_cursor("a", "ev1_00000000000000ff", LEASE)
            .await
            .expect("save")
    );
    feed.release_feed("a").await.expect("release");
    let Some(s) = s.reopen().await else {
        return; // Nothing is kept in memory.
    };
    let again = s.backend.orders.begin_offer(&offer).await.expect("begin");
    assert_eq!(
        again.map(|b| matches!(b, Begun::Existing(o) if o.id == order.id)),
        Ok(true)
    );
    let lead = s.backend.feed.lead_feed("b", LEASE).await.expect("lead");
    assert_eq!(
        lead.and_then(|l| l.cursor).as_deref(),
        Some("ev1_00000000000000ff")
    );
}
