import type { Event, MeshPeer } from "./api/client";
import { formatDuration } from "./format";

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
