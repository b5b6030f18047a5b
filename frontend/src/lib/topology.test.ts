import { describe, expect, it } from "vitest";
import type { MeshTopology, TopologyNode } from "./api/client";
import { MAX_LABELLED_NODES, circleOrder, describeTopology, roleOf, topologyLayout } from "./topology";

const self = (peer_id: string): TopologyNode => ({ peer_id, this_node: true, connected: false });
const direct = (peer_id: string): TopologyNode => ({ peer_id, this_node: false, connected: true });
const indirect = (peer_id: string): TopologyNode => ({ peer_id, this_node: false, connected: false });
const edge = (a: string, b: string) => ({ a, b });

/** me — a — x, me — b — y, a — b, and z linked only through x. */
const mesh: MeshTopology = {
  nodes: [indirect("y"), direct("b"), indirect("z"), self("me"), indirect("x"), direct("a")],
  edges: [edge("me", "a"), edge("b", "me"), edge("a", "x"), edge("y", "b"), edge("a", "b"), edge("x", "z")],
  unanswered: ["b"],
};

const round1 = (value: number) => Math.round(value * 10) / 10;

describe("roleOf", () => {
  it("tells this node, direct peers and peers of peers apart", () => {
    expect([self("s"), direct("d"), indirect("i")].map(roleOf)).toEqual(["self", "direct", "indirect"]);
  });
});

describe("circleOrder", () => {
  it("starts with this node and puts peers of peers after the peer that reaches them", () => {
    expect(circleOrder(mesh).map((node) => node.peer_id)).toEqual(["me", "a", "x", "b", "y", "z"]);
  });

  it("places a peer of several peers once, after the first of them", () => {
    const shared: MeshTopology = {
      nodes: [self("me"), direct("a"), direct("b"), indirect("x")],
      edges: [edge("me", "a"), edge("me", "b"), edge("a", "x"), edge("b", "x")],
      unanswered: [],
    };
    expect(circleOrder(shared).map((node) => node.peer_id)).toEqual(["me", "a", "x", "b"]);
  });
});

describe("topologyLayout", () => {
  it("puts this node alone at the top", () => {
    const layout = topologyLayout({ nodes: [self("me")], edges: [], unanswered: [] }, 560, 380);
    expect(layout.radius).toBe(160);
    expect(layout.nodes).toEqual([
      expect.objectContaining({ peer_id: "me", role: "self", x: 280, y: 30, anchor: "middle", labelled: true }),
    ]);
    expect(layout.edges).toEqual([]);
  });

  it("places every node evenly on the circle, clockwise from this node", () => {
    const { centre, radius, nodes } = topologyLayout(mesh, 560, 380);
    expect(nodes.map((node) => node.peer_id)).toEqual(["me", "a", "x", "b", "y", "z"]);
    const angles = nodes.map((node) => round1((Math.atan2(node.y - centre.y, node.x - centre.x) * 180) / Math.PI));
    expect(angles).toEqual([-90, -30, 30, 90, 150, -150]);
    for (const node of nodes) {
      expect(Math.hypot(node.x - centre.x, node.y - centre.y)).toBeCloseTo(radius, 0);
      expect(Math.hypot(node.labelAt.x - centre.x, node.labelAt.y - centre.y)).toBeGreaterThan(radius);
    }
    expect(nodes.map((node) => node.anchor)).toEqual(["middle", "start", "start", "middle", "end", "end"]);
  });

  it("labels nodes with short ids and marks roles and unanswered peers", () => {
    const id = "12D3KooWAbCdEfGhIjKlMnOpQrStUvWxYz";
    const layout = topologyLayout(
      { nodes: [self("me"), direct(id)], edges: [edge("me", id)], unanswered: [id] },
      560,
      380,
    );
    expect(layout.nodes.map(({ label, role, unanswered }) => ({ label, role, unanswered }))).toEqual([
      { label: "this node · me", role: "self", unanswered: false },
      { label: "12D3Ko…UvWxYz", role: "direct", unanswered: true },
    ]);
  });

  it("draws each link once, between its ends, with this node's links last", () => {
    const topology: MeshTopology = {
      ...mesh,
      edges: [...mesh.edges, edge("x", "a"), edge("a", "a"), edge("a", "ghost")],
    };
    const { nodes, edges } = topologyLayout(topology, 560, 380);
    expect(edges.map((e) => [e.a, e.b, e.direct])).toEqual([
      ["a", "x", false],
      ["y", "b", false],
      ["a", "b", false],
      ["x", "z", false],
      ["me", "a", true],
      ["b", "me", true],
    ]);
    const a = nodes.find((node) => node.peer_id === "a");
    const me = nodes.find((node) => node.peer_id === "me");
    expect(edges.at(-2)).toMatchObject({ from: { x: me?.x, y: me?.y }, to: { x: a?.x, y: a?.y } });
  });

  it("keeps only this node's label once the others would crowd", () => {
    const crowd = (n: number): MeshTopology => ({
      nodes: [self("me"), ...Array.from({ length: n }, (_, i) => direct(`p${i}`))],
      edges: [],
      unanswered: [],
    });
    expect(topologyLayout(crowd(MAX_LABELLED_NODES - 1), 560, 380).nodes.every((n) => n.labelled)).toBe(true);
    const crowded = topologyLayout(crowd(MAX_LABELLED_NODES), 560, 380).nodes;
    expect(crowded.filter((n) => n.labelled).map((n) => n.peer_id)).toEqual(["me"]);
  });

  it("keeps every node and label anchor inside the drawing", () => {
    const { nodes } = topologyLayout(mesh, 560, 380);
    for (const node of nodes) {
      for (const point of [node, node.labelAt]) {
        expect(point.x).toBeGreaterThanOrEqual(0);
        expect(point.x).toBeLessThanOrEqual(560);
        expect(point.y).toBeGreaterThanOrEqual(0);
        expect(point.y).toBeLessThanOrEqual(380);
      }
    }
  });
});

describe("describeTopology", () => {
  it("counts peers by role and the links", () => {
    expect(describeTopology(topologyLayout(mesh, 560, 380))).toBe(
      "This node, 2 direct peers and 3 peers of peers, with 6 links.",
    );
    expect(
      describeTopology(topologyLayout({ nodes: [self("me"), direct("a")], edges: [edge("a", "me")], unanswered: [] }, 560, 380)),
    ).toBe("This node, 1 direct peer and 0 peers of peers, with 1 link.");
  });
});
