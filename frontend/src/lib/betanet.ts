import type {
  ApiError,
  BetanetEvent,
  BetanetMessage,
  BetanetStatus,
  ClientStats,
  DropCount,
  Event,
  HistogramBucket,
  MessageState,
  MixnodeStats,
  MixnodeView,
  TopologyView,
} from "./api/client";
import { formatCount, formatDuration, shortId } from "./format";
import type { BadgeTone } from "./services";

// ---- Events -----------------------------------------------------------------------------

/** The event-bus topic of the Betanet service. */
export const BETANET_TOPIC = "betanet";

export function isBetanetEvent(event: Event): boolean {
  return event.topic === BETANET_TOPIC;
}

const MESSAGE_STATES: readonly MessageState[] = ["sending", "delivered", "failed", "received"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === "string";
const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

export function isMessage(value: unknown): value is BetanetMessage {
  return (
    isRecord(value) &&
    isString(value.id) &&
    MESSAGE_STATES.includes(value.state as MessageState) &&
    (value.to === null || isString(value.to)) &&
    isString(value.text) &&
    typeof value.binary === "boolean" &&
    isNumber(value.at_ms) &&
    isNumber(value.reply_surbs) &&
    (value.in_reply_to === null || isString(value.in_reply_to))
  );
}

function isBetanetEventData(value: Record<string, unknown>): value is BetanetEvent {
  switch (value.kind) {
    case "received":
      return isMessage(value.message);
    case "delivered":
      return isString(value.id);
    case "failed":
      return isString(value.id) && isString(value.reason);
    case "deployed":
    case "rotated":
      return isNumber(value.epoch);
    default:
      return false;
  }
}

/**
 * The BetanetEvent a node event carries: events of topic `betanet` have the whole BetanetEvent
 * as their data (its `kind` is also the event's kind). Null for other events and malformed ones.
 */
export function betanetEventOf(event: Event): BetanetEvent | null {
  if (!isBetanetEvent(event) || !isRecord(event.data)) return null;
  const candidate = { ...event.data, kind: isString(event.data.kind) ? event.data.kind : event.kind };
  return isBetanetEventData(candidate) ? candidate : null;
}

/** Whether an event changes the status (deployment, key rotation) rather than only the inbox. */
export function changesStatus(event: BetanetEvent): boolean {
  return event.kind === "deployed" || event.kind === "rotated";
}

// ---- Header -----------------------------------------------------------------------------

/** Seconds left in the epoch that ends at `endsMs`, never below zero; null when unknown. */
export function epochSecondsLeft(endsMs: number, nowMs: number): number | null {
  if (!Number.isFinite(endsMs) || !Number.isFinite(nowMs)) return null;
  return Math.max(0, Math.ceil((endsMs - nowMs) / 1000));
}

/** "ends in 4m 05s", or "ending now" once the end has passed (until the next status says otherwise). */
export function epochCountdownText(endsMs: number, nowMs: number): string {
  const left = epochSecondsLeft(endsMs, nowMs);
  if (left === null) return "end unknown";
  return left === 0 ? "ending now" : `ends in ${formatDuration(left)}`;
}

const KEY_MODES: Record<string, string> = {
  kem: "one key exchange a hop",
  sphinx: "re-blinded group element",
};

/** What a key mode means, or null for a mode this dashboard does not know. */
export function keyModeHint(mode: string): string | null {
  return KEY_MODES[mode] ?? null;
}

/** The deploy button's label: what it does, what it is doing, or what it did. */
export function deployButtonText(mixnode: Pick<MixnodeStats, "deployed" | "layer">, deploying: boolean): string {
  if (mixnode.deployed) {
    return mixnode.layer === null ? "Mixnode deployed, no layer yet" : `Mixnode deployed, layer ${mixnode.layer}`;
  }
  return deploying ? "Deploying…" : "Deploy mixnode";
}

// ---- Topology ---------------------------------------------------------------------------

/** The stratified topology always has three layers. */
export const LAYER_COUNT = 3;

export type LayerColumn = { layer: number; nodes: MixnodeView[] };

/**
 * Layers 1 to 3, each with its mixnodes as the node lists them; a layer the node sent no list
 * for is empty. A mixnode listed under a layer it does not name stays where the node put it.
 */
export function layerColumns(topology: Pick<TopologyView, "layers">): LayerColumn[] {
  return Array.from({ length: LAYER_COUNT }, (_, index) => ({
    layer: index + 1,
    nodes: [...(topology.layers[index] ?? [])],
  }));
}

/** Every mixnode of the topology, once each, in layer order. */
export function allMixnodes(topology: Pick<TopologyView, "layers">): MixnodeView[] {
  const seen = new Set<string>();
  const nodes: MixnodeView[] = [];
  for (const layer of topology.layers) {
    for (const node of layer) {
      if (seen.has(node.peer_id)) continue;
      seen.add(node.peer_id);
      nodes.push(node);
    }
  }
  return nodes;
}

export function hasMixnodes(topology: Pick<TopologyView, "layers">): boolean {
  return topology.layers.some((layer) => layer.length > 0);
}

export type Destination = { peer_id: string; label: string };

/**
 * The peers the send form offers: the mixnodes of the topology other than this node (the full
 * list of endpoints is not in the status), labelled with their layer.
 */
export function destinationsOf(topology: Pick<TopologyView, "layers">, selfId: string | null): Destination[] {
  return allMixnodes(topology)
    .filter((node) => !node.is_self && node.peer_id !== selfId)
    .map((node) => ({ peer_id: node.peer_id, label: `${shortId(node.peer_id)} (layer ${node.layer})` }));
}

export function healthBadge(node: Pick<MixnodeView, "healthy">): { tone: BadgeTone; text: string } {
  return node.healthy ? { tone: "ok", text: "healthy" } : { tone: "warn", text: "stale" };
}

/** "epochs 7, 8", "epoch 7", or "no keys". */
export function keyEpochsText(epochs: readonly number[]): string {
  if (epochs.length === 0) return "no keys";
  return `${epochs.length === 1 ? "epoch" : "epochs"} ${epochs.join(", ")}`;
}

/** Why the topology cannot carry packets, as the node says it. */
export function unusableReason(topology: Pick<TopologyView, "usable" | "reason">): string | null {
  if (topology.usable) return null;
  return topology.reason ?? "The node did not say why.";
}

// ---- Mixnode ----------------------------------------------------------------------------

/** The reasons a mixnode drops a packet, in the order the page lists them. */
export const DROP_REASONS = ["malformed", "mac", "replay", "expired_epoch", "queue_full", "no_route"] as const;

const DROP_LABELS: Record<string, string> = {
  malformed: "malformed packet",
  mac: "header MAC mismatch",
  replay: "replayed packet",
  expired_epoch: "key of an expired epoch",
  queue_full: "queue full",
  no_route: "no connection to the next hop",
};

export type DropRow = { reason: string; label: string; count: number };

/**
 * One row per drop reason: the six known ones always (zero when the node lists none), then any
 * other reason the node reports, so nothing it counts is hidden.
 */
export function dropRows(drops: readonly DropCount[]): DropRow[] {
  const counts = new Map<string, number>();
  for (const drop of drops) counts.set(drop.reason, (counts.get(drop.reason) ?? 0) + drop.count);
  const known: readonly string[] = DROP_REASONS;
  const extra = [...counts.keys()].filter((reason) => !known.includes(reason));
  return [...known, ...extra].map((reason) => ({
    reason,
    label: DROP_LABELS[reason] ?? reason.replaceAll("_", " "),
    count: counts.get(reason) ?? 0,
  }));
}

export type HistogramBar = {
  /** The bucket's upper bound in µs; null for the overflow bucket above the last bound. */
  le_us: number | null;
  /** "≤50 µs", or "> 1000 µs" for the overflow bucket. */
  label: string;
  count: number;
};

/**
 * Per-bucket counts from cumulative ones: a bucket with `le_us` counts the packets that took at
 * most that long, and the bucket with `le_us` null counts all of them. Each bar counts the
 * packets above the previous bound and at most its own; the last bar, "> last bound", those
 * above every bound. Buckets may come in any order; a count that went down between two buckets
 * (a snapshot taken mid-update) is drawn as zero.
 */
export function histogramBars(buckets: readonly HistogramBucket[]): HistogramBar[] {
  const bounded = buckets
    .filter((bucket): bucket is HistogramBucket & { le_us: number } => bucket.le_us !== null)
    .sort((a, b) => a.le_us - b.le_us);
  const total = buckets.find((bucket) => bucket.le_us === null);
  const bars: HistogramBar[] = [];
  let previous = 0;
  for (const bucket of bounded) {
    bars.push({ le_us: bucket.le_us, label: `≤${bucket.le_us} µs`, count: Math.max(0, bucket.count - previous) });
    previous = Math.max(previous, bucket.count);
  }
  if (total) {
    const last = bounded.at(-1);
    bars.push({
      le_us: null,
      label: last ? `> ${last.le_us} µs` : "all",
      count: Math.max(0, total.count - previous),
    });
  }
  return bars;
}

/** Packets the histogram counts: its total bucket, or the largest cumulative count. */
export function histogramTotal(buckets: readonly HistogramBucket[]): number {
  const total = buckets.find((bucket) => bucket.le_us === null);
  if (total) return total.count;
  return buckets.reduce((max, bucket) => Math.max(max, bucket.count), 0);
}

/** A bar's length in percent of the tallest bar; 0 for all when there are none. */
export function barPercent(count: number, bars: readonly HistogramBar[]): number {
  const max = bars.reduce((largest, bar) => Math.max(largest, bar.count), 0);
  return max > 0 ? (count / max) * 100 : 0;
}

/** The replay filter's fill, a share from 0 to 1, in percent: "12.5 %". */
export function replayFillText(fill: number): string {
  if (!Number.isFinite(fill)) return "unknown";
  return `${(fill * 100).toFixed(1)} %`;
}

/** Bytes in decimal megabytes: "4.19 MB", "0.06 MB". */
export function megabytesText(bytes: number): string {
  if (!Number.isFinite(bytes)) return "unknown";
  const mb = bytes / 1_000_000;
  return `${mb.toFixed(mb < 10 ? 2 : 1)} MB`;
}

// ---- Client -----------------------------------------------------------------------------

/** A duration the client is configured with: "250 ms", "1.5 s". */
export function intervalText(ms: number): string {
  if (!Number.isFinite(ms)) return "unknown";
  if (ms >= 1000) return `${Number((ms / 1000).toFixed(2))} s`;
  return `${Number(ms.toFixed(1))} ms`;
}

/** The last loop's round trip, or why there is none. */
export function loopRttText(ms: ClientStats["loop_rtt_ms"]): string {
  return ms === null || !Number.isFinite(ms) ? "no loop returned yet" : `${ms.toFixed(1)} ms`;
}

// ---- Rate samples -----------------------------------------------------------------------

/** How many status polls the sparklines keep (one a second). */
export const SAMPLE_LIMIT = 60;

/** The rates of one status poll, for the sparklines. */
export type RateSample = {
  t_s: number;
  in_per_s: number;
  out_per_s: number;
  real_per_s: number;
  cover_per_s: number;
};

export function rateSample(status: Pick<BetanetStatus, "mixnode" | "client">, atMs: number): RateSample {
  return {
    t_s: atMs / 1000,
    in_per_s: status.mixnode.packets_in_per_s,
    out_per_s: status.mixnode.packets_out_per_s,
    real_per_s: status.client.real_per_s,
    cover_per_s: status.client.cover_per_s,
  };
}

/**
 * Appends a sample and keeps the newest `limit`. Samples stamped at or after the new one (the
 * local clock went back) are dropped, so the list stays in time order.
 */
export function appendRateSample(samples: readonly RateSample[], sample: RateSample, limit = SAMPLE_LIMIT): RateSample[] {
  const kept = samples.filter((s) => s.t_s < sample.t_s);
  return [...kept.slice(Math.max(0, kept.length - limit + 1)), sample];
}

/** Column-wise arrays for a sparkline: x (seconds) and one y series. */
export function rateColumns(
  samples: readonly RateSample[],
  pick: (sample: RateSample) => number,
): [number[], (number | null)[]] {
  return [samples.map((s) => s.t_s), samples.map((s) => (Number.isFinite(pick(s)) ? pick(s) : null))];
}

// ---- Messages ---------------------------------------------------------------------------

/** How many messages the inbox asks for. */
export const INBOX_LIMIT = 100;

/** Newest first; equal times by id so rows do not swap between polls. */
function newestFirst(a: BetanetMessage, b: BetanetMessage): number {
  return b.at_ms - a.at_ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Outgoing states only move forward: a late answer saying "sending" never undoes an outcome. */
function laterMessage(known: BetanetMessage, next: BetanetMessage): BetanetMessage {
  if (next.state === "sending" && (known.state === "delivered" || known.state === "failed")) {
    return { ...next, state: known.state, reason: known.reason };
  }
  return next;
}

/**
 * The inbox after a fresh list from the node (newest first, at most `limit`): the node's list,
 * with outcomes the page already knows kept, plus messages the page learnt of while the list was
 * on its way (newer than anything in it). Newest first, at most `limit`.
 */
export function mergeInbox(
  current: readonly BetanetMessage[],
  fetched: readonly BetanetMessage[],
  limit = INBOX_LIMIT,
): BetanetMessage[] {
  const known = new Map(current.map((message) => [message.id, message]));
  const fetchedIds = new Set(fetched.map((message) => message.id));
  const newestFetched = fetched.reduce((max, message) => Math.max(max, message.at_ms), -Infinity);
  const merged = fetched.map((message) => {
    const before = known.get(message.id);
    return before ? laterMessage(before, message) : message;
  });
  const arrivedSince = current.filter((message) => !fetchedIds.has(message.id) && message.at_ms > newestFetched);
  return [...arrivedSince, ...merged].sort(newestFirst).slice(0, limit);
}

/** Adds or replaces one message (one just sent, or received), newest first. */
export function upsertMessage(
  current: readonly BetanetMessage[],
  message: BetanetMessage,
  limit = INBOX_LIMIT,
): BetanetMessage[] {
  const before = current.find((known) => known.id === message.id);
  const next = before ? laterMessage(before, message) : message;
  return [next, ...current.filter((known) => known.id !== message.id)].sort(newestFirst).slice(0, limit);
}

/** What an event does to the inbox; `current` itself when it changes nothing. */
export function applyBetanetEvent(current: readonly BetanetMessage[], event: BetanetEvent): BetanetMessage[] {
  switch (event.kind) {
    case "received":
      return upsertMessage(current, event.message);
    case "delivered":
    case "failed": {
      const state: MessageState = event.kind;
      const reason = event.kind === "failed" ? event.reason : null;
      let changed = false;
      const next = current.map((message) => {
        if (message.id !== event.id || (message.state === state && message.reason === reason)) return message;
        changed = true;
        return { ...message, state, reason };
      });
      return changed ? next : (current as BetanetMessage[]);
    }
    default:
      return current as BetanetMessage[];
  }
}

const MESSAGE_BADGES: Record<MessageState, { tone: BadgeTone | "info"; text: string }> = {
  sending: { tone: "info", text: "sending" },
  delivered: { tone: "ok", text: "delivered" },
  failed: { tone: "bad", text: "failed" },
  received: { tone: "idle", text: "received" },
};

export function messageBadge(state: MessageState): { tone: BadgeTone | "info"; text: string } {
  return MESSAGE_BADGES[state];
}

/** Who a message went to, or that its sender is anonymous. */
export function directionText(message: Pick<BetanetMessage, "state" | "to">): string {
  if (message.state === "received") return "from an anonymous sender";
  if (message.to === null) return "reply through the sender's SURBs";
  return `to ${shortId(message.to)}`;
}

/** Whether a message can be answered: it was received and still has reply SURBs. */
/** What the inbox shows as a message's body: its text, or why there is none to show. */
export function bodyText(message: Pick<BetanetMessage, "text" | "binary" | "bytes">): string {
  if (!message.binary) return message.text;
  return `binary content (${message.bytes} ${message.bytes === 1 ? "byte" : "bytes"}, not UTF-8 text)`;
}

export function canReply(message: Pick<BetanetMessage, "state" | "reply_surbs">): boolean {
  return message.state === "received" && message.reply_surbs > 0;
}

export function surbsText(count: number): string {
  return `${formatCount(count)} reply ${count === 1 ? "SURB" : "SURBs"} left`;
}

// ---- Sending ----------------------------------------------------------------------------

export type SendField = "to" | "text";
export type SendError = { field: SendField | null; message: string };

const FIELD_NAMES: Record<string, SendField> = {
  to: "to",
  reply_to: "to",
  text: "text",
  base64: "text",
};

/**
 * Where a refusal belongs: the node may name the field before the first colon
 * ("text: the message is empty"); a message about the destination (an unknown peer) goes to
 * the destination; anything else to the form as a whole.
 */
export function sendErrorOf(error: Pick<ApiError, "message">, destination: string | null = null): SendError {
  const message = error.message;
  const colon = message.indexOf(":");
  if (colon > 0) {
    const name = message.slice(0, colon).trim();
    const rest = message.slice(colon + 1).trim();
    const field = Object.hasOwn(FIELD_NAMES, name) ? FIELD_NAMES[name] : undefined;
    if (field && rest !== "") return { field, message: rest };
  }
  if (destination && destination !== "" && message.includes(destination)) return { field: "to", message };
  if (/\bmessage of \d+ bytes\b|\btoo long\b/i.test(message)) return { field: "text", message };
  return { field: null, message };
}

/** What is missing before the node is asked, or null. */
export function sendProblem(to: string, text: string): SendError | null {
  if (to.trim() === "") return { field: "to", message: "choose a destination or enter a peer id" };
  if (text.trim() === "") return { field: "text", message: "enter a message" };
  return null;
}
