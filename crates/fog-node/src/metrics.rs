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
struct ModeLabel {
    mode: String,
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
    /// The harvester's state, when it runs (`fog_idle_*`).
    pub idle: Option<&'a fog_idle::HarvestStats>,
    /// The scheduler's state, when it runs (`fog_sched_*`).
    pub scheduler: Option<&'a fog_sched::service::SchedStats>,
    /// Betanet's state, when it runs (`fog_betanet_*`).
    pub betanet: Option<&'a fog_mixnet::model::BetanetStatus>,
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
        if let Some(idle) = sample.idle {
            let _ = prometheus_client::encoding::text::encode_registry(&mut out, &idle_registry(idle));
        }
        if let Some(scheduler) = sample.scheduler {
            let _ = prometheus_client::encoding::text::encode_registry(&mut out, &sched_registry(scheduler));
        }
        if let Some(betanet) = sample.betanet {
            let _ = prometheus_client::encoding::text::encode_registry(&mut out, &betanet_registry(betanet));
        }
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}

/// The harvester's figures, built fresh at each scrape from its stats. Device readings the
/// machine cannot give are left out rather than exported as zero.
fn idle_registry(stats: &fog_idle::HarvestStats) -> Registry {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    let mut r = Registry::with_prefix("fog_idle");
    let mode = Family::<ModeLabel, Gauge>::default();
    for m in [fog_idle::Mode::Run, fog_idle::Mode::Throttle, fog_idle::Mode::Pause] {
        let name = serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        mode.get_or_create(&ModeLabel { mode: name }).set(i64::from(stats.decision.mode == m));
    }
    r.register("mode", "1 for the harvest policy's current decision", mode);
    r.register("cores_allowed", "Cores the policy lets jobs use now", ConstGauge::new(i64::from(stats.decision.cores)));
    r.register(
        "cpu_allowed_percent",
        "CPU duty cycle the policy allows",
        ConstGauge::new(i64::from(stats.decision.cpu_pct)),
    );
    r.register("jobs_running", "Jobs running in the sandbox", ConstGauge::new(stats.running.len() as i64));
    r.register("jobs_queued", "Jobs waiting for the policy or a core", ConstGauge::new(stats.queued.len() as i64));
    let t = &stats.totals;
    r.register("donated_cpu_seconds", "CPU time donated to jobs", ConstCounter::new(t.cpu_seconds));
    r.register("fuel", "Instructions (fuel) executed by jobs", ConstCounter::new(t.fuel));
    r.register("jobs_completed", "Jobs that exited with status 0", ConstCounter::new(t.jobs_completed));
    r.register("jobs_failed", "Jobs that failed, trapped or hit a limit", ConstCounter::new(t.jobs_failed));
    r.register("jobs_preempted", "Times a running job was paused by the policy", ConstCounter::new(t.jobs_preempted));
    if let Some(speed) = stats.capacity.speed_fuel_per_sec {
        r.register("speed_fuel_per_second", "Calibrated instructions per second on one core", ConstGauge::new(speed));
    }
    if let Some(device) = &stats.device {
        let readings = [
            ("device_cpu_load_percent", "Whole-machine CPU use", device.cpu_load_pct.known()),
            ("device_other_cpu_percent", "CPU use of everything but Fog", device.other_cpu_pct.known()),
            ("device_temperature_celsius", "Hottest temperature sensor", device.temperature_c.known()),
            ("device_battery_percent", "Battery charge", device.battery_pct.known()),
            ("device_user_idle_seconds", "Seconds since the user last used the machine", device.user_idle_secs.known()),
            (
                "device_memory_available_bytes",
                "Memory available to programs",
                device.memory_available_bytes.known().map(|b| b as f64),
            ),
        ];
        for (name, help, value) in readings {
            if let Some(value) = value {
                r.register(name, help, ConstGauge::new(value));
            }
        }
    }
    r
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabel {
    tier: String,
}

/// The scheduler's figures, built fresh at each scrape. Placements per second is
/// `rate(fog_sched_placements_total[1m])`. A tier with no ended job in the SLA window has no
/// on-time figure rather than a made-up one.
fn sched_registry(stats: &fog_sched::service::SchedStats) -> Registry {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    let mut r = Registry::with_prefix("fog_sched");
    r.register("queue_depth", "Jobs waiting to be placed", ConstGauge::new(i64::from(stats.queue_depth)));
    r.register(
        "jobs_in_flight",
        "Jobs placed on a node or running there",
        ConstGauge::new(i64::from(stats.active.placed + stats.active.running)),
    );
    r.register("placements", "Jobs handed to a node", ConstCounter::new(stats.placements_total));
    r.register("rounds", "Placement rounds run", ConstCounter::new(stats.rounds_total));
    r.register(
        "throughput_per_minute",
        "Jobs done per minute over the last hour",
        ConstGauge::new(stats.sla.throughput_per_min),
    );
    let on_time = Family::<TierLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let wait = Family::<TierLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for tier in &stats.sla.tiers {
        let label = TierLabel { tier: tier.tier.as_str().into() };
        if let Some(pct) = tier.on_time_pct {
            on_time.get_or_create(&label).set(pct / 100.0);
        }
        if let Some(p95) = tier.p95_wait_ms {
            wait.get_or_create(&label).set(p95 as f64 / 1000.0);
        }
    }
    r.register(
        "on_time_ratio",
        "Share of the tier's jobs ended in the last hour that were done by their deadline",
        on_time,
    );
    r.register("wait_p95_seconds", "95th percentile of queue wait over the last hour", wait);
    if let Some(round) = &stats.last_round {
        r.register(
            "last_round_duration_seconds",
            "Time the last placement round took",
            ConstGauge::new(round.duration_ms / 1000.0),
        );
        r.register("last_round_jobs", "Jobs the last placement round placed", ConstGauge::new(i64::from(round.jobs)));
    }
    r
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeLabel {
    le: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LayerLabel {
    layer: String,
}

/// Betanet's figures (everything on its page), built fresh at each scrape. The per-hop time
/// is exported as cumulative bucket counts, `hop_processing_packets{le="…µs"}`.
fn betanet_registry(status: &fog_mixnet::model::BetanetStatus) -> Registry {
    use prometheus_client::metrics::counter::ConstCounter;
    use prometheus_client::metrics::gauge::ConstGauge;
    let mut r = Registry::with_prefix("fog_betanet");
    let (mix, client, topology) = (&status.mixnode, &status.client, &status.topology);
    r.register("epoch", "Current key epoch", ConstGauge::new(i64::from(status.epoch)));
    r.register("deployed", "1 when this node mixes", ConstGauge::new(i64::from(mix.deployed)));
    r.register(
        "layer",
        "This mixnode's layer (0: not in the topology)",
        ConstGauge::new(i64::from(mix.layer.unwrap_or(0))),
    );
    r.register("topology_usable", "1 when every layer has a mixnode", ConstGauge::new(i64::from(topology.usable)));
    r.register("endpoints", "Nodes that can receive in this epoch", ConstGauge::new(i64::from(topology.endpoints)));
    r.register("descriptors", "Descriptors held", ConstGauge::new(i64::from(topology.descriptors)));
    let layers = Family::<LayerLabel, Gauge>::default();
    for (i, layer) in topology.layers.iter().enumerate() {
        layers.get_or_create(&LayerLabel { layer: (i + 1).to_string() }).set(layer.len() as i64);
    }
    r.register("mixnodes", "Mixnodes in each layer", layers);
    r.register("packets_received", "Packets this node processed", ConstCounter::new(mix.received));
    r.register("packets_forwarded", "Packets sent on after their delay", ConstCounter::new(mix.forwarded));
    r.register("packets_delivered", "Packets for this node itself", ConstCounter::new(mix.delivered));
    let dropped = Family::<ReasonLabel, Counter>::default();
    for drop in &mix.drops {
        dropped.get_or_create(&ReasonLabel { reason: drop.reason.clone() }).inc_by(drop.count);
    }
    r.register("packets_dropped", "Packets dropped, by reason", dropped);
    r.register("queue_depth", "Packets held for their delay", ConstGauge::new(i64::from(mix.queue_depth)));
    r.register("replay_fill_ratio", "Share of the replay filter in use", ConstGauge::new(mix.replay_fill));
    r.register("replay_memory_bytes", "Memory of the replay filter", ConstGauge::new(mix.replay_memory_bytes as i64));
    let hop = Family::<LeLabel, Counter>::default();
    for bucket in &mix.hop_time_us {
        let le = bucket.le_us.map(|us| format!("{us}us")).unwrap_or_else(|| "+Inf".into());
        hop.get_or_create(&LeLabel { le }).inc_by(bucket.count);
    }
    r.register("hop_processing_packets", "Packets processed within each time bound (cumulative)", hop);
    r.register("real_packets", "Real packets the client sent", ConstCounter::new(client.real_sent));
    r.register("drop_cover_packets", "Drop cover packets sent", ConstCounter::new(client.drop_cover_sent));
    r.register("loop_cover_packets", "Loop cover packets sent", ConstCounter::new(client.loop_cover_sent));
    r.register("loops_returned", "Loop cover packets back", ConstCounter::new(client.loops_returned));
    r.register("real_per_second", "Real packets a second, last second", ConstGauge::new(client.real_per_s));
    r.register("cover_per_second", "Cover packets a second, last second", ConstGauge::new(client.cover_per_s));
    if let Some(rtt) = client.loop_rtt_ms {
        r.register("loop_rtt_seconds", "Round trip of the last loop cover packet", ConstGauge::new(rtt / 1000.0));
    }
    r.register("retransmissions", "Fragments sent again", ConstCounter::new(client.retransmissions));
    r.register("messages_sent", "Messages sent", ConstCounter::new(client.messages_sent));
    r.register("messages_delivered", "Messages fully acknowledged", ConstCounter::new(client.messages_delivered));
    r.register("messages_failed", "Messages given up", ConstCounter::new(client.messages_failed));
    r.register("messages_received", "Messages received", ConstCounter::new(client.messages_received));
    r
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
