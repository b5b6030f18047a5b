//! Types that cross the API boundary (HTTP JSON, Tauri IPC). TypeScript definitions are
//! generated from these (see `bindings`), never written by hand.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

/// This node's identity and where it keeps its files.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct NodeInfo {
    /// libp2p peer id derived from the node's ed25519 key.
    pub peer_id: String,
    /// SHA-256 of the ed25519 public key, grouped hex.
    pub fingerprint: String,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// x25519 key-agreement public key, hex.
    pub agreement_public_key: String,
    /// Fog Compute version.
    pub version: String,
    /// When the node started, Unix milliseconds.
    #[ts(type = "number")]
    pub started_at_ms: i64,
    /// Seconds since start.
    #[ts(type = "number")]
    pub uptime_s: u64,
    /// Operating-system process id.
    pub pid: u32,
    pub data_dir: String,
    /// The config file in use, if any.
    pub config_file: Option<String>,
    pub db_file: String,
    pub log_dir: String,
    pub token_file: String,
    /// Base URL of the HTTP API, when it is listening.
    pub api_url: Option<String>,
}

/// State of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Starting,
    Running,
    Stopped,
    Failed,
    /// The service is not part of this build yet.
    NotAvailable,
}

/// Health of one service.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct ServiceHealth {
    /// Stable id, e.g. `store`, `api`, `mesh`.
    pub id: String,
    /// Name shown to people.
    pub name: String,
    pub state: ServiceState,
    /// One line on the current state, e.g. where it listens or why it failed.
    pub detail: String,
    /// When the service entered this state, Unix milliseconds.
    #[ts(type = "number")]
    pub since_ms: i64,
}

/// Aggregate health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// No service has failed or is still starting.
    Ok,
    /// Some service has failed or is still starting.
    Degraded,
}

/// Health of the node and each service.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
    pub services: Vec<ServiceHealth>,
    #[ts(type = "number")]
    pub checked_at_ms: i64,
}

/// Resource use of the node's process, read from the operating system.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct ProcessStats {
    /// Resident memory, bytes; null where the OS does not tell.
    #[ts(type = "number | null")]
    pub rss_bytes: Option<u64>,
    /// CPU time used (user + system), seconds; null where the OS does not tell.
    pub cpu_seconds: Option<f64>,
    /// Threads; null where the OS does not tell.
    pub threads: Option<u32>,
}

/// The Overview page's figures.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct DashboardStats {
    #[ts(type = "number")]
    pub uptime_s: u64,
    pub services_running: u32,
    /// Services built into this node (not counting those not available).
    pub services_built: u32,
    pub services_not_available: u32,
    /// Events in the event log.
    #[ts(type = "number")]
    pub events_total: u64,
    /// Clients subscribed to the live event stream right now.
    pub event_subscribers: u32,
    /// Database file plus WAL, bytes.
    #[ts(type = "number")]
    pub db_size_bytes: u64,
    /// HTTP API requests served since start.
    #[ts(type = "number")]
    pub http_requests_total: u64,
    pub process: ProcessStats,
    #[ts(type = "number")]
    pub sampled_at_ms: i64,
}

/// An event from the node's bus, as stored in the event log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Event {
    /// Sequence number in the event log (0 if it could not be stored).
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub ts_ms: i64,
    /// Dotted topic, e.g. `node`, `service`, `settings`.
    pub topic: String,
    /// What happened, e.g. `started`, `state_changed`.
    pub kind: String,
    /// Details; shape depends on topic and kind.
    #[ts(type = "unknown")]
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// Which events to return.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct EventsQuery {
    /// How many of the newest events (1–1000, default 100).
    pub limit: Option<u32>,
    /// Comma-separated topic filter; a topic matches itself and its dotted children.
    pub topics: Option<String>,
}

/// Which part of the log to return.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema, IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct LogsQuery {
    /// How many of the last lines (1–10000, default 200).
    pub lines: Option<u32>,
}

/// The end of the node's log file.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct LogTail {
    /// The file read; null when this process writes no log file.
    pub file: Option<String>,
    pub lines: Vec<String>,
    /// Why there is nothing to show, when there is nothing.
    pub empty_reason: Option<String>,
}

/// Settings that can change while the node runs.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct Settings {
    /// Log filter in tracing's syntax, e.g. `info` or `info,fog_node=debug`.
    pub log_level: String,
    /// Whether this process manages its log filter (false when embedded without logging).
    pub log_level_editable: bool,
    /// Address the HTTP API is configured to listen on.
    pub api_addr: String,
    pub data_dir: String,
    pub config_file: Option<String>,
    /// Whether mDNS looks for peers on the local network now.
    pub lan_discovery: bool,
    /// Whether LAN discovery can be switched here (false when the mesh is not running).
    pub lan_discovery_editable: bool,
}

/// A change to the settings; absent fields stay as they are.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SettingsUpdate {
    #[ts(optional = nullable)]
    pub log_level: Option<String>,
    /// Switches LAN discovery until the node stops; `mesh.lan_discovery` in the config file keeps it.
    #[ts(optional = nullable)]
    pub lan_discovery: Option<bool>,
}

/// An error as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ApiError {
    /// Stable snake_case code, e.g. `unauthorized`, `invalid_input`.
    pub code: String,
    /// Message for people.
    pub message: String,
}

/// Direction of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeerDirection {
    /// This node dialled.
    Outbound,
    /// The peer dialled.
    Inbound,
}

/// This node's place in the mesh.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct MeshStats {
    pub peer_id: String,
    /// Multiaddrs the node listens on, each ending in `/p2p/<peer id>`.
    pub listen_addrs: Vec<String>,
    pub connected_peers: u32,
    pub inbound: u32,
    pub outbound: u32,
    /// Bootstrap addresses from the configuration.
    pub bootstrap: Vec<String>,
    /// Whether mDNS looks for peers on the local network.
    pub lan_discovery: bool,
    /// Peers in the peer book, connected or not.
    pub known_peers: u32,
    pub traffic: MeshTraffic,
}

/// Gossip and request counts since the node started.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct MeshTraffic {
    /// Per gossip topic, sorted by name.
    pub topics: Vec<TopicTraffic>,
    #[ts(type = "number")]
    pub requests_sent: u64,
    #[ts(type = "number")]
    pub requests_received: u64,
    #[ts(type = "number")]
    pub requests_failed: u64,
}

/// Gossip counts of one topic.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct TopicTraffic {
    pub topic: String,
    /// Messages from other nodes that passed validation.
    #[ts(type = "number")]
    pub messages_in: u64,
    #[ts(type = "number")]
    pub bytes_in: u64,
    /// Messages this node published.
    #[ts(type = "number")]
    pub messages_out: u64,
    #[ts(type = "number")]
    pub bytes_out: u64,
    /// Messages dropped as oversized or malformed.
    #[ts(type = "number")]
    pub rejected: u64,
}

/// A peer from the peer book.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct KnownPeer {
    pub peer_id: String,
    /// Listen addresses the peer announced.
    pub addresses: Vec<String>,
    #[ts(type = "number")]
    pub first_seen_ms: i64,
    #[ts(type = "number")]
    pub last_seen_ms: i64,
    /// Last ping round trip, milliseconds.
    pub last_latency_ms: Option<f64>,
    /// Failed dials since the last connection.
    pub failures: u32,
    pub connected: bool,
}

/// The mesh as this node sees it: itself, its peers, and the peers they report.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct MeshTopology {
    pub nodes: Vec<TopologyNode>,
    pub edges: Vec<TopologyEdge>,
    /// Connected peers that did not answer in time.
    pub unanswered: Vec<String>,
}

/// A node of the topology graph.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct TopologyNode {
    pub peer_id: String,
    pub this_node: bool,
    /// Connected to this node directly.
    pub connected: bool,
}

/// A connection between two nodes.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct TopologyEdge {
    pub a: String,
    pub b: String,
}

/// A connected peer.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct MeshPeer {
    pub peer_id: String,
    /// Remote multiaddr of the connection.
    pub address: String,
    pub direction: PeerDirection,
    /// Last ping round trip, milliseconds; null until the first ping.
    pub latency_ms: Option<f64>,
    #[ts(type = "number")]
    pub connected_since_ms: i64,
    /// Protocols the peer announced.
    pub protocols: Vec<String>,
}

/// Dial a peer.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// Multiaddr, e.g. `/ip4/127.0.0.1/tcp/7421/p2p/12D3KooW…`.
    pub addr: String,
}

/// Close every connection to a peer.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
    /// Peer id.
    pub peer: String,
}

pub use fog_bitchat::model::{BitchatStatus, ChatMessage, ChatPeer};
pub use fog_idle::examples::ExampleJob;
pub use fog_idle::{HarvestSettings, HarvestStats, JobView};
pub use fog_sched::queue::SchedJob;
pub use fog_sched::service::SchedStats;

/// A device of the mesh that offers compute, or this node itself.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct IdleDevice {
    pub peer_id: String,
    pub this_node: bool,
    pub capacity: fog_idle::Capacity,
    /// When its advertisement arrived (this node: when it was sampled).
    #[ts(type = "number")]
    pub received_ms: i64,
}

/// A job to run in this node's sandbox: one of the built-in examples or a module of your own.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdleJobSubmit {
    /// Shown in the job list; defaults to the example's name or "module".
    #[ts(optional = nullable)]
    pub label: Option<String>,
    /// Name of a built-in example (see /api/idle-compute/examples).
    #[ts(optional = nullable)]
    pub example: Option<String>,
    /// A WASI preview 1 command module, base64.
    #[ts(optional = nullable)]
    pub module_base64: Option<String>,
    /// stdin as UTF-8 text.
    #[ts(optional = nullable)]
    pub input: Option<String>,
    /// stdin as base64, for binary input.
    #[ts(optional = nullable)]
    pub input_base64: Option<String>,
    /// Defaults: 256 MiB memory, 2·10¹¹ fuel, 60 s, 16 MiB of output.
    #[ts(optional = nullable)]
    pub limits: Option<fog_idle::JobLimits>,
}

/// A job to offer to another node of the mesh.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdleOffer {
    /// Peer id of the node to run it.
    pub peer: String,
    pub job: IdleJobSubmit,
}

/// A batch job for the scheduler: a WASI module (an example or your own) with its input, what
/// it needs, its deadline and SLA tier.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedJobSubmit {
    /// Shown in the queue; defaults to the example's name or "module".
    #[ts(optional = nullable)]
    pub label: Option<String>,
    /// Name of a built-in example (see /api/idle-compute/examples).
    #[ts(optional = nullable)]
    pub example: Option<String>,
    /// A WASI preview 1 command module, base64.
    #[ts(optional = nullable)]
    pub module_base64: Option<String>,
    /// stdin as UTF-8 text.
    #[ts(optional = nullable)]
    pub input: Option<String>,
    /// stdin as base64, for binary input.
    #[ts(optional = nullable)]
    pub input_base64: Option<String>,
    /// gold, silver or bronze; default silver.
    #[ts(optional = nullable)]
    pub tier: Option<fog_sched::model::Tier>,
    /// Seconds from now by which it should be done; default 600.
    #[ts(optional = nullable)]
    pub deadline_s: Option<f64>,
    /// Cores; default 1.
    #[ts(optional = nullable)]
    pub cpu: Option<u32>,
    /// Default 256 MiB.
    #[ts(optional = nullable, type = "number | null")]
    pub memory_bytes: Option<u64>,
    /// Instruction budget; default 2·10¹¹.
    #[ts(optional = nullable, type = "number | null")]
    pub fuel: Option<u64>,
    /// Wall-clock limit of one run; default 60 000.
    #[ts(optional = nullable, type = "number | null")]
    pub timeout_ms: Option<u64>,
    /// Your estimate of the instructions it needs; without one, what the last run of the same
    /// module used, else the fuel budget.
    #[ts(optional = nullable)]
    pub work: Option<f64>,
}

/// A scheduled job with every placement it has had.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct SchedJobDetail {
    pub job: fog_sched::queue::SchedJob,
    pub attempts: Vec<fog_sched::queue::Attempt>,
}

/// A benchmark to run in the node: `nsga` (one optimiser run on a reference problem) or
/// `sandbox` (the idle-compute sandbox against native code).
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchRequest {
    pub suite: String,
    /// nsga: zdt1, zdt2, zdt3, zdt4, zdt6, dtlz1 or dtlz2 (default zdt1).
    #[ts(optional = nullable)]
    pub problem: Option<String>,
    /// nsga: nsga2 (default) or nsga3.
    #[ts(optional = nullable)]
    pub algorithm: Option<String>,
    /// nsga: population (default 100).
    #[ts(optional = nullable)]
    pub pop: Option<u32>,
    /// nsga: generations (default 250).
    #[ts(optional = nullable)]
    pub gens: Option<u32>,
    #[ts(optional = nullable, type = "number | null")]
    pub seed: Option<u64>,
}

/// One benchmark run and what it measured.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct BenchResult {
    #[ts(type = "number")]
    pub id: u64,
    pub suite: String,
    /// What ran, e.g. "NSGA-II on zdt1, population 100 × 250 generations, seed 1".
    pub title: String,
    #[ts(type = "number")]
    pub started_ms: i64,
    pub wall_ms: f64,
    /// "release", or "debug" (much slower figures).
    pub build: String,
    pub figures: Vec<fog_idle::bench::Figure>,
}

/// A chat message to send: to `#mesh` (no `to`, or `"#mesh"`) or privately to a peer id.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BitchatSend {
    #[serde(default)]
    pub to: Option<String>,
    pub text: String,
}

/// Which messages to list: one channel (`#mesh` or a peer id) or all; the last `limit` (200).
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BitchatMessagesQuery {
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A peer's marks; a missing field stays as it is.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BitchatPeerFlags {
    #[serde(default)]
    pub favourite: Option<bool>,
    #[serde(default)]
    pub verified: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BitchatNickname {
    pub nickname: String,
}

/// How many received messages were marked read (and got a read receipt).
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct BitchatRead {
    pub marked: u32,
}

pub use fog_mixnet::model::{BetanetMessage, BetanetStatus};

/// A message into the mixnet: to a node (`to`, its peer id) or as a reply to a received
/// message (`reply_to`, its id; it travels in the SURBs that came with it). Exactly one of the
/// two. `text` is the body; the CLI also sends files this way, base64 in `base64`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BetanetSend {
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    /// The body as base64, for files (instead of `text`).
    #[serde(default)]
    pub base64: Option<String>,
}

/// Which messages to list: the last `limit` (100), newest first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BetanetInboxQuery {
    #[serde(default)]
    pub limit: Option<u32>,
}
