import { describe, expect, it } from "vitest";
import type { BetanetMessage, Event, HistogramBucket, MixnodeView } from "./api/client";
import {
  DROP_REASONS,
  SAMPLE_LIMIT,
  allMixnodes,
  appendRateSample,
  applyBetanetEvent,
  barPercent,
  betanetEventOf,
  bodyText,
  canReply,
  changesStatus,
  deployButtonText,
  destinationsOf,
  directionText,
  dropRows,
  epochCountdownText,
  epochSecondsLeft,
  hasMixnodes,
  healthBadge,
  histogramBars,
  histogramTotal,
  intervalText,
  isBetanetEvent,
  isMessage,
  keyEpochsText,
  keyModeHint,
  layerColumns,
  loopRttText,
  megabytesText,
  mergeInbox,
  messageBadge,
  rateColumns,
  rateSample,
  replayFillText,
  sendErrorOf,
  sendProblem,
  surbsText,
  unusableReason,
  upsertMessage,
  type RateSample,
} from "./betanet";

const SELF = "12D3KooWSelfSelfSelfSelfSelfSelfSelfSelf";
const ALICE = "12D3KooWAliceAliceAliceAliceAliceAlice";
const BOB = "12D3KooWBobBobBobBobBobBobBobBobBobBob";

const node = (peer_id: string, layer: number, extra: Partial<MixnodeView> = {}): MixnodeView => ({
  peer_id,
  layer,
  capacity: 500,
  descriptor_age_s: 12,
  healthy: true,
  key_epochs: [7, 8],
  is_self: false,
  ...extra,
});

const message = (id: string, extra: Partial<BetanetMessage> = {}): BetanetMessage => ({
  id,
  state: "sending",
  to: ALICE,
  text: "hello",
  binary: false,
  bytes: 5,
  in_reply_to: null,
  reply_surbs: 0,
  at_ms: 1_000,
  reason: null,
  ...extra,
});

const event = (topic: string, kind: string, data: unknown): Event => ({ id: 1, ts_ms: 5_000, topic, kind, data });

describe("Betanet events", () => {
  it("recognises the betanet topic only", () => {
    expect(isBetanetEvent(event("betanet", "received", {}))).toBe(true);
    expect(isBetanetEvent(event("bitchat", "message", {}))).toBe(false);
    expect(isBetanetEvent(event("betanet.x", "received", {}))).toBe(false);
  });

  it("takes the BetanetEvent from the event's data", () => {
    const received = { kind: "received", message: message("a", { state: "received", to: null }) };
    expect(betanetEventOf(event("betanet", "received", received))).toEqual(received);
    expect(betanetEventOf(event("betanet", "delivered", { kind: "delivered", id: "a" }))).toEqual({
      kind: "delivered",
      id: "a",
    });
    expect(betanetEventOf(event("betanet", "failed", { kind: "failed", id: "a", reason: "no ack" }))).toEqual({
      kind: "failed",
      id: "a",
      reason: "no ack",
    });
    expect(betanetEventOf(event("betanet", "deployed", { kind: "deployed", epoch: 7 }))).toEqual({
      kind: "deployed",
      epoch: 7,
    });
  });

  it("falls back on the event's kind when the data leaves it out", () => {
    expect(betanetEventOf(event("betanet", "rotated", { epoch: 8 }))).toEqual({ kind: "rotated", epoch: 8 });
  });

  it("refuses other topics and malformed data", () => {
    expect(betanetEventOf(event("mesh", "delivered", { kind: "delivered", id: "a" }))).toBeNull();
    expect(betanetEventOf(event("betanet", "delivered", { kind: "delivered" }))).toBeNull();
    expect(betanetEventOf(event("betanet", "failed", { kind: "failed", id: "a" }))).toBeNull();
    expect(betanetEventOf(event("betanet", "received", { kind: "received", message: { id: "a" } }))).toBeNull();
    expect(betanetEventOf(event("betanet", "odd", { kind: "odd" }))).toBeNull();
    expect(betanetEventOf(event("betanet", "deployed", null))).toBeNull();
  });

  it("tells events that change the status from inbox events", () => {
    expect(changesStatus({ kind: "deployed", epoch: 1 })).toBe(true);
    expect(changesStatus({ kind: "rotated", epoch: 2 })).toBe(true);
    expect(changesStatus({ kind: "delivered", id: "a" })).toBe(false);
  });
});

describe("Header", () => {
  it("counts down to the end of the epoch", () => {
    expect(epochSecondsLeft(10_000, 4_500)).toBe(6);
    expect(epochSecondsLeft(10_000, 10_000)).toBe(0);
    expect(epochSecondsLeft(10_000, 12_000)).toBe(0);
    expect(epochSecondsLeft(Number.NaN, 0)).toBeNull();
    expect(epochCountdownText(310_000, 5_000)).toBe("ends in 5m 05s");
    expect(epochCountdownText(5_000, 9_000)).toBe("ending now");
    expect(epochCountdownText(Number.NaN, 0)).toBe("end unknown");
  });

  it("explains the key modes it knows", () => {
    expect(keyModeHint("kem")).toBe("one key exchange a hop");
    expect(keyModeHint("sphinx")).toBe("re-blinded group element");
    expect(keyModeHint("other")).toBeNull();
  });

  it("labels the deploy button by the mixnode's state", () => {
    expect(deployButtonText({ deployed: false, layer: null }, false)).toBe("Deploy mixnode");
    expect(deployButtonText({ deployed: false, layer: null }, true)).toBe("Deploying…");
    expect(deployButtonText({ deployed: true, layer: 2 }, false)).toBe("Mixnode deployed, layer 2");
    expect(deployButtonText({ deployed: true, layer: null }, false)).toBe("Mixnode deployed, no layer yet");
  });
});

describe("Topology", () => {
  const topology = {
    layers: [[node(ALICE, 1)], [node(SELF, 2, { is_self: true })], [node(BOB, 3), node(ALICE, 3)]],
  };

  it("always has three columns", () => {
    expect(layerColumns({ layers: [] }).map((column) => [column.layer, column.nodes.length])).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    expect(layerColumns(topology).map((column) => column.nodes.map((n) => n.peer_id))).toEqual([
      [ALICE],
      [SELF],
      [BOB, ALICE],
    ]);
  });

  it("lists every mixnode once and offers the others as destinations", () => {
    expect(allMixnodes(topology).map((n) => n.peer_id)).toEqual([ALICE, SELF, BOB]);
    expect(destinationsOf(topology, SELF)).toEqual([
      { peer_id: ALICE, label: "12D3Ko…eAlice (layer 1)" },
      { peer_id: BOB, label: "12D3Ko…BobBob (layer 3)" },
    ]);
    // The status's own peer id is left out even if the node did not mark it.
    expect(destinationsOf({ layers: [[node(SELF, 1)]] }, SELF)).toEqual([]);
    expect(hasMixnodes(topology)).toBe(true);
    expect(hasMixnodes({ layers: [[], [], []] })).toBe(false);
  });

  it("describes health, key epochs and why the topology is unusable", () => {
    expect(healthBadge({ healthy: true })).toEqual({ tone: "ok", text: "healthy" });
    expect(healthBadge({ healthy: false })).toEqual({ tone: "warn", text: "stale" });
    expect(keyEpochsText([])).toBe("no keys");
    expect(keyEpochsText([7])).toBe("epoch 7");
    expect(keyEpochsText([7, 8])).toBe("epochs 7, 8");
    expect(unusableReason({ usable: true, reason: null })).toBeNull();
    expect(unusableReason({ usable: false, reason: "no mixnode descriptors yet" })).toBe("no mixnode descriptors yet");
    expect(unusableReason({ usable: false, reason: null })).toBe("The node did not say why.");
  });
});

describe("Mixnode figures", () => {
  it("lists all six drop reasons, zeros included, then unknown ones", () => {
    expect(dropRows([]).map((row) => [row.reason, row.count])).toEqual(DROP_REASONS.map((reason) => [reason, 0]));
    const rows = dropRows([
      { reason: "replay", count: 3 },
      { reason: "future_reason", count: 1 },
      { reason: "mac", count: 2 },
    ]);
    expect(rows.map((row) => [row.reason, row.count])).toEqual([
      ["malformed", 0],
      ["mac", 2],
      ["replay", 3],
      ["expired_epoch", 0],
      ["queue_full", 0],
      ["no_route", 0],
      ["future_reason", 1],
    ]);
    expect(rows.at(-1)?.label).toBe("future reason");
  });

  it("turns cumulative histogram buckets into per-bucket counts", () => {
    const buckets: HistogramBucket[] = [
      { le_us: 50, count: 10 },
      { le_us: 100, count: 25 },
      { le_us: 250, count: 25 },
      { le_us: 1000, count: 40 },
      { le_us: null, count: 42 },
    ];
    expect(histogramBars(buckets)).toEqual([
      { le_us: 50, label: "≤50 µs", count: 10 },
      { le_us: 100, label: "≤100 µs", count: 15 },
      { le_us: 250, label: "≤250 µs", count: 0 },
      { le_us: 1000, label: "≤1000 µs", count: 15 },
      { le_us: null, label: "> 1000 µs", count: 2 },
    ]);
    expect(histogramTotal(buckets)).toBe(42);
  });

  it("sorts buckets, tolerates counts going down and a missing total", () => {
    const bars = histogramBars([
      { le_us: 100, count: 5 },
      { le_us: 50, count: 7 },
    ]);
    expect(bars).toEqual([
      { le_us: 50, label: "≤50 µs", count: 7 },
      { le_us: 100, label: "≤100 µs", count: 0 },
    ]);
    expect(histogramTotal([{ le_us: 50, count: 7 }])).toBe(7);
    expect(histogramBars([])).toEqual([]);
    expect(histogramBars([{ le_us: null, count: 3 }])).toEqual([{ le_us: null, label: "all", count: 3 }]);
  });

  it("scales bars to the tallest", () => {
    const bars = histogramBars([
      { le_us: 50, count: 4 },
      { le_us: null, count: 5 },
    ]);
    expect(barPercent(4, bars)).toBe(100);
    expect(barPercent(1, bars)).toBe(25);
    expect(barPercent(0, [])).toBe(0);
  });

  it("formats the replay filter", () => {
    expect(replayFillText(0.125)).toBe("12.5 %");
    expect(replayFillText(0)).toBe("0.0 %");
    expect(megabytesText(4_194_304)).toBe("4.19 MB");
    expect(megabytesText(16_000_000)).toBe("16.0 MB");
  });
});

describe("Client figures", () => {
  it("formats intervals and the loop round trip", () => {
    expect(intervalText(250)).toBe("250 ms");
    expect(intervalText(12.34)).toBe("12.3 ms");
    expect(intervalText(1500)).toBe("1.5 s");
    expect(intervalText(10_000)).toBe("10 s");
    expect(loopRttText(null)).toBe("no loop returned yet");
    expect(loopRttText(812.25)).toBe("812.3 ms");
  });
});

describe("Rate samples", () => {
  const sample = (t_s: number, in_per_s = 1): RateSample => ({
    t_s,
    in_per_s,
    out_per_s: 2,
    real_per_s: 3,
    cover_per_s: 4,
  });

  it("takes the rates of a status", () => {
    const status = {
      mixnode: { packets_in_per_s: 10.5, packets_out_per_s: 9 },
      client: { real_per_s: 0.5, cover_per_s: 4 },
    };
    expect(rateSample(status as never, 2_000)).toEqual({
      t_s: 2,
      in_per_s: 10.5,
      out_per_s: 9,
      real_per_s: 0.5,
      cover_per_s: 4,
    });
  });

  it("keeps the newest samples in time order", () => {
    let samples: RateSample[] = [];
    for (let t = 1; t <= SAMPLE_LIMIT + 5; t++) samples = appendRateSample(samples, sample(t));
    expect(samples).toHaveLength(SAMPLE_LIMIT);
    expect(samples[0]?.t_s).toBe(6);
    expect(samples.at(-1)?.t_s).toBe(SAMPLE_LIMIT + 5);
    // The clock went back: later-stamped samples go.
    expect(appendRateSample([sample(1), sample(5)], sample(3)).map((s) => s.t_s)).toEqual([1, 3]);
    expect(appendRateSample([sample(1), sample(2)], sample(3), 2).map((s) => s.t_s)).toEqual([2, 3]);
  });

  it("gives sparkline columns", () => {
    expect(rateColumns([sample(1, 5), sample(2, Number.NaN)], (s) => s.in_per_s)).toEqual([
      [1, 2],
      [5, null],
    ]);
  });
});

describe("Inbox", () => {
  it("takes the node's list, newest first", () => {
    const fetched = [message("b", { at_ms: 2_000 }), message("a", { at_ms: 1_000 })];
    expect(mergeInbox([], fetched).map((m) => m.id)).toEqual(["b", "a"]);
  });

  it("keeps an outcome the page already has over a late 'sending'", () => {
    const current = [message("a", { state: "failed", reason: "no ack" })];
    const merged = mergeInbox(current, [message("a", { state: "sending" })]);
    expect(merged[0]).toMatchObject({ state: "failed", reason: "no ack" });
    expect(mergeInbox([message("a", { state: "sending" })], [message("a", { state: "delivered" })])[0]?.state).toBe(
      "delivered",
    );
  });

  it("keeps messages that arrived while the list was on its way, drops older ones it no longer lists", () => {
    const current = [message("new", { at_ms: 3_000 }), message("old", { at_ms: 500 })];
    const merged = mergeInbox(current, [message("b", { at_ms: 2_000 }), message("a", { at_ms: 1_000 })]);
    expect(merged.map((m) => m.id)).toEqual(["new", "b", "a"]);
    expect(mergeInbox(current, [message("b", { at_ms: 2_000 })], 1).map((m) => m.id)).toEqual(["new"]);
  });

  it("adds or replaces one message", () => {
    const list = [message("b", { at_ms: 2_000 }), message("a", { at_ms: 1_000 })];
    expect(upsertMessage(list, message("c", { at_ms: 3_000 })).map((m) => m.id)).toEqual(["c", "b", "a"]);
    expect(upsertMessage(list, message("a", { at_ms: 1_000, state: "delivered" }))[1]?.state).toBe("delivered");
    expect(upsertMessage(list, message("c", { at_ms: 3_000 }), 2).map((m) => m.id)).toEqual(["c", "b"]);
  });

  it("applies events", () => {
    const list = [message("a")];
    const received = message("r", { state: "received", to: null, at_ms: 5_000, reply_surbs: 3 });
    expect(applyBetanetEvent(list, { kind: "received", message: received }).map((m) => m.id)).toEqual(["r", "a"]);
    expect(applyBetanetEvent(list, { kind: "delivered", id: "a" })[0]?.state).toBe("delivered");
    expect(applyBetanetEvent(list, { kind: "failed", id: "a", reason: "gave up" })[0]).toMatchObject({
      state: "failed",
      reason: "gave up",
    });
    expect(applyBetanetEvent(list, { kind: "delivered", id: "zz" })).toBe(list);
    expect(applyBetanetEvent(list, { kind: "rotated", epoch: 9 })).toBe(list);
  });

  it("describes messages", () => {
    expect(messageBadge("sending")).toEqual({ tone: "info", text: "sending" });
    expect(messageBadge("delivered").tone).toBe("ok");
    expect(messageBadge("failed").tone).toBe("bad");
    expect(messageBadge("received").text).toBe("received");
    expect(directionText({ state: "received", to: null })).toBe("from an anonymous sender");
    expect(directionText({ state: "sending", to: null })).toBe("reply through the sender's SURBs");
    expect(directionText({ state: "delivered", to: ALICE })).toBe("to 12D3Ko…eAlice");
    expect(canReply({ state: "received", reply_surbs: 2 })).toBe(true);
    expect(canReply({ state: "received", reply_surbs: 0 })).toBe(false);
    expect(canReply({ state: "delivered", reply_surbs: 2 })).toBe(false);
    expect(bodyText({ text: "hi", binary: false, bytes: 2 })).toBe("hi");
    expect(bodyText({ text: "", binary: true, bytes: 20480 })).toBe("binary content (20480 bytes, not UTF-8 text)");
    expect(isMessage(message("m"))).toBe(true);
    expect(isMessage({ ...message("m"), binary: "no" })).toBe(false);
    expect(surbsText(1)).toBe("1 reply SURB left");
    expect(surbsText(3)).toBe("3 reply SURBs left");
  });
});

describe("Sending", () => {
  it("checks the form before asking the node", () => {
    expect(sendProblem("", "hi")).toEqual({ field: "to", message: "choose a destination or enter a peer id" });
    expect(sendProblem(ALICE, "  ")).toEqual({ field: "text", message: "enter a message" });
    expect(sendProblem(ALICE, "hi")).toBeNull();
  });

  it("puts the node's refusals next to the field they are about", () => {
    expect(sendErrorOf({ message: "text: the message is empty" })).toEqual({
      field: "text",
      message: "the message is empty",
    });
    expect(sendErrorOf({ message: "to: not a peer id" })).toEqual({ field: "to", message: "not a peer id" });
    expect(sendErrorOf({ message: "reply_to: no such message" })).toEqual({ field: "to", message: "no such message" });
    expect(sendErrorOf({ message: `${BOB} is not a Betanet endpoint in this epoch` }, BOB)).toEqual({
      field: "to",
      message: `${BOB} is not a Betanet endpoint in this epoch`,
    });
    expect(sendErrorOf({ message: "message of 70000 bytes is too long (at most 65536)" })).toEqual({
      field: "text",
      message: "message of 70000 bytes is too long (at most 65536)",
    });
    expect(sendErrorOf({ message: "no usable Betanet topology: no mixnode descriptors yet" })).toEqual({
      field: null,
      message: "no usable Betanet topology: no mixnode descriptors yet",
    });
  });
});
