import { describe, expect, it } from "vitest";
import type { Health, ServiceHealth } from "./api/client";
import { ROUTES } from "./routes";
import { SERVICE_PAGES, badgeTone, countByState, findService } from "./services";

const service = (id: string, state: ServiceHealth["state"]): ServiceHealth => ({
  id,
  name: id,
  state,
  detail: "",
  since_ms: 0,
});

describe("services", () => {
  it("colours states as the dashboard documents", () => {
    expect(badgeTone("running")).toBe("ok");
    expect(badgeTone("starting")).toBe("warn");
    expect(badgeTone("stopped")).toBe("warn");
    expect(badgeTone("failed")).toBe("bad");
    expect(badgeTone("not_available")).toBe("idle");
    expect(badgeTone("degraded")).toBe("warn");
  });

  it("finds a service by id", () => {
    const health: Health = { status: "ok", services: [service("mesh", "running")], checked_at_ms: 0 };
    expect(findService(health, "mesh")?.state).toBe("running");
    expect(findService(health, "tokens")).toBeNull();
  });

  it("counts services per state, leaving out empty states", () => {
    const services = [service("a", "running"), service("b", "not_available"), service("c", "running")];
    expect(countByState(services)).toEqual([
      ["running", 2],
      ["not_available", 1],
    ]);
  });

  it("has a service page for every service section without a page of its own", () => {
    const ownPages = ["benchmarks", "mesh", "idle-compute", "scheduler", "bitchat", "betanet"];
    const serviceRoutes = ROUTES.filter((r) => r.group === "services" && !ownPages.includes(r.id));
    expect(serviceRoutes.map((r) => SERVICE_PAGES[r.id]?.serviceId)).toEqual(["privacy", "tokens"]);
    expect(SERVICE_PAGES.mesh).toBeUndefined();
    expect(SERVICE_PAGES["idle-compute"]).toBeUndefined();
    expect(SERVICE_PAGES.scheduler).toBeUndefined();
    expect(SERVICE_PAGES.bitchat).toBeUndefined();
    expect(SERVICE_PAGES.betanet).toBeUndefined();
  });
});
