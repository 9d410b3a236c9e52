//! Idempotency keys, as every key store keeps them: claims, replays, refusals, the lifetimes of
//! `domain::keys` and the cap per student.

use super::Subject;
use order_service::{
    domain::{
        StudentId,
        keys::{KEY_LIFETIME, MAX_KEYS_PER_STUDENT},
    },
    idempotency::{Claim, IdempotencyKey, StoredReply},
};
use shared_types::{CreateOrder, ErrorCode};
use uuid::Uuid;

fn body() -> CreateOrder {
    CreateOrder {
        course_id: Uuid::now_v7(),
        expected_price_cents: None,
    }
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).expect("key")
}

fn problem_reply() -> StoredReply {
    StoredReply::Problem {
        status: 409,
        code: ErrorCode::SoldOut,
        detail: "no seats left in this course".into(),
        price_cents: None,
    }
}

pub async fn a_key_replays_refuses_a_new_body_and_reports_a_running_request(s: Subject) {
    let keys = s.backend.keys.as_ref();
    let (student, k, first) = (StudentId::new("s1"), key("k"), body());
    let claim = |body: CreateOrder| {
        let (student, k) = (student.clone(), k.clone());
        async move { keys.claim_key(&student, &k, &body).await.expect("claim") }
    };
    assert_eq!(claim(first.clone()).await, Claim::Fresh);
    assert_eq!(claim(first.clone()).await, Claim::InProgress);
    assert_eq!(claim(body()).await, Claim::Mismatch);
    keys.forget_key(&student, &k).await.expect("forget");
    assert_eq!(
        claim(first.clone()).await,
        Claim::Fresh,
        "forgotten, it runs again"
    );
    keys.complete_key(&student, &k, problem_reply())
        .await
        .expect("complete");
    assert_eq!(claim(first.clone()).await, Claim::Replay(problem_reply()));
    assert_eq!(claim(body()).await, Claim::Mismatch);
    keys.forget_key(&student, &k).await.expect("forget");
    assert_eq!(
        claim(first.clone()).await,
        Claim::Replay(problem_reply()),
        "a finished key is not forgotten for a retry"
    );
    let other = keys
        .claim_key(&StudentId::new("s2"), &k, &first)
        .await
        .expect("claim");
    assert_eq!(other, Claim::Fresh, "keys are per student");
}

pub async fn keys_are_forgotten_after_their_lifetime(s: Subject) {
    let keys = s.backend.keys.as_ref();
    let (student, k, body) = (StudentId::new("s1"), key("k"), body());
    assert_eq!(
        keys.claim_key(&student, &k, &body).await.expect("claim"),
        Claim::Fresh
    );
    keys.complete_key(&student, &k, problem_reply())
        .await
        .expect("complete");
    s.clock.advance(KEY_LIFETIME - chrono::TimeDelta::hours(1));
    assert_eq!(keys.purge_keys().await.expect("purge"), 0);
    assert!(matches!(
        keys.claim_key(&student, &k, &body).await.expect("claim"),
        Claim::Replay(_)
    ));
    s.clock.advance(chrono::TimeDelta::hours(2));
    assert_eq!(keys.purge_keys().await.expect("purge"), 1);
    assert_eq!(
        keys.claim_key(&student, &k, &body).await.expect("claim"),
        Claim::Fresh,
        "a forgotten key is new again"
    );
    s.clock.advance(chrono::TimeDelta::hours(2));
    assert_eq!(
        keys.purge_keys().await.expect("purge"),
        1,
        "a key stuck running goes after its running lifetime"
    );
}

pub async fn past_its_cap_a_student_forgets_the_oldest_finished_key_first(s: Subject) {
    let keys = s.backend.keys.as_ref();
    let (student, body) = (StudentId::new("s1"), body());
    let claim = |k: String| {
        let (student, body) = (student.clone(), body.clone());
        async move {
            keys.claim_key(&student, &key(&k), &body)
                .await
                .expect("claim")
        }
    };
    // One key still running, claimed first: it is not the one to go.
    assert_eq!(claim("running".into()).await, Claim::Fresh);
    for i in 1..MAX_KEYS_PER_STUDENT {
        let k = format!("k{i:04}");
        assert_eq!(claim(k.clone()).await, Claim::Fresh);
        s.clock.advance(chrono::TimeDelta::milliseconds(1));
        keys.complete_key(&student, &key(&k), problem_reply())
            .await
            .expect("complete");
    }
    // One more finished key takes the student past the cap.
    assert_eq!(claim("one-more".into()).await, Claim::Fresh);
    s.clock.advance(chrono::TimeDelta::seconds(10));
    keys.complete_key(&student, &key("one-more"), problem_reply())
        .await
        .expect("complete");
    assert_eq!(
        s.backend.inspect.keys_of(&student).await.expect("count"),
        MAX_KEYS_PER_STUDENT
    );
    assert!(
        matches!(claim("k0002".into()).await, Claim::Replay(_)),
        "the second oldest stays"
    );
    assert!(matches!(claim("k0500".into()).await, Claim::Replay(_)));
    assert_eq!(
        claim("k0001".into()).await,
        Claim::Fresh,
        "the oldest finished key went first"
    );
    assert_eq!(
        claim("running".into()).await,
        Claim::InProgress,
        "a running key is never evicted"
    );
    let other = keys
        .claim_key(&StudentId::new("s2"), &key("k0002"), &body)
        .await
        .expect("claim");
    assert_eq!(other, Claim::Fresh, "keys are per student");
}
