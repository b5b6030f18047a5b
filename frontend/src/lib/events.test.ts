import { describe, expect, it } from "vitest";
import type { Event } from "./api/client";
import { eventLabel, isServiceEvent, mergeEvents } from "./events";

const event = (id: number, topic = "node", kind = "tick"): Event => ({
  id,
  ts_ms: 1_700_000_000_000 + id,
  topic,
  kind,
  data: { id },
});

describe("mergeEvents", () => {
  it("orders newest first and removes duplicates", () => {
    const merged = mergeEvents([event(3), event(1)], [event(2), event(3), event(4)]);
    expect(merged.map((e) => e.id)).toEqual([4, 3, 2, 1]);
  });

  it("keeps only the newest events up to the limit", () => {
    const many = Array.from({ length: 250 }, (_, i) => event(i + 1));
    const merged = mergeEvents([], many);
    expect(merged).toHaveLength(200);
    expect(merged[0]?.id).toBe(250);
    expect(merged.at(-1)?.id).toBe(51);
    expect(mergeEvents(many, [], 3).map((e) => e.id)).toEqual([250, 249, 248]);
  });

  it("does not modify its inputs", () => {
    const current = [event(1)];
    mergeEvents(current, [event(2)]);
    expect(current.map((e) => e.id)).toEqual([1]);
  });
});

describe("event helpers", () => {
  it("labels events as topic.kind", () => {
    expect(eventLabel(event(1, "service", "started"))).toBe("service.started");
  });

  it("recognises service events", () => {
    expect(isServiceEvent(event(1, "service"))).toBe(true);
    expect(isServiceEvent(event(1, "services.mesh"))).toBe(true);
    expect(isServiceEvent(event(1, "node"))).toBe(false);
  });
});
