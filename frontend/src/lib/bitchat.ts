import type {
  AdapterState,
  ChatEvent,
  ChatMessage,
  ChatPeer,
  DeliveryState,
  Event,
} from "./api/client";
import { formatAgo, formatDateTime, formatTime } from "./format";
import type { BadgeTone } from "./services";

/** The public channel every peer in range shares. */
export const PUBLIC_CHANNEL = "#mesh";
/** What the node accepts, after trimming: public messages in characters, private ones in UTF-8 bytes. */
export const MAX_PUBLIC_CHARS = 60_000;
export const MAX_PRIVATE_BYTES = 255;
export const MAX_NICKNAME_CHARS = 32;

export function isPrivateChannel(channel: string): boolean {
  return channel !== PUBLIC_CHANNEL;
}

// ---- Events -----------------------------------------------------------------------------

/** The event-bus topic of the BitChat service. */
export const BITCHAT_TOPIC = "bitchat";

export function isBitchatEvent(event: Event): boolean {
  return event.topic === BITCHAT_TOPIC;
}

const DELIVERY_STATES: readonly DeliveryState[] = ["queued", "sent", "delivered", "read", "failed"];
const ADAPTER_STATES: readonly AdapterState["state"][] = ["starting", "ready", "unavailable"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === "string";

function isDeliveryState(value: unknown): value is DeliveryState {
  return DELIVERY_STATES.includes(value as DeliveryState);
}

function isMessage(value: unknown): value is ChatMessage {
  return (
    isRecord(value) &&
    isString(value.id) &&
    isString(value.channel) &&
    isString(value.sender) &&
    isString(value.text) &&
    typeof value.received_ms === "number" &&
    typeof value.outgoing === "boolean" &&
    typeof value.private === "boolean" &&
    (value.delivery === null || value.delivery === undefined || isDeliveryState(value.delivery))
  );
}

function isPeer(value: unknown): value is ChatPeer {
  return isRecord(value) && isString(value.peer_id) && isString(value.nickname);
}

function isAdapter(value: unknown): value is AdapterState {
  if (!isRecord(value) || !ADAPTER_STATES.includes(value.state as AdapterState["state"])) return false;
  if (value.state === "ready") return isString(value.transport);
  if (value.state === "unavailable") return isString(value.reason);
  return true;
}

function isChatEvent(value: Record<string, unknown>): value is ChatEvent {
  switch (value.kind) {
    case "message":
      return isMessage(value.message);
    case "delivery":
      return isString(value.message_id) && isString(value.peer_id) && isDeliveryState(value.state);
    case "peer":
      return isPeer(value.peer);
    case "peer_left":
      return isString(value.peer_id);
    case "key_mismatch":
      return isString(value.peer_id) && isString(value.nickname);
    case "adapter":
      return isAdapter(value.adapter);
    default:
      return false;
  }
}

/**
 * The ChatEvent a node event carries: events of topic `bitchat` have the whole ChatEvent as
 * their data (its `kind` is also the event's kind). Null for other events and malformed ones.
 */
export function chatEventOf(event: Event): ChatEvent | null {
  if (!isBitchatEvent(event) || !isRecord(event.data)) return null;
  const candidate = { ...event.data, kind: isString(event.data.kind) ? event.data.kind : event.kind };
  return isChatEvent(candidate) ? candidate : null;
}

// ---- Delivery ---------------------------------------------------------------------------

/** States only move forward: a late "delivered" never undoes "read". */
const DELIVERY_RANK: Record<DeliveryState, number> = { queued: 0, sent: 1, failed: 2, delivered: 3, read: 4 };

export function deliveryRank(state: DeliveryState): number {
  return DELIVERY_RANK[state];
}

/** The further of two delivery states; null stands for "none known". */
export function laterDelivery(current: DeliveryState | null, next: DeliveryState | null): DeliveryState | null {
  if (next === null) return current;
  if (current === null) return next;
  return DELIVERY_RANK[next] > DELIVERY_RANK[current] ? next : current;
}

/** How an outgoing private message's delivery is drawn beside it. */
export type DeliveryTick = {
  state: DeliveryState;
  symbol: string;
  /** Spelled out, for the title and screen readers. */
  label: string;
  /** Read receipts are highlighted; failures are drawn as errors. */
  tone: "muted" | "done" | "read" | "bad";
};

const TICKS: Record<DeliveryState, Omit<DeliveryTick, "state">> = {
  queued: { symbol: "…", label: "queued: waiting for the peer or an encrypted session; retried for 24 h", tone: "muted" },
  sent: { symbol: "✓", label: "sent, not acknowledged yet", tone: "muted" },
  delivered: { symbol: "✓✓", label: "delivered", tone: "done" },
  read: { symbol: "✓✓", label: "read", tone: "read" },
  failed: {
    symbol: "!",
    label: "failed: not acknowledged within 24 h or 8 tries while the peer was in reach",
    tone: "bad",
  },
};

export function deliveryTick(state: DeliveryState): DeliveryTick {
  return { state, ...TICKS[state] };
}

// ---- Messages ---------------------------------------------------------------------------

/** Messages are unique per channel and id. */
export function messageKey(message: Pick<ChatMessage, "channel" | "id">): string {
  return `${message.channel}\u0000${message.id}`;
}

/** A message seen twice: the newer copy, with the delivery moved forward only and a read mark kept. */
function combine(known: ChatMessage, next: ChatMessage): ChatMessage {
  const delivery = laterDelivery(known.delivery, next.delivery);
  const read = known.read || next.read;
  if (delivery === known.delivery && read === known.read && sameMessage(known, next)) return known;
  return { ...next, delivery, read };
}

function sameMessage(a: ChatMessage, b: ChatMessage): boolean {
  return (
    a.text === b.text &&
    a.sender_nickname === b.sender_nickname &&
    a.received_ms === b.received_ms &&
    a.timestamp_ms === b.timestamp_ms
  );
}

/**
 * Adds `incoming` to `current` without duplicates by (channel, id), oldest first by the time
 * this node received them (ties keep the order they came in). Returns `current` itself when
 * nothing changed, so the page does not redraw for a poll that brought nothing new.
 */
export function mergeMessages(current: readonly ChatMessage[], incoming: readonly ChatMessage[]): ChatMessage[] {
  const byKey = new Map<string, ChatMessage>();
  for (const message of current) {
    const key = messageKey(message);
    const known = byKey.get(key);
    byKey.set(key, known ? combine(known, message) : message);
  }
  let changed = byKey.size !== current.length;
  for (const message of incoming) {
    const key = messageKey(message);
    const known = byKey.get(key);
    const merged = known ? combine(known, message) : message;
    if (merged !== known) {
      byKey.set(key, merged);
      changed = true;
    }
  }
  if (!changed) return current as ChatMessage[];
  return [...byKey.values()].sort((a, b) => a.received_ms - b.received_ms);
}

/** Moves one outgoing message's delivery forward; `current` itself when that changes nothing. */
export function applyDelivery(
  current: readonly ChatMessage[],
  messageId: string,
  peerId: string,
  state: DeliveryState,
): ChatMessage[] {
  let changed = false;
  const next = current.map((message) => {
    if (message.id !== messageId || message.channel !== peerId) return message;
    const delivery = laterDelivery(message.delivery, state);
    if (delivery === message.delivery) return message;
    changed = true;
    return { ...message, delivery };
  });
  return changed ? next : (current as ChatMessage[]);
}

export function messagesOf(messages: readonly ChatMessage[], channel: string): ChatMessage[] {
  return messages.filter((message) => message.channel === channel);
}

function isUnread(message: ChatMessage): boolean {
  return message.private && !message.outgoing && !message.read;
}

/** Incoming private messages of `channel` whose read receipt has not gone out yet. */
export function unreadCount(messages: readonly ChatMessage[], channel: string): number {
  return messages.filter((message) => message.channel === channel && isUnread(message)).length;
}

/** The ids of those, oldest first. */
export function unreadIds(messages: readonly ChatMessage[], channel: string): string[] {
  return messages.filter((message) => message.channel === channel && isUnread(message)).map((message) => message.id);
}

/**
 * What the node did on `markRead(channel)`, done to the page's copy: every unread message of
 * the channel, or only those of `ids` (the ones that were unread when the node was asked).
 */
export function markChannelRead(
  messages: readonly ChatMessage[],
  channel: string,
  ids: ReadonlySet<string> | null = null,
): ChatMessage[] {
  const marks = (message: ChatMessage) =>
    message.channel === channel && isUnread(message) && (ids === null || ids.has(message.id));
  if (!messages.some(marks)) return messages as ChatMessage[];
  return messages.map((message) => (marks(message) ? { ...message, read: true } : message));
}

/** "14:03:12" for a time today, the date as well for an older one. */
export function messageTime(ms: number, nowMs: number): string {
  const then = new Date(ms);
  const now = new Date(nowMs);
  const sameDay =
    then.getFullYear() === now.getFullYear() && then.getMonth() === now.getMonth() && then.getDate() === now.getDate();
  return sameDay ? formatTime(ms) : formatDateTime(ms);
}

// ---- Conversations ----------------------------------------------------------------------

export type Conversation = {
  channel: string;
  private: boolean;
  /** "#mesh", or the peer's nickname. */
  title: string;
  /** The peer of a private chat, when this node still lists it. */
  peer: ChatPeer | null;
  count: number;
  unread: number;
  last: ChatMessage | null;
};

/** "…" and the last 8 digits of a peer id, for where there is no nickname. */
export function shortPeer(peerId: string): string {
  return peerId.length > 8 ? `…${peerId.slice(-8)}` : peerId;
}

/**
 * `#mesh` first, then one private chat per peer with messages, the most recent first. `open`
 * adds a private chat that has no messages yet (one the user has just started), ahead of
 * the others.
 */
export function conversationsOf(
  messages: readonly ChatMessage[],
  peers: readonly ChatPeer[],
  open: string | null,
): Conversation[] {
  const byChannel = new Map<string, ChatMessage[]>();
  for (const message of messages) {
    const list = byChannel.get(message.channel);
    if (list) list.push(message);
    else byChannel.set(message.channel, [message]);
  }
  if (open !== null && isPrivateChannel(open) && !byChannel.has(open)) byChannel.set(open, []);

  const peersById = new Map(peers.map((peer) => [peer.peer_id, peer]));
  const conversation = (channel: string, list: readonly ChatMessage[]): Conversation => {
    const peer = isPrivateChannel(channel) ? (peersById.get(channel) ?? null) : null;
    const heardAs = [...list].reverse().find((message) => !message.outgoing)?.sender_nickname;
    return {
      channel,
      private: isPrivateChannel(channel),
      title: isPrivateChannel(channel) ? (peer?.nickname ?? heardAs ?? shortPeer(channel)) : PUBLIC_CHANNEL,
      peer,
      count: list.length,
      unread: list.filter(isUnread).length,
      last: list.at(-1) ?? null,
    };
  };

  const privates = [...byChannel.entries()]
    .filter(([channel]) => isPrivateChannel(channel))
    .map(([channel, list]) => conversation(channel, list))
    .sort((a, b) => (b.last?.received_ms ?? Infinity) - (a.last?.received_ms ?? Infinity));
  return [conversation(PUBLIC_CHANNEL, byChannel.get(PUBLIC_CHANNEL) ?? []), ...privates];
}

// ---- Composing --------------------------------------------------------------------------

/** UTF-8 length of `text`, as the node counts a private message. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    // A lone surrogate travels as U+FFFD, three bytes.
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

export type Budget = {
  unit: "bytes" | "characters";
  used: number;
  max: number;
  /** Negative when the text is too long. */
  remaining: number;
  empty: boolean;
  over: boolean;
};

/**
 * How much of its limit a draft uses, counted as the node counts it: after trimming, in
 * characters (code points) for `#mesh`, in UTF-8 bytes for a private message.
 */
export function budgetOf(text: string, isPrivate: boolean): Budget {
  const trimmed = text.trim();
  const unit = isPrivate ? "bytes" : "characters";
  const used = isPrivate ? utf8Length(trimmed) : [...trimmed].length;
  const max = isPrivate ? MAX_PRIVATE_BYTES : MAX_PUBLIC_CHARS;
  return { unit, used, max, remaining: max - used, empty: trimmed === "", over: used > max };
}

/** What the composer says about the length: always for private messages, near the limit for public ones. */
export function budgetText(budget: Budget): string | null {
  if (budget.over) return `${budget.used - budget.max} ${budget.unit} too many (at most ${budget.max})`;
  if (budget.unit === "bytes" || budget.remaining < 1000) {
    return `${budget.remaining} ${budget.remaining === 1 ? budget.unit.slice(0, -1) : budget.unit} left`;
  }
  return null;
}

/** Why nothing can be sent now, or null when sending is possible. */
export function sendBlockedReason(adapter: AdapterState | null): string | null {
  if (adapter?.state === "unavailable") return `Sending is off: ${adapter.reason}`;
  return null;
}

/** What is wrong with a nickname before the node is asked, or null: 1 to 32 characters, no control characters. */
export function nicknameProblem(nickname: string): string | null {
  const trimmed = nickname.trim();
  if (trimmed === "") return "enter a nickname";
  if ([...trimmed].length > MAX_NICKNAME_CHARS) return `at most ${MAX_NICKNAME_CHARS} characters`;
  if (/\p{Cc}/u.test(trimmed)) return "no control characters";
  return null;
}

// ---- Peers ------------------------------------------------------------------------------

/** The marks a user sets on a peer. */
export type PeerFlag = "favourite" | "verified";

/** Replaces the peer with the same id, or adds it. */
export function upsertPeer(peers: readonly ChatPeer[], peer: ChatPeer): ChatPeer[] {
  const at = peers.findIndex((known) => known.peer_id === peer.peer_id);
  if (at < 0) return [...peers, peer];
  const next = [...peers];
  next[at] = peer;
  return next;
}

/** A peer that said it leaves: out of reach, no link and no session until it comes back. */
export function peerLeft(peers: readonly ChatPeer[], peerId: string): ChatPeer[] {
  return peers.map((peer) =>
    peer.peer_id === peerId
      ? { ...peer, reachable: false, direct: false, has_session: false, rssi_dbm: null }
      : peer,
  );
}

/** Favourites first, then reachable peers, then the most recently heard; rows stay put otherwise. */
export function sortPeers(peers: readonly ChatPeer[]): ChatPeer[] {
  return [...peers].sort(
    (a, b) =>
      Number(b.favourite) - Number(a.favourite) ||
      Number(b.reachable) - Number(a.reachable) ||
      b.last_heard_ms - a.last_heard_ms ||
      (a.peer_id < b.peer_id ? -1 : a.peer_id > b.peer_id ? 1 : 0),
  );
}

/** "-67 dBm", or "—" when the radio reports no signal strength (relayed peers, UDP). */
export function signalText(rssiDbm: number | null): string {
  return rssiDbm === null ? "—" : `${rssiDbm} dBm`;
}

/** How a peer is reached: a direct link, or relayed over some hops. */
export function routeText(peer: Pick<ChatPeer, "direct" | "hops">): string {
  if (peer.direct) return "direct";
  if (peer.hops === null) return "relayed";
  if (peer.hops === 0) return "no link (last heard directly)";
  return `relayed, ${peer.hops} ${peer.hops === 1 ? "hop" : "hops"}`;
}

/** When a peer was last heard, as the rest of the dashboard says it ("12s ago"); "never" for 0. */
export function heardAgo(ms: number, nowMs: number): string {
  return ms <= 0 || !Number.isFinite(ms) ? "never" : formatAgo(ms, nowMs);
}

/** A fingerprint in groups of four hex digits: "3f2a 9c01 …". Separators already in it are dropped. */
export function groupFingerprint(fingerprint: string, size = 4): string {
  const digits = fingerprint.replace(/[\s:]/g, "");
  const groups: string[] = [];
  for (let at = 0; at < digits.length; at += size) groups.push(digits.slice(at, at + size));
  return groups.join(" ");
}

/** The first four groups and "…", to tell peers apart at a glance. */
export function shortFingerprint(fingerprint: string): string {
  const digits = fingerprint.replace(/[\s:]/g, "");
  return digits.length > 16 ? `${groupFingerprint(digits.slice(0, 16))} …` : groupFingerprint(digits);
}

// ---- Adapter ----------------------------------------------------------------------------

export function adapterBadge(adapter: AdapterState): { tone: BadgeTone; text: string } {
  switch (adapter.state) {
    case "starting":
      return { tone: "warn", text: "starting" };
    case "ready":
      return { tone: "ok", text: "ready" };
    case "unavailable":
      return { tone: "bad", text: "no radio" };
  }
}

// ---- Key warnings -----------------------------------------------------------------------

export type KeyMismatch = { peer_id: string; nickname: string; at_ms: number };

/** Adds a warning, one per peer (the latest), newest last. */
export function addMismatch(list: readonly KeyMismatch[], mismatch: KeyMismatch): KeyMismatch[] {
  return [...list.filter((known) => known.peer_id !== mismatch.peer_id), mismatch];
}

export function mismatchText(mismatch: Pick<KeyMismatch, "peer_id" | "nickname">): string {
  return `${mismatch.nickname} (${mismatch.peer_id}) announced different keys; ignored — keys are pinned on first use`;
}

// ---- The page's state -------------------------------------------------------------------

/** What the live events change. */
export type ChatState = {
  adapter: AdapterState | null;
  /** Null until the first list arrives: events do not make up a list on their own. */
  peers: ChatPeer[] | null;
  messages: ChatMessage[];
  mismatches: KeyMismatch[];
};

/**
 * Applies one event. Parts it leaves alone are returned as they were (the same objects), so
 * the page can tell what changed.
 */
export function applyChatEvent(state: ChatState, event: ChatEvent, atMs: number): ChatState {
  switch (event.kind) {
    case "message":
      return { ...state, messages: mergeMessages(state.messages, [event.message]) };
    case "delivery":
      return { ...state, messages: applyDelivery(state.messages, event.message_id, event.peer_id, event.state) };
    case "peer":
      return state.peers ? { ...state, peers: upsertPeer(state.peers, event.peer) } : state;
    case "peer_left":
      return state.peers ? { ...state, peers: peerLeft(state.peers, event.peer_id) } : state;
    case "key_mismatch":
      return {
        ...state,
        mismatches: addMismatch(state.mismatches, { peer_id: event.peer_id, nickname: event.nickname, at_ms: atMs }),
      };
    case "adapter":
      return { ...state, adapter: event.adapter };
  }
}
