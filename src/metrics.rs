//! What operators scrape at `GET /metrics`, in the Prometheus text format: counters and
//! histograms that requests add to as they are answered, and gauges read at scrape time (the
//! webhook backlog and the database pools). Each process counts its own; Prometheus sums them.
//! Every metric is listed in docs/metrics.md. Labels take values from small fixed sets (route
//! patterns, never paths; grant types; configured connection ids), so no client can grow the
//! number of series.
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// What a scrape reads at the moment it is made.
pub struct Readings<'a> {
    /// Notifications waiting in the outbox, and the age in seconds of the oldest (0 for none).
    pub waiting: i64,
    pub oldest_age: i64,
    /// Per pool: its name, its connections, and how many of them are idle.
    pub pools: &'a [(&'static str, usize, usize)],
    pub writer_queue: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    connection: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

/// Upper bounds of the request-duration buckets, in seconds: from 0.5 ms (cached answers) to
/// 10 s (an upstream provider that is slow to answer).
const DURATION_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0,
];

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    logins: Family<LoginLabels, Counter>,
    tokens: Family<GrantLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    backlog: Gauge,
    oldest_age: Gauge,
    pools: Family<PoolLabels, Gauge>,
    writer_queue: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("idbridge");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(DURATION_BUCKETS)
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route pattern",
            durations.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "logins",
            "Answers verified at each connection (local passwords included), by outcome: verified or why not",
            logins.clone(),
        );
        let tokens = Family::<GrantLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Token responses of the token endpoint, by grant type",
            tokens.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Notification delivery attempts of this process (webhooks and back-channel logouts), by outcome: delivered, failed, given_up",
            deliveries.clone(),
        );
        let backlog = Gauge::default();
        registry.register(
            "webhook_queue_depth",
            "Notifications in the outbox neither delivered nor given up, all processes",
            backlog.clone(),
        );
        let oldest_age = Gauge::default();
        registry.register(
            "webhook_queue_oldest_age_seconds",
            "Age of the oldest notification not yet delivered (0 when none waits)",
            oldest_age.clone(),
        );
        let pools = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "database_connections",
            "Connections of this process's database pools, by pool and state (idle or in_use)",
            pools.clone(),
        );
        let writer_queue = Gauge::default();
        registry.register(
            "database_writer_queue",
            "Writes waiting for the batched writers of this process",
            writer_queue.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            logins,
            tokens,
            deliveries,
            backlog,
            oldest_age,
            pools,
            writer_queue,
        }
    }
}

impl Metrics {
    /// One answered request. `route` is the matched pattern, or a placeholder for none.
    pub fn request(&self, method: &axum::http::Method, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route: route.to_string(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// One sign-in through `connection`: `signed_in`, or the reason it was refused.
    pub fn login(&self, connection: &str, outcome: &'static str) {
        self.logins
            .get_or_create(&LoginLabels {
                connection: connection.to_string(),
                outcome,
            })
            .inc();
    }

    /// One token response for `grant_type`.
    pub fn token_issued(&self, grant_type: &'static str) {
        self.tokens.get_or_create(&GrantLabels { grant_type }).inc();
    }

    /// One webhook delivery attempt that ended as `outcome`.
    pub fn delivery(&self, outcome: &'static str) {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// The text a scrape gets, with the gauges set to what was just read.
    pub fn render(&self, readings: &Readings) -> String {
        self.backlog.set(readings.waiting);
        self.oldest_age.set(readings.oldest_age);
        for &(pool, size, idle) in readings.pools {
            for (state, count) in [("idle", idle), ("in_use", size - idle)] {
                self.pools
                    .get_or_create(&PoolLabels { pool, state })
                    .set(count as i64);
            }
        }
        self.writer_queue.set(readings.writer_queue as i64);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The standard methods by name; anything else as `other`, so that made-up methods add no series.
fn method_label(method: &axum::http::Method) -> &'static str {
    let name = method.as_str();
    ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]
        .into_iter()
        .find(|known| *known == name)
        .unwrap_or("other")
}
