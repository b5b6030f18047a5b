import { describe, expect, it } from "vitest";
import type { Event, MeshPeer } from "./api/client";
import {
  appendSample,
  averageLatency,
  connectedFor,
  isMeshEvent,
  meshSample,
  sampleColumns,
  sortPeers,
  type MeshSample,
} from "./mesh";

const peer = (peer_id: string, latency_ms: number | null, connected_since_ms = 0): MeshPeer => ({
  peer_id,
  address: "/ip4/10.0.0.2/tcp/7421",
  direction: "outbound",
  latency_ms,
  connected_since_ms,
  protocols: [],
});

const event = (topic: string, kind: string): Event => ({ id: 1, ts_ms: 0, topic, kind, data: {} });

describe("isMeshEvent", () => {
  it("matches the mesh topic and its children only", () => {
    expect(isMeshEvent(event("mesh", "peer_connected"))).toBe(true);
    expect(isMeshEvent(event("mesh", "peer_disconnected"))).toBe(true);
    expect(isMeshEvent(event("mesh.gossip", "message"))).toBe(true);
    expect(isMeshEvent(event("meshy", "peer_connected"))).toBe(false);
    expect(isMeshEvent(event("service", "state_changed"))).toBe(false);
  });
});

describe("sortPeers", () => {
  it("puts the oldest connection first, then orders by peer id", () => {
    const peers = [peer("c", null, 20), peer("b", null, 10), peer("a", null, 20)];
    expect(sortPeers(peers).map((p) => p.peer_id)).toEqual(["b", "a", "c"]);
    expect(peers.map((p) => p.peer_id)).toEqual(["c", "b", "a"]);
  });
});

describe("averageLatency", () => {
  it("averages the peers that have been pinged", () => {
    expect(averageLatency([peer("a", 10), peer("b", null), peer("c", 20.5)])).toBe(15.25);
  });

  it("is null without any ping", () => {
    expect(averageLatency([])).toBeNull();
    expect(averageLatency([peer("a", null)])).toBeNull();
  });
});

describe("connectedFor", () => {
  it("formats the time since the connection", () => {
    expect(connectedFor(1_000, 131_000)).toBe("2m 10s");
    expect(connectedFor(0, 999)).toBe("0s");
  });

  it("never goes negative when the clocks disagree", () => {
    expect(connectedFor(5_000, 1_000)).toBe("0s");
  });
});

describe("samples", () => {
  it("take the peer count and average latency at a time", () => {
    expect(meshSample([peer("a", 4), peer("b", null)], 12_000)).toEqual({
      t_s: 12,
      peers: 2,
      avg_latency_ms: 4,
    });
    expect(meshSample([], 3_000)).toEqual({ t_s: 3, peers: 0, avg_latency_ms: null });
  });

  it("keep only the window before the newest", () => {
    const at = (t_s: number): MeshSample => ({ t_s, peers: t_s, avg_latency_ms: null });
    let samples: MeshSample[] = [];
    for (const t of [0, 3, 6, 9]) samples = appendSample(samples, at(t), 6);
    expect(samples.map((s) => s.t_s)).toEqual([3, 6, 9]);
  });

  it("drop samples from the future when the clock went back", () => {
    const at = (t_s: number): MeshSample => ({ t_s, peers: 1, avg_latency_ms: 1 });
    expect(appendSample([at(100), at(103)], at(50), 300).map((s) => s.t_s)).toEqual([50]);
  });

  it("do not change the list they are given", () => {
    const samples: MeshSample[] = [{ t_s: 1, peers: 1, avg_latency_ms: null }];
    appendSample(samples, { t_s: 2, peers: 2, avg_latency_ms: null }, 300);
    expect(samples).toHaveLength(1);
  });

  it("become chart columns", () => {
    const samples: MeshSample[] = [
      { t_s: 1, peers: 2, avg_latency_ms: null },
      { t_s: 4, peers: 3, avg_latency_ms: 7.5 },
    ];
    expect(sampleColumns(samples, (s) => s.peers)).toEqual([
      [1, 4],
      [2, 3],
    ]);
    expect(sampleColumns(samples, (s) => s.avg_latency_ms)).toEqual([
      [1, 4],
      [null, 7.5],
    ]);
  });
});
