//! OpenTelemetry tracing, off unless an OTLP endpoint is configured: request spans (and the
//! spans inside them) are exported over OTLP/HTTP (protobuf) in batches, an incoming W3C
//! `traceparent` header makes a request's span a child of the caller's, and [`traceparent`]
//! gives the header to send on an outgoing call. When off, none of this costs anything beyond
//! one relaxed atomic load per request.

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{SdkTracer, SdkTracerProvider},
};
use std::{
    collections::HashMap,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};

/// How long one export may take before it is abandoned.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The W3C trace context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are being exported (and trace context propagated).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The tracing layer exporting spans to `endpoint` (the collector's base URL, e.g.
/// `http://127.0.0.1:4318`; `/v1/traces` is appended), and the provider to shut down on exit.
pub(crate) fn layer<S>(
    service: &'static str,
    endpoint: &str,
) -> anyhow::Result<(OpenTelemetryLayer<S, SdkTracer>, SdkTracerProvider)>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(EXPORT_TIMEOUT)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build())
        .with_batch_exporter(exporter)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
    ENABLED.store(true, Ordering::Relaxed);
    Ok((layer, provider))
}

/// Makes `span` a child of the trace named by a `traceparent` header, when there is one.
pub fn adopt_parent<'h>(span: &tracing::Span, header: impl Fn(&str) -> Option<&'h str>) {
    if !enabled() {
        return;
    }
    let Some(value) = header(TRACEPARENT_HEADER) else {
        return;
    };
    let carrier = OneHeader(value);
    let parent = TraceContextPropagator::new().extract(&carrier);
    // Fails only when the span is disabled; then there is nothing to parent.
    let _ = span.set_parent(parent);
}

/// The `traceparent` header value for a call made under the current span, when exporting.
pub fn traceparent() -> Option<String> {
    if !enabled() {
        return None;
    }
    traceparent_of(&tracing::Span::current().context())
}

fn traceparent_of(context: &Context) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut Carrier(&mut carrier));
    carrier.remove(TRACEPARENT_HEADER)
}

struct OneHeader<'a>(&'a str);

impl Extractor for OneHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == TRACEPARENT_HEADER).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT_HEADER]
    }
}

struct Carrier<'a>(&'a mut HashMap<String, String>);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn a_traceparent_round_trips_through_the_propagator() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = TraceContextPropagator::new().extract(&OneHeader(header));
        let span = context.span();
        let remote = span.span_context();
        assert!(remote.is_valid());
        assert_eq!(
            remote.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(traceparent_of(&context).as_deref(), Some(header));
    }

    #[test]
    fn garbage_is_no_parent() {
        let context = TraceContextPropagator::new().extract(&OneHeader("00-zz-yy-01"));
        assert!(!context.span().span_context().is_valid());
        assert_eq!(traceparent_of(&Context::new()), None);
    }

    #[test]
    fn when_not_exporting_nothing_is_propagated() {
        // No test in this crate installs an exporter.
        assert!(!enabled());
        assert_eq!(traceparent(), None);
    }
}
