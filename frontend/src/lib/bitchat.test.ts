import { describe, expect, it } from "vitest";
import type { ChatMessage, ChatPeer, DeliveryState, Event } from "./api/client";
import {
  MAX_PRIVATE_BYTES,
  MAX_PUBLIC_CHARS,
  PUBLIC_CHANNEL,
  adapterBadge,
  addMismatch,
  applyChatEvent,
  applyDelivery,
  budgetOf,
  budgetText,
  chatEventOf,
  conversationsOf,
  deliveryTick,
  groupFingerprint,
  heardAgo,
  isBitchatEvent,
  laterDelivery,
  markChannelRead,
  mergeMessages,
  messageTime,
  messagesOf,
  mismatchText,
  nicknameProblem,
  peerLeft,
  routeText,
  sendBlockedReason,
  shortFingerprint,
  shortPeer,
  signalText,
  sortPeers,
  unreadCount,
  unreadIds,
  upsertPeer,
  utf8Length,
  type ChatState,
} from "./bitchat";

const ME = "aaaaaaaaaaaaaaaa";
const BOB = "0011223344556677";
const EVE = "8899aabbccddeeff";
const FINGERPRINT = "3f2a9c01b7e4d6f8".repeat(4);

const message = (extra: Partial<ChatMessage> = {}): ChatMessage => ({
  id: "m1",
  channel: PUBLIC_CHANNEL,
  sender: BOB,
  sender_nickname: "bob",
  text: "hello",
  timestamp_ms: 1_000,
  received_ms: 1_000,
  outgoing: false,
  private: false,
  delivery: null,
  read: false,
  ...extra,
});

const outgoingPrivate = (id: string, delivery: DeliveryState, received_ms = 2_000): ChatMessage =>
  message({
    id,
    channel: BOB,
    sender: ME,
    sender_nickname: "me",
    outgoing: true,
    private: true,
    delivery,
    read: true,
    received_ms,
  });

const incomingPrivate = (id: string, read: boolean, received_ms = 3_000, channel = BOB): ChatMessage =>
  message({ id, channel, sender: channel, private: true, read, received_ms });

const peer = (extra: Partial<ChatPeer> = {}): ChatPeer => ({
  peer_id: BOB,
  nickname: "bob",
  fingerprint: FINGERPRINT,
  direct: true,
  reachable: true,
  last_heard_ms: 10_000,
  rssi_dbm: -60,
  hops: 0,
  favourite: false,
  verified: false,
  first_seen_ms: 1_000,
  has_session: false,
  ...extra,
});

const event = (topic: string, kind: string, data: unknown): Event => ({ id: 1, ts_ms: 5_000, topic, kind, data });

describe("BitChat events", () => {
  it("recognises the bitchat topic only", () => {
    expect(isBitchatEvent(event("bitchat", "message", {}))).toBe(true);
    expect(isBitchatEvent(event("mesh", "peer_connected", {}))).toBe(false);
    expect(isBitchatEvent(event("bitchat.other", "message", {}))).toBe(false);
  });

  it("takes the ChatEvent from the event's data", () => {
    const data = { kind: "message", message: message() };
    expect(chatEventOf(event("bitchat", "message", data))).toEqual(data);
    const delivery = { kind: "delivery", message_id: "m1", peer_id: BOB, state: "read" };
    expect(chatEventOf(event("bitchat", "delivery", delivery))).toEqual(delivery);
    const adapter = { kind: "adapter", adapter: { state: "unavailable", reason: "no Bluetooth adapter found" } };
    expect(chatEventOf(event("bitchat", "adapter", adapter))).toEqual(adapter);
    expect(chatEventOf(event("bitchat", "peer_left", { kind: "peer_left", peer_id: BOB }))).toEqual({
      kind: "peer_left",
      peer_id: BOB,
    });
  });

  it("falls back on the event's kind when the data leaves it out", () => {
    expect(chatEventOf(event("bitchat", "key_mismatch", { peer_id: BOB, nickname: "bob" }))).toEqual({
      kind: "key_mismatch",
      peer_id: BOB,
      nickname: "bob",
    });
  });

  it("ignores other topics and malformed data", () => {
    expect(chatEventOf(event("mesh", "message", { kind: "message", message: message() }))).toBeNull();
    expect(chatEventOf(event("bitchat", "message", null))).toBeNull();
    expect(chatEventOf(event("bitchat", "message", { kind: "message", message: { id: 1 } }))).toBeNull();
    expect(chatEventOf(event("bitchat", "delivery", { kind: "delivery", message_id: "m", peer_id: BOB, state: "lost" }))).toBeNull();
    expect(chatEventOf(event("bitchat", "adapter", { kind: "adapter", adapter: { state: "ready" } }))).toBeNull();
    expect(chatEventOf(event("bitchat", "surprise", { kind: "surprise" }))).toBeNull();
  });
});

describe("delivery states", () => {
  it("only move forward: queued < sent < failed < delivered < read", () => {
    expect(laterDelivery("queued", "sent")).toBe("sent");
    expect(laterDelivery("sent", "queued")).toBe("sent");
    expect(laterDelivery("sent", "failed")).toBe("failed");
    expect(laterDelivery("failed", "delivered")).toBe("delivered");
    expect(laterDelivery("read", "delivered")).toBe("read");
    expect(laterDelivery("delivered", "failed")).toBe("delivered");
    expect(laterDelivery(null, "sent")).toBe("sent");
    expect(laterDelivery("sent", null)).toBe("sent");
    expect(laterDelivery(null, null)).toBeNull();
  });

  it("draw as ticks with a spelled-out title", () => {
    expect(deliveryTick("queued")).toMatchObject({ symbol: "…", tone: "muted" });
    expect(deliveryTick("sent")).toMatchObject({ symbol: "✓", tone: "muted" });
    expect(deliveryTick("delivered")).toMatchObject({ symbol: "✓✓", tone: "done", label: "delivered" });
    expect(deliveryTick("read")).toMatchObject({ symbol: "✓✓", tone: "read", label: "read" });
    const failed = deliveryTick("failed");
    expect(failed).toMatchObject({ symbol: "!", tone: "bad" });
    expect(failed.label).toMatch(/^failed: /);
  });
});

describe("merging messages", () => {
  it("appends new messages and keeps them oldest first by receipt", () => {
    const a = message({ id: "a", received_ms: 1_000 });
    const c = message({ id: "c", received_ms: 3_000 });
    const b = message({ id: "b", received_ms: 2_000 });
    expect(mergeMessages([a, c], [b]).map((m) => m.id)).toEqual(["a", "b", "c"]);
  });

  it("keeps messages of the same instant in the order they came", () => {
    const first = message({ id: "x", received_ms: 1_000 });
    const second = message({ id: "y", received_ms: 1_000 });
    expect(mergeMessages([first], [second]).map((m) => m.id)).toEqual(["x", "y"]);
    expect(mergeMessages([second], [first]).map((m) => m.id)).toEqual(["y", "x"]);
  });

  it("drops duplicates by channel and id, but not the same id in another channel", () => {
    const mesh = message({ id: "same" });
    const privately = incomingPrivate("same", false);
    const merged = mergeMessages([mesh], [mesh, privately, { ...privately }]);
    expect(merged).toHaveLength(2);
  });

  it("returns the list itself when nothing changed", () => {
    const list = [message({ id: "a" }), outgoingPrivate("b", "delivered")];
    expect(mergeMessages(list, [])).toBe(list);
    expect(mergeMessages(list, [{ ...message({ id: "a" }) }])).toBe(list);
    // An older copy from a poll does not undo a delivery the events moved on.
    expect(mergeMessages(list, [outgoingPrivate("b", "sent")])).toBe(list);
  });

  it("moves a duplicate's delivery forward and keeps read marks", () => {
    const merged = mergeMessages([outgoingPrivate("b", "sent"), incomingPrivate("i", true)], [
      outgoingPrivate("b", "read"),
      incomingPrivate("i", false),
    ]);
    expect(merged.find((m) => m.id === "b")?.delivery).toBe("read");
    expect(merged.find((m) => m.id === "i")?.read).toBe(true);
  });

  it("applies delivery updates forward only, to the peer's channel", () => {
    const list = [outgoingPrivate("b", "sent"), message({ id: "b" })];
    const delivered = applyDelivery(list, "b", BOB, "delivered");
    expect(delivered[0]?.delivery).toBe("delivered");
    expect(delivered[1]).toBe(list[1]);
    expect(applyDelivery(delivered, "b", BOB, "sent")).toBe(delivered);
    expect(applyDelivery(list, "b", EVE, "read")).toBe(list);
    expect(applyDelivery(list, "nope", BOB, "read")).toBe(list);
  });

  it("counts and marks unread incoming private messages", () => {
    const list = [
      incomingPrivate("1", false),
      incomingPrivate("2", true),
      outgoingPrivate("3", "sent"),
      incomingPrivate("4", false, 3_000, EVE),
      message({ id: "5" }),
    ];
    expect(unreadCount(list, BOB)).toBe(1);
    expect(unreadCount(list, EVE)).toBe(1);
    expect(unreadCount(list, PUBLIC_CHANNEL)).toBe(0);
    const marked = markChannelRead(list, BOB);
    expect(unreadCount(marked, BOB)).toBe(0);
    expect(unreadCount(marked, EVE)).toBe(1);
    expect(markChannelRead(marked, BOB)).toBe(marked);
    expect(unreadIds(list, BOB)).toEqual(["1"]);
    expect(unreadIds(marked, BOB)).toEqual([]);
    expect(messagesOf(list, BOB).map((m) => m.id)).toEqual(["1", "2", "3"]);
  });

  it("marks only the messages that were unread when asked", () => {
    const list = [incomingPrivate("1", false), incomingPrivate("2", false, 4_000)];
    const marked = markChannelRead(list, BOB, new Set(["1"]));
    expect(marked.map((m) => m.read)).toEqual([true, false]);
    expect(marked[1]).toBe(list[1]);
    expect(markChannelRead(list, BOB, new Set(["nope"]))).toBe(list);
  });

  it("shows today's times without the date", () => {
    const now = new Date(2025, 5, 10, 15, 0, 0).getTime();
    expect(messageTime(new Date(2025, 5, 10, 9, 5, 7).getTime(), now)).toBe("09:05:07");
    expect(messageTime(new Date(2025, 5, 9, 23, 59, 59).getTime(), now)).toBe("2025-06-09 23:59:59");
  });
});

describe("conversations", () => {
  it("lists #mesh first, even without messages", () => {
    const list = conversationsOf([], [], null);
    expect(list).toEqual([
      { channel: PUBLIC_CHANNEL, private: false, title: "#mesh", peer: null, count: 0, unread: 0, last: null },
    ]);
  });

  it("adds one private chat per peer with messages, the most recent first", () => {
    const messages = [
      message({ id: "p1", received_ms: 500 }),
      incomingPrivate("b1", false, 1_000),
      incomingPrivate("e1", true, 2_000, EVE),
      outgoingPrivate("b2", "sent", 3_000),
    ];
    const list = conversationsOf(messages, [peer()], null);
    expect(list.map((c) => c.channel)).toEqual([PUBLIC_CHANNEL, BOB, EVE]);
    const bob = list[1];
    expect(bob).toMatchObject({ title: "bob", private: true, count: 2, unread: 1 });
    expect(bob?.peer?.peer_id).toBe(BOB);
    expect(bob?.last?.id).toBe("b2");
    // No longer listed as a peer: the nickname it wrote under.
    expect(list[2]).toMatchObject({ title: "bob", peer: null, unread: 0 });
  });

  it("names a chat by the peer id when nothing else is known", () => {
    const list = conversationsOf([outgoingPrivate("x", "queued")], [], null);
    expect(list[1]?.title).toBe(shortPeer(BOB));
    expect(shortPeer(BOB)).toBe("…44556677");
  });

  it("adds the chat just opened ahead of the others", () => {
    const list = conversationsOf([incomingPrivate("b1", true)], [peer(), peer({ peer_id: EVE, nickname: "eve" })], EVE);
    expect(list.map((c) => [c.channel, c.title, c.count])).toEqual([
      [PUBLIC_CHANNEL, "#mesh", 0],
      [EVE, "eve", 0],
      [BOB, "bob", 1],
    ]);
    expect(conversationsOf([], [], PUBLIC_CHANNEL)).toHaveLength(1);
  });
});

describe("composing", () => {
  it("counts UTF-8 bytes", () => {
    expect(utf8Length("")).toBe(0);
    expect(utf8Length("abc")).toBe(3);
    expect(utf8Length("é")).toBe(2);
    expect(utf8Length("€")).toBe(3);
    expect(utf8Length("😀")).toBe(4);
    expect(utf8Length("\ud800")).toBe(3);
  });

  it("counts private messages in bytes and public ones in characters, trimmed", () => {
    expect(budgetOf("  hé  ", true)).toEqual({
      unit: "bytes",
      used: 3,
      max: MAX_PRIVATE_BYTES,
      remaining: 252,
      empty: false,
      over: false,
    });
    expect(budgetOf("😀😀", false)).toMatchObject({ unit: "characters", used: 2, max: MAX_PUBLIC_CHARS });
    expect(budgetOf("   ", true)).toMatchObject({ empty: true, used: 0 });
    expect(budgetOf("é".repeat(128), true)).toMatchObject({ used: 256, remaining: -1, over: true });
    expect(budgetOf("x".repeat(255), true)).toMatchObject({ remaining: 0, over: false });
  });

  it("says what is left: always in bytes, near the limit in characters", () => {
    expect(budgetText(budgetOf("hi", true))).toBe("253 bytes left");
    expect(budgetText(budgetOf("x".repeat(254), true))).toBe("1 byte left");
    expect(budgetText(budgetOf("é".repeat(130), true))).toBe("5 bytes too many (at most 255)");
    expect(budgetText(budgetOf("hi", false))).toBeNull();
    expect(budgetText(budgetOf("x".repeat(59_500), false))).toBe("500 characters left");
    expect(budgetText(budgetOf("x".repeat(60_002), false))).toBe("2 characters too many (at most 60000)");
  });

  it("blocks sending only while the radio is unavailable", () => {
    expect(sendBlockedReason({ state: "unavailable", reason: "no Bluetooth adapter found" })).toBe(
      "Sending is off: no Bluetooth adapter found",
    );
    expect(sendBlockedReason({ state: "ready", transport: "Bluetooth LE (hci0)" })).toBeNull();
    expect(sendBlockedReason({ state: "starting" })).toBeNull();
    expect(sendBlockedReason(null)).toBeNull();
  });

  it("checks a nickname as the node does", () => {
    expect(nicknameProblem("ada")).toBeNull();
    expect(nicknameProblem("  ada  ")).toBeNull();
    expect(nicknameProblem("   ")).toBe("enter a nickname");
    expect(nicknameProblem("x".repeat(32))).toBeNull();
    expect(nicknameProblem("😀".repeat(33))).toBe("at most 32 characters");
    expect(nicknameProblem("a\u0007b")).toBe("no control characters");
  });
});

describe("peers", () => {
  it("upserts peers by id", () => {
    const bob = peer();
    const list = upsertPeer([bob], peer({ peer_id: EVE, nickname: "eve" }));
    expect(list.map((p) => p.nickname)).toEqual(["bob", "eve"]);
    const renamed = upsertPeer(list, peer({ nickname: "robert" }));
    expect(renamed.map((p) => p.nickname)).toEqual(["robert", "eve"]);
    expect(list[0]).toBe(bob);
  });

  it("marks a peer that left out of reach", () => {
    const list = peerLeft([peer({ has_session: true }), peer({ peer_id: EVE })], BOB);
    expect(list[0]).toMatchObject({ reachable: false, direct: false, has_session: false, rssi_dbm: null });
    expect(list[1]?.reachable).toBe(true);
  });

  it("sorts favourites, then reachable peers, then the most recently heard", () => {
    const list = sortPeers([
      peer({ peer_id: "1", reachable: false, last_heard_ms: 9 }),
      peer({ peer_id: "2", reachable: true, last_heard_ms: 1 }),
      peer({ peer_id: "3", reachable: true, last_heard_ms: 5 }),
      peer({ peer_id: "4", reachable: false, favourite: true, last_heard_ms: 0 }),
    ]);
    expect(list.map((p) => p.peer_id)).toEqual(["4", "3", "2", "1"]);
  });

  it("describes signal and route", () => {
    expect(signalText(-67)).toBe("-67 dBm");
    expect(signalText(null)).toBe("—");
    expect(routeText({ direct: true, hops: 0 })).toBe("direct");
    expect(routeText({ direct: false, hops: 1 })).toBe("relayed, 1 hop");
    expect(routeText({ direct: false, hops: 3 })).toBe("relayed, 3 hops");
    expect(routeText({ direct: false, hops: null })).toBe("relayed");
    expect(routeText({ direct: false, hops: 0 })).toBe("no link (last heard directly)");
  });

  it("says how long ago a peer was heard", () => {
    const now = 1_700_000_000_000;
    expect(heardAgo(now - 12_000, now)).toBe("12s ago");
    expect(heardAgo(now - 500, now)).toBe("just now");
    expect(heardAgo(now + 5_000, now)).toBe("just now");
    expect(heardAgo(now - 5 * 60_000, now)).toBe("5m ago");
    expect(heardAgo(now - 3 * 3_600_000, now)).toBe("3h ago");
    expect(heardAgo(now - 3 * 86_400_000, now)).toBe("3d ago");
    expect(heardAgo(0, now)).toBe("never");
  });

  it("groups fingerprints by four hex digits", () => {
    expect(groupFingerprint("3f2a9c01b7e4")).toBe("3f2a 9c01 b7e4");
    expect(groupFingerprint("3f:2a:9c:01")).toBe("3f2a 9c01");
    expect(groupFingerprint(FINGERPRINT).split(" ")).toHaveLength(16);
    expect(groupFingerprint("")).toBe("");
    expect(shortFingerprint(FINGERPRINT)).toBe("3f2a 9c01 b7e4 d6f8 …");
    expect(shortFingerprint("3f2a9c01")).toBe("3f2a 9c01");
  });
});

describe("adapter and key warnings", () => {
  it("badges the adapter state", () => {
    expect(adapterBadge({ state: "ready", transport: "Bluetooth LE (hci0)" })).toEqual({ tone: "ok", text: "ready" });
    expect(adapterBadge({ state: "starting" }).tone).toBe("warn");
    expect(adapterBadge({ state: "unavailable", reason: "BlueZ not running" }).tone).toBe("bad");
  });

  it("keeps one warning per peer and words it", () => {
    const list = addMismatch([{ peer_id: BOB, nickname: "bob", at_ms: 1 }], { peer_id: EVE, nickname: "eve", at_ms: 2 });
    const again = addMismatch(list, { peer_id: BOB, nickname: "bobby", at_ms: 3 });
    expect(again.map((m) => m.nickname)).toEqual(["eve", "bobby"]);
    expect(mismatchText({ peer_id: BOB, nickname: "bob" })).toBe(
      "bob (0011223344556677) announced different keys; ignored — keys are pinned on first use",
    );
  });
});

describe("applying events", () => {
  const initial = (): ChatState => ({
    adapter: { state: "ready", transport: "simulated radio (loopback UDP)" },
    peers: [peer()],
    messages: [outgoingPrivate("b", "queued")],
    mismatches: [],
  });

  it("appends messages to their channel without duplicates", () => {
    const state = initial();
    const incoming = incomingPrivate("i", false);
    const once = applyChatEvent(state, { kind: "message", message: incoming }, 1);
    const twice = applyChatEvent(once, { kind: "message", message: incoming }, 2);
    expect(twice.messages.map((m) => m.id)).toEqual(["b", "i"]);
    expect(twice.messages).toBe(once.messages);
    expect(once.peers).toBe(state.peers);
  });

  it("moves deliveries forward only", () => {
    let state = initial();
    for (const next of ["sent", "read", "delivered", "failed"] as const) {
      state = applyChatEvent(state, { kind: "delivery", message_id: "b", peer_id: BOB, state: next }, 1);
    }
    expect(state.messages[0]?.delivery).toBe("read");
  });

  it("upserts peers and marks those that left", () => {
    let state = applyChatEvent(initial(), { kind: "peer", peer: peer({ peer_id: EVE, nickname: "eve" }) }, 1);
    expect(state.peers?.map((p) => p.nickname)).toEqual(["bob", "eve"]);
    state = applyChatEvent(state, { kind: "peer_left", peer_id: BOB }, 2);
    expect(state.peers?.[0]?.reachable).toBe(false);
  });

  it("leaves a peer list that has not loaded yet to the load", () => {
    const state = { ...initial(), peers: null };
    expect(applyChatEvent(state, { kind: "peer", peer: peer() }, 1).peers).toBeNull();
  });

  it("records key mismatches and adapter changes", () => {
    let state = applyChatEvent(initial(), { kind: "key_mismatch", peer_id: EVE, nickname: "eve" }, 42);
    expect(state.mismatches).toEqual([{ peer_id: EVE, nickname: "eve", at_ms: 42 }]);
    state = applyChatEvent(state, { kind: "adapter", adapter: { state: "unavailable", reason: "BlueZ not running" } }, 43);
    expect(state.adapter).toEqual({ state: "unavailable", reason: "BlueZ not running" });
    expect(state.mismatches).toHaveLength(1);
  });
});
