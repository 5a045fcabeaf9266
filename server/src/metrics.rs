//! Prometheus metrics: request count and latency per listener, route, method and status, and
//! brute-force refusals per limit.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: &'static str,
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabels {
    scope: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    throttle_refusals: Family<ScopeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            // 100 µs .. ~6.5 s
            Histogram::new(exponential_buckets(0.0001, 2.0, 17))
        });
        registry.register(
            "ward_http_requests",
            "HTTP requests handled",
            requests.clone(),
        );
        registry.register(
            "ward_http_request_duration_seconds",
            "Time to produce the response",
            latency.clone(),
        );
        let throttle_refusals = Family::<ScopeLabels, Counter>::default();
        registry.register(
            "ward_throttle_refusals",
            "Attempts refused by a brute-force limit, per limit scope",
            throttle_refusals.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            throttle_refusals,
        }
    }
}

impl Metrics {
    /// Counts an attempt refused by the brute-force limit of `scope`.
    pub fn throttle_refused(&self, scope: &'static str) {
        self.throttle_refusals
            .get_or_create(&ScopeLabels { scope })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "could not encode metrics");
        }
        out
    }
}

/// Middleware state: which listener the requests arrive on.
#[derive(Clone)]
pub struct Observed {
    pub metrics: Arc<Metrics>,
    pub listener: &'static str,
}

/// The standard methods' names without allocating; anything else is `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub async fn observe(State(observed): State<Observed>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The route template, not the raw path, so ids do not explode the label space.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let labels = RequestLabels {
        listener: observed.listener,
        method,
        route,
        status: response.status().as_u16(),
    };
    observed.metrics.requests.get_or_create(&labels).inc();
    observed
        .metrics
        .latency
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}
