import { describe, expect, it, vi } from "vitest";
import type {
  BenchRequest,
  BenchResult,
  BetanetInboxQuery,
  BetanetSend,
  BitchatMessagesQuery,
  BitchatNickname,
  BitchatPeerFlags,
  BitchatSend,
  Event,
  HarvestSettings,
  IdleJobSubmit,
  IdleOffer,
  SchedJobSubmit,
} from "./bindings";
import { FogClient, createClient } from "./client";
import { createTokenStore } from "./token";
import type { ConnectionStatus, EventListener, StatusListener, Transport } from "./transport";

const benchResult: BenchResult = {
  id: 1,
  suite: "nsga",
  title: "NSGA-II on zdt1, population 100 × 250 generations, seed 1",
  started_ms: 1_000,
  wall_ms: 42.5,
  build: "release",
  figures: [{ name: "IGD to the true front", value: 0.0042, unit: "", goal: null }],
};

class FakeTransport implements Transport {
  readonly kind = "http";
  streams: { onEvent: EventListener; onStatus: StatusListener; stopped: boolean }[] = [];
  failWith: unknown = null;

  #answer<T>(value: T): Promise<T> {
    return this.failWith === null ? Promise.resolve(value) : Promise.reject(this.failWith);
  }

  nodeInfo = vi.fn(() => this.#answer({ peer_id: "p" } as never));
  health = vi.fn(() => this.#answer({ status: "ok", services: [], checked_at_ms: 1 } as never));
  dashboardStats = vi.fn(() => this.#answer({} as never));
  logs = vi.fn(() => this.#answer({ file: null, lines: [], empty_reason: "none" }));
  recentEvents = vi.fn(() => this.#answer([] as Event[]));
  settings = vi.fn(() => this.#answer({} as never));
  updateSettings = vi.fn(() => this.#answer({} as never));
  meshStats = vi.fn(() => this.#answer({} as never));
  meshPeers = vi.fn(() => this.#answer([]));
  meshKnownPeers = vi.fn(() => this.#answer([]));
  meshTopology = vi.fn(() => this.#answer({ nodes: [], edges: [], unanswered: [] }));
  meshConnect = vi.fn(() => this.#answer(undefined));
  meshDisconnect = vi.fn(() => this.#answer(undefined));
  idleStats = vi.fn(() => this.#answer({} as never));
  idleDevices = vi.fn(() => this.#answer([]));
  idleSettings = vi.fn(() => this.#answer({} as never));
  idleUpdateSettings = vi.fn((settings: HarvestSettings) => this.#answer(settings));
  idleExamples = vi.fn(() => this.#answer([{ name: "sieve", description: "primes", sample_input: "100" }]));
  idleSubmit = vi.fn((_request: IdleJobSubmit) => this.#answer({ id: 1, state: "queued" } as never));
  idleJob = vi.fn((id: number) => this.#answer({ id, state: "completed" } as never));
  idleJobOutput = vi.fn((id: number) => this.#answer(new Uint8Array([id, 0, 255])));
  idleCancel = vi.fn((id: number) => this.#answer({ id, state: "cancelled" } as never));
  idleOffer = vi.fn((_offer: IdleOffer) => this.#answer({ id: 9, state: "queued", origin: "local" } as never));
  idleRemoteJob = vi.fn((_peer: string, id: number) => this.#answer({ id, state: "running" } as never));
  schedJobs = vi.fn(() => this.#answer([]));
  schedSubmit = vi.fn((_request: SchedJobSubmit) => this.#answer({ id: 3, phase: { kind: "queued" } } as never));
  schedJob = vi.fn((id: number) => this.#answer({ job: { id }, attempts: [] } as never));
  schedJobOutput = vi.fn((id: number) => this.#answer(new Uint8Array([id, 1])));
  schedCancel = vi.fn((id: number) => this.#answer({ id, phase: { kind: "cancelled" } } as never));
  schedStats = vi.fn(() => this.#answer({ queue_depth: 0 } as never));
  benchRun = vi.fn((request: BenchRequest) => this.#answer({ ...benchResult, suite: request.suite }));
  benchResults = vi.fn(() => this.#answer([benchResult]));
  bitchatStatus = vi.fn(() => this.#answer({ nickname: "fog-ab12" } as never));
  bitchatPeers = vi.fn(() => this.#answer([]));
  bitchatMessages = vi.fn((_query: BitchatMessagesQuery) => this.#answer([]));
  bitchatSend = vi.fn((request: BitchatSend) => this.#answer({ id: "m1", text: request.text } as never));
  bitchatMarkRead = vi.fn((_peer: string) => this.#answer({ marked: 2 }));
  bitchatSetPeer = vi.fn((_peer: string, _flags: BitchatPeerFlags) => this.#answer(undefined));
  bitchatSetNickname = vi.fn((request: BitchatNickname) => this.#answer({ nickname: request.nickname } as never));
  betanetStatus = vi.fn(() => this.#answer({ key_mode: "kem", epoch: 7 } as never));
  betanetDeploy = vi.fn(() => this.#answer({ key_mode: "kem", mixnode: { deployed: true } } as never));
  betanetSend = vi.fn((request: BetanetSend) =>
    this.#answer({ id: "0f".repeat(16), state: "sending", to: request.to, text: request.text } as never),
  );
  betanetInbox = vi.fn((_query: BetanetInboxQuery) => this.#answer([]));

  stream(onEvent: EventListener, onStatus: StatusListener) {
    const entry = { onEvent, onStatus, stopped: false };
    this.streams.push(entry);
    onStatus("live");
    return () => {
      entry.stopped = true;
    };
  }
}

function setup(token: string | null = "tok") {
  const transport = new FakeTransport();
  const tokens = createTokenStore(null);
  if (token) tokens.set(token);
  return { transport, tokens, client: new FogClient(transport, tokens) };
}

const event: Event = { id: 1, ts_ms: 0, topic: "node", kind: "tick", data: {} };

describe("FogClient", () => {
  it("returns what the transport answers", async () => {
    const { client } = setup();
    await expect(client.health()).resolves.toMatchObject({ status: "ok" });
    await expect(client.logs({ lines: 100 })).resolves.toMatchObject({ empty_reason: "none" });
  });

  it("passes mesh requests to the transport", async () => {
    const { client, transport } = setup();
    await expect(client.meshPeers()).resolves.toEqual([]);
    await expect(client.meshKnownPeers()).resolves.toEqual([]);
    await expect(client.meshTopology()).resolves.toEqual({ nodes: [], edges: [], unanswered: [] });
    await expect(client.meshConnect({ addr: "/ip4/10.0.0.2/tcp/7421" })).resolves.toBeUndefined();
    await expect(client.meshDisconnect({ peer: "12D3KooWpeer" })).resolves.toBeUndefined();
    expect(transport.meshConnect).toHaveBeenCalledWith({ addr: "/ip4/10.0.0.2/tcp/7421" });
    expect(transport.meshDisconnect).toHaveBeenCalledWith({ peer: "12D3KooWpeer" });
    transport.failWith = { code: "unavailable", message: "the mesh is not running" };
    await expect(client.meshStats()).rejects.toEqual({ code: "unavailable", message: "the mesh is not running" });
  });

  it("passes idle-compute requests to the transport", async () => {
    const { client, transport } = setup();
    await expect(client.idleDevices()).resolves.toEqual([]);
    await expect(client.idleExamples()).resolves.toEqual([
      { name: "sieve", description: "primes", sample_input: "100" },
    ]);
    const settings = { enabled: false } as HarvestSettings;
    await expect(client.idleUpdateSettings(settings)).resolves.toBe(settings);
    expect(transport.idleUpdateSettings).toHaveBeenCalledWith(settings);
    await expect(client.idleSubmit({ example: "sieve", input: "100" })).resolves.toEqual({ id: 1, state: "queued" });
    expect(transport.idleSubmit).toHaveBeenCalledWith({ example: "sieve", input: "100" });
    await expect(client.idleJob(4)).resolves.toEqual({ id: 4, state: "completed" });
    await expect(client.idleCancel(5)).resolves.toEqual({ id: 5, state: "cancelled" });
    expect(transport.idleCancel).toHaveBeenCalledWith(5);
    await expect(client.idleJobOutput(6)).resolves.toEqual(new Uint8Array([6, 0, 255]));
    expect(transport.idleJobOutput).toHaveBeenCalledWith(6);
    transport.failWith = { code: "unavailable", message: "idle compute is not running: disabled in the configuration" };
    await expect(client.idleStats()).rejects.toEqual({
      code: "unavailable",
      message: "idle compute is not running: disabled in the configuration",
    });
    await expect(client.idleSettings()).rejects.toMatchObject({ code: "unavailable" });
    await expect(client.idleJobOutput(6)).rejects.toMatchObject({ code: "unavailable" });
  });

  it("passes job offers to other nodes to the transport", async () => {
    const { client, transport } = setup();
    const offer: IdleOffer = { peer: "12D3KooWpeer", job: { example: "sieve", input: "100" } };
    await expect(client.idleOffer(offer)).resolves.toEqual({ id: 9, state: "queued", origin: "local" });
    expect(transport.idleOffer).toHaveBeenCalledWith(offer);
    await expect(client.idleRemoteJob("12D3KooWpeer", 9)).resolves.toEqual({ id: 9, state: "running" });
    expect(transport.idleRemoteJob).toHaveBeenCalledWith("12D3KooWpeer", 9);
    transport.failWith = { code: "invalid_input", message: "12D3KooWpeer: refused: paused: on battery" };
    await expect(client.idleOffer(offer)).rejects.toEqual({
      code: "invalid_input",
      message: "12D3KooWpeer: refused: paused: on battery",
    });
    await expect(client.idleRemoteJob("12D3KooWpeer", 9)).rejects.toMatchObject({ code: "invalid_input" });
    expect(client.authState).toBe("ok");
  });

  it("passes scheduler requests to the transport", async () => {
    const { client, transport } = setup();
    const request: SchedJobSubmit = { example: "wordcount", input: "a b", tier: "gold", deadline_s: 60 };
    await expect(client.schedJobs()).resolves.toEqual([]);
    await expect(client.schedSubmit(request)).resolves.toEqual({ id: 3, phase: { kind: "queued" } });
    expect(transport.schedSubmit).toHaveBeenCalledWith(request);
    await expect(client.schedJob(4)).resolves.toEqual({ job: { id: 4 }, attempts: [] });
    await expect(client.schedJobOutput(5)).resolves.toEqual(new Uint8Array([5, 1]));
    expect(transport.schedJobOutput).toHaveBeenCalledWith(5);
    await expect(client.schedCancel(6)).resolves.toEqual({ id: 6, phase: { kind: "cancelled" } });
    expect(transport.schedCancel).toHaveBeenCalledWith(6);
    await expect(client.schedStats()).resolves.toEqual({ queue_depth: 0 });
    transport.failWith = { code: "invalid_input", message: "deadline: the deadline has already passed" };
    await expect(client.schedSubmit({ ...request, deadline_s: 0 })).rejects.toEqual({
      code: "invalid_input",
      message: "deadline: the deadline has already passed",
    });
    transport.failWith = { code: "unavailable", message: "the scheduler is not running: its queue could not be opened" };
    await expect(client.schedStats()).rejects.toMatchObject({ code: "unavailable" });
    await expect(client.schedJobs()).rejects.toMatchObject({ code: "unavailable" });
    expect(client.authState).toBe("ok");
  });

  it("passes benchmark runs and results to the transport", async () => {
    const { client, transport } = setup();
    const request: BenchRequest = { suite: "sandbox" };
    await expect(client.benchRun(request)).resolves.toEqual({ ...benchResult, suite: "sandbox" });
    expect(transport.benchRun).toHaveBeenCalledWith(request);
    await expect(client.benchResults()).resolves.toEqual([benchResult]);
    transport.failWith = { code: "unavailable", message: "a benchmark is already running; try again when it ends" };
    await expect(client.benchRun({ suite: "nsga" })).rejects.toEqual({
      code: "unavailable",
      message: "a benchmark is already running; try again when it ends",
    });
    transport.failWith = { code: "invalid_input", message: 'no problem "zdt9"; there are zdt1, zdt2' };
    await expect(client.benchRun({ suite: "nsga", problem: "zdt9" })).rejects.toEqual({
      code: "invalid_input",
      message: 'no problem "zdt9"; there are zdt1, zdt2',
    });
    expect(client.authState).toBe("ok");
  });

  it("passes BitChat requests to the transport", async () => {
    const { client, transport } = setup();
    await expect(client.bitchatStatus()).resolves.toEqual({ nickname: "fog-ab12" });
    await expect(client.bitchatPeers()).resolves.toEqual([]);
    await expect(client.bitchatMessages({ channel: "#mesh", limit: 50 })).resolves.toEqual([]);
    expect(transport.bitchatMessages).toHaveBeenCalledWith({ channel: "#mesh", limit: 50 });
    await expect(client.bitchatSend({ to: null, text: "hi" })).resolves.toEqual({ id: "m1", text: "hi" });
    expect(transport.bitchatSend).toHaveBeenCalledWith({ to: null, text: "hi" });
    await expect(client.bitchatMarkRead("0011223344556677")).resolves.toEqual({ marked: 2 });
    expect(transport.bitchatMarkRead).toHaveBeenCalledWith("0011223344556677");
    await expect(client.bitchatSetPeer("0011223344556677", { favourite: true, verified: null })).resolves.toBeUndefined();
    expect(transport.bitchatSetPeer).toHaveBeenCalledWith("0011223344556677", { favourite: true, verified: null });
    await expect(client.bitchatSetNickname({ nickname: "ada" })).resolves.toEqual({ nickname: "ada" });
    transport.failWith = { code: "invalid_input", message: "the message is too long: 300 bytes, at most 255" };
    await expect(client.bitchatSend({ to: "0011223344556677", text: "x" })).rejects.toEqual({
      code: "invalid_input",
      message: "the message is too long: 300 bytes, at most 255",
    });
    transport.failWith = { code: "unavailable", message: "BitChat is not running" };
    await expect(client.bitchatStatus()).rejects.toMatchObject({ code: "unavailable" });
    expect(client.authState).toBe("ok");
  });

  it("passes Betanet requests to the transport", async () => {
    const { client, transport } = setup();
    await expect(client.betanetStatus()).resolves.toEqual({ key_mode: "kem", epoch: 7 });
    await expect(client.betanetDeploy()).resolves.toEqual({ key_mode: "kem", mixnode: { deployed: true } });
    expect(transport.betanetDeploy).toHaveBeenCalledWith();
    const request: BetanetSend = { to: "12D3KooWpeer", reply_to: null, text: "hi", base64: null };
    await expect(client.betanetSend(request)).resolves.toEqual({
      id: "0f".repeat(16),
      state: "sending",
      to: "12D3KooWpeer",
      text: "hi",
    });
    expect(transport.betanetSend).toHaveBeenCalledWith(request);
    await expect(client.betanetInbox({ limit: 100 })).resolves.toEqual([]);
    expect(transport.betanetInbox).toHaveBeenCalledWith({ limit: 100 });
    transport.failWith = { code: "invalid_input", message: "12D3KooWx is not a Betanet endpoint in this epoch" };
    await expect(client.betanetSend({ ...request, to: "12D3KooWx" })).rejects.toEqual({
      code: "invalid_input",
      message: "12D3KooWx is not a Betanet endpoint in this epoch",
    });
    transport.failWith = { code: "unavailable", message: "Betanet is not running" };
    await expect(client.betanetStatus()).rejects.toMatchObject({ code: "unavailable" });
    expect(client.authState).toBe("ok");
  });

  it("rejects with ApiError-shaped objects whatever the transport throws", async () => {
    const { client, transport } = setup();
    transport.failWith = new TypeError("Failed to fetch");
    await expect(client.health()).rejects.toEqual({ code: "unreachable", message: "Failed to fetch" });
    transport.failWith = "command health not found";
    await expect(client.health()).rejects.toEqual({
      code: "transport_error",
      message: "command health not found",
    });
    transport.failWith = { code: "not_found", message: "gone", extra: 1 };
    await expect(client.health()).rejects.toEqual({ code: "not_found", message: "gone" });
  });

  it("shares one stream between subscribers", () => {
    const { client, transport } = setup();
    const seenA: Event[] = [];
    const seenB: ConnectionStatus[] = [];
    const stopA = client.subscribe((e) => seenA.push(e), null);
    const stopB = client.subscribe(null, (s) => seenB.push(s));
    expect(transport.streams).toHaveLength(1);
    expect(seenB).toEqual(["live"]);
    transport.streams[0]?.onEvent(event);
    expect(seenA).toEqual([event]);
    stopA();
    expect(transport.streams[0]?.stopped).toBe(false);
    stopB();
    expect(transport.streams[0]?.stopped).toBe(true);
    expect(client.connectionStatus).toBe("offline");
  });

  it("asks for a token when it has none", () => {
    const { client, transport } = setup(null);
    expect(client.authState).toBe("missing");
    const statuses: ConnectionStatus[] = [];
    client.subscribe(null, (s) => statuses.push(s));
    expect(statuses).toEqual(["offline", "unauthorized"]);
    expect(transport.streams).toHaveLength(0);

    const states: string[] = [];
    client.onAuthChange((s) => states.push(s));
    client.setToken("  fresh  ");
    expect(states).toEqual(["ok"]);
    expect(transport.streams).toHaveLength(1);
    expect(statuses.at(-1)).toBe("live");
  });

  it("drops a token the node rejects and stops the stream", async () => {
    const { client, transport, tokens } = setup();
    const states: string[] = [];
    client.onAuthChange((s) => states.push(s));
    const statuses: ConnectionStatus[] = [];
    client.subscribe(null, (s) => statuses.push(s));

    transport.failWith = { code: "unauthorized", message: "bad token" };
    await Promise.allSettled([client.health(), client.nodeInfo()]);
    expect(states).toEqual(["rejected"]);
    expect(client.authDetail).toBe("bad token");
    expect(tokens.get()).toBeNull();
    expect(transport.streams[0]?.stopped).toBe(true);
    expect(statuses.at(-1)).toBe("unauthorized");

    transport.failWith = null;
    client.setToken("good");
    expect(tokens.get()).toBe("good");
    expect(client.authDetail).toBeNull();
    expect(transport.streams).toHaveLength(2);
    expect(statuses.at(-1)).toBe("live");
  });
});

describe("createClient", () => {
  function fakeWindow(hash: string, extra: Record<string, unknown> = {}) {
    const replaceState = vi.fn();
    const items = new Map<string, string>();
    const win = {
      location: { hash, pathname: "/", search: "", origin: "http://127.0.0.1:7420" },
      history: { state: null, replaceState },
      sessionStorage: {
        getItem: (k: string) => items.get(k) ?? null,
        setItem: (k: string, v: string) => void items.set(k, v),
        removeItem: (k: string) => void items.delete(k),
      },
      ...extra,
    };
    return { win: win as unknown as Window, replaceState, items };
  }

  it("uses Tauri IPC inside the desktop app, without a token", () => {
    const { win } = fakeWindow("", { __TAURI_INTERNALS__: {} });
    const client = createClient(win);
    expect(client.transportKind).toBe("tauri");
    expect(client.authState).toBe("ok");
  });

  it("takes the token from the fragment and removes it from the address", () => {
    const { win, replaceState, items } = fakeWindow("#token=secret");
    const client = createClient(win);
    expect(client.transportKind).toBe("http");
    expect(client.authState).toBe("ok");
    expect([...items.values()]).toEqual(["secret"]);
    expect(replaceState).toHaveBeenCalledWith(null, "", "/");
  });

  it("needs a token when the address has none", () => {
    const { win, replaceState } = fakeWindow("#/logs");
    expect(createClient(win).authState).toBe("missing");
    expect(replaceState).not.toHaveBeenCalled();
  });
});
