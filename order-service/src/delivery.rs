//! Whether a call may have reached the service it was sent to: [`DeliveryProbe`] runs inside a
//! client's retry loop, once per attempt, counts the attempts, and marks the call's [`Delivery`]
//! unless the attempt failed to connect. Only when no attempt connected can the caller conclude
//! that nothing happened at the other end. Both HTTP clients (course-service's and Stripe's) use
//! it.

use async_trait::async_trait;
use http::Extensions;
use prometheus_client::metrics::counter::Counter;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

/// Set to true once any attempt of a call may have reached the other service.
#[derive(Debug, Clone, Default)]
pub struct Delivery(Arc<AtomicBool>);

impl Delivery {
    pub fn maybe_delivered(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The per-attempt middleware that fills in [`Delivery`] and counts attempts.
#[derive(Debug, Clone, Default)]
pub struct DeliveryProbe {
    pub attempts: Counter,
}

#[async_trait]
impl Middleware for DeliveryProbe {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.attempts.inc();
        let result = next.run(req, extensions).await;
        let not_sent =
            matches!(&result, Err(reqwest_middleware::Error::Reqwest(e)) if e.is_connect());
        if !not_sent && let Some(delivery) = extensions.get::<Delivery>() {
            delivery.0.store(true, Ordering::Release);
        }
        result
    }
}
