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
export type Reading<T> = { "known": T } | { "unknown": string };
export type PowerSource = "mains" | "battery";
export type DeviceState = { 
/**
 * When it was sampled (Unix ms).
 */
at_ms: number, power: Reading<PowerSource>, battery_pct: Reading<number>, charging: Reading<boolean>, 
/**
 * Seconds since the user last used the machine.
 */
user_idle_secs: Reading<number>, 
/**
 * Whole-machine CPU use, 0–100 % of all cores.
 */
cpu_load_pct: Reading<number>, 
/**
 * CPU use of everything except Fog's own jobs, 0–100 % of all cores.
 */
other_cpu_pct: Reading<number>, 
/**
 * The hottest CPU/thermal sensor.
 */
temperature_c: Reading<number>, memory_total_bytes: Reading<number>, memory_available_bytes: Reading<number>, 
/**
 * Logical CPUs the node may use.
 */
cores: number, };
export type HarvestSettings = { 
/**
 * Donate at all.
 */
enabled: boolean, 
/**
 * Run while on battery power (BOINC default: no).
 */
run_on_batteries: boolean, 
/**
 * On battery: stop below this charge…
 */
battery_stop_below_pct: number, 
/**
 * …and start again only above this one.
 */
battery_resume_above_pct: number, 
/**
 * Minutes without user input before the machine counts as idle.
 */
idle_minutes: number, 
/**
 * Keep running (with the in-use limits) while the user is at the machine.
 */
run_while_in_use: boolean, 
/**
 * Where the user's idle time cannot be read (a headless server with no sessions), count
 * the machine as idle.
 */
unknown_idle_is_idle: boolean, 
/**
 * Suspend when non-Fog CPU use is above this % for [`Self::other_cpu_grace_secs`]; 0 = never.
 */
other_cpu_suspend_pct: number, other_cpu_grace_secs: number, 
/**
 * Cores for jobs when idle / in use; 0 = all.
 */
max_cores_idle: number, max_cores_in_use: number, 
/**
 * CPU time per core for jobs when idle / in use (duty cycle), 1–100 %.
 */
cpu_pct_idle: number, cpu_pct_in_use: number, 
/**
 * Stop at or above this temperature and restart at or below the resume one.
 */
temperature_stop_c: number, temperature_resume_c: number, 
/**
 * Donate only inside these windows; none = any time.
 */
windows: Array<TimeWindow>, 
/**
 * Memory for jobs when idle / in use, % of the machine's RAM.
 */
ram_pct_idle: number, ram_pct_in_use: number, 
/**
 * Tokens asked per 10⁹ instructions (fuel) of donated work; 0 donates for free.
 */
price_per_gigafuel: number, };
export type TimeWindow = { 
/**
 * Days it starts on, 0 = Monday … 6 = Sunday; empty = every day.
 */
days: Array<number>, 
/**
 * "HH:MM"
 */
start: string, 
/**
 * "HH:MM"
 */
end: string, };
export type Mode = "run" | "throttle" | "pause";
export type Rule = "disabled" | "outside_window" | "on_battery" | "battery_low" | "too_hot" | "other_cpu_load" | "in_use" | "idle" | "in_use_allowed";
export type Decision = { mode: Mode, rule: Rule, 
/**
 * For people: "paused: on battery".
 */
reason: string, 
/**
 * Whether the user counts as being at the machine.
 */
in_use: boolean, 
/**
 * Cores jobs may use (0 when paused).
 */
cores: number, 
/**
 * CPU duty cycle per core, %.
 */
cpu_pct: number, 
/**
 * Memory all jobs together may use; unknown when the machine's RAM is.
 */
ram_bytes: number | null, };
export type JobLimits = { memory_bytes: number, 
/**
 * Instructions (wasmtime fuel units).
 */
fuel: number, timeout_ms: number, output_bytes: number, };
export type StopReason = { "kind": "deadline" } | { "kind": "fuel_exhausted" } | { "kind": "memory_limit" } | { "kind": "output_limit" } | { "kind": "paused" } | { "kind": "cancelled" } | { "kind": "trap", "detail": string };
export type RunEnd = { "status": "exited", code: number, } | { "status": "stopped", reason: StopReason, };
export type JobState = "queued" | "running" | "completed" | "failed" | "cancelled";
export type JobView = { id: number, label: string, origin: string, module_hash: string, state: JobState, attempts: number, preemptions: number, submitted_ms: number, started_ms: number | null, finished_ms: number | null, end: RunEnd | null, limits: JobLimits, input_bytes: number, output_bytes: number, 
/**
 * stdout as text when it is UTF-8 and short enough to show.
 */
output_text: string | null, 
/**
 * The end of stderr, for diagnostics.
 */
stderr_text: string, fuel_used: number, cpu_ms: number, wall_ms: number, peak_memory_bytes: number, };
export type Totals = { cpu_seconds: number, fuel: number, jobs_completed: number, jobs_failed: number, jobs_preempted: number, since_ms: number | null, };
export type HistoryPoint = { at_ms: number, cpu_load_pct: number | null, other_cpu_pct: number | null, temperature_c: number | null, battery_pct: number | null, mode: Mode, running_jobs: number, };
export type Capacity = { mode: Mode, reason: string, 
/**
 * Cores the policy allows now, and how many of them are free.
 */
cores: number, free_cores: number, cpu_pct: number, 
/**
 * Memory the policy allows jobs now, minus what running jobs reserved.
 */
free_memory_bytes: number | null, 
/**
 * Instructions (fuel) per second on one core, from a short calibration run.
 */
speed_fuel_per_sec: number | null, price_per_gigafuel: number, running_jobs: number, queued_jobs: number, at_ms: number, };
export type HarvestStats = { device: DeviceState | null, decision: Decision, running: Array<JobView>, queued: Array<JobView>, recent: Array<JobView>, totals: Totals, capacity: Capacity, history: Array<HistoryPoint>, };
export type ExampleJob = { name: string, description: string, 
/**
 * An input that finishes in about a second on a laptop core.
 */
sample_input: string, };
export type IdleDevice = { peer_id: string, this_node: boolean, capacity: Capacity, 
/**
 * When its advertisement arrived (this node: when it was sampled).
 */
received_ms: number, };
export type IdleJobSubmit = { 
/**
 * Shown in the job list; defaults to the example's name or "module".
 */
label?: string | null, 
/**
 * Name of a built-in example (see /api/idle-compute/examples).
 */
example?: string | null, 
/**
 * A WASI preview 1 command module, base64.
 */
module_base64?: string | null, 
/**
 * stdin as UTF-8 text.
 */
input?: string | null, 
/**
 * stdin as base64, for binary input.
 */
input_base64?: string | null, 
/**
 * Defaults: 256 MiB memory, 2·10¹¹ fuel, 60 s, 16 MiB of output.
 */
limits?: JobLimits | null, };
export type IdleOffer = { 
/**
 * Peer id of the node to run it.
 */
peer: string, job: IdleJobSubmit, };
export type Tier = "gold" | "silver" | "bronze";
export type Phase = { "kind": "queued" } | { "kind": "placed", node: string, } | { "kind": "running", node: string, } | { "kind": "done" } | { "kind": "failed", reason: string, } | { "kind": "retrying", reason: string, } | { "kind": "cancelled" };
export type TierFigures = { tier: Tier, jobs: number, 
/**
 * Done by the deadline, % of the tier's ended jobs; none when there are none.
 */
on_time_pct: number | null, 
/**
 * Queue wait (submitted → started), nearest-rank percentiles.
 */
p50_wait_ms: number | null, p95_wait_ms: number | null, };
export type SlaFigures = { tiers: Array<TierFigures>, 
/**
 * Jobs done per minute over the window.
 */
throughput_per_min: number, window_ms: number, };
export type WorkSource = "given" | "learned" | "fuel_limit";
export type RunResult = { 
/**
 * "exit 0", "exit 2", "out of fuel", …
 */
end: string, output_bytes: number, 
/**
 * stdout as text when it is UTF-8 and short enough to show.
 */
output_text: string | null, stderr_text: string, fuel_used: number, cpu_ms: number, wall_ms: number, };
export type SchedJob = { id: number, label: string, module_hash: string, input_bytes: number, tier: Tier, cpu: number, memory_bytes: number, fuel: number, timeout_ms: number, 
/**
 * Estimated instructions.
 */
work: number, work_source: WorkSource, submitted_ms: number, deadline_ms: number, phase: Phase, attempts: number, max_attempts: number, 
/**
 * The node of the current or last attempt.
 */
node: string | null, 
/**
 * The job's id on that node.
 */
remote_id: number | null, placed_ms: number | null, started_ms: number | null, finished_ms: number | null, result: RunResult | null, };
export type Attempt = { attempt: number, node: string, remote_id: number | null, placed_ms: number, ended_ms: number | null, 
/**
 * "done", "failed: …", "lost: …", "cancelled"; none while it runs.
 */
outcome: string | null, };
export type Round = { at_ms: number, jobs: number, 
/**
 * Nodes that could take jobs, by id.
 */
nodes: Array<string>, duration_ms: number, 
/**
 * (makespan s, cost, energy J, SLA risk) of each plan on the front.
 */
front: Array<[number, number, number, number]>, 
/**
 * Index of the chosen plan in `front`.
 */
chosen: number, late_gold: number, late_jobs: number, 
/**
 * The FIFO first-fit plan's objectives, for comparison.
 */
fifo_first_fit: [number, number, number, number], 
/**
 * How many jobs each node got.
 */
placed: Array<[string, number]>, };
export type SchedNode = { id: string, is_self: boolean, 
/**
 * Whether the next round may place jobs on it.
 */
available: boolean, 
/**
 * Why it cannot take jobs, when it cannot.
 */
reason: string | null, 
/**
 * Instructions per second on one core.
 */
speed: number | null, free_cores: number, price_per_gigafuel: number | null, 
/**
 * Share of this scheduler's attempts on it that finished, smoothed (1 with no history).
 */
reliability: number, 
/**
 * This scheduler's jobs on it now.
 */
in_flight: number, };
export type PhaseCounts = { queued: number, placed: number, running: number, retrying: number, };
export type SchedStats = { active: PhaseCounts, 
/**
 * Jobs waiting to be placed.
 */
queue_depth: number, 
/**
 * Why queued jobs are waiting, when they are.
 */
waiting: string | null, 
/**
 * Over the last hour.
 */
sla: SlaFigures, last_round: Round | null, nodes: Array<SchedNode>, rounds_total: number, placements_total: number, };
export type SchedJobSubmit = { 
/**
 * Shown in the queue; defaults to the example's name or "module".
 */
label?: string | null, 
/**
 * Name of a built-in example (see /api/idle-compute/examples).
 */
example?: string | null, 
/**
 * A WASI preview 1 command module, base64.
 */
module_base64?: string | null, 
/**
 * stdin as UTF-8 text.
 */
input?: string | null, 
/**
 * stdin as base64, for binary input.
 */
input_base64?: string | null, 
/**
 * gold, silver or bronze; default silver.
 */
tier?: Tier | null, 
/**
 * Seconds from now by which it should be done; default 600.
 */
deadline_s?: number | null, 
/**
 * Cores; default 1.
 */
cpu?: number | null, 
/**
 * Default 256 MiB.
 */
memory_bytes?: number | null, 
/**
 * Instruction budget; default 2·10¹¹.
 */
fuel?: number | null, 
/**
 * Wall-clock limit of one run; default 60 000.
 */
timeout_ms?: number | null, 
/**
 * Your estimate of the instructions it needs; without one, what the last run of the same
 * module used, else the fuel budget.
 */
work?: number | null, };
export type SchedJobDetail = { job: SchedJob, attempts: Array<Attempt>, };
export type DeliveryState = "queued" | "sent" | "delivered" | "read" | "failed";
export type ChatMessage = { id: string, 
/**
 * `#mesh`, or the other peer's id (16 hex digits) for a private chat.
 */
channel: string, 
/**
 * Sender's peer id (16 hex digits).
 */
sender: string, sender_nickname: string, text: string, 
/**
 * The sender's timestamp.
 */
timestamp_ms: number, 
/**
 * When this node received (or sent) it.
 */
received_ms: number, outgoing: boolean, private: boolean, 
/**
 * Outgoing private messages only.
 */
delivery: DeliveryState | null, 
/**
 * Incoming private messages: read receipt sent.
 */
read: boolean, };
export type ChatPeer = { 
/**
 * 16 hex digits: the first 8 bytes of SHA-256 of its Noise key.
 */
peer_id: string, nickname: string, 
/**
 * Full SHA-256 of its Noise key, 64 hex digits.
 */
fingerprint: string, 
/**
 * Has a direct link to this node now.
 */
direct: boolean, 
/**
 * Heard within the last 60 s (directly or relayed).
 */
reachable: boolean, last_heard_ms: number, 
/**
 * Received signal strength of the direct link, when the radio reports one.
 */
rssi_dbm: number | null, 
/**
 * Hops its last announce travelled (0 = direct).
 */
hops: number | null, favourite: boolean, 
/**
 * The user compared fingerprints and marked it verified.
 */
verified: boolean, 
/**
 * Its keys are pinned since this time (trust on first use).
 */
first_seen_ms: number, has_session: boolean, };
export type AdapterState = { "state": "starting" } | { "state": "ready", 
/**
 * What carries the frames: "Bluetooth LE (hci0)", "simulated radio (loopback UDP)"…
 */
transport: string, } | { "state": "unavailable", reason: string, };
export type ChatCounters = { frames_in: number, frames_out: number, relayed: number, dropped_duplicate: number, dropped_invalid: number, 
/**
 * Timestamps more than 120 s from this machine's clock (keep it NTP-synced).
 */
dropped_skewed: number, 
/**
 * Over a rate limit: sync requests (8 per 30 s a link), public messages (5, then 1/s a sender).
 */
dropped_rate_limited: number, handshakes: number, };
export type BitchatStatus = { adapter: AdapterState, 
/**
 * True when the frames travel over a simulated radio, not Bluetooth.
 */
simulated: boolean, peer_id: string, fingerprint: string, nickname: string, links: number, reachable_peers: number, outbox: number, counters: ChatCounters, };
export type ChatEvent = { "kind": "message", message: ChatMessage, } | { "kind": "delivery", message_id: string, peer_id: string, state: DeliveryState, } | { "kind": "peer", peer: ChatPeer, } | { "kind": "peer_left", peer_id: string, } | { "kind": "key_mismatch", peer_id: string, nickname: string, } | { "kind": "adapter", adapter: AdapterState, };
export type BitchatSend = { to: string | null, text: string, };
export type BitchatMessagesQuery = { channel: string | null, limit: number | null, };
export type BitchatPeerFlags = { favourite: boolean | null, verified: boolean | null, };
export type BitchatNickname = { nickname: string, };
export type BitchatRead = { marked: number, };
export type TopologyView = { epoch: number, 
/**
 * Layers 1..3, each with its mixnodes.
 */
layers: Array<Array<MixnodeView>>, 
/**
 * Nodes that can receive (every node with a key for this epoch).
 */
endpoints: number, 
/**
 * Descriptors held.
 */
descriptors: number, 
/**
 * Every layer has a mixnode, so packets can be sent.
 */
usable: boolean, 
/**
 * Why not, when not usable.
 */
reason: string | null, };
export type MixnodeView = { peer_id: string, 
/**
 * 1, 2 or 3.
 */
layer: number, 
/**
 * Packets a second it offers.
 */
capacity: number, 
/**
 * Seconds since its descriptor was issued.
 */
descriptor_age_s: number, 
/**
 * Its descriptor is fresh (republished on time).
 */
healthy: boolean, 
/**
 * Epochs it holds keys for.
 */
key_epochs: Array<number>, is_self: boolean, };
export type DropCount = { 
/**
 * `malformed`, `mac`, `replay`, `expired_epoch`, `queue_full` or `no_route`.
 */
reason: string, count: number, };
export type HistogramBucket = { le_us: number | null, count: number, };
export type MixnodeStats = { deployed: boolean, 
/**
 * Its layer in the current epoch (1..3), once its descriptor is in the topology.
 */
layer: number | null, packets_in_per_s: number, packets_out_per_s: number, received: number, forwarded: number, 
/**
 * Packets for this node itself.
 */
delivered: number, drops: Array<DropCount>, 
/**
 * Share of the replay filter in use.
 */
replay_fill: number, replay_memory_bytes: number, queue_depth: number, 
/**
 * Per-hop processing time.
 */
hop_time_us: Array<HistogramBucket>, key_epochs: Array<number>, };
export type ClientStats = { 
/**
 * Real packets a second (over the last few seconds).
 */
real_per_s: number, 
/**
 * Cover packets a second (drop and loop).
 */
cover_per_s: number, 
/**
 * Round trip of the last loop cover packet.
 */
loop_rtt_ms: number | null, real_sent: number, drop_cover_sent: number, loop_cover_sent: number, loops_returned: number, retransmissions: number, messages_sent: number, messages_delivered: number, messages_failed: number, messages_received: number, in_flight: number, send_interval_ms: number, loop_interval_ms: number, mix_delay_ms: number, };
export type BetanetStatus = { 
/**
 * This node's mesh peer id (its Betanet address).
 */
peer_id: string, 
/**
 * `kem` (one key exchange a hop) or `sphinx` (re-blinded group element).
 */
key_mode: string, epoch: number, epoch_secs: number, 
/**
 * When the current epoch ends, ms since the Unix epoch.
 */
epoch_ends_ms: number, topology: TopologyView, mixnode: MixnodeStats, client: ClientStats, };
export type MessageState = "sending" | "delivered" | "failed" | "received";
export type BetanetMessage = { 
/**
 * 32 hex digits.
 */
id: string, state: MessageState, 
/**
 * For outgoing messages: the destination's peer id, or `null` for a reply (sent through
 * the other side's SURBs, so we do not know where it goes).
 */
to: string | null, 
/**
 * The body, when it is UTF-8 text (else empty, and `binary` is set).
 */
text: string, 
/**
 * The body is not text (a file); `bytes` says how long it is.
 */
binary: boolean, bytes: number, 
/**
 * The message this one answers.
 */
in_reply_to: string | null, 
/**
 * Incoming: reply SURBs still unused.
 */
reply_surbs: number, at_ms: number, 
/**
 * Why it failed.
 */
reason: string | null, };
export type BetanetEvent = { "kind": "received", message: BetanetMessage, } | { "kind": "delivered", id: string, } | { "kind": "failed", id: string, reason: string, } | { "kind": "deployed", epoch: number, } | { "kind": "rotated", epoch: number, };
export type BetanetSend = { to: string | null, reply_to: string | null, text: string | null, 
/**
 * The body as base64, for files (instead of `text`).
 */
base64: string | null, };
export type BetanetInboxQuery = { limit: number | null, };
export type Figure = { name: string, value: number, unit: string, 
/**
 * What it is measured against, when there is a goal.
 */
goal: string | null, };
export type BenchRequest = { suite: string, 
/**
 * nsga: zdt1, zdt2, zdt3, zdt4, zdt6, dtlz1 or dtlz2 (default zdt1).
 */
problem?: string | null, 
/**
 * nsga: nsga2 (default) or nsga3.
 */
algorithm?: string | null, 
/**
 * nsga: population (default 100).
 */
pop?: number | null, 
/**
 * nsga: generations (default 250).
 */
gens?: number | null, seed?: number | null, };
export type BenchResult = { id: number, suite: string, 
/**
 * What ran, e.g. "NSGA-II on zdt1, population 100 × 250 generations, seed 1".
 */
title: string, started_ms: number, wall_ms: number, 
/**
 * "release", or "debug" (much slower figures).
 */
build: string, figures: Array<Figure>, };
