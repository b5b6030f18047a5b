export type RouteId =
  | "overview"
  | "betanet"
  | "privacy"
  | "scheduler"
  | "idle-compute"
  | "tokens"
  | "mesh"
  | "bitchat"
  | "benchmarks"
  | "logs"
  | "settings";

export type RouteGroup = "node" | "services" | "operations";

export type Route = {
  id: RouteId;
  label: string;
  /** What the section is about, shown under the label in the sidebar. */
  hint: string | null;
  group: RouteGroup;
};

export const ROUTES: readonly Route[] = [
  { id: "overview", label: "Overview", hint: null, group: "node" },
  { id: "betanet", label: "Betanet", hint: "mixnet", group: "services" },
  { id: "privacy", label: "Privacy", hint: "circuits", group: "services" },
  { id: "scheduler", label: "Scheduler", hint: null, group: "services" },
  { id: "idle-compute", label: "Idle compute", hint: null, group: "services" },
  { id: "tokens", label: "Tokens", hint: null, group: "services" },
  { id: "mesh", label: "Mesh", hint: null, group: "services" },
  { id: "bitchat", label: "BitChat", hint: null, group: "services" },
  { id: "benchmarks", label: "Benchmarks", hint: null, group: "services" },
  { id: "logs", label: "Logs", hint: null, group: "operations" },
  { id: "settings", label: "Settings", hint: null, group: "operations" },
];

export const DEFAULT_ROUTE: RouteId = "overview";

export function routeHref(id: RouteId): string {
  return `#/${id}`;
}

export function findRoute(id: RouteId): Route {
  const route = ROUTES.find((candidate) => candidate.id === id);
  if (!route) throw new Error(`unknown route ${id}`);
  return route;
}

/**
 * The page a location hash points at: "#/logs" → "logs", an empty hash → the
 * default page, anything unknown → null. Query parts and trailing slashes are ignored,
 * and "_" is accepted for "-" so "#/idle_compute" works like the service id.
 */
export function parseRoute(hash: string): RouteId | null {
  const path = hash.replace(/^#/, "").split("?")[0] ?? "";
  const name = path.replace(/^\/+|\/+$/g, "").replaceAll("_", "-").toLowerCase();
  if (name === "") return DEFAULT_ROUTE;
  return ROUTES.find((route) => route.id === name)?.id ?? null;
}
