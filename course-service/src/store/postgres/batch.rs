//! Group commit for one course's seat changes. Every hold or transition updates its course's row,
//! which PostgreSQL locks until the transaction's commit is on disk; one change per transaction
//! would sell seats of a popular course one fsync at a time. Instead each course has a queue and
//! a task that takes whatever changes are waiting (up to [`MAX_BATCH`]) and runs them in one
//! transaction, each inside its own savepoint, so one change's refusal or error undoes only that
//! change. Nothing is answered before the commit: a failed commit fails the whole batch as
//! "unknown", which callers may retry because every change is idempotent.
//!
//! The batch locks its course row first, so batches of one course on different replicas queue on
//! it instead of deadlocking over reservations. A change that still loses a race (a deadlock with
//! another course's batch over a student's counter, an insert of the same id) is handed back to
//! its caller to run on its own.
//!
//! Holds go first, all together: [`hold_together`] takes the common ones in one statement, and
//! only the rest (replays, refusals, races) take a savepoint each.
//!
//! A course's task lives while changes keep arriving and stops after [`IDLE`] without any.

use super::{
    Outcome,
    hold_batch::{HoldSpec, hold_together},
    retryable, unavailable,
};
use crate::{
    domain::{CourseId, Held},
    store::StoreError,
};
use dashmap::DashMap;
use futures::future::BoxFuture;
use sqlx::{PgPool, Postgres, Transaction};
use std::{sync::Arc, time::Duration};
use tokio::sync::{mpsc, oneshot};

/// Most changes in one transaction: bounds how long the course row stays locked.
const MAX_BATCH: usize = 64;

/// A course's task stops after this long without changes.
const IDLE: Duration = Duration::from_secs(10);

/// One try at a change inside a transaction; it may be run again if it loses a race.
pub(super) type Attempt<T> = Box<
    dyn for<'t> FnMut(
            &'t mut Transaction<'static, Postgres>,
        ) -> BoxFuture<'t, Result<Outcome<T>, sqlx::Error>>
        + Send,
>;

/// A hold that may be taken with the batch's other holds, and how its answer is made.
pub(super) struct Together<T> {
    pub spec: HoldSpec,
    pub answer: fn(Held) -> T,
}

/// How a batched change ended.
pub(super) enum Answer<T> {
    /// Committed (or refused, or failed with the batch).
    Done(Result<T, StoreError>),
    /// It lost a race inside the batch and was undone: run it on its own.
    Alone(Attempt<T>),
}

/// The per-course queues.
pub(super) struct Batcher {
    pool: PgPool,
    queues: DashMap<CourseId, mpsc::UnboundedSender<Box<dyn Work>>>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("courses", &self.queues.len())
            .finish()
    }
}

impl Batcher {
    pub(super) fn new(pool: PgPool) -> Arc<Batcher> {
        Arc::new(Batcher {
            pool,
            queues: DashMap::new(),
        })
    }

    /// Runs `attempt` in the next transaction of `course`'s batches and answers after its commit;
    /// `together` lets a hold be taken with the batch's other holds first.
    pub(super) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        course: CourseId,
        attempt: Attempt<T>,
        together: Option<Together<T>>,
    ) -> Answer<T> {
        let (reply, answer) = oneshot::channel();
        self.submit(
            course,
            Box::new(Task {
                attempt,
                together,
                answer: None,
                reply,
            }),
        );
        answer.await.unwrap_or_else(|_| {
            // The task was dropped (the runtime is shutting down): the commit may have happened.
            Answer::Done(Err(StoreError::unavailable_for(
                "the database transaction was interrupted",
            )))
        })
    }

    fn submit(self: &Arc<Self>, course: CourseId, mut work: Box<dyn Work>) {
        loop {
            let queue = self
                .queues
                .entry(course)
                .or_insert_with(|| {
                    let (sender, receiver) = mpsc::unbounded_channel();
                    tokio::spawn(Arc::clone(self).serve(course, sender.clone(), receiver));
                    sender
                })
                .clone();
            match queue.send(work) {
                Ok(()) => return,
                // That course's task stopped for idleness just now: start another.
                Err(mpsc::error::SendError(returned)) => {
                    self.queues
                        .remove_if(&course, |_, q| q.same_channel(&queue));
                    work = returned;
                }
            }
        }
    }

    /// One course's task: batches until it has been idle for [`IDLE`].
    async fn serve(
        self: Arc<Self>,
        course: CourseId,
        own: mpsc::UnboundedSender<Box<dyn Work>>,
        mut queue: mpsc::UnboundedReceiver<Box<dyn Work>>,
    ) {
        loop {
            let first = match tokio::time::timeout(IDLE, queue.recv()).await {
                Ok(Some(work)) => work,
                Ok(None) => return,
                Err(_) => {
                    // Idle: stop taking changes, then finish what arrived meanwhile.
                    self.queues.remove_if(&course, |_, q| q.same_channel(&own));
                    queue.close();
                    let mut rest = Vec::new();
                    while let Ok(work) = queue.try_recv() {
                        rest.push(work);
                    }
                    while !rest.is_empty() {
                        let batch = rest.drain(..rest.len().min(MAX_BATCH)).collect();
                        run_batch(&self.pool, course, batch).await;
                    }
                    return;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(work) => batch.push(work),
                    Err(_) => break,
                }
            }
            run_batch(&self.pool, course, batch).await;
        }
    }
}

/// Runs `batch` in one transaction of `course` and answers each change.
async fn run_batch(pool: &PgPool, course: CourseId, mut batch: Vec<Box<dyn Work>>) {
    if batch.len() == 1
        && let Some(work) = batch.pop()
    {
        return run_one(pool, work).await;
    }
    // Begin, lock the course row and open the first savepoint in one round trip (the id is a
    // UUID, written as its canonical text).
    let begin = format!(
        "BEGIN; SELECT 1 FROM courses WHERE id = '{}' FOR NO KEY UPDATE; SAVEPOINT change",
        course.as_uuid()
    );
    let mut tx = match pool.begin_with(sqlx::AssertSqlSafe(begin)).await {
        Ok(tx) => tx,
        Err(e) => return fail(batch, &unavailable(e)),
    };
    let mut done: Vec<Box<dyn Work>> = Vec::with_capacity(batch.len());
    let batch = match holds_first(&mut tx, course, batch, &mut done).await {
        Ok(rest) => rest,
        Err((e, batch)) => return fail(done.into_iter().chain(batch), &unavailable(e)),
    };
    let mut pending = batch.into_iter();
    while let Some(mut work) = pending.next() {
        let step = async {
            let ran = work.attempt(&mut tx).await;
            // Keep the change and open the next one's savepoint, or undo it (which keeps the
            // savepoint): one round trip either way.
            let next = match &ran {
                Ok(true) => "RELEASE SAVEPOINT change; SAVEPOINT change",
                Ok(false) | Err(_) => "ROLLBACK TO SAVEPOINT change",
            };
            sqlx::raw_sql(next).execute(&mut *tx).await?;
            Ok::<_, sqlx::Error>(ran)
        };
        match step.await {
            Ok(Ok(_)) => done.push(work),
            Ok(Err(e)) if retryable(&e) => work.alone(),
            Ok(Err(e)) => work.finish(Err(unavailable(e))),
            // The connection is gone: nothing in this transaction can be committed.
            Err(e) => {
                let error = unavailable(e);
                return fail(done.into_iter().chain([work]).chain(pending), &error);
            }
        }
    }
    match tx.commit().await {
        Ok(()) => done.into_iter().for_each(|work| work.finish(Ok(()))),
        Err(e) => fail(done, &unavailable(e)),
    }
}

/// A batch of one change: its own transaction, without the course lock or a savepoint (nothing
/// else shares it), as if it had come alone: three round trips instead of six.
async fn run_one(pool: &PgPool, mut work: Box<dyn Work>) {
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(e) => return work.finish(Err(unavailable(e))),
    };
    match work.attempt(&mut tx).await {
        Ok(true) => match tx.commit().await {
            Ok(()) => work.finish(Ok(())),
            Err(e) => work.finish(Err(unavailable(e))),
        },
        // Refused: nothing to keep; the answer stands whether or not the rollback is heard.
        Ok(false) => {
            let _ = tx.rollback().await;
            work.finish(Ok(()));
        }
        Err(e) if retryable(&e) => work.alone(),
        Err(e) => work.finish(Err(unavailable(e))),
    }
}

/// Takes the batch's common holds in one statement, moving them to `done`; answers the rest. A
/// failed statement is undone and leaves every hold to the one-by-one path; an error is returned
/// (with the batch) only when the transaction itself is lost.
async fn holds_first(
    tx: &mut Transaction<'static, Postgres>,
    course: CourseId,
    mut batch: Vec<Box<dyn Work>>,
    done: &mut Vec<Box<dyn Work>>,
) -> Result<Vec<Box<dyn Work>>, (sqlx::Error, Vec<Box<dyn Work>>)> {
    let specs: Vec<&HoldSpec> = batch.iter().filter_map(|w| w.together()).collect();
    // One hold alone gains nothing over its own statement.
    if specs.len() < 2 {
        return Ok(batch);
    }
    let specs_len = specs.len();
    let taken = match hold_together(tx, course, &specs).await {
        Ok(taken) => taken,
        Err(e) => {
            if let Err(e) = sqlx::raw_sql("ROLLBACK TO SAVEPOINT change")
                .execute(&mut **tx)
                .await
            {
                return Err((e, batch));
            }
            tracing::warn!(error = %e, holds = specs_len, "holds taken together failed; taking them one by one");
            return Ok(batch);
        }
    };
    let mut taken = taken.into_iter();
    let mut rest = Vec::with_capacity(batch.len());
    for mut work in batch.drain(..) {
        let held = match work.together() {
            Some(_) => taken.next().flatten(),
            None => None,
        };
        match held {
            Some(held) => {
                work.took(held);
                done.push(work);
            }
            None => rest.push(work),
        }
    }
    // The rest, if any, need a savepoint of their own after the holds.
    if !rest.is_empty()
        && let Err(e) = sqlx::raw_sql("RELEASE SAVEPOINT change; SAVEPOINT change")
            .execute(&mut **tx)
            .await
    {
        done.append(&mut rest);
        return Err((e, Vec::new()));
    }
    Ok(rest)
}

fn fail(batch: impl IntoIterator<Item = Box<dyn Work>>, error: &StoreError) {
    for work in batch {
        work.finish(Err(StoreError::unavailable_for(error.to_string())));
    }
}

/// A change in a batch, whatever it answers.
trait Work: Send {
    /// Runs the change in `tx`; true to keep its writes, false to undo them.
    fn attempt<'a>(
        &'a mut self,
        tx: &'a mut Transaction<'static, Postgres>,
    ) -> BoxFuture<'a, Result<bool, sqlx::Error>>;
    /// Answers the caller once the batch committed (or failed).
    fn finish(self: Box<Self>, committed: Result<(), StoreError>);
    /// Hands the change back to its caller to run on its own.
    fn alone(self: Box<Self>);
    /// The hold this change is, when it may be taken together with others.
    fn together(&self) -> Option<&HoldSpec>;
    /// The batch's holds statement took this hold: `held` is its answer.
    fn took(&mut self, held: Held);
}

struct Task<T> {
    attempt: Attempt<T>,
    together: Option<Together<T>>,
    answer: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Answer<T>>,
}

impl<T: Send + 'static> Work for Task<T> {
    fn attempt<'a>(
        &'a mut self,
        tx: &'a mut Transaction<'static, Postgres>,
    ) -> BoxFuture<'a, Result<bool, sqlx::Error>> {
        Box::pin(async move {
            let (keep, answer) = match (self.attempt)(tx).await? {
                Outcome::Commit(answer) => (true, answer),
                Outcome::Rollback(answer) => (false, answer),
            };
            self.answer = Some(answer);
            Ok(keep)
        })
    }

    fn finish(self: Box<Self>, committed: Result<(), StoreError>) {
        let answer = match committed {
            Ok(()) => self
                .answer
                .unwrap_or_else(|| Err(StoreError::unavailable_for("the change was not run"))),
            Err(e) => Err(e),
        };
        // The caller may have gone away (its request was dropped); the change stands regardless.
        let _ = self.reply.send(Answer::Done(answer));
    }

    fn alone(self: Box<Self>) {
        let _ = self.reply.send(Answer::Alone(self.attempt));
    }

    fn together(&self) -> Option<&HoldSpec> {
        self.together.as_ref().map(|t| &t.spec)
    }

    fn took(&mut self, held: Held) {
        if let Some(together) = &self.together {
            self.answer = Some(Ok((together.answer)(held)));
        }
    }
}
