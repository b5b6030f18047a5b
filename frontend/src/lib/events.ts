import type { Event } from "./api/client";

/** How many events the overview keeps in memory. */
export const EVENT_LIST_LIMIT = 200;

/**
 * Merges event lists newest first (by id, which the node assigns in order),
 * dropping duplicates that arrive both from history and the live stream.
 */
export function mergeEvents(
  current: readonly Event[],
  incoming: readonly Event[],
  limit = EVENT_LIST_LIMIT,
): Event[] {
  const byId = new Map<number, Event>();
  for (const event of current) byId.set(event.id, event);
  for (const event of incoming) byId.set(event.id, event);
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, Math.max(0, limit));
}

/** The `topic.kind` label events are listed under. */
export function eventLabel(event: Event): string {
  return `${event.topic}.${event.kind}`;
}

/** Events about services change what `health()` reports. */
export function isServiceEvent(event: Event): boolean {
  return event.topic.startsWith("service");
}
