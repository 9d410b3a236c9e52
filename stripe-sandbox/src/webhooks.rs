//! Webhook deliveries: one sender per endpoint takes the copies queued for it in order and
//! POSTs each, signed afresh at every attempt (`Stripe-Signature`), with a per-attempt timeout,
//! at most `webhook_concurrency` at once (one: strictly in queue order).
//! A failed attempt (an error or a status other than 2xx) is tried again after a delay that
//! doubles up to a cap, a bounded number of times, without holding up the endpoint's queue.
//! Senders hold the shared state weakly, so they end when the sandbox is gone or reset.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc};

use crate::events::{Attempt, EndpointStatus};
use crate::shared::Shared;
use crate::signature;
use crate::store::Outgoing;

const USER_AGENT: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";

/// One attempt to make.
#[derive(Debug, Clone)]
struct Job {
    event_id: String,
    url: String,
    copy: u32,
    attempt: u32,
    generation: u64,
}

/// The senders, one per endpoint URL.
#[derive(Debug)]
pub struct Hub {
    client: reqwest::Client,
    senders: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
    /// Bumped by a reset: queued and retrying attempts of an older generation are dropped.
    generation: AtomicU64,
    closed: AtomicBool,
}

impl Hub {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            senders: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// Forgets every queued and retrying attempt.
    pub fn reset(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Stops every sender; nothing more is sent.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.reset();
        self.senders.lock().clear();
    }
}

/// Starts the deliveries `outgoing` lists.
pub fn dispatch(shared: &Arc<Shared>, outgoing: Vec<Outgoing>) {
    let generation = shared.hub.generation.load(Ordering::SeqCst);
    for out in outgoing {
        let job = Job {
            event_id: out.event_id,
            url: out.url,
            copy: out.copy,
            attempt: 1,
            generation,
        };
        if out.delay.is_zero() {
            enqueue(shared, job);
        } else {
            let weak = Arc::downgrade(shared);
            shared.runtime.spawn(async move {
                tokio::time::sleep(out.delay).await;
                if let Some(shared) = weak.upgrade() {
                    enqueue(&shared, job);
                }
            });
        }
    }
}

fn enqueue(shared: &Arc<Shared>, mut job: Job) {
    let hub = &shared.hub;
    // A second try covers a sender that had ended (its runtime was shutting down).
    for _ in 0..2 {
        if hub.closed.load(Ordering::SeqCst)
            || job.generation != hub.generation.load(Ordering::SeqCst)
        {
            return;
        }
        let mut senders = hub.senders.lock();
        let sender = senders.entry(job.url.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            shared
                .runtime
                .spawn(run_sender(Arc::downgrade(shared), job.url.clone(), rx));
            tx
        });
        match sender.send(job) {
            Ok(()) => return,
            Err(mpsc::error::SendError(back)) => {
                senders.remove(&back.url);
                job = back;
            }
        }
    }
    tracing::warn!(event = %job.event_id, url = %job.url, "webhook delivery not queued");
}

/// Sends an endpoint's queue, starting the attempts in queue order, until the hub lets it go.
async fn run_sender(shared: Weak<Shared>, url: String, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let slots = match shared.upgrade() {
        Some(strong) => Arc::new(Semaphore::new(strong.config.webhook_concurrency.max(1))),
        None => return,
    };
    while let Some(job) = jobs.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Some(strong) = shared.upgrade() else {
            return;
        };
        if job.generation != strong.hub.generation.load(Ordering::SeqCst) {
            continue;
        }
        let weak = Arc::downgrade(&strong);
        strong.runtime.spawn(async move {
            let Some(strong) = weak.upgrade() else {
                return;
            };
            let retry = attempt(&strong, &job).await;
            drop(slot);
            if let Some(retry) = retry {
                let delay = strong.config.retry_delay(job.attempt);
                drop(strong);
                tokio::time::sleep(delay).await;
                if let Some(shared) = weak.upgrade() {
                    enqueue(&shared, retry);
                }
            }
        });
    }
    tracing::debug!(%url, "webhook sender stopped");
}

/// Makes one attempt and records it; answers the next attempt if one is due.
async fn attempt(shared: &Shared, job: &Job) -> Option<Job> {
    let body = {
        let state = shared.state.lock();
        state.events.get(&job.event_id)?.body.clone()
    };
    let timestamp = chrono::Utc::now().timestamp();
    let header = signature::header(&shared.config.webhook_secret, timestamp, &body);
    let started = Instant::now();
    let sent = shared
        .hub
        .client
        .post(&job.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header("Stripe-Signature", header)
        .timeout(shared.config.webhook_timeout)
        .body(body)
        .send()
        .await;
    let (status_code, error) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            // Read the answer so the connection can be used again; its text does not matter.
            let _ = response.bytes().await;
            (Some(status), None)
        }
        Err(e) => (None, Some(describe(&e))),
    };
    let ok = status_code.is_some_and(|s| (200..300).contains(&s));
    let last = job.attempt >= shared.config.webhook_max_attempts.max(1);
    tracing::debug!(event = %job.event_id, url = %job.url, attempt = job.attempt, ?status_code, ?error, "webhook attempt");
    let mut state = shared.state.lock();
    if job.generation != shared.hub.generation.load(Ordering::SeqCst) {
        return None;
    }
    let record = state.events.get_mut(&job.event_id)?;
    let endpoint = record.endpoint_mut(&job.url);
    endpoint.attempts.push(Attempt {
        copy: job.copy,
        attempt: job.attempt,
        at: timestamp,
        status_code,
        error,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    if ok {
        endpoint.status = EndpointStatus::Succeeded;
        None
    } else if last {
        if endpoint.status != EndpointStatus::Succeeded {
            endpoint.status = EndpointStatus::Failed;
        }
        tracing::warn!(event = %job.event_id, url = %job.url, "webhook delivery gave up");
        None
    } else {
        Some(Job {
            attempt: job.attempt + 1,
            ..job.clone()
        })
    }
}

/// An error and its causes, on one line.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    for _ in 0..8 {
        let Some(cause) = source else { break };
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
