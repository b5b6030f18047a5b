import { describe, expect, it } from "vitest";
import { DEFAULT_ROUTE, ROUTES, parseRoute, routeHref } from "./routes";

describe("parseRoute", () => {
  it("defaults to the overview", () => {
    for (const hash of ["", "#", "#/", "#//"]) expect(parseRoute(hash)).toBe(DEFAULT_ROUTE);
  });

  it("reads the page name", () => {
    expect(parseRoute("#/logs")).toBe("logs");
    expect(parseRoute("#/settings/")).toBe("settings");
    expect(parseRoute("#/betanet?x=1")).toBe("betanet");
    expect(parseRoute("#/Mesh")).toBe("mesh");
    expect(parseRoute("#/idle_compute")).toBe("idle-compute");
  });

  it("rejects unknown pages", () => {
    expect(parseRoute("#/nope")).toBeNull();
    expect(parseRoute("#token=abc")).toBeNull();
  });

  it("round-trips every route through its link", () => {
    for (const route of ROUTES) expect(parseRoute(routeHref(route.id))).toBe(route.id);
  });

  it("lists every section", () => {
    expect(ROUTES.map((route) => route.label)).toEqual([
      "Overview",
      "Betanet",
      "Privacy",
      "Scheduler",
      "Idle compute",
      "Tokens",
      "Mesh",
      "BitChat",
      "Benchmarks",
      "Logs",
      "Settings",
    ]);
  });
});
