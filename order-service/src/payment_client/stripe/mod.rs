//! [`PaymentClient`] over Stripe's API: form-encoded requests in Stripe's bracket notation
//! ([`form`]), a secret key as bearer token, an idempotency key derived from the order or the
//! session on every POST, `Stripe-Version` when one is configured, a timeout on every attempt,
//! the retry policy of [`retry`], and Stripe's objects and error object read into the domain
//! values ([`wire`]).
//!
//! The secret key is sent only in the `Authorization` header, marked sensitive, and appears in
//! no log line, error message or `Debug` output. TLS is rustls with the system's certificate
//! store (the container image installs `ca-certificates`).

mod answer;
mod config;
pub mod form;
pub mod retry;
pub(crate) mod wire;

pub use answer::STRIPE_REQUEST_ID_HEADER;
pub use config::{DEFAULT_API_BASE, StripeClientConfig};

use crate::clock::Clock;
use crate::payment_client::{CheckoutRequest, PaymentClient, PaymentError, Refund, Session};
use answer::decode;
use anyhow::Context;
use async_trait::async_trait;
use form::ReturnUrls;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::RetryTransientMiddleware;
use retry::{Delivery, DeliveryProbe, StripeRetryStrategy, backoff};
use serde::de::DeserializeOwned;
use shared_types::REQUEST_ID_HEADER;
use std::{fmt, sync::Arc, time::Duration};
use wire::{WireRefund, WireSession};

/// Whether this build's HTTP client speaks TLS (order-service builds reqwest with rustls). Were
/// it built without, the client would refuse an `https` base at construction rather than answer
/// `NotDelivered` to every call; a unit test checks this against reqwest itself.
pub const TLS_AVAILABLE: bool = true;

/// The header naming the API version a request is read with.
pub const STRIPE_VERSION_HEADER: &str = "stripe-version";
/// The header carrying a POST's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Labels of a call count: which call, and how it ended (`ok`, `refused`, `not_delivered`,
/// `unknown`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StripeCallLabels {
    pub call: &'static str,
    pub result: &'static str,
}

/// Calls to Stripe by outcome, and attempts (calls plus retries).
#[derive(Debug, Clone, Default)]
pub struct StripeCallMetrics {
    pub calls: Family<StripeCallLabels, Counter>,
    pub attempts: Counter,
}

/// Talks to Stripe's API.
#[derive(Clone)]
pub struct StripeClient {
    api_base: reqwest::Url,
    base_path: String,
    http: ClientWithMiddleware,
    /// `Bearer <secret key>`, marked sensitive.
    auth: HeaderValue,
    api_version: Option<HeaderValue>,
    urls: ReturnUrls,
    clock: Arc<dyn Clock>,
    metrics: StripeCallMetrics,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.api_base.as_str())
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

/// The four calls, as metrics and logs name them.
#[derive(Debug, Clone, Copy)]
enum Call {
    CreateCheckout,
    GetCheckout,
    ExpireCheckout,
    Refund,
}

impl Call {
    fn label(self) -> &'static str {
        match self {
            Call::CreateCheckout => "create_checkout",
            Call::GetCheckout => "get_checkout",
            Call::ExpireCheckout => "expire_checkout",
            Call::Refund => "refund",
        }
    }
}

/// One request to send.
struct Outgoing<'a> {
    call: Call,
    method: Method,
    path: String,
    form: Option<String>,
    idempotency_key: Option<String>,
    request_id: &'a str,
    /// The order or session the call is about, for logs.
    subject: &'a str,
}

impl StripeClient {
    /// A client for `config`; `clock` is where "now" comes from for `expires_at`. Fails on a
    /// setting that could never work (not an http(s) URL, `https` without TLS, an empty key or
    /// success URL, a key or version that cannot be a header).
    pub fn new(config: &StripeClientConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let api_base = reqwest::Url::parse(&config.api_base)
            .with_context(|| format!("Stripe API base `{}` is not a URL", config.api_base))?;
        anyhow::ensure!(
            matches!(api_base.scheme(), "http" | "https") && api_base.has_host(),
            "Stripe API base `{}` must be an http(s) URL with a host",
            config.api_base
        );
        anyhow::ensure!(
            TLS_AVAILABLE || api_base.scheme() == "http",
            "Stripe API base `{}` needs TLS, which this build's HTTP client lacks (reqwest is \
             built without a TLS backend); only an http:// stand-in can be used",
            config.api_base
        );
        let key = config.secret_key.expose().trim();
        anyhow::ensure!(!key.is_empty(), "the Stripe secret key is empty");
        let mut auth = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            anyhow::anyhow!("the Stripe secret key has characters a header cannot carry")
        })?;
        auth.set_sensitive(true);
        let api_version = config
            .api_version
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(HeaderValue::from_str)
            .transpose()
            .with_context(|| {
                format!(
                    "Stripe-Version `{:?}` is not a header value",
                    config.api_version
                )
            })?;
        anyhow::ensure!(
            !config.success_url.trim().is_empty(),
            "the Stripe checkout success URL is empty"
        );
        anyhow::ensure!(!config.timeout.is_zero(), "the Stripe timeout is zero");
        let raw = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("order-service/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let metrics = StripeCallMetrics::default();
        let retry = RetryTransientMiddleware::new_with_policy_and_strategy(
            backoff(
                config.max_retries,
                config.min_retry_delay,
                config.max_retry_delay,
            ),
            StripeRetryStrategy,
        );
        let probe = DeliveryProbe {
            attempts: metrics.attempts.clone(),
        };
        let http = ClientBuilder::new(raw).with(retry).with(probe).build();
        Ok(StripeClient {
            base_path: api_base.path().trim_end_matches('/').to_owned(),
            api_base,
            http,
            auth,
            api_version,
            urls: ReturnUrls {
                success_url: config.success_url.clone(),
                cancel_url: config.cancel_url.clone().filter(|u| !u.trim().is_empty()),
            },
            clock,
            metrics,
        })
    }

    /// The call counters (shared handles, for the metrics registry).
    pub fn metrics(&self) -> StripeCallMetrics {
        self.metrics.clone()
    }

    /// Sends `out` (with its retries) and reads the answer object `W` into a `T` with `read`.
    async fn send<W: DeserializeOwned, T>(
        &self,
        out: Outgoing<'_>,
        read: impl FnOnce(W) -> Result<T, String>,
    ) -> Result<T, PaymentError> {
        let mut url = self.api_base.clone();
        url.set_path(&format!("{}{}", self.base_path, out.path));
        let delivery = Delivery::default();
        let mut request = self
            .http
            .request(out.method, url)
            .header(AUTHORIZATION, self.auth.clone())
            .with_extension(delivery.clone());
        if let Some(version) = &self.api_version {
            request = request.header(STRIPE_VERSION_HEADER, version.clone());
        }
        if let Ok(request_id) = HeaderValue::from_str(out.request_id) {
            request = request.header(REQUEST_ID_HEADER, request_id);
        }
        if let Some(key) = out.idempotency_key {
            request = request.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        if let Some(form) = out.form {
            request = request
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form);
        }
        let outcome = match request.send().await {
            Ok(response) => decode::<W>(response)
                .await
                .and_then(|wire| read(wire).map_err(PaymentError::Unknown)),
            Err(_) if !delivery.maybe_delivered() => Err(PaymentError::NotDelivered),
            Err(e) => Err(PaymentError::Unknown(format!("{e:#}"))),
        };
        let call = out.call.label();
        let result = match &outcome {
            Ok(_) => "ok",
            Err(PaymentError::Refused { .. }) => "refused",
            Err(PaymentError::NotDelivered) => "not_delivered",
            Err(PaymentError::Unknown(_)) => "unknown",
        };
        match &outcome {
            Err(PaymentError::Unknown(error)) => tracing::warn!(
                call,
                subject = out.subject,
                request_id = out.request_id,
                %error,
                "Stripe call ended with its outcome unknown"
            ),
            Err(PaymentError::NotDelivered) => tracing::warn!(
                call,
                subject = out.subject,
                request_id = out.request_id,
                "Stripe could not be reached"
            ),
            _ => {}
        }
        self.metrics
            .calls
            .get_or_create(&StripeCallLabels { call, result })
            .inc();
        outcome
    }

    /// `path` under `/v1/checkout/sessions/<id>`, the id made one path segment.
    fn session_path(session_id: &str, action: &str) -> Result<String, PaymentError> {
        if session_id.is_empty() {
            return Err(PaymentError::Refused {
                status: 0,
                kind: "invalid_request_error".to_owned(),
                code: None,
                message: "no checkout session id given; nothing was sent".to_owned(),
            });
        }
        Ok(format!(
            "/v1/checkout/sessions/{}{action}",
            form::path_segment(session_id)
        ))
    }
}

#[async_trait]
impl PaymentClient for StripeClient {
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Session, PaymentError> {
        let pairs = form::checkout_pairs(request, &self.urls, self.clock.now());
        self.send(
            Outgoing {
                call: Call::CreateCheckout,
                method: Method::POST,
                path: "/v1/checkout/sessions".to_owned(),
                form: Some(form::encode(&pairs)),
                idempotency_key: Some(form::checkout_key(&request.order_id)),
                request_id: &request.request_id,
                subject: &request.order_id,
            },
            |wire: WireSession| wire.into_session(),
        )
        .await
    }

    async fn get_checkout(
        &self,
        session_id: &str,
        request_id: &str,
    ) -> Result<Session, PaymentError> {
        self.send(
            Outgoing {
                call: Call::GetCheckout,
                method: Method::GET,
                path: Self::session_path(session_id, "")?,
                form: None,
                idempotency_key: None,
                request_id,
                subject: session_id,
            },
            |wire: WireSession| wire.into_session(),
        )
        .await
    }

    async fn expire_checkout(
        &self,
        session_id: &str,
        request_id: &str,
    ) -> Result<Session, PaymentError> {
        self.send(
            Outgoing {
                call: Call::ExpireCheckout,
                method: Method::POST,
                path: Self::session_path(session_id, "/expire")?,
                form: Some(String::new()),
                idempotency_key: Some(form::expire_key(session_id)),
                request_id,
                subject: session_id,
            },
            |wire: WireSession| wire.into_session(),
        )
        .await
    }

    async fn refund(
        &self,
        payment_intent: &str,
        order_id: &str,
        request_id: &str,
    ) -> Result<Refund, PaymentError> {
        let pairs = form::refund_pairs(payment_intent, order_id);
        self.send(
            Outgoing {
                call: Call::Refund,
                method: Method::POST,
                path: "/v1/refunds".to_owned(),
                form: Some(form::encode(&pairs)),
                idempotency_key: Some(form::refund_key(order_id)),
                request_id,
                subject: order_id,
            },
            |wire: WireRefund| Ok(wire.into_refund()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::TLS_AVAILABLE;

    /// Fails once reqwest gains a TLS backend, so that `TLS_AVAILABLE` is switched on with it.
    #[tokio::test]
    async fn tls_available_says_whether_reqwest_speaks_https() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let error = reqwest::Client::new()
            .get(format!("https://127.0.0.1:{port}/"))
            .send()
            .await
            .expect_err("nothing listens there");
        let refused_https = format!("{error:?}").contains("scheme is not http");
        assert_eq!(TLS_AVAILABLE, !refused_https, "{error:?}");
    }
}
