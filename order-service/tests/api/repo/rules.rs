//! The status rules, as every backend applies them: each transition from each state an order can
//! be in, the orders with work left, the live orders, and the price noted once.

use super::{Subject, request};
use futures::future::join_all;
use order_service::{
    domain::{
        Failure, NewOrder, Order, Outcome, Price, Status, Step, Transition,
        rules::{self, State},
    },
    repo::{AlreadyLive, Note, OrderRepo},
};
use std::collections::BTreeSet;
use strum::IntoEnumIterator;

/// Every transition worth trying on an order in `state`: the step moves and settlements from
/// every step, and the payment's transitions from `state` and from one other state.
fn transitions(state: State) -> Vec<Transition> {
    let mut all = vec![
        Transition::RequestCancel,
        Transition::FinishCancel,
        Transition::AwaitPayment,
    ];
    for from in Step::iter() {
        for to in Step::iter().filter(|s| s.is_saga()) {
            all.push(Transition::Advance { from, to });
        }
        for outcome in [
            Outcome::Confirmed,
            Outcome::Failed(Failure::SoldOut),
            Outcome::Refunded,
        ] {
            all.push(Transition::Settle { from, outcome });
        }
    }
    let other = rules::states()
        .find(|s| *s != state)
        .expect("another state");
    for from in [state, other] {
        all.push(Transition::Paid { from });
        all.push(Transition::Refund {
            from,
            failure: Some(Failure::SoldOut),
        });
    }
    all
}

/// A new order of `request`, brought to `state` through the port.
async fn reach(orders: &dyn OrderRepo, request: &NewOrder, state: State) -> Order {
    use Status as S;
    use Step as T;
    let order = orders.begin(request).await.expect("begin").expect("new");
    let confirm = Transition::Settle {
        from: T::Recorded,
        outcome: Outcome::Confirmed,
    };
    let fail = Transition::Settle {
        from: T::Recorded,
        outcome: Outcome::Failed(Failure::SoldOut),
    };
    let failed = State {
        status: S::Failed,
        step: T::Settled,
    };
    let refund_failed = Transition::Refund {
        from: failed,
        failure: None,
    };
    let to_checkout = Transition::Advance {
        from: T::Recorded,
        to: T::Checkout,
    };
    let expiring = Transition::Advance {
        from: T::AwaitingPayment,
        to: T::Expiring,
    };
    let refunded = Transition::Settle {
        from: T::Refunding,
        outcome: Outcome::Refunded,
    };
    let paid_cancelled = Transition::Paid {
        from: State {
            status: S::Cancelled,
            step: T::Cancelled,
        },
    };
    let steps = match (state.status, state.step) {
        (S::Pending, T::Recorded) => vec![],
        (
            S::Pending,
            to @ (T::FindingOut | T::Confirming | T::Checkout | T::Abandoning | T::Reholding),
        ) => vec![Transition::Advance {
            from: T::Recorded,
            to,
        }],
        (S::AwaitingPayment, T::AwaitingPayment) => vec![to_checkout, Transition::AwaitPayment],
        (S::AwaitingPayment, T::Expiring) => vec![to_checkout, Transition::AwaitPayment, expiring],
        (S::AwaitingPayment, T::Cancelling) => vec![
            to_checkout,
            Transition::AwaitPayment,
            Transition::RequestCancel,
        ],
        (S::Confirmed, T::Settled) => vec![confirm],
        (S::Failed, T::Settled) => vec![fail],
        (S::Failed, T::Refunding) => vec![fail, refund_failed],
        (S::Refunded, T::Settled) => vec![fail, refund_failed, refunded],
        (S::Pending, T::Cancelling) => vec![Transition::RequestCancel],
        (S::Confirmed, T::Cancelling) => vec![confirm, Transition::RequestCancel],
        (S::Cancelled, T::Cancelled) => vec![Transition::RequestCancel, Transition::FinishCancel],
        (S::Cancelled, T::Refunding) => vec![
            Transition::RequestCancel,
            Transition::FinishCancel,
            paid_cancelled,
        ],
        other => panic!("no way to reach {other:?}: add one"),
    };
    for transition in steps {
        let applied = orders.apply(order.id, transition, Note::none()).await;
        assert!(
            applied.expect("apply").expect("order").applied,
            "{transition:?}"
        );
    }
    let reached = orders.get(order.id).await.expect("get").expect("order");
    assert_eq!(reached.state(), state);
    reached
}

pub async fn every_transition_applies_exactly_where_the_rule_book_allows_it(s: Subject) {
    let orders = s.backend.orders.as_ref();
    for state in rules::states() {
        for transition in transitions(state) {
            let order = reach(orders, &request("s1"), state).await;
            let applied = orders
                .apply(order.id, transition, Note::none())
                .await
                .expect("apply")
                .expect("order");
            let expected = rules::apply(state, order.failure, transition);
            let at = format!("{:?}: {state:?} {transition:?}", s.kind);
            assert_eq!(applied.applied, expected.is_some(), "{at}");
            let (next, failure) = expected.unwrap_or((state, order.failure));
            assert_eq!(applied.order.state(), next, "{at}");
            assert_eq!(applied.order.failure, failure, "{at}");
            let stored = orders.get(order.id).await.expect("get");
            assert_eq!(stored.as_ref(), Some(&applied.order), "{at}");
        }
    }
}

pub async fn work_and_live_orders_are_what_the_rule_book_says(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let mut with_work = BTreeSet::new();
    for state in rules::states() {
        let request = request("s1");
        let order = reach(orders, &request, state).await;
        orders.release_lease(order.id).await.expect("release");
        let listed = orders.unleased_work().await.expect("work");
        assert_eq!(
            listed.contains(&order.id),
            rules::has_work(state),
            "{:?}: {state:?}",
            s.kind
        );
        if rules::has_work(state) {
            with_work.insert(order.id);
        }
        let again = orders.begin(&request).await.expect("begin");
        assert_eq!(
            again.as_ref().err(),
            rules::is_live(state.status).then_some(&AlreadyLive(order.id)),
            "{:?}: {state:?}",
            s.kind
        );
        if let Ok(other) = again {
            // Not counted: settle it.
            let settle = Transition::Settle {
                from: Step::Recorded,
                outcome: Outcome::Failed(Failure::SoldOut),
            };
            orders
                .apply(other.id, settle, Note::none())
                .await
                .expect("apply");
        }
    }
    assert_eq!(
        orders.work_count().await.expect("count"),
        with_work.len() as u64
    );
    for id in with_work {
        assert!(orders.try_lease(id).await.expect("lease"), "{id}");
    }
}

pub async fn one_live_order_per_student_and_course_under_concurrency(s: Subject) {
    let orders = &s.backend.orders;
    let request = request("s1");
    let begun = join_all((0..16).map(|_| {
        let (orders, request) = (orders.clone(), request.clone());
        tokio::spawn(async move { orders.begin(&request).await.expect("begin") })
    }))
    .await;
    let begun: Vec<_> = begun.into_iter().map(|b| b.expect("task")).collect();
    let placed: Vec<&Order> = begun.iter().filter_map(|b| b.as_ref().ok()).collect();
    assert_eq!(placed.len(), 1, "{:?}: {begun:?}", s.kind);
    let live = placed[0].id;
    for refused in begun.iter().filter_map(|b| b.as_ref().err()) {
        assert_eq!(*refused, AlreadyLive(live));
    }
    let confirm = Transition::Settle {
        from: Step::Recorded,
        outcome: Outcome::Confirmed,
    };
    orders
        .apply(live, confirm, Note::none())
        .await
        .expect("apply");
    assert_eq!(
        orders.begin(&request).await.expect("begin"),
        Err(AlreadyLive(live)),
        "a confirmed order stays live"
    );
    let other = NewOrder {
        student: order_service::domain::StudentId::new("s2"),
        ..request.clone()
    };
    assert!(orders.begin(&other).await.expect("begin").is_ok());
    orders
        .apply(live, Transition::RequestCancel, Note::none())
        .await
        .expect("apply");
    orders
        .apply(live, Transition::FinishCancel, Note::none())
        .await
        .expect("apply");
    let after = orders.begin(&request).await.expect("begin");
    assert!(after.is_ok(), "a cancelled order frees the slot: {after:?}");
}

pub async fn a_price_is_noted_once(s: Subject) {
    let orders = s.backend.orders.as_ref();
    let order = orders
        .begin(&request("s1"))
        .await
        .expect("begin")
        .expect("new");
    let first = Price {
        cents: 4900,
        currency: "EUR".into(),
    };
    s.clock.advance(chrono::TimeDelta::seconds(1));
    let to_finding_out = Transition::Advance {
        from: Step::Recorded,
        to: Step::FindingOut,
    };
    let moved = orders.apply(order.id, to_finding_out, Note::none()).await;
    let moved = moved.expect("apply").expect("order").order;
    assert_eq!(
        moved.updated_at, order.updated_at,
        "a step nobody sees changes no timestamp"
    );
    // A move that does not apply still notes the price the answer showed.
    let refused = Transition::Advance {
        from: Step::Recorded,
        to: Step::Confirming,
    };
    let noted = orders
        .apply(order.id, refused, Note::price(Some(first.clone())))
        .await;
    let noted = noted.expect("apply").expect("order");
    assert!(!noted.applied);
    assert_eq!(noted.order.price.as_ref(), Some(&first));
    assert_eq!(noted.order.step, Step::FindingOut);
    assert_eq!(noted.order.updated_at, s.clock_now());
    let later = Price {
        cents: 9900,
        currency: "USD".into(),
    };
    let settle = Transition::Settle {
        from: Step::FindingOut,
        outcome: Outcome::Confirmed,
    };
    let settled = orders
        .apply(order.id, settle, Note::price(Some(later)))
        .await;
    let settled = settled.expect("apply").expect("order");
    assert!(settled.applied);
    assert_eq!(settled.order.price, Some(first), "the first price stays");
    assert_eq!(settled.order.status, Status::Confirmed);
}
