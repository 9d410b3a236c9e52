//! The order domain: the order entity and its ids, the saga's steps and what each answer of
//! course-service (and of the payment provider, [`checkout`]) decides, the status rules, the
//! idempotency key rules, and which feed events are waitlist offers and the order each becomes
//! ([`waitlist`]). Pure values and functions: no locks, no I/O, no clock of its own (time is an
//! argument). Every backend and the workflow call these, so each rule is written once.

pub mod checkout;
pub mod course;
pub mod ids;
pub mod keys;
pub mod order;
pub mod payment;
pub mod rules;
pub mod saga;
pub mod waitlist;

pub use course::CourseError;
pub use ids::{CourseId, OrderId, ReservationId, StudentId};
pub use order::{Failure, NewOrder, Order, Payment, Price, Status};
pub use rules::{Outcome, State, Transition};
pub use saga::Step;
pub use waitlist::Offer;
