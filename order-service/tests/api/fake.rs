//! `FakeCourseClient`: behaves like course-service for one course, except where a test scripts a
//! failure for the next calls of an operation. Its waitlist and event feed are in `fake_feed`.

use crate::fake_feed::Feed;
use async_trait::async_trait;
use order_service::{
    course_client::{CallContext, CourseClient, CourseError},
    domain::{CourseId, ReservationId, StudentId},
};
use parking_lot::Mutex;
use shared_types::{ErrorCode, Reservation, ReservationStatus};
use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Reserve,
    Confirm,
    Cancel,
    Release,
    Get,
    Join,
    Entries,
    Leave,
    Events,
}

/// A scripted answer for one call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer this error without applying anything.
    Fail(CourseError),
    /// Apply the call, then answer this error (a lost response).
    ApplyThenFail(CourseError),
    /// Wait this long, then behave normally.
    Delay(Duration),
}

#[derive(Debug)]
pub(crate) struct State {
    pub seats: u32,
    pub price: i64,
    pub reservations: HashMap<ReservationId, Reservation>,
    script: HashMap<Op, VecDeque<Step>>,
    calls: Vec<Op>,
    /// The waitlist and the event feed of the course.
    pub feed: Feed,
}

#[derive(Debug)]
pub struct FakeCourseClient {
    pub(crate) state: Mutex<State>,
    /// Woken whenever an event is published (readers of the feed wait on it).
    pub(crate) published: tokio::sync::Notify,
}

pub fn unknown() -> CourseError {
    CourseError::Unknown("scripted".into())
}

impl FakeCourseClient {
    pub fn with_seats(seats: u32) -> Self {
        FakeCourseClient {
            state: Mutex::new(State {
                seats,
                price: 1000,
                reservations: HashMap::new(),
                script: HashMap::new(),
                calls: Vec::new(),
                feed: Feed::new(CourseId::generate()),
            }),
            published: tokio::sync::Notify::new(),
        }
    }

    /// The course the fake's waitlist belongs to (its reservations take seats of any course id).
    pub fn course_id(&self) -> CourseId {
        self.state.lock().feed.course
    }

    pub fn set_price(&self, cents: i64) {
        self.state.lock().price = cents;
    }

    /// The next scripted step of `op`, counting the call.
    pub(crate) fn next_step(&self, op: Op) -> Option<Step> {
        let mut state = self.state.lock();
        state.calls.push(op);
        state.script.get_mut(&op).and_then(VecDeque::pop_front)
    }

    pub fn script(&self, op: Op, steps: impl IntoIterator<Item = Step>) {
        self.state
            .lock()
            .script
            .entry(op)
            .or_default()
            .extend(steps);
    }

    pub fn calls(&self, op: Op) -> usize {
        self.state.lock().calls.iter().filter(|c| **c == op).count()
    }

    pub fn status_of(&self, reservation: ReservationId) -> Option<ReservationStatus> {
        self.state
            .lock()
            .reservations
            .get(&reservation)
            .map(|r| r.status)
    }

    /// The hold's time runs out (as course-service's sweep marks it); an offer's seat passes on.
    pub fn expire(&self, reservation: ReservationId) {
        {
            let mut state = self.state.lock();
            let Some(r) = state.reservations.get_mut(&reservation) else {
                return;
            };
            if r.status != ReservationStatus::Held {
                return;
            }
            r.status = ReservationStatus::Expired;
            let r = r.clone();
            state.seat_freed("reservation.expired", &r);
        }
        self.published.notify_waiters();
    }

    /// Changes the capacity; seats added go to students waiting first.
    pub fn set_seats(&self, seats: u32) {
        {
            let mut state = self.state.lock();
            state.seats = seats;
            state.publish("course.updated", None);
            state.promote();
        }
        self.published.notify_waiters();
    }

    /// Seats held or sold.
    pub fn taken(&self) -> usize {
        let state = self.state.lock();
        state
            .reservations
            .values()
            .filter(|r| {
                matches!(
                    r.status,
                    ReservationStatus::Held | ReservationStatus::Confirmed
                )
            })
            .count()
    }

    async fn call(
        &self,
        op: Op,
        ctx: &CallContext,
        student: Option<&str>,
    ) -> Result<Reservation, CourseError> {
        let answer = match self.next_step(op) {
            Some(Step::Fail(e)) => Err(e),
            Some(Step::ApplyThenFail(e)) => {
                let _ = self.apply(op, ctx, student);
                Err(e)
            }
            Some(Step::Delay(d)) => {
                tokio::time::sleep(d).await;
                self.apply(op, ctx, student)
            }
            None => self.apply(op, ctx, student),
        };
        self.published.notify_waiters();
        answer
    }

    fn apply(
        &self,
        op: Op,
        ctx: &CallContext,
        student: Option<&str>,
    ) -> Result<Reservation, CourseError> {
        use ReservationStatus as S;
        let mut state = self.state.lock();
        let taken = state
            .reservations
            .values()
            .filter(|r| matches!(r.status, S::Held | S::Confirmed))
            .count() as u32;
        let (seats, price) = (state.seats, state.price);
        let existing = state.reservations.get_mut(&ctx.reservation_id);
        let refuse = |status: u16, code: ErrorCode| {
            Err(CourseError::Refused {
                status,
                code,
                price_cents: None,
            })
        };
        match (op, existing) {
            (Op::Reserve, Some(r)) if r.student_id.is_none() => {
                refuse(409, ErrorCode::ReservationCancelled)
            }
            (Op::Reserve, Some(r)) => Ok(r.clone()),
            (Op::Reserve, None) if taken >= seats => refuse(409, ErrorCode::SoldOut),
            (Op::Reserve, None) => {
                let r = reservation(ctx, student.map(str::to_owned), price, S::Held);
                state.reservations.insert(ctx.reservation_id, r.clone());
                state.publish("reservation.held", Some(&r));
                Ok(r)
            }
            (Op::Get | Op::Confirm | Op::Release, None) => {
                refuse(404, ErrorCode::ReservationNotFound)
            }
            (Op::Cancel, None) => {
                let r = reservation(ctx, None, price, S::Cancelled);
                state.reservations.insert(ctx.reservation_id, r.clone());
                Ok(r)
            }
            (Op::Get, Some(r)) => Ok(r.clone()),
            (Op::Confirm, Some(r)) => match r.status {
                S::Confirmed => Ok(r.clone()),
                S::Held => {
                    r.status = S::Confirmed;
                    let r = r.clone();
                    state.publish("reservation.confirmed", Some(&r));
                    state.feed.offer_taken(r.id);
                    Ok(r)
                }
                S::Expired => refuse(410, ErrorCode::ReservationExpired),
                _ => refuse(409, ErrorCode::ReservationCancelled),
            },
            (Op::Cancel, Some(r)) => match r.status {
                S::Held => {
                    r.status = S::Cancelled;
                    let r = r.clone();
                    state.seat_freed("reservation.cancelled", &r);
                    Ok(r)
                }
                S::Confirmed => refuse(409, ErrorCode::ReservationConfirmed),
                _ => Ok(r.clone()),
            },
            (Op::Release, Some(r)) => match r.status {
                S::Released => Ok(r.clone()),
                S::Confirmed => {
                    r.status = S::Released;
                    let r = r.clone();
                    state.seat_freed("reservation.released", &r);
                    Ok(r)
                }
                _ => refuse(409, ErrorCode::ReservationNotConfirmed),
            },
            _ => unreachable!("{op:?} is not a reservation call"),
        }
    }
}

fn reservation(
    ctx: &CallContext,
    student_id: Option<String>,
    price: i64,
    status: ReservationStatus,
) -> Reservation {
    let now = chrono::Utc::now();
    Reservation {
        id: ctx.reservation_id.as_uuid(),
        course_id: ctx.course_id.as_uuid(),
        student_id,
        unit_price_cents: price,
        currency: "USD".into(),
        status,
        expires_at: now + chrono::TimeDelta::seconds(300),
        created_at: now,
        updated_at: now,
    }
}

#[async_trait]
impl CourseClient for FakeCourseClient {
    async fn reserve(
        &self,
        ctx: &CallContext,
        student: &StudentId,
        _: Option<i64>,
    ) -> Result<Reservation, CourseError> {
        self.call(Op::Reserve, ctx, Some(student.as_str())).await
    }
    async fn confirm(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Op::Confirm, ctx, None).await
    }
    async fn cancel(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Op::Cancel, ctx, None).await
    }
    async fn release(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Op::Release, ctx, None).await
    }
    async fn get_reservation(&self, ctx: &CallContext) -> Result<Reservation, CourseError> {
        self.call(Op::Get, ctx, None).await
    }
    async fn is_reachable(&self) -> bool {
        true
    }
}
