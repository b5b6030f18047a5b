import type { Event, MeshPeer } from "./api/client";
import { formatDuration, shortId } from "./format";

/**
 * Events after which the peer list is out of date. The node publishes
 * `mesh.peer_connected` and `mesh.peer_disconnected`; any other mesh event is
 * taken as a reason to look again too.
 */
export function isMeshEvent(event: Event): boolean {
  return event.topic === "mesh" || event.topic.startsWith("mesh.");
}

/** Oldest connection first, so rows and topology positions stay put between refreshes. */
export function sortPeers(peers: readonly MeshPeer[]): MeshPeer[] {
  return [...peers].sort(
    (a, b) =>
      a.connected_since_ms - b.connected_since_ms ||
      (a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0),
  );
}

/** Mean of the peers' last ping times; null when no peer has answered a ping yet. */
export function averageLatency(peers: readonly MeshPeer[]): number | null {
  const pinged = peers.flatMap((peer) =>
    peer.latency_ms !== null && Number.isFinite(peer.latency_ms) ? [peer.latency_ms] : [],
  );
  if (pinged.length === 0) return null;
  return pinged.reduce((sum, ms) => sum + ms, 0) / pinged.length;
}

/** How long a peer has been connected, e.g. "2m 10s"; clock skew never shows as negative. */
export function connectedFor(connectedSinceMs: number, nowMs: number): string {
  return formatDuration(Math.max(0, nowMs - connectedSinceMs) / 1000);
}

/** One polling sample for the mesh sparklines. */
export type MeshSample = {
  t_s: number;
  peers: number;
  avg_latency_ms: number | null;
};

export function meshSample(peers: readonly MeshPeer[], atMs: number): MeshSample {
  return { t_s: atMs / 1000, peers: peers.length, avg_latency_ms: averageLatency(peers) };
}

/**
 * Appends a sample and keeps only those of the last `windowSeconds` before it.
 * Samples stamped after the new one (the local clock went back) are dropped too,
 * so the list stays in time order and bounded.
 */
export function appendSample(
  samples: readonly MeshSample[],
  sample: MeshSample,
  windowSeconds: number,
): MeshSample[] {
  const oldest = sample.t_s - windowSeconds;
  return [...samples.filter((s) => s.t_s >= oldest && s.t_s < sample.t_s), sample];
}

/** Column-wise arrays for a sparkline: x (seconds) and one y series. */
export function sampleColumns(
  samples: readonly MeshSample[],
  pick: (sample: MeshSample) => number | null,
): [number[], (number | null)[]] {
  return [samples.map((s) => s.t_s), samples.map(pick)];
}

/** Colour family of a link: "unknown" until the first ping. */
export type LatencyTone = "ok" | "warn" | "bad" | "unknown";

/** Round trips below this are drawn as good links. */
export const GOOD_LATENCY_MS = 50;
/** Round trips from this on are drawn as poor links. */
export const POOR_LATENCY_MS = 200;

export function latencyTone(ms: number | null): LatencyTone {
  if (ms === null || !Number.isFinite(ms)) return "unknown";
  if (ms < GOOD_LATENCY_MS) return "ok";
  if (ms < POOR_LATENCY_MS) return "warn";
  return "bad";
}

const WIDEST_LINK = 4;
const NARROWEST_LINK = 1.5;
/** Latency at and above which a link is drawn at its narrowest. */
const NARROWEST_AT_MS = 300;

/** Stroke width of a link: wide for fast peers, narrow for slow ones, 1 when not yet pinged. */
export function linkWidth(ms: number | null): number {
  if (ms === null || !Number.isFinite(ms)) return 1;
  const slowness = Math.min(Math.max(ms, 0), NARROWEST_AT_MS) / NARROWEST_AT_MS;
  return WIDEST_LINK - (WIDEST_LINK - NARROWEST_LINK) * slowness;
}

export type Point = { x: number; y: number };

export type StarNode = Point & {
  peer_id: string;
  label: string;
  latency_ms: number | null;
  tone: LatencyTone;
  width: number;
  /** Where the label goes, just outside the node on the same ray. */
  labelAt: Point;
  anchor: "start" | "middle" | "end";
};

export type StarLayout = {
  width: number;
  height: number;
  centre: Point;
  radius: number;
  nodes: StarNode[];
};

/** Space left around the circle of peers for their labels. */
const LABEL_MARGIN_Y = 28;
const LABEL_GAP = 13;

const round = (value: number) => Math.round(value * 10) / 10;

/**
 * A star of this node and its peers: this node in the centre, the peers evenly
 * on a circle around it, clockwise in the order given from the top. No peer sits
 * straight below the centre, where this node's own label goes: an odd number of
 * peers starts at the top, an even number half a step past it.
 */
export function starLayout(peers: readonly MeshPeer[], width: number, height: number): StarLayout {
  const centre = { x: width / 2, y: height / 2 };
  const radius = Math.max(0, Math.min(width, height) / 2 - LABEL_MARGIN_Y);
  const step = (2 * Math.PI) / Math.max(1, peers.length);
  const start = -Math.PI / 2 + (peers.length % 2 === 0 ? step / 2 : 0);
  const nodes = peers.map((peer, index): StarNode => {
    const angle = start + step * index;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const labelRadius = radius + LABEL_GAP;
    return {
      peer_id: peer.peer_id,
      label: shortId(peer.peer_id),
      latency_ms: peer.latency_ms,
      tone: latencyTone(peer.latency_ms),
      width: linkWidth(peer.latency_ms),
      x: round(centre.x + radius * cos),
      y: round(centre.y + radius * sin),
      labelAt: {
        x: round(centre.x + labelRadius * cos),
        // Labels above or below the circle sit clear of the node rather than across it.
        y: round(centre.y + labelRadius * sin + (Math.abs(sin) > 0.9 ? Math.sign(sin) * 4 : 0)),
      },
      anchor: cos > 0.3 ? "start" : cos < -0.3 ? "end" : "middle",
    };
  });
  return { width, height, centre, radius, nodes };
}
