//! Moving an order through its saga: [`Workflow::advance`] makes the one call the order's step
//! needs and lets [`crate::domain::saga`] decide what the answer means; [`Workflow::drive`]
//! repeats that, saving each next step through the repository, until the order rests. Both the
//! request path and the reconciler drive orders this way, from the step the order has saved.
//!
//! A drive stops when the order is final, when a step learned nothing (course-service could not
//! tell), when a move did not apply (a cancellation took the order over, or another driver moved
//! it first), or before reading the reservation a second time: a visit asks course-service at
//! most once how far an order got, and the next visit of the reconciler asks again.

use super::{Outcome as Counted, Workflow};
use crate::{
    course_client::{CallContext, CourseError},
    domain::{
        Failure, Order, Payment, Step, Transition,
        rules::{self, Outcome},
        saga::{self, Decision, GiveBack, Next, Read},
    },
    repo::{Note, RepoError},
};
use chrono::{DateTime, Utc};
use shared_types::{ErrorCode, Reservation};

/// How many times one drive reads the reservation.
const READS_PER_DRIVE: usize = 1;

/// Where a drive left an order.
#[derive(Debug, Clone)]
pub struct Driven {
    /// The order as stored afterwards.
    pub order: Order,
    /// The current price a `price_changed` refusal quoted during the drive.
    pub quoted_price_cents: Option<i64>,
    /// The order rests at this step until this time (it waits for its payment): the driver parks
    /// its lease rather than giving it back.
    pub parked: Option<(Step, DateTime<Utc>)>,
}

impl Workflow {
    /// One step of `order`'s saga: the call its step makes (through the course client) and what
    /// the answer decides. Changes nothing in the store.
    pub async fn advance(&self, order: &Order, request_id: &str) -> Next {
        let ctx = CallContext {
            course_id: order.course,
            reservation_id: order.reservation,
            request_id: request_id.to_owned(),
        };
        let course = self.course.as_ref();
        let paid = order.payment.as_ref().is_some_and(Payment::holds_money);
        let collect = self.payments.is_some();
        match order.step {
            Step::Recorded => {
                let answer = course
                    .reserve(&ctx, &order.student, order.expected_price_cents)
                    .await;
                saga::after_hold(logged("hold", answer), collect)
            }
            Step::Confirming => {
                saga::after_confirm(logged("confirm", course.confirm(&ctx).await), paid)
            }
            Step::FindingOut => {
                let read = course.get_reservation(&ctx).await;
                match saga::after_read(read, paid, collect) {
                    Read::Decided(next) => {
                        if next.decision == Decision::Wait {
                            tracing::warn!("reservation state unknown; the order stays pending");
                        }
                        *next
                    }
                    Read::Tombstone => {
                        self.metrics.compensations.inc();
                        saga::after_tombstone(course.cancel(&ctx).await)
                    }
                }
            }
            Step::Cancelling if order.payment.is_some() => {
                self.cancel_with_checkout(order, &ctx, request_id).await
            }
            Step::Cancelling => saga::after_give_back(self.return_seat(order, &ctx).await),
            Step::Checkout => self.open_checkout(order, request_id).await,
            Step::AwaitingPayment => self.look_at_checkout(order, request_id).await,
            Step::Expiring => self.expire_checkout(order, &ctx, request_id).await,
            Step::Abandoning => {
                self.give_back_then(order, &ctx, Failure::PaymentProviderUnavailable)
                    .await
            }
            Step::Reholding => self.rehold(order, &ctx).await,
            Step::Refunding => self.refund(order, request_id).await,
            Step::Settled | Step::Cancelled => Next::nothing(),
        }
    }

    /// What to save with `transition` of `order`: what the step learned, and the new reservation
    /// id when the order goes to hold a new seat.
    pub(super) fn note_for(&self, order: &Order, transition: Transition, mut note: Note) -> Note {
        if rules::target(transition).step == Step::Reholding {
            note.reservation = Some(order.reservation.successor());
        }
        note
    }

    /// Advances `order` and saves each step until it rests (see the module docs). The order it
    /// hands back is durable as reported: a drive that rests after a move the repository may
    /// have answered before it was durable reads the order back (waiting, on the embedded store,
    /// for the disk).
    pub async fn drive(&self, mut order: Order, request_id: &str) -> Result<Driven, RepoError> {
        let (mut reads, mut quoted_price_cents) = (0, None);
        let (mut unsaved, mut parked) = (false, None);
        while rules::has_work(order.state()) {
            if order.step == Step::FindingOut {
                if reads == READS_PER_DRIVE {
                    break;
                }
                reads += 1;
            }
            let (from, state) = (order.step, order.state());
            let next = self.advance(&order, request_id).await;
            quoted_price_cents = next.quoted_price_cents.or(quoted_price_cents);
            let transition = match next.decision {
                Decision::MoveTo(to) => Transition::Advance { from, to },
                Decision::Settle(outcome) => Transition::Settle { from, outcome },
                Decision::Cancelled => Transition::FinishCancel,
                Decision::AwaitPayment => Transition::AwaitPayment,
                Decision::Paid => Transition::Paid { from: state },
                Decision::Refund(failure) => Transition::Refund {
                    from: state,
                    failure,
                },
                Decision::Park(until) => {
                    parked = Some((from, until));
                    break;
                }
                Decision::Wait => break,
            };
            let note = Note {
                price: next.price,
                hold_expires_at: next.hold_expires_at,
                payment: next.payment,
                reservation: next.reservation,
            };
            let note = self.note_for(&order, transition, note);
            let applied = self
                .repo
                .apply(order.id, transition, note)
                .await?
                .ok_or(RepoError::Gone(order.id))?;
            order = applied.order;
            unsaved = applied.applied && matches!(transition, Transition::Advance { .. });
            if !applied.applied {
                break;
            }
            self.count_settled(transition);
            if transition == Transition::AwaitPayment {
                // Nothing to ask before the payment can have happened.
                parked = order.payment.as_ref().map(|p| {
                    let poll = self.payments.as_ref().map(|p| p.poll).unwrap_or_default();
                    (
                        Step::AwaitingPayment,
                        (self.clock.now() + poll).min(p.expires_at),
                    )
                });
                break;
            }
        }
        if unsaved {
            order = self
                .repo
                .get(order.id)
                .await?
                .ok_or(RepoError::Gone(order.id))?;
        }
        Ok(Driven {
            order,
            quoted_price_cents,
            parked,
        })
    }

    fn count_settled(&self, transition: Transition) {
        let outcome = match transition {
            Transition::Settle {
                outcome: Outcome::Confirmed,
                ..
            } => "confirmed",
            Transition::Settle {
                outcome: Outcome::Refunded,
                ..
            } => "refunded",
            Transition::Settle { .. } => "failed",
            Transition::FinishCancel => "cancelled",
            _ => return,
        };
        self.metrics
            .settled
            .get_or_create(&Counted { outcome })
            .inc();
    }

    /// Makes sure the reservation holds no seat: a confirmed order's seat is released, any other
    /// order's hold is cancelled, and each way falls back to the other when course-service knows
    /// the reservation in the other state. Both are idempotent, so repeating this is safe.
    pub(super) async fn return_seat(
        &self,
        order: &Order,
        ctx: &CallContext,
    ) -> Result<(), CourseError> {
        self.metrics.compensations.inc();
        let first = GiveBack::first_for(order.status);
        let answer = match self.give_back(first, ctx).await {
            Err(e) if first.try_other_after(&e) => self.give_back(first.other(), ctx).await,
            answer => answer,
        };
        answer.inspect_err(|e| {
            tracing::warn!(error = %e, "seat not given back while cancelling an order");
        })
    }

    async fn give_back(&self, way: GiveBack, ctx: &CallContext) -> Result<(), CourseError> {
        let answer = match way {
            GiveBack::Release => self.course.release(ctx).await,
            GiveBack::Cancel => self.course.cancel(ctx).await,
        };
        match answer {
            Err(e) if way.holds_nothing_after(&e) => Ok(()),
            answer => answer.map(|_| ()),
        }
    }
}

/// Logs what a hold or a confirm left unknown or refused unexpectedly; passes the answer on.
fn logged(
    call: &'static str,
    answer: Result<Reservation, CourseError>,
) -> Result<Reservation, CourseError> {
    match &answer {
        Err(CourseError::Refused { status, code, .. })
            if !saga::expected_refusal(*code) && *code != ErrorCode::ReservationNotFound =>
        {
            tracing::error!(call, status, code = %code, "unexpected refusal from course-service");
        }
        Err(e @ CourseError::Unknown(_)) => {
            tracing::warn!(call, error = %e, "outcome unknown; reading the reservation");
        }
        Err(CourseError::NotDelivered) => {
            tracing::warn!(call, "course-service could not be reached");
        }
        _ => {}
    }
    answer
}
