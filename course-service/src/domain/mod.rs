//! The rules of courses and seats, free of locks, clocks and I/O.
//!
//! - [`course`]: validated course attributes (title, price, currency, capacity).
//! - [`reservation`]: the hold state machine; every transition is a method taking `now`.
//! - [`book`]: one course's seat ledger (counts, reservations, the one-seat-per-student rule),
//!   the unit the inventory locks.
//! - [`waitlist`]: a course's queue of waiting students and what became of each entry.
//! - [`feed`]: what the event feed tells of a ledger's changes, and its cursors.
//!
//! Time is always an argument, so "a lapsed hold cannot be confirmed" is a pure rule.

pub mod book;
pub mod course;
pub mod feed;
pub mod ranks;
pub mod reservation;
pub mod waitlist;

pub use book::{BookError, CourseBook, CourseSnapshot, Held, HoldRequest, LedgerEvent, Sales};
pub use course::{CourseDetails, Currency, NewCourse, ValidationError};
pub use reservation::{Reservation, SeatEffect, Status, TransitionError};

mod ids;

pub use ids::{CourseId, EntryId, ReservationId};
