//! Events: the Stripe Event object (`object: "event"`) built once, as the exact JSON text every
//! delivery sends, and the record of what became of it: held, dropped, or sent to each endpoint
//! with every attempt's outcome.

use serde::Serialize;
use serde_json::{Value, json};

/// The Stripe API version the sandbox's objects follow.
pub const API_VERSION: &str = "2025-03-31.basil";

/// The API request that caused an event (`request` on the Event); both `None` for what a
/// customer or the sandbox itself did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestInfo {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Serialize)]
struct EventData<'a, T: Serialize> {
    object: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_attributes: Option<Value>,
}

#[derive(Serialize)]
struct EventBody<'a, T: Serialize> {
    id: &'a str,
    object: &'static str,
    api_version: &'static str,
    created: i64,
    data: EventData<'a, T>,
    livemode: bool,
    pending_webhooks: usize,
    request: &'a RequestInfo,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// The Event's JSON text.
pub fn body<T: Serialize>(
    id: &str,
    kind: &str,
    object: &T,
    previous_attributes: Option<Value>,
    request: &RequestInfo,
    created: i64,
    pending_webhooks: usize,
) -> String {
    let event = EventBody {
        id,
        object: "event",
        api_version: API_VERSION,
        created,
        data: EventData {
            object,
            previous_attributes,
        },
        livemode: false,
        pending_webhooks,
        request,
        kind,
    };
    serde_json::to_string(&event).unwrap_or_default()
}

/// What was decided for an event when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// No endpoint was configured.
    NoEndpoints,
    /// Recorded and never to be sent (mode `drop`).
    Dropped,
    /// Waiting for a release (mode `hold`).
    Held,
    /// Handed to the endpoints.
    Sent,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Which copy (0 the original, then duplicates and resends).
    pub copy: u32,
    pub attempt: u32,
    /// Unix seconds (wall clock) when the attempt started; also the signature's `t`.
    pub at: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// What became of an event at one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointLog {
    pub url: String,
    pub status: EndpointStatus,
    pub attempts: Vec<Attempt>,
}

/// An event and its deliveries.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub body: String,
    pub disposition: Disposition,
    pub endpoints: Vec<EndpointLog>,
}

impl EventRecord {
    pub fn endpoint_mut(&mut self, url: &str) -> &mut EndpointLog {
        let index = match self.endpoints.iter().position(|e| e.url == url) {
            Some(i) => i,
            None => {
                self.endpoints.push(EndpointLog {
                    url: url.to_owned(),
                    status: EndpointStatus::Pending,
                    attempts: Vec::new(),
                });
                self.endpoints.len() - 1
            }
        };
        &mut self.endpoints[index]
    }

    /// `no_endpoints`, `dropped`, `held`, `pending`, `delivered` (every endpoint answered 2xx)
    /// or `failed` (some endpoint used up its attempts).
    pub fn status(&self) -> &'static str {
        match self.disposition {
            Disposition::NoEndpoints => "no_endpoints",
            Disposition::Dropped => "dropped",
            Disposition::Held => "held",
            Disposition::Sent => {
                let all = |s| self.endpoints.iter().all(|e| e.status == s);
                if !self.endpoints.is_empty() && all(EndpointStatus::Succeeded) {
                    "delivered"
                } else if self
                    .endpoints
                    .iter()
                    .any(|e| e.status == EndpointStatus::Failed)
                {
                    "failed"
                } else {
                    "pending"
                }
            }
        }
    }

    /// How the control API shows it: the event itself and its deliveries.
    pub fn view(&self) -> Value {
        let event: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        json!({
            "id": self.id,
            "type": self.kind,
            "created": self.created,
            "status": self.status(),
            "endpoints": self.endpoints,
            "event": event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_a_stripe_event() {
        let request = RequestInfo {
            id: Some("req_1".into()),
            idempotency_key: Some("k".into()),
        };
        let text = body(
            "evt_1",
            "refund.created",
            &json!({"id": "re_1"}),
            None,
            &request,
            7,
            2,
        );
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["object"], "event");
        assert_eq!(v["type"], "refund.created");
        assert_eq!(v["data"]["object"]["id"], "re_1");
        assert!(v["data"].get("previous_attributes").is_none());
        assert_eq!(v["request"], json!({"id": "req_1", "idempotency_key": "k"}));
        assert_eq!(v["pending_webhooks"], 2);
        assert_eq!(v["livemode"], false);
        assert!(text.starts_with("{\"id\":\"evt_1\",\"object\":\"event\""));
    }
}
