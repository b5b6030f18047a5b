//! Prometheus metrics of the node, in the text exposition format.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: String,
}

/// Every metric the node exports.
pub struct Metrics {
    registry: Registry,
    events: Family<TopicLabel, Counter>,
    http_requests: Family<HttpLabels, Counter>,
    http_requests_total: AtomicU64,
    /// Event-log writes that failed.
    pub event_write_failures: Counter,
    uptime_seconds: Gauge<f64, AtomicU64>,
    resident_memory_bytes: Gauge,
    cpu_seconds: Counter<f64, AtomicU64>,
    last_cpu_seconds: Mutex<f64>,
    db_size_bytes: Gauge,
    event_subscribers: Gauge,
    service_up: Family<ServiceLabel, Gauge>,
    mesh_peers: Gauge,
    /// Mesh connections established with a new peer.
    pub mesh_peer_connections: Counter,
    /// Outgoing mesh connections that could not be made.
    pub mesh_dials_failed: Counter,
}

/// Values read at scrape time.
pub struct ScrapeSample<'a> {
    pub uptime_seconds: f64,
    pub resident_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub db_size_bytes: u64,
    pub event_subscribers: usize,
    pub services: &'a [(String, bool)],
    /// Connected mesh peers, when the mesh runs.
    pub mesh_peers: Option<usize>,
    /// The mesh, whose libp2p metrics (`fog_mesh_*`) follow the node's own.
    pub mesh: Option<&'a fog_mesh::Mesh>,
}

impl Metrics {
    /// Registers every metric under the `fog` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("fog");
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info.get_or_create(&VersionLabel { version: env!("CARGO_PKG_VERSION").into() }).set(1);
        registry.register("build_info", "Version of this build", build_info);
        let m = Self {
            events: Family::default(),
            http_requests: Family::default(),
            http_requests_total: AtomicU64::new(0),
            event_write_failures: Counter::default(),
            uptime_seconds: Gauge::default(),
            resident_memory_bytes: Gauge::default(),
            cpu_seconds: Counter::default(),
            last_cpu_seconds: Mutex::new(0.0),
            db_size_bytes: Gauge::default(),
            event_subscribers: Gauge::default(),
            service_up: Family::default(),
            mesh_peers: Gauge::default(),
            mesh_peer_connections: Counter::default(),
            mesh_dials_failed: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("events", "Events published on the node's bus, by topic", m.events.clone());
        registry.register("http_requests", "HTTP API requests, by route and status", m.http_requests.clone());
        registry.register("event_log_write_failures", "Event-log writes that failed", m.event_write_failures.clone());
        registry.register("uptime_seconds", "Seconds since the node started", m.uptime_seconds.clone());
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the node process",
            m.resident_memory_bytes.clone(),
        );
        registry.register("process_cpu_seconds", "CPU time used by the node process", m.cpu_seconds.clone());
        registry.register("db_size_bytes", "Size of the SQLite database and its WAL", m.db_size_bytes.clone());
        registry.register("event_subscribers", "Live event stream subscribers", m.event_subscribers.clone());
        registry.register("service_up", "1 when the service is running, 0 otherwise", m.service_up.clone());
        registry.register("mesh_connected_peers", "Peers connected over the mesh", m.mesh_peers.clone());
        registry.register(
            "mesh_peer_connections",
            "Mesh connections established with a new peer",
            m.mesh_peer_connections.clone(),
        );
        registry.register("mesh_dials_failed", "Outgoing mesh connections that failed", m.mesh_dials_failed.clone());
        Self { registry, ..m }
    }

    /// Counts one published event.
    pub fn count_event(&self, topic: &str) {
        self.events.get_or_create(&TopicLabel { topic: topic.into() }).inc();
    }

    /// Counts one HTTP request by its route pattern (never the raw path, to bound labels).
    pub fn count_http(&self, route: &str, status: u16) {
        self.http_requests.get_or_create(&HttpLabels { route: route.into(), status }).inc();
        self.http_requests_total.fetch_add(1, Ordering::Relaxed);
    }

    /// HTTP requests served since start.
    pub fn http_requests_total(&self) -> u64 {
        self.http_requests_total.load(Ordering::Relaxed)
    }

    /// Updates the sampled gauges and renders the text format.
    pub fn render(&self, sample: &ScrapeSample<'_>) -> String {
        self.uptime_seconds.set(sample.uptime_seconds);
        if let Some(rss) = sample.resident_memory_bytes {
            self.resident_memory_bytes.set(rss as i64);
        }
        if let Some(cpu) = sample.cpu_seconds {
            let mut last = self.last_cpu_seconds.lock().unwrap_or_else(|p| p.into_inner());
            if cpu > *last {
                self.cpu_seconds.inc_by(cpu - *last);
                *last = cpu;
            }
        }
        self.db_size_bytes.set(sample.db_size_bytes as i64);
        self.event_subscribers.set(sample.event_subscribers as i64);
        self.mesh_peers.set(sample.mesh_peers.unwrap_or(0) as i64);
        for (service, up) in sample.services {
            self.service_up.get_or_create(&ServiceLabel { service: service.clone() }).set(i64::from(*up));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        if let Some(mesh) = sample.mesh {
            let _ = mesh.encode_metrics(&mut out);
        }
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
