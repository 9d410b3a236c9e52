//! `FakeCourseClient`: behaves like course-service for one course, except where a test scripts a
//! failure for the next calls of an operation.

use async_trait::async_trait;
use order_service::{
    course_client::{CallContext, CourseClient, CourseError},
    domain::{ReservationId, StudentId},
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
struct State {
    seats: u32,
    price: i64,
    reservations: HashMap<ReservationId, Reservation>,
    script: HashMap<Op, VecDeque<Step>>,
    calls: Vec<Op>,
}

#[derive(Debug)]
pub struct FakeCourseClient {
    state: Mutex<State>,
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
            }),
        }
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

    /// The hold's time runs out (as course-service's sweep marks it).
    pub fn expire(&self, reservation: ReservationId) {
        if let Some(r) = self.state.lock().reservations.get_mut(&reservation)
            && r.status == ReservationStatus::Held
        {
            r.status = ReservationStatus::Expired;
        }
    }

    pub fn set_seats(&self, seats: u32) {
        self.state.lock().seats = seats;
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
        let step = {
            let mut state = self.state.lock();
            state.calls.push(op);
            state.script.get_mut(&op).and_then(VecDeque::pop_front)
        };
        match step {
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
        }
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
                S::Held | S::Confirmed => {
                    r.status = S::Confirmed;
                    Ok(r.clone())
                }
                S::Expired => refuse(410, ErrorCode::ReservationExpired),
                _ => refuse(409, ErrorCode::ReservationCancelled),
            },
            (Op::Cancel, Some(r)) => match r.status {
                S::Held => {
                    r.status = S::Cancelled;
                    Ok(r.clone())
                }
                S::Confirmed => refuse(409, ErrorCode::ReservationConfirmed),
                _ => Ok(r.clone()),
            },
            (Op::Release, Some(r)) => match r.status {
                S::Confirmed | S::Released => {
                    r.status = S::Released;
                    Ok(r.clone())
                }
                _ => refuse(409, ErrorCode::ReservationNotConfirmed),
            },
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
