//! The fake course-service's waitlist and event feed, with course-service's rules: a student joins
//! only a course without free seats and without holding a seat of it, joins once (again: the same
//! open entry), and a freed seat (a hold cancelled or lapsed, a seat released, capacity added)
//! becomes at once a hold for the first student waiting (an offer), told by a
//! `reservation.offered` event. An offer confirmed enrolls its entry; an offer that lapses or is
//! given up passes the seat on. The feed hands out events after a cursor, waits for the next one
//! when asked to, and answers `cursor_expired` for a cursor whose events were forgotten.

use crate::fake::{FakeCourseClient, Op, State, Step};
use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use order_service::{
    course_client::{CourseError, FeedClient, FeedPage, FeedRead, Joined, WaitlistClient},
    domain::{CourseId, ReservationId, StudentId},
};
use shared_types::{
    ErrorCode, Event, EventCounts, Reservation, ReservationStatus, WaitEntry, WaitlistStatus,
};
use uuid::Uuid;

/// How long an offer's hold lasts (course-service's default `WAITLIST_OFFER_SECS`).
pub const OFFER_SECS: i64 = 3600;

#[derive(Debug)]
pub struct Feed {
    pub course: CourseId,
    /// Entries in join order.
    entries: Vec<WaitEntry>,
    /// Events kept, oldest first; `seq` of the first is `first_kept`.
    events: Vec<(u64, Event)>,
    next_seq: u64,
    first_kept: u64,
    /// The `after` of every read of the feed, in order.
    pub reads: Vec<Option<String>>,
}

fn cursor_of(seq: u64) -> String {
    format!("ev1_{seq:016x}")
}

fn seq_of(cursor: &str) -> Option<u64> {
    u64::from_str_radix(cursor.strip_prefix("ev1_")?, 16).ok()
}

fn refused(status: u16, code: ErrorCode) -> CourseError {
    CourseError::Refused {
        status,
        code,
        price_cents: None,
    }
}

impl Feed {
    pub fn new(course: CourseId) -> Feed {
        Feed {
            course,
            entries: Vec::new(),
            events: Vec::new(),
            next_seq: 1,
            first_kept: 1,
            reads: Vec::new(),
        }
    }

    fn waiting(&self) -> impl Iterator<Item = &WaitEntry> {
        self.entries
            .iter()
            .filter(|e| e.status == WaitlistStatus::Waiting)
    }

    /// The entry with its position now.
    fn shown(&self, entry: &WaitEntry) -> WaitEntry {
        let position = (entry.status == WaitlistStatus::Waiting).then(|| {
            let ahead = self.waiting().take_while(|e| e.id != entry.id).count();
            u32::try_from(ahead + 1).expect("position")
        });
        WaitEntry {
            position,
            ..entry.clone()
        }
    }

    fn close(&mut self, reservation: Uuid, to: WaitlistStatus) {
        if let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.reservation_id == Some(reservation) && e.status == WaitlistStatus::Offered)
        {
            entry.status = to;
            entry.updated_at = Utc::now();
        }
    }

    /// An offer's hold was confirmed: its entry is enrolled.
    pub fn offer_taken(&mut self, reservation: Uuid) {
        self.close(reservation, WaitlistStatus::Enrolled);
    }
}

impl State {
    fn counts(&self) -> EventCounts {
        let count = |status| {
            self.reservations
                .values()
                .filter(|r| r.status == status)
                .count() as u32
        };
        let (held, sold) = (
            count(ReservationStatus::Held),
            count(ReservationStatus::Confirmed),
        );
        EventCounts {
            seats_total: self.seats,
            seats_available: self.seats.saturating_sub(held + sold),
            seats_held: held,
            seats_sold: sold,
            waitlist_length: self.feed.waiting().count() as u32,
        }
    }

    fn free_seats(&self) -> u32 {
        self.counts().seats_available
    }

    /// Appends an event (readers are woken by the caller, once the lock is let go).
    pub fn publish(&mut self, kind: &str, reservation: Option<&Reservation>) {
        let seq = self.feed.next_seq;
        self.feed.next_seq += 1;
        let event = Event {
            cursor: cursor_of(seq),
            kind: kind.into(),
            course_id: reservation.map_or(self.feed.course.as_uuid(), |r| r.course_id),
            reservation_id: reservation.map(|r| r.id),
            student_id: reservation.and_then(|r| r.student_id.clone()),
            at: Utc::now(),
            course: self.counts(),
        };
        self.feed.events.push((seq, event));
    }

    /// A hold ended or a seat came back: an offer's entry lapses, and the seat goes on.
    pub fn seat_freed(&mut self, kind: &str, reservation: &Reservation) {
        self.publish(kind, Some(reservation));
        self.feed.close(reservation.id, WaitlistStatus::Lapsed);
        self.promote();
    }

    /// Free seats become offers to the students waiting, first come first served.
    pub fn promote(&mut self) {
        while self.free_seats() > 0 {
            let Some(index) = self
                .feed
                .entries
                .iter()
                .position(|e| e.status == WaitlistStatus::Waiting)
            else {
                return;
            };
            let now = Utc::now();
            let entry = &mut self.feed.entries[index];
            let hold = Reservation {
                id: Uuid::now_v7(),
                course_id: self.feed.course.as_uuid(),
                student_id: Some(entry.student_id.clone()),
                unit_price_cents: self.price,
                currency: "USD".into(),
                status: ReservationStatus::Held,
                expires_at: now + TimeDelta::seconds(OFFER_SECS),
                created_at: now,
                updated_at: now,
            };
            (entry.status, entry.reservation_id, entry.updated_at) =
                (WaitlistStatus::Offered, Some(hold.id), now);
            let id = ReservationId::from_uuid(hold.id);
            self.reservations.insert(id, hold.clone());
            self.publish("reservation.offered", Some(&hold));
        }
    }

    fn join(&mut self, course: CourseId, student: &str) -> Result<Joined, CourseError> {
        if course != self.feed.course {
            return Err(refused(404, ErrorCode::CourseNotFound));
        }
        if let Some(open) = self
            .feed
            .entries
            .iter()
            .find(|e| e.student_id == student && e.status.is_open())
        {
            let entry = self.feed.shown(open);
            return Ok(Joined {
                entry,
                created: false,
            });
        }
        let holds = self.reservations.values().any(|r| {
            r.student_id.as_deref() == Some(student)
                && matches!(
                    r.status,
                    ReservationStatus::Held | ReservationStatus::Confirmed
                )
        });
        if holds {
            return Err(refused(409, ErrorCode::AlreadyEnrolled));
        }
        if self.free_seats() > 0 {
            return Err(refused(409, ErrorCode::SeatsAvailable));
        }
        let now = Utc::now();
        let entry = WaitEntry {
            id: Uuid::now_v7(),
            course_id: course.as_uuid(),
            student_id: student.to_owned(),
            status: WaitlistStatus::Waiting,
            position: None,
            reservation_id: None,
            created_at: now,
            updated_at: now,
        };
        self.feed.entries.push(entry.clone());
        Ok(Joined {
            entry: self.feed.shown(&entry),
            created: true,
        })
    }

    fn leave(&mut self, id: Uuid, student: &str) -> Result<WaitEntry, CourseError> {
        let Some(index) = self
            .feed
            .entries
            .iter()
            .position(|e| e.id == id && e.student_id == student)
        else {
            return Err(refused(404, ErrorCode::WaitlistEntryNotFound));
        };
        let entry = &mut self.feed.entries[index];
        let (was, offer) = (entry.status, entry.reservation_id);
        if was.is_open() {
            (entry.status, entry.updated_at) = (WaitlistStatus::Left, Utc::now());
        }
        if let (WaitlistStatus::Offered, Some(hold)) = (was, offer) {
            let id = ReservationId::from_uuid(hold);
            if let Some(r) = self.reservations.get_mut(&id) {
                r.status = ReservationStatus::Cancelled;
                let r = r.clone();
                self.seat_freed("reservation.cancelled", &r);
            }
        }
        Ok(self.feed.shown(&self.feed.entries[index]))
    }

    /// Events after `after` (at most `limit`), or `cursor_expired`.
    fn read(&mut self, after: Option<&str>, limit: u32) -> Result<FeedPage, CourseError> {
        let after_seq = match after {
            None => 0,
            Some(c) => seq_of(c).ok_or_else(|| refused(400, ErrorCode::ValidationFailed))?,
        };
        if after.is_some() && after_seq + 1 < self.feed.first_kept {
            return Err(refused(410, ErrorCode::CursorExpired));
        }
        let items: Vec<Event> = self
            .feed
            .events
            .iter()
            .filter(|(seq, _)| *seq > after_seq)
            .take(limit as usize)
            .map(|(_, e)| e.clone())
            .collect();
        let next_cursor = items
            .last()
            .map(|e| e.cursor.clone())
            .or_else(|| after.map(str::to_owned));
        Ok(FeedPage { items, next_cursor })
    }
}

impl FakeCourseClient {
    /// Every event of `kind` kept.
    pub fn events_of(&self, kind: &str) -> Vec<Event> {
        let state = self.state.lock();
        state
            .feed
            .events
            .iter()
            .map(|(_, e)| e)
            .filter(|e| e.kind == kind)
            .cloned()
            .collect()
    }

    /// How many events are kept.
    pub fn event_count(&self) -> usize {
        self.state.lock().feed.events.len()
    }

    /// The cursor of the last event kept.
    pub fn last_cursor(&self) -> Option<String> {
        let state = self.state.lock();
        state.feed.events.last().map(|(_, e)| e.cursor.clone())
    }

    /// The `after` of every read of the feed so far.
    pub fn feed_reads(&self) -> Vec<Option<String>> {
        self.state.lock().feed.reads.clone()
    }

    /// The feed tells every offer made so far once more (a redelivery under new cursors).
    pub fn redeliver_offers(&self) {
        {
            let mut state = self.state.lock();
            let offers: Vec<Event> = state
                .feed
                .events
                .iter()
                .filter(|(_, e)| e.kind == "reservation.offered")
                .map(|(_, e)| e.clone())
                .collect();
            for event in offers {
                let seq = state.feed.next_seq;
                state.feed.next_seq += 1;
                let copy = Event {
                    cursor: cursor_of(seq),
                    ..event
                };
                state.feed.events.push((seq, copy));
            }
        }
        self.published.notify_waiters();
    }

    /// Forgets every event told so far (as the feed's retention does with old ones).
    pub fn forget_events(&self) {
        let mut state = self.state.lock();
        state.feed.first_kept = state.feed.next_seq;
        state.feed.events.clear();
    }

    /// The student's entries, as course-service keeps them.
    pub fn entries_of(&self, student: &str) -> Vec<WaitEntry> {
        let state = self.state.lock();
        state
            .feed
            .entries
            .iter()
            .filter(|e| e.student_id == student)
            .map(|e| state.feed.shown(e))
            .collect()
    }

    /// Runs `op` on the state unless a step is scripted for it.
    async fn scripted<T>(
        &self,
        op: Op,
        apply: impl Fn(&mut State) -> Result<T, CourseError>,
    ) -> Result<T, CourseError> {
        let answer = match self.next_step(op) {
            Some(Step::Fail(e)) => Err(e),
            Some(Step::ApplyThenFail(e)) => {
                let _ = apply(&mut self.state.lock());
                Err(e)
            }
            Some(Step::Delay(d)) => {
                tokio::time::sleep(d).await;
                apply(&mut self.state.lock())
            }
            None => apply(&mut self.state.lock()),
        };
        self.published.notify_waiters();
        answer
    }
}

#[async_trait]
impl WaitlistClient for FakeCourseClient {
    async fn join_waitlist(
        &self,
        course: CourseId,
        student: &StudentId,
        _: &str,
    ) -> Result<Joined, CourseError> {
        self.scripted(Op::Join, |s| s.join(course, student.as_str()))
            .await
    }

    async fn waitlist_of(
        &self,
        student: &StudentId,
        _: &str,
    ) -> Result<Vec<WaitEntry>, CourseError> {
        self.scripted(Op::Entries, |_| Ok(()))
            .await
            .map(|()| self.entries_of(student.as_str()))
    }

    async fn leave_waitlist(
        &self,
        entry: Uuid,
        student: &StudentId,
        _: &str,
    ) -> Result<WaitEntry, CourseError> {
        self.scripted(Op::Leave, |s| s.leave(entry, student.as_str()))
            .await
    }
}

#[async_trait]
impl FeedClient for FakeCourseClient {
    async fn events(&self, read: &FeedRead) -> Result<FeedPage, CourseError> {
        let after = read.after.as_deref();
        match self.next_step(Op::Events) {
            Some(Step::Fail(e) | Step::ApplyThenFail(e)) => return Err(e),
            Some(Step::Delay(d)) => tokio::time::sleep(d).await,
            None => {}
        }
        self.state.lock().feed.reads.push(read.after.clone());
        let deadline = tokio::time::Instant::now() + read.wait;
        loop {
            // Registered before looking, so that an event published in between still wakes it.
            let published = self.published.notified();
            tokio::pin!(published);
            published.as_mut().enable();
            let page = self.state.lock().read(after, read.limit)?;
            if !page.items.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(page);
            }
            if tokio::time::timeout_at(deadline, published).await.is_err() {
                return Ok(page);
            }
        }
    }
}
