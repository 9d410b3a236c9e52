//! Leases, as every backend keeps them: a new order is leased to the request that placed it, a
//! lease is free once given back or lapsed, only orders with work left are leased, and a
//! cancellation takes the lease only if nobody holds it.

use super::{LEASE, Subject, request};
use order_service::{
    domain::{Failure, Outcome, Step, Transition},
    repo::Note,
};

pub async fn a_new_order_is_leased_to_its_request_until_given_back(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let order = orders
        .begin(&request("s1"))
        .await
        .expect("begin")
        .expect("new");
    assert!(
        !orders
            .unleased_work()
            .await
            .expect("work")
            .contains(&order.id)
    );
    assert!(
        !orders.try_lease(order.id).await.expect("lease"),
        "its request holds it"
    );
    orders.release_lease(order.id).await.expect("release");
    assert!(
        orders
            .unleased_work()
            .await
            .expect("work")
            .contains(&order.id)
    );
    assert!(orders.try_lease(order.id).await.expect("lease"));
    assert!(
        !orders.try_lease(order.id).await.expect("lease"),
        "one holder at a time"
    );
    orders.release_lease(order.id).await.expect("release");
    let settle = Transition::Settle {
        from: Step::Recorded,
        outcome: Outcome::Failed(Failure::SoldOut),
    };
    orders
        .apply(order.id, settle, Note::none())
        .await
        .expect("apply");
    assert!(
        !orders.try_lease(order.id).await.expect("lease"),
        "nothing is left to lease"
    );
    assert!(
        !orders
            .unleased_work()
            .await
            .expect("work")
            .contains(&order.id)
    );
}

pub async fn a_lease_never_given_back_lapses(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let order = orders
        .begin(&request("s1"))
        .await
        .expect("begin")
        .expect("new");
    s.clock.advance(LEASE - chrono::TimeDelta::seconds(1));
    assert!(!orders.try_lease(order.id).await.expect("lease"));
    s.clock.advance(chrono::TimeDelta::seconds(2));
    assert!(
        orders
            .unleased_work()
            .await
            .expect("work")
            .contains(&order.id)
    );
    assert!(orders.try_lease(order.id).await.expect("lease"), "lapsed");
    assert!(!orders.try_lease(order.id).await.expect("lease"));
    s.clock.advance(LEASE + chrono::TimeDelta::seconds(1));
    assert!(
        orders.try_lease(order.id).await.expect("lease"),
        "lapsed again"
    );
}

pub async fn a_cancellation_takes_the_lease_only_if_it_is_free(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let pending = orders
        .begin(&request("s1"))
        .await
        .expect("begin")
        .expect("new");
    let (asked, leased) = orders
        .request_cancel(pending.id)
        .await
        .expect("cancel")
        .expect("live");
    assert_eq!(asked.step, Step::Cancelling);
    assert!(!leased, "the request placing it holds the lease");

    let confirmed = orders
        .begin(&request("s1"))
        .await
        .expect("begin")
        .expect("new");
    let confirm = Transition::Settle {
        from: Step::Recorded,
        outcome: Outcome::Confirmed,
    };
    orders
        .apply(confirmed.id, confirm, Note::none())
        .await
        .expect("apply");
    orders.release_lease(confirmed.id).await.expect("release");
    let (_, leased) = orders
        .request_cancel(confirmed.id)
        .await
        .expect("cancel")
        .expect("live");
    assert!(leased, "nobody worked on a confirmed order");
    assert_eq!(orders.work_count().await.expect("count"), 2);
    let (_, again) = orders
        .request_cancel(confirmed.id)
        .await
        .expect("cancel")
        .expect("live");
    assert!(!again, "the first cancellation still holds it");
    orders.release_lease(confirmed.id).await.expect("release");
    orders
        .apply(confirmed.id, Transition::FinishCancel, Note::none())
        .await
        .expect("apply");
    assert_eq!(
        orders.request_cancel(confirmed.id).await.expect("cancel"),
        None,
        "a cancelled order is not live"
    );
    assert_eq!(orders.work_count().await.expect("count"), 1);
}
