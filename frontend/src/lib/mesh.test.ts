import { describe, expect, it } from "vitest";
import type { Event, MeshPeer } from "./api/client";
import {
  appendSample,
  averageLatency,
  connectedFor,
  isMeshEvent,
  latencyTone,
  linkWidth,
  meshSample,
  sampleColumns,
  sortPeers,
  starLayout,
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

const round1 = (value: number) => Math.round(value * 10) / 10;

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

describe("link styling", () => {
  it("colours by latency", () => {
    expect(latencyTone(null)).toBe("unknown");
    expect(latencyTone(0.4)).toBe("ok");
    expect(latencyTone(49.9)).toBe("ok");
    expect(latencyTone(50)).toBe("warn");
    expect(latencyTone(199)).toBe("warn");
    expect(latencyTone(200)).toBe("bad");
  });

  it("draws faster links wider", () => {
    expect(linkWidth(0)).toBe(4);
    expect(linkWidth(150)).toBeCloseTo(2.75);
    expect(linkWidth(300)).toBe(1.5);
    expect(linkWidth(5_000)).toBe(1.5);
    expect(linkWidth(-1)).toBe(4);
    expect(linkWidth(null)).toBe(1);
    expect(linkWidth(10)).toBeGreaterThan(linkWidth(100));
  });
});

describe("starLayout", () => {
  it("has only the centre without peers", () => {
    const layout = starLayout([], 400, 300);
    expect(layout.centre).toEqual({ x: 200, y: 150 });
    expect(layout.radius).toBe(122);
    expect(layout.nodes).toEqual([]);
  });

  it("puts an odd number of peers evenly on a circle, first at the top, clockwise", () => {
    const id = "12D3KooWAbCdEfGhIjKlMnOpQrStUvWxYz";
    const peers = [peer(id, 10), peer("b", 120), peer("c", null)];
    const { centre, radius, nodes } = starLayout(peers, 400, 300);
    expect(nodes[0]).toMatchObject({ x: 200, y: 150 - radius, anchor: "middle" });
    expect(nodes[1]?.x).toBeGreaterThan(centre.x);
    expect(nodes[1]?.y).toBeGreaterThan(centre.y);
    expect(nodes[1]?.anchor).toBe("start");
    expect(nodes[2]?.x).toBeLessThan(centre.x);
    expect(nodes[2]?.anchor).toBe("end");
    expect(nodes[0]).toMatchObject({ peer_id: id, label: "12D3Ko…UvWxYz", tone: "ok", latency_ms: 10 });
    expect(nodes.map((n) => n.tone)).toEqual(["ok", "warn", "unknown"]);
    expect(nodes.map((n) => n.width)).toEqual([10, 120, null].map(linkWidth));
  });

  it("turns an even number of peers half a step so none sits below this node's label", () => {
    const { centre, radius, nodes } = starLayout(["a", "b", "c", "d"].map((id) => peer(id, 1)), 400, 300);
    const offset = round1(radius * Math.SQRT1_2);
    expect(nodes.map((n) => [round1(n.x - centre.x), round1(n.y - centre.y)])).toEqual([
      [offset, -offset],
      [offset, offset],
      [-offset, offset],
      [-offset, -offset],
    ]);
    const two = starLayout([peer("a", 1), peer("b", 1)], 400, 300);
    expect(two.nodes.map((n) => [n.x, n.y])).toEqual([
      [200 + two.radius, 150],
      [200 - two.radius, 150],
    ]);
  });

  it("places every node on the circle with its label further out on the same ray", () => {
    const { centre, radius, nodes } = starLayout(
      Array.from({ length: 5 }, (_, i) => peer(`p${i}`, i)),
      480,
      320,
    );
    for (const node of nodes) {
      expect(Math.hypot(node.x - centre.x, node.y - centre.y)).toBeCloseTo(radius, 0);
      expect(Math.hypot(node.labelAt.x - centre.x, node.labelAt.y - centre.y)).toBeGreaterThan(radius);
    }
  });

  it("keeps every node inside the drawing", () => {
    const peers = Array.from({ length: 7 }, (_, i) => peer(`p${i}`, i * 40));
    const { nodes } = starLayout(peers, 480, 320);
    for (const node of nodes) {
      for (const point of [node, node.labelAt]) {
        expect(point.x).toBeGreaterThanOrEqual(0);
        expect(point.x).toBeLessThanOrEqual(480);
        expect(point.y).toBeGreaterThanOrEqual(0);
        expect(point.y).toBeLessThanOrEqual(320);
      }
    }
  });
});
