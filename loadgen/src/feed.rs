//! Readers of course-service's event feed (`GET /api/events`), as order-service and other systems
//! follow it: long polls from the oldest event kept, a page of up to 1,000 events at a time, each
//! read after the last cursor it got. A reader counts what it receives; once told the load is
//! over it reads on without waiting until a page comes back empty.

use crate::client::Conn;
use anyhow::{Context, bail};
use hyper::{Method, header::HeaderValue};
use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// Events per page, the most the feed gives.
const PAGE: usize = 1000;
/// How long one long poll waits for the next event during the load.
const WAIT_MS: u64 = 1000;
/// How long a reader may take to catch up once the load is over.
const CATCH_UP: Duration = Duration::from_secs(60);

/// A page of the feed, only what a reader needs of it (the rest is skipped unparsed).
#[derive(Debug, serde::Deserialize)]
struct Page {
    items: Vec<Item>,
    next_cursor: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Item {
    cursor: String,
}

/// What one reader received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub events: u64,
    /// Events told twice (by their cursor): a correct feed tells none.
    pub repeats: u64,
    pub pages: u64,
    pub elapsed: Duration,
}

impl Received {
    pub fn per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Follows the feed at `addr` until `done` is set and a page comes back empty.
pub async fn follow(
    addr: SocketAddr,
    token: HeaderValue,
    done: Arc<AtomicBool>,
) -> anyhow::Result<Received> {
    let mut conn = Conn::open(addr).await?;
    let started = Instant::now();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    let (mut events, mut repeats, mut pages) = (0, 0, 0);
    let mut finishing_since = None;
    loop {
        let finishing = done.load(Ordering::Acquire);
        if finishing && finishing_since.get_or_insert_with(Instant::now).elapsed() > CATCH_UP {
            bail!("a feed reader did not catch up within {CATCH_UP:?}");
        }
        let wait = if finishing { 0 } else { WAIT_MS };
        let after = cursor
            .as_deref()
            .map(|c| format!("&after={c}"))
            .unwrap_or_default();
        let path = format!("/api/events?limit={PAGE}&wait_ms={wait}{after}");
        let answer = conn.send(Method::GET, &path, &token, None).await?;
        if answer.status != 200 {
            bail!(
                "reading the feed answered {}: {}",
                answer.status,
                answer.code()
            );
        }
        let page: Page = serde_json::from_slice(&answer.body).context("a page of the feed")?;
        pages += 1;
        let empty = page.items.is_empty();
        events += page.items.len() as u64;
        for item in page.items {
            if !seen.insert(item.cursor) {
                repeats += 1;
            }
        }
        if let Some(next) = page.next_cursor {
            cursor = Some(next);
        }
        if finishing && empty {
            return Ok(Received {
                events,
                repeats,
                pages,
                elapsed: started.elapsed(),
            });
        }
    }
}
