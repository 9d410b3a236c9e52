//! The `OrderRepo` contract: one set of tests, run against every backend (memory, embedded on a
//! temporary directory, and PostgreSQL when `TEST_BACKEND=postgres`), so that each keeps the rule
//! book of `domain::rules` and `domain::keys` the same way. A new backend is held to it by adding
//! one [`Kind`].

mod keys;
mod leases;
mod offers;
mod reopen;
mod rules;

use order_service::{
    clock::{Clock, ManualClock},
    domain::{CourseId, NewOrder, StudentId},
    repo::{Backend, embedded::EmbeddedRepo, postgres::PgRepo},
};

use std::{sync::Arc, time::Duration};
use storage_kit::journal::{Faults, Store};
use storage_kit::postgres::PgSettings;

/// How long leases last in these tests.
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(16);

/// A backend the contract runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    Embedded,
    Postgres,
}

/// A backend under test, on a clock the test moves, and how to open it again on the same data.
pub struct Subject {
    pub kind: Kind,
    pub backend: Backend,
    pub clock: Arc<ManualClock>,
    place: Place,
}

enum Place {
    Memory,
    Dir(tempfile::TempDir),
    Schema(String),
}

impl Subject {
    /// A new, empty backend of `kind`, or `None` for PostgreSQL when this run does not test it.
    pub async fn new(kind: Kind) -> Option<Subject> {
        let place = match kind {
            Kind::Memory => Place::Memory,
            Kind::Embedded => Place::Dir(tempfile::tempdir().expect("tempdir")),
            Kind::Postgres if storage_kit::postgres::testing_postgres() => {
                Place::Schema(storage_kit::postgres::test_schema_url().await)
            }
            Kind::Postgres => return None,
        };
        let clock = Arc::new(ManualClock::starting_now());
        let backend = open(&place, Arc::clone(&clock) as Arc<dyn Clock>).await;
        Some(Subject {
            kind,
            backend,
            clock,
            place,
        })
    }

    /// The subject's clock's time.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The same data opened again, as after a restart (embedded: the store closed and read back;
    /// PostgreSQL: a new repository on the same schema). `None` for the memory backend.
    pub async fn reopen(self) -> Option<Subject> {
        if matches!(self.place, Place::Memory) {
            return None;
        }
        self.backend.orders.close().await.expect("close");
        let backend = open(&self.place, Arc::clone(&self.clock) as Arc<dyn Clock>).await;
        Some(Subject { backend, ..self })
    }
}

async fn open(place: &Place, clock: Arc<dyn Clock>) -> Backend {
    match place {
        Place::Memory => Backend::of(EmbeddedRepo::in_memory(clock, LEASE)),
        Place::Dir(dir) => {
            let store = Store::open(dir.path(), "order-service").expect("store");
            Backend::of(
                EmbeddedRepo::restore(store, Faults::none(), clock, LEASE).expect("restore"),
            )
        }
        Place::Schema(url) => {
            let settings = PgSettings {
                url: url.clone(),
                max_connections: 8,
                statement_timeout: Duration::from_secs(10),
                acquire_timeout: Duration::from_secs(10),
            };
            Backend::of(
                PgRepo::connect(&settings, clock, LEASE)
                    .await
                    .expect("PostgreSQL"),
            )
        }
    }
}

/// An order of `student` for a new course.
pub fn request(student: &str) -> NewOrder {
    NewOrder {
        student: StudentId::new(student),
        course: CourseId::generate(),
        expected_price_cents: Some(4900),
    }
}

/// One `#[tokio::test]` per backend for each contract test named: `repo::<backend>::<test>`.
macro_rules! contract {
    ($($module:ident :: $test:ident),* $(,)?) => {
        contract!(@kind memory, Memory, $($module::$test),*);
        contract!(@kind embedded, Embedded, $($module::$test),*);
        contract!(@kind postgres, Postgres, $($module::$test),*);
    };
    (@kind $kind:ident, $variant:ident, $($module:ident :: $test:ident),*) => {
        mod $kind {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(subject) = super::Subject::new(super::Kind::$variant).await {
                        super::$module::$test(subject).await;
                    }
                }
            )*
        }
    };
}

contract!(
    rules::every_transition_applies_exactly_where_the_rule_book_allows_it,
    rules::work_and_live_orders_are_what_the_rule_book_says,
    rules::one_live_order_per_student_and_course_under_concurrency,
    rules::a_price_is_noted_once,
    leases::a_new_order_is_leased_to_its_request_until_given_back,
    leases::a_lease_never_given_back_lapses,
    leases::a_cancellation_takes_the_lease_only_if_it_is_free,
    keys::a_key_replays_refuses_a_new_body_and_reports_a_running_request,
    keys::keys_are_forgotten_after_their_lifetime,
    keys::past_its_cap_a_student_forgets_the_oldest_finished_key_first,
    reopen::steps_prices_cancellations_and_answers_survive_a_reopen,
    reopen::a_saga_cut_off_resumes_at_its_saved_step_after_a_restart,
    offers::an_offers_order_is_recorded_once_under_the_offers_id,
    offers::an_offer_for_a_student_with_another_live_order_is_refused,
    offers::the_feed_cursor_is_stored_only_by_the_holder_of_an_unexpired_lease,
    offers::offers_orders_and_the_feed_cursor_survive_a_reopen,
);
