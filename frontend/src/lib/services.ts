import type { Health, HealthStatus, ServiceHealth, ServiceState } from "./api/client";
import type { RouteId } from "./routes";

export type BadgeTone = "ok" | "warn" | "bad" | "idle";

const TONES: Record<ServiceState | HealthStatus, BadgeTone> = {
  running: "ok",
  ok: "ok",
  starting: "warn",
  stopped: "warn",
  degraded: "warn",
  failed: "bad",
  not_available: "idle",
};

/** Colour family of a service state or aggregate health status. */
export function badgeTone(state: ServiceState | HealthStatus): BadgeTone {
  return TONES[state];
}

/**
 * A page that belongs to one service the node reports in `health()`, for services
 * the dashboard has no dedicated page for yet (Mesh, Idle compute, Scheduler, BitChat
 * and Betanet have their own).
 */
export type ServicePageInfo = {
  serviceId: string;
  name: string;
  /** Completes "When the service is available, this page will show …". */
  willShow: string;
};

export const SERVICE_PAGES: Partial<Record<RouteId, ServicePageInfo>> = {
  privacy: {
    serviceId: "privacy",
    name: "Privacy",
    willShow: "the onion circuits this node has built, their hops and how long they have lived",
  },
  tokens: {
    serviceId: "tokens",
    name: "Tokens",
    willShow: "token balances, rewards earned and recent transactions",
  },
};

export function findService(health: Health, serviceId: string): ServiceHealth | null {
  return health.services.find((service) => service.id === serviceId) ?? null;
}

/** Counts of services per state, in the order they are listed. */
export function countByState(services: readonly ServiceHealth[]): [ServiceState, number][] {
  const order: ServiceState[] = ["running", "starting", "stopped", "failed", "not_available"];
  return order
    .map((state): [ServiceState, number] => [state, services.filter((s) => s.state === state).length])
    .filter(([, count]) => count > 0);
}
