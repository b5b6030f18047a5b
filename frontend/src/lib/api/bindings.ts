// Generated from Rust by `UPDATE_BINDINGS=1 cargo test -p fog-node bindings` — do not edit.
export type NodeInfo = { 
/**
 * libp2p peer id derived from the node's ed25519 key.
 */
peer_id: string, 
/**
 * SHA-256 of the ed25519 public key, grouped hex.
 */
fingerprint: string, 
/**
 * ed25519 public key, hex.
 */
public_key: string, 
/**
 * x25519 key-agreement public key, hex.
 */
agreement_public_key: string, 
/**
 * Fog Compute version.
 */
version: string, 
/**
 * When the node started, Unix milliseconds.
 */
started_at_ms: number, 
/**
 * Seconds since start.
 */
uptime_s: number, 
/**
 * Operating-system process id.
 */
pid: number, data_dir: string, 
/**
 * The config file in use, if any.
 */
config_file: string | null, db_file: string, log_dir: string, token_file: string, 
/**
 * Base URL of the HTTP API, when it is listening.
 */
api_url: string | null, };
export type ServiceState = "starting" | "running" | "stopped" | "failed" | "not_available";
export type ServiceHealth = { 
/**
 * Stable id, e.g. `store`, `api`, `mesh`.
 */
id: string, 
/**
 * Name shown to people.
 */
name: string, state: ServiceState, 
/**
 * One line on the current state, e.g. where it listens or why it failed.
 */
detail: string, 
/**
 * When the service entered this state, Unix milliseconds.
 */
since_ms: number, };
export type HealthStatus = "ok" | "degraded";
export type Health = { status: HealthStatus, services: Array<ServiceHealth>, checked_at_ms: number, };
export type ProcessStats = { 
/**
 * Resident memory, bytes; null where the OS does not tell.
 */
rss_bytes: number | null, 
/**
 * CPU time used (user + system), seconds; null where the OS does not tell.
 */
cpu_seconds: number | null, 
/**
 * Threads; null where the OS does not tell.
 */
threads: number | null, };
export type DashboardStats = { uptime_s: number, services_running: number, 
/**
 * Services built into this node (not counting those not available).
 */
services_built: number, services_not_available: number, 
/**
 * Events in the event log.
 */
events_total: number, 
/**
 * Clients subscribed to the live event stream right now.
 */
event_subscribers: number, 
/**
 * Database file plus WAL, bytes.
 */
db_size_bytes: number, 
/**
 * HTTP API requests served since start.
 */
http_requests_total: number, process: ProcessStats, sampled_at_ms: number, };
export type Event = { 
/**
 * Sequence number in the event log (0 if it could not be stored).
 */
id: number, ts_ms: number, 
/**
 * Dotted topic, e.g. `node`, `service`, `settings`.
 */
topic: string, 
/**
 * What happened, e.g. `started`, `state_changed`.
 */
kind: string, 
/**
 * Details; shape depends on topic and kind.
 */
data: unknown, };
export type EventsQuery = { 
/**
 * How many of the newest events (1–1000, default 100).
 */
limit: number | null, 
/**
 * Comma-separated topic filter; a topic matches itself and its dotted children.
 */
topics: string | null, };
export type LogsQuery = { 
/**
 * How many of the last lines (1–10000, default 200).
 */
lines: number | null, };
export type LogTail = { 
/**
 * The file read; null when this process writes no log file.
 */
file: string | null, lines: Array<string>, 
/**
 * Why there is nothing to show, when there is nothing.
 */
empty_reason: string | null, };
export type Settings = { 
/**
 * Log filter in tracing's syntax, e.g. `info` or `info,fog_node=debug`.
 */
log_level: string, 
/**
 * Whether this process manages its log filter (false when embedded without logging).
 */
log_level_editable: boolean, 
/**
 * Address the HTTP API is configured to listen on.
 */
api_addr: string, data_dir: string, config_file: string | null, 
/**
 * Whether mDNS looks for peers on the local network now.
 */
lan_discovery: boolean, 
/**
 * Whether LAN discovery can be switched here (false when the mesh is not running).
 */
lan_discovery_editable: boolean, };
export type SettingsUpdate = { log_level?: string | null, 
/**
 * Switches LAN discovery until the node stops; `mesh.lan_discovery` in the config file keeps it.
 */
lan_discovery?: boolean | null, };
export type ApiError = { 
/**
 * Stable snake_case code, e.g. `unauthorized`, `invalid_input`.
 */
code: string, 
/**
 * Message for people.
 */
message: string, };
export type PeerDirection = "outbound" | "inbound";
export type MeshStats = { peer_id: string, 
/**
 * Multiaddrs the node listens on, each ending in `/p2p/<peer id>`.
 */
listen_addrs: Array<string>, connected_peers: number, inbound: number, outbound: number, 
/**
 * Bootstrap addresses from the configuration.
 */
bootstrap: Array<string>, 
/**
 * Whether mDNS looks for peers on the local network.
 */
lan_discovery: boolean, 
/**
 * Peers in the peer book, connected or not.
 */
known_peers: number, traffic: MeshTraffic, };
export type MeshTraffic = { 
/**
 * Per gossip topic, sorted by name.
 */
topics: Array<TopicTraffic>, requests_sent: number, requests_received: number, requests_failed: number, };
export type TopicTraffic = { topic: string, 
/**
 * Messages from other nodes that passed validation.
 */
messages_in: number, bytes_in: number, 
/**
 * Messages this node published.
 */
messages_out: number, bytes_out: number, 
/**
 * Messages dropped as oversized or malformed.
 */
rejected: number, };
export type MeshPeer = { peer_id: string, 
/**
 * Remote multiaddr of the connection.
 */
address: string, direction: PeerDirection, 
/**
 * Last ping round trip, milliseconds; null until the first ping.
 */
latency_ms: number | null, connected_since_ms: number, 
/**
 * Protocols the peer announced.
 */
protocols: Array<string>, };
export type KnownPeer = { peer_id: string, 
/**
 * Listen addresses the peer announced.
 */
addresses: Array<string>, first_seen_ms: number, last_seen_ms: number, 
/**
 * Last ping round trip, milliseconds.
 */
last_latency_ms: number | null, 
/**
 * Failed dials since the last connection.
 */
failures: number, connected: boolean, };
export type MeshTopology = { nodes: Array<TopologyNode>, edges: Array<TopologyEdge>, 
/**
 * Connected peers that did not answer in time.
 */
unanswered: Array<string>, };
export type TopologyNode = { peer_id: string, this_node: boolean, 
/**
 * Connected to this node directly.
 */
connected: boolean, };
export type TopologyEdge = { a: string, b: string, };
export type ConnectRequest = { 
/**
 * Multiaddr, e.g. `/ip4/127.0.0.1/tcp/7421/p2p/12D3KooW…`.
 */
addr: string, };
export type DisconnectRequest = { 
/**
 * Peer id.
 */
peer: string, };
