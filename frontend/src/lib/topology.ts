import type { MeshTopology, TopologyNode } from "./api/client";
import { shortId } from "./format";

/** How a node of the graph relates to this one. */
export type NodeRole = "self" | "direct" | "indirect";

export type Point = { x: number; y: number };

export type GraphNode = Point & {
  peer_id: string;
  role: NodeRole;
  label: string;
  /** A connected peer that did not say who its peers are in time. */
  unanswered: boolean;
  /** False when there are too many nodes to label them all; this node keeps its label. */
  labelled: boolean;
  /** Where the label goes, just outside the node on the same ray. */
  labelAt: Point;
  anchor: "start" | "middle" | "end";
};

export type GraphEdge = {
  a: string;
  b: string;
  from: Point;
  to: Point;
  /** A link of this node itself. */
  direct: boolean;
};

export type TopologyLayout = {
  width: number;
  height: number;
  centre: Point;
  radius: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
};

/** With more nodes than this, only this node is labelled; every node keeps its tooltip. */
export const MAX_LABELLED_NODES = 16;

/** Space left around the circle for the labels: side labels are wider than top and bottom ones. */
const LABEL_MARGIN_X = 100;
const LABEL_MARGIN_Y = 30;
const LABEL_GAP = 13;

const round = (value: number) => Math.round(value * 10) / 10;
const byId = (a: TopologyNode, b: TopologyNode) => (a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0);

export function roleOf(node: TopologyNode): NodeRole {
  if (node.this_node) return "self";
  return node.connected ? "direct" : "indirect";
}

/**
 * The order of the nodes around the circle: this node, then its direct peers by
 * id, each followed by the peers of peers first reached through it, so that
 * linked nodes sit side by side and few lines cross. Anything left over (not
 * linked to a direct peer) comes last, by id.
 */
export function circleOrder(topology: MeshTopology): TopologyNode[] {
  const neighbours = new Map<string, Set<string>>();
  for (const { a, b } of topology.edges) {
    if (!neighbours.has(a)) neighbours.set(a, new Set());
    if (!neighbours.has(b)) neighbours.set(b, new Set());
    neighbours.get(a)?.add(b);
    neighbours.get(b)?.add(a);
  }
  const self = topology.nodes.filter((node) => node.this_node);
  const direct = topology.nodes.filter((node) => roleOf(node) === "direct").sort(byId);
  const indirect = topology.nodes.filter((node) => roleOf(node) === "indirect").sort(byId);

  const placed = new Set<string>();
  const order: TopologyNode[] = [];
  const place = (node: TopologyNode) => {
    if (placed.has(node.peer_id)) return;
    placed.add(node.peer_id);
    order.push(node);
  };
  self.forEach(place);
  for (const peer of direct) {
    place(peer);
    const linked = neighbours.get(peer.peer_id);
    for (const other of indirect) if (linked?.has(other.peer_id)) place(other);
  }
  indirect.forEach(place);
  return order;
}

/**
 * Every node on one circle, clockwise from this node at the top, and every
 * link as a straight line between its two ends. Links are kept once each, and
 * only between nodes the topology lists.
 */
export function topologyLayout(topology: MeshTopology, width: number, height: number): TopologyLayout {
  const centre = { x: width / 2, y: height / 2 };
  const radius = Math.max(0, Math.min(width / 2 - LABEL_MARGIN_X, height / 2 - LABEL_MARGIN_Y));
  const order = circleOrder(topology);
  const unanswered = new Set(topology.unanswered);
  const step = (2 * Math.PI) / Math.max(1, order.length);
  const labelAll = order.length <= MAX_LABELLED_NODES;

  const nodes = order.map((node, index): GraphNode => {
    const angle = -Math.PI / 2 + step * index;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const labelRadius = radius + LABEL_GAP;
    const role = roleOf(node);
    return {
      peer_id: node.peer_id,
      role,
      label: role === "self" ? `this node · ${shortId(node.peer_id)}` : shortId(node.peer_id),
      unanswered: unanswered.has(node.peer_id),
      labelled: labelAll || role === "self",
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

  const at = new Map(nodes.map((node) => [node.peer_id, node]));
  const seen = new Set<string>();
  const edges: GraphEdge[] = [];
  for (const { a, b } of topology.edges) {
    const from = at.get(a);
    const to = at.get(b);
    const key = a < b ? `${a} ${b}` : `${b} ${a}`;
    if (!from || !to || a === b || seen.has(key)) continue;
    seen.add(key);
    edges.push({
      a,
      b,
      from: { x: from.x, y: from.y },
      to: { x: to.x, y: to.y },
      direct: from.role === "self" || to.role === "self",
    });
  }
  // Lines of this node last, so they are drawn over the others.
  edges.sort((x, y) => Number(x.direct) - Number(y.direct));
  return { width, height, centre, radius, nodes, edges };
}

/** One sentence for screen readers, e.g. "This node, 2 direct peers and 1 peer of peers, with 3 links." */
export function describeTopology(layout: TopologyLayout): string {
  const count = (role: NodeRole) => layout.nodes.filter((node) => node.role === role).length;
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  return (
    `This node, ${plural(count("direct"), "direct peer", "direct peers")} and ` +
    `${plural(count("indirect"), "peer of peers", "peers of peers")}, ` +
    `with ${plural(layout.edges.length, "link", "links")}.`
  );
}
