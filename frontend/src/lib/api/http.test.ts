import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { BenchResult, Event, HarvestSettings, KnownPeer, MeshStats, MeshTopology } from "./bindings";
import {
  BENCH_RUN_TIMEOUT_MS,
  HttpTransport,
  OFFLINE_AFTER_FAILURES,
  errorFromResponse,
  eventsSocketUrl,
  queryString,
  reconnectDelayMs,
  type EventSocket,
} from "./http";
import { createTokenStore } from "./token";
import type { ConnectionStatus } from "./transport";

type Call = { url: string; init: RequestInit };

function fakeFetch(respond: (call: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetch = vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
    const call = { url: String(input), init: init ?? {} };
    calls.push(call);
    return Promise.resolve(respond(call));
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

function transport(respond: (call: Call) => Response | Promise<Response>, token: string | null = "tok") {
  const tokens = createTokenStore(null);
  if (token) tokens.set(token);
  const fake = fakeFetch(respond);
  return { http: new HttpTransport({ baseUrl: "http://node.test", tokens, fetch: fake.fetch }), ...fake };
}

const headerOf = (call: Call | undefined, name: string) =>
  (call?.init.headers as Record<string, string> | undefined)?.[name];

describe("HTTP requests", () => {
  it("sends the bearer token to the documented routes", async () => {
    const { http, calls } = transport(() => json(200, {}));
    await http.nodeInfo();
    await http.health();
    await http.dashboardStats();
    await http.logs({ lines: 200 });
    await http.logs({ lines: null });
    await http.recentEvents({ limit: 50, topics: "service,node" });
    await http.recentEvents({ limit: null, topics: null });
    await http.settings();
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET http://node.test/api/node",
      "GET http://node.test/api/health",
      "GET http://node.test/api/dashboard/stats",
      "GET http://node.test/api/logs?lines=200",
      "GET http://node.test/api/logs",
      "GET http://node.test/api/events/recent?limit=50&topics=service,node",
      "GET http://node.test/api/events/recent",
      "GET http://node.test/api/settings",
    ]);
    for (const call of calls) expect(headerOf(call, "Authorization")).toBe("Bearer tok");
  });

  it("sends settings updates as JSON with PUT", async () => {
    const { http, calls } = transport(() => json(200, { log_level: "debug" }));
    await expect(http.updateSettings({ log_level: "debug" })).resolves.toEqual({
      log_level: "debug",
    });
    await http.updateSettings({ lan_discovery: true });
    expect(calls.map((c) => `${c.init.method} ${c.url} ${String(c.init.body)}`)).toEqual([
      'PUT http://node.test/api/settings {"log_level":"debug"}',
      'PUT http://node.test/api/settings {"lan_discovery":true}',
    ]);
    for (const call of calls) expect(headerOf(call, "Content-Type")).toBe("application/json");
  });

  it("passes the node's error body through", async () => {
    const { http } = transport(() => json(400, { code: "invalid_input", message: "unknown level 'loud'" }));
    await expect(http.updateSettings({ log_level: "loud" })).rejects.toEqual({
      code: "invalid_input",
      message: "unknown level 'loud'",
    });
  });

  it("reads mesh stats, peers, known peers and topology from the p2p routes", async () => {
    const stats: MeshStats = {
      peer_id: "12D3KooWself",
      listen_addrs: ["/ip4/127.0.0.1/tcp/7421/p2p/12D3KooWself"],
      connected_peers: 1,
      inbound: 0,
      outbound: 1,
      bootstrap: [],
      lan_discovery: false,
      known_peers: 1,
      traffic: {
        topics: [
          { topic: "fog/1", messages_in: 2, bytes_in: 300, messages_out: 1, bytes_out: 120, rejected: 0 },
        ],
        requests_sent: 3,
        requests_received: 1,
        requests_failed: 0,
      },
    };
    const known: KnownPeer[] = [
      {
        peer_id: "12D3KooWpeer",
        addresses: ["/ip4/10.0.0.2/tcp/7421"],
        first_seen_ms: 1_000,
        last_seen_ms: 2_000,
        last_latency_ms: 0.8,
        failures: 0,
        connected: true,
      },
    ];
    const topology: MeshTopology = {
      nodes: [
        { peer_id: "12D3KooWself", this_node: true, connected: false },
        { peer_id: "12D3KooWpeer", this_node: false, connected: true },
      ],
      edges: [{ a: "12D3KooWself", b: "12D3KooWpeer" }],
      unanswered: [],
    };
    const answers: Record<string, unknown> = { stats, peers: [], known, topology };
    const { http, calls } = transport((call) => json(200, answers[call.url.split("/").at(-1) ?? ""]));
    await expect(http.meshStats()).resolves.toEqual(stats);
    await expect(http.meshPeers()).resolves.toEqual([]);
    await expect(http.meshKnownPeers()).resolves.toEqual(known);
    await expect(http.meshTopology()).resolves.toEqual(topology);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET http://node.test/api/p2p/stats",
      "GET http://node.test/api/p2p/peers",
      "GET http://node.test/api/p2p/known",
      "GET http://node.test/api/p2p/topology",
    ]);
    for (const call of calls) expect(headerOf(call, "Authorization")).toBe("Bearer tok");
  });

  it("posts connect and disconnect as JSON and accepts 204 No Content", async () => {
    const { http, calls } = transport(() => new Response(null, { status: 204 }));
    await expect(http.meshConnect({ addr: "/ip4/10.0.0.2/tcp/7421" })).resolves.toBeUndefined();
    await expect(http.meshDisconnect({ peer: "12D3KooWpeer" })).resolves.toBeUndefined();
    expect(calls.map((c) => `${c.init.method} ${c.url} ${String(c.init.body)}`)).toEqual([
      'POST http://node.test/api/p2p/connect {"addr":"/ip4/10.0.0.2/tcp/7421"}',
      'POST http://node.test/api/p2p/disconnect {"peer":"12D3KooWpeer"}',
    ]);
    for (const call of calls) {
      expect(headerOf(call, "Content-Type")).toBe("application/json");
      expect(headerOf(call, "Authorization")).toBe("Bearer tok");
    }
  });

  it("maps the node's mesh errors", async () => {
    const { http } = transport((call) =>
      call.url.endsWith("/connect")
        ? json(400, { code: "invalid_input", message: "\"nowhere\" is not a multiaddr" })
        : json(503, { code: "unavailable", message: "the mesh is not running: disabled in the configuration" }),
    );
    await expect(http.meshConnect({ addr: "nowhere" })).rejects.toEqual({
      code: "invalid_input",
      message: '"nowhere" is not a multiaddr',
    });
    for (const request of [http.meshPeers(), http.meshKnownPeers(), http.meshTopology()]) {
      await expect(request).rejects.toEqual({
        code: "unavailable",
        message: "the mesh is not running: disabled in the configuration",
      });
    }
  });

  it("reads idle compute from its routes", async () => {
    const { http, calls } = transport(() => json(200, {}));
    await http.idleStats();
    await http.idleDevices();
    await http.idleSettings();
    await http.idleExamples();
    await http.idleJob(42);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET http://node.test/api/idle-compute/stats",
      "GET http://node.test/api/idle-compute/devices",
      "GET http://node.test/api/idle-compute/settings",
      "GET http://node.test/api/idle-compute/examples",
      "GET http://node.test/api/idle-compute/jobs/42",
    ]);
    for (const call of calls) expect(headerOf(call, "Authorization")).toBe("Bearer tok");
  });

  it("sends idle settings, jobs and cancellations and reads the answers", async () => {
    const settings: HarvestSettings = {
      enabled: true,
      run_on_batteries: false,
      battery_stop_below_pct: 40,
      battery_resume_above_pct: 50,
      idle_minutes: 3,
      run_while_in_use: false,
      unknown_idle_is_idle: true,
      other_cpu_suspend_pct: 25,
      other_cpu_grace_secs: 10,
      max_cores_idle: 0,
      max_cores_in_use: 1,
      cpu_pct_idle: 100,
      cpu_pct_in_use: 50,
      temperature_stop_c: 85,
      temperature_resume_c: 75,
      windows: [{ days: [0, 4], start: "22:00", end: "06:00" }],
      ram_pct_idle: 75,
      ram_pct_in_use: 25,
      price_per_gigafuel: 0,
    };
    const job = { id: 7, state: "queued" };
    const { http, calls } = transport((call) => json(200, call.init.method === "PUT" ? settings : job));
    await expect(http.idleUpdateSettings(settings)).resolves.toEqual(settings);
    await expect(http.idleSubmit({ example: "sieve", input: "1000" })).resolves.toEqual(job);
    await expect(http.idleCancel(7)).resolves.toEqual(job);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "PUT http://node.test/api/idle-compute/settings",
      "POST http://node.test/api/idle-compute/jobs",
      "POST http://node.test/api/idle-compute/jobs/7/cancel",
    ]);
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual(settings);
    expect(calls[1]?.init.body).toBe('{"example":"sieve","input":"1000"}');
    expect(calls[2]?.init.body).toBeUndefined();
    expect(headerOf(calls[0], "Content-Type")).toBe("application/json");
    expect(headerOf(calls[1], "Content-Type")).toBe("application/json");
  });

  it("maps the node's idle-compute errors", async () => {
    const { http } = transport((call) =>
      call.init.method === "PUT"
        ? json(400, { code: "invalid_input", message: "cpu_pct_idle: must be 1 to 100, got 0" })
        : json(503, { code: "unavailable", message: "idle compute is not running: disabled in the configuration" }),
    );
    await expect(http.idleUpdateSettings({} as HarvestSettings)).rejects.toEqual({
      code: "invalid_input",
      message: "cpu_pct_idle: must be 1 to 100, got 0",
    });
    await expect(http.idleStats()).rejects.toEqual({
      code: "unavailable",
      message: "idle compute is not running: disabled in the configuration",
    });
  });

  it("offers a job to another node and reads it back from there", async () => {
    const job = { id: 3, state: "queued", origin: "local" };
    const { http, calls } = transport(() => json(200, job));
    const offer = { peer: "12D3KooWpeer", job: { example: "sieve", input: "1000" } };
    await expect(http.idleOffer(offer)).resolves.toEqual(job);
    await expect(http.idleRemoteJob("12D3KooWpeer", 3)).resolves.toEqual(job);
    await http.idleRemoteJob("a/b?c#d", 0);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "POST http://node.test/api/idle-compute/offer",
      "GET http://node.test/api/idle-compute/peers/12D3KooWpeer/jobs/3",
      "GET http://node.test/api/idle-compute/peers/a%2Fb%3Fc%23d/jobs/0",
    ]);
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual(offer);
    expect(headerOf(calls[0], "Content-Type")).toBe("application/json");
    expect(calls[1]?.init.body).toBeUndefined();
    for (const call of calls) expect(headerOf(call, "Authorization")).toBe("Bearer tok");
  });

  it("passes another node's refusal of an offer on as it was worded", async () => {
    const message = "12D3KooWpeer: refused: paused: on battery";
    const { http } = transport(() => json(400, { code: "invalid_input", message }));
    await expect(http.idleOffer({ peer: "12D3KooWpeer", job: { example: "sieve" } })).rejects.toEqual({
      code: "invalid_input",
      message,
    });
  });

  it("does not send a job id that is not a whole number", async () => {
    const { http, calls } = transport(() => json(200, {}));
    for (const id of [1.5, -1, Number.NaN]) {
      await expect(http.idleJob(id)).rejects.toMatchObject({ code: "invalid_input" });
      await expect(http.idleCancel(id)).rejects.toMatchObject({ code: "invalid_input" });
      await expect(http.idleRemoteJob("12D3KooWpeer", id)).rejects.toMatchObject({ code: "invalid_input" });
      await expect(http.idleJobOutput(id)).rejects.toMatchObject({ code: "invalid_input" });
    }
    expect(calls).toHaveLength(0);
  });

  it("reads a job's whole output as bytes", async () => {
    const image = new Uint8Array([...new TextEncoder().encode("P5\n2 1\n255\n"), 0, 255]);
    const { http, calls } = transport(
      () => new Response(image, { status: 200, headers: { "Content-Type": "application/octet-stream" } }),
    );
    const bytes = await http.idleJobOutput(42);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes]).toEqual([...image]);
    await expect(http.idleJobOutput(0)).resolves.toHaveLength(image.length);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET http://node.test/api/idle-compute/jobs/42/output",
      "GET http://node.test/api/idle-compute/jobs/0/output",
    ]);
    expect(calls[0]?.init.body).toBeUndefined();
    expect(headerOf(calls[0], "Authorization")).toBe("Bearer tok");
    expect(headerOf(calls[0], "Accept")).toBe("application/octet-stream, application/json");
    expect(headerOf(calls[0], "Content-Type")).toBeUndefined();
  });

  it("reads empty and non-UTF-8 output unchanged", async () => {
    const binary = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x0a]);
    let body: Uint8Array<ArrayBuffer> | null = binary;
    const { http } = transport(
      () => new Response(body, { status: 200, headers: { "Content-Type": "application/octet-stream" } }),
    );
    expect([...(await http.idleJobOutput(1))]).toEqual([...binary]);
    body = null;
    await expect(http.idleJobOutput(1)).resolves.toHaveLength(0);
  });

  it("maps the node's errors for a job's output like any other", async () => {
    const { http } = transport((call) =>
      call.url.includes("/jobs/404/")
        ? json(404, { code: "not_found", message: "no job 404" })
        : json(503, { code: "unavailable", message: "idle compute is not running: disabled in the configuration" }),
    );
    await expect(http.idleJobOutput(404)).rejects.toEqual({ code: "not_found", message: "no job 404" });
    await expect(http.idleJobOutput(1)).rejects.toEqual({
      code: "unavailable",
      message: "idle compute is not running: disabled in the configuration",
    });
  });

  it("asks for a job's output with the token and timeout of every request", async () => {
    const timeout = vi.spyOn(AbortSignal, "timeout");
    try {
      const { http, calls } = transport(() => new Response(new Uint8Array([1]), { status: 200 }), null);
      await expect(http.idleJobOutput(3)).rejects.toMatchObject({ code: "unauthorized" });
      expect(calls).toHaveLength(0);
      const ok = transport(() => new Response(new Uint8Array([1]), { status: 200 }));
      await ok.http.idleJobOutput(3);
      expect(timeout.mock.calls.map((call) => call[0])).toEqual([15_000]);
    } finally {
      timeout.mockRestore();
    }
    const unauthorized = transport(() => json(401, { code: "unauthorized", message: "token mismatch" }));
    await expect(unauthorized.http.idleJobOutput(3)).rejects.toEqual({ code: "unauthorized", message: "token mismatch" });
    const down = transport(() => Promise.reject(new DOMException("The operation timed out.", "TimeoutError")));
    await expect(down.http.idleJobOutput(3)).rejects.toEqual({
      code: "unreachable",
      message: "The node at http://node.test did not answer in time.",
    });
  });

  it("rejects a web page served in place of a job's output", async () => {
    const { http } = transport(
      () => new Response("<!doctype html>", { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } }),
    );
    await expect(http.idleJobOutput(3)).rejects.toMatchObject({ code: "bad_response" });
  });

  it("maps an output that breaks off part way to unreachable", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1, 2, 3]));
        controller.error(new TypeError("network error"));
      },
    });
    const { http } = transport(() => new Response(body, { status: 200 }));
    await expect(http.idleJobOutput(3)).rejects.toEqual({
      code: "unreachable",
      message: "Cannot reach the node at http://node.test.",
    });
  });

  it("reads the scheduler from its routes", async () => {
    const { http, calls } = transport(() => json(200, {}));
    await http.schedJobs();
    await http.schedJob(42);
    await http.schedStats();
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET http://node.test/api/scheduler/jobs",
      "GET http://node.test/api/scheduler/jobs/42",
      "GET http://node.test/api/scheduler/stats",
    ]);
    for (const call of calls) {
      expect(headerOf(call, "Authorization")).toBe("Bearer tok");
      expect(call.init.body).toBeUndefined();
    }
  });

  it("submits and cancels scheduled jobs and reads the answers", async () => {
    const job = { id: 7, phase: { kind: "queued" } };
    const { http, calls } = transport(() => json(200, job));
    const request = {
      example: "wordcount",
      input: "one two two",
      tier: "gold" as const,
      deadline_s: 600,
      cpu: 1,
      memory_bytes: 256 * 1024 * 1024,
    };
    await expect(http.schedSubmit(request)).resolves.toEqual(job);
    await expect(http.schedCancel(7)).resolves.toEqual(job);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "POST http://node.test/api/scheduler/jobs",
      "POST http://node.test/api/scheduler/jobs/7/cancel",
    ]);
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual(request);
    expect(headerOf(calls[0], "Content-Type")).toBe("application/json");
    expect(calls[1]?.init.body).toBeUndefined();
  });

  it("passes the scheduler's refusals on as they were worded", async () => {
    const { http } = transport((call) =>
      call.init.method === "POST"
        ? json(400, { code: "invalid_input", message: "deadline: the deadline has already passed" })
        : json(503, { code: "unavailable", message: "the scheduler is not running: its queue could not be opened" }),
    );
    await expect(http.schedSubmit({ example: "wordcount", deadline_s: 0 })).rejects.toEqual({
      code: "invalid_input",
      message: "deadline: the deadline has already passed",
    });
    await expect(http.schedStats()).rejects.toEqual({
      code: "unavailable",
      message: "the scheduler is not running: its queue could not be opened",
    });
  });

  it("reads a scheduled job's whole output as bytes", async () => {
    const output = new Uint8Array([0x77, 0x6f, 0x72, 0x64, 0x73, 0xff, 0x00]);
    const { http, calls } = transport(
      () => new Response(output, { status: 200, headers: { "Content-Type": "application/octet-stream" } }),
    );
    expect([...(await http.schedJobOutput(9))]).toEqual([...output]);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual(["GET http://node.test/api/scheduler/jobs/9/output"]);
    expect(headerOf(calls[0], "Accept")).toBe("application/octet-stream, application/json");
    const unfinished = transport(() =>
      json(400, { code: "invalid_input", message: "job 9 has not finished; its output comes when it does" }),
    );
    await expect(unfinished.http.schedJobOutput(9)).rejects.toMatchObject({ code: "invalid_input" });
  });

  it("does not send a scheduled job id that is not a whole number", async () => {
    const { http, calls } = transport(() => json(200, {}));
    for (const id of [1.5, -1, Number.NaN]) {
      await expect(http.schedJob(id)).rejects.toMatchObject({ code: "invalid_input" });
      await expect(http.schedCancel(id)).rejects.toMatchObject({ code: "invalid_input" });
      await expect(http.schedJobOutput(id)).rejects.toMatchObject({ code: "invalid_input" });
    }
    expect(calls).toHaveLength(0);
  });

  it("runs benchmarks and reads their results from the bench routes", async () => {
    const result: BenchResult = {
      id: 2,
      suite: "sandbox",
      title: "WebAssembly sandbox against native code, and the harvest policy",
      started_ms: 1_700_000_000_000,
      wall_ms: 1834.2,
      build: "release",
      figures: [{ name: "sieve: sandbox / native throughput", value: 0.57, unit: "×", goal: "≥ 0.5" }],
    };
    const { http, calls } = transport((call) => json(200, call.init.method === "POST" ? result : [result]));
    await expect(http.benchRun({ suite: "sandbox" })).resolves.toEqual(result);
    await http.benchRun({ suite: "nsga", problem: "zdt2", algorithm: "nsga2", pop: 40, gens: 60, seed: 7 });
    await expect(http.benchResults()).resolves.toEqual([result]);
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "POST http://node.test/api/bench/run",
      "POST http://node.test/api/bench/run",
      "GET http://node.test/api/bench/results",
    ]);
    expect(calls[0]?.init.body).toBe('{"suite":"sandbox"}');
    expect(JSON.parse(String(calls[1]?.init.body))).toEqual({
      suite: "nsga",
      problem: "zdt2",
      algorithm: "nsga2",
      pop: 40,
      gens: 60,
      seed: 7,
    });
    expect(calls[2]?.init.body).toBeUndefined();
    expect(headerOf(calls[0], "Content-Type")).toBe("application/json");
    for (const call of calls) expect(headerOf(call, "Authorization")).toBe("Bearer tok");
  });

  it("gives a benchmark run longer than other requests to answer", async () => {
    const timeout = vi.spyOn(AbortSignal, "timeout");
    try {
      const { http } = transport(() => json(200, {}));
      await http.benchResults();
      await http.benchRun({ suite: "sandbox" });
      expect(timeout.mock.calls.map((call) => call[0])).toEqual([15_000, BENCH_RUN_TIMEOUT_MS]);
    } finally {
      timeout.mockRestore();
    }
  });

  it("passes the node's benchmark errors on as they were worded", async () => {
    const tooBig = "pop × gens is at most 1000000 evaluations here; use `fog bench nsga` for more";
    const busy = "a benchmark is already running; try again when it ends";
    const { http } = transport((call) =>
      String(call.init.body).includes("nsga")
        ? json(400, { code: "invalid_input", message: tooBig })
        : json(503, { code: "unavailable", message: busy }),
    );
    await expect(http.benchRun({ suite: "nsga", pop: 100_000, gens: 1000 })).rejects.toEqual({
      code: "invalid_input",
      message: tooBig,
    });
    await expect(http.benchRun({ suite: "sandbox" })).rejects.toEqual({ code: "unavailable", message: busy });
  });

  it("reads BitChat from its routes, sending the channel encoded", async () => {
    const { http, calls } = transport(() => json(200, []));
    await http.bitchatStatus();
    await http.bitchatPeers();
    await http.bitchatMessages({ channel: "#mesh", limit: 200 });
    await http.bitchatMessages({ channel: "0011223344556677", limit: null });
    await http.bitchatMessages({ channel: null, limit: null });
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET http://node.test/api/bitchat/status",
      "GET http://node.test/api/bitchat/peers",
      "GET http://node.test/api/bitchat/messages?channel=%23mesh&limit=200",
      "GET http://node.test/api/bitchat/messages?channel=0011223344556677",
      "GET http://node.test/api/bitchat/messages",
    ]);
    for (const call of calls) {
      expect(headerOf(call, "Authorization")).toBe("Bearer tok");
      expect(call.init.body).toBeUndefined();
    }
  });

  it("sends BitChat messages, read marks, peer flags and the nickname", async () => {
    const { http, calls } = transport((call) =>
      call.url.endsWith("/peers/0011223344556677") ? new Response(null, { status: 204 }) : json(200, { marked: 1 }),
    );
    await http.bitchatSend({ to: null, text: "hello mesh" });
    await expect(http.bitchatMarkRead("0011223344556677")).resolves.toEqual({ marked: 1 });
    await expect(
      http.bitchatSetPeer("0011223344556677", { favourite: null, verified: true }),
    ).resolves.toBeUndefined();
    await http.bitchatSetNickname({ nickname: "ada" });
    expect(calls.map((c) => `${c.init.method} ${c.url} ${String(c.init.body)}`)).toEqual([
      'POST http://node.test/api/bitchat/messages {"to":null,"text":"hello mesh"}',
      "POST http://node.test/api/bitchat/peers/0011223344556677/read undefined",
      'PUT http://node.test/api/bitchat/peers/0011223344556677 {"favourite":null,"verified":true}',
      'PUT http://node.test/api/bitchat/nickname {"nickname":"ada"}',
    ]);
    for (const call of calls) expect(headerOf(call, "Authorization")).toBe("Bearer tok");
  });

  it("passes BitChat refusals on as they were worded", async () => {
    const { http } = transport((call) =>
      call.init.method === "POST"
        ? json(400, { code: "invalid_input", message: "the message is too long: 300 bytes, at most 255" })
        : json(503, { code: "unavailable", message: "BitChat is not running" }),
    );
    await expect(http.bitchatSend({ to: "0011223344556677", text: "x" })).rejects.toEqual({
      code: "invalid_input",
      message: "the message is too long: 300 bytes, at most 255",
    });
    await expect(http.bitchatStatus()).rejects.toEqual({ code: "unavailable", message: "BitChat is not running" });
  });

  it("reads Betanet from its routes", async () => {
    const { http, calls } = transport(() => json(200, []));
    await http.betanetStatus();
    await http.betanetInbox({ limit: 100 });
    await http.betanetInbox({ limit: null });
    expect(calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      "GET http://node.test/api/betanet/status",
      "GET http://node.test/api/betanet/inbox?limit=100",
      "GET http://node.test/api/betanet/inbox",
    ]);
    for (const call of calls) {
      expect(headerOf(call, "Authorization")).toBe("Bearer tok");
      expect(call.init.body).toBeUndefined();
    }
  });

  it("deploys the mixnode without a body and sends Betanet messages as JSON", async () => {
    const { http, calls } = transport((call) =>
      call.url.endsWith("/deploy") ? json(200, { mixnode: { deployed: true } }) : json(200, { id: "m1", state: "sending" }),
    );
    await expect(http.betanetDeploy()).resolves.toEqual({ mixnode: { deployed: true } });
    await http.betanetSend({ to: "12D3KooWpeer", reply_to: null, text: "hello", base64: null });
    await expect(http.betanetSend({ to: null, reply_to: "ab".repeat(16), text: "back", base64: null })).resolves.toEqual({
      id: "m1",
      state: "sending",
    });
    expect(calls.map((c) => `${c.init.method} ${c.url} ${String(c.init.body)}`)).toEqual([
      "POST http://node.test/api/betanet/deploy undefined",
      'POST http://node.test/api/betanet/send {"to":"12D3KooWpeer","reply_to":null,"text":"hello","base64":null}',
      `POST http://node.test/api/betanet/send {"to":null,"reply_to":"${"ab".repeat(16)}","text":"back","base64":null}`,
    ]);
    expect(headerOf(calls[0], "Content-Type")).toBeUndefined();
    expect(headerOf(calls[1], "Content-Type")).toBe("application/json");
    for (const call of calls) expect(headerOf(call, "Authorization")).toBe("Bearer tok");
  });

  it("passes Betanet refusals on as they were worded", async () => {
    const { http } = transport((call) =>
      call.init.method === "POST"
        ? json(400, { code: "invalid_input", message: "no usable Betanet topology: no mixnode descriptors yet" })
        : json(503, { code: "unavailable", message: "Betanet is not running" }),
    );
    await expect(http.betanetSend({ to: "12D3KooWpeer", reply_to: null, text: "x", base64: null })).rejects.toEqual({
      code: "invalid_input",
      message: "no usable Betanet topology: no mixnode descriptors yet",
    });
    await expect(http.betanetStatus()).rejects.toEqual({ code: "unavailable", message: "Betanet is not running" });
  });

  it("maps a network failure to unreachable", async () => {
    const { http } = transport(() => Promise.reject(new TypeError("Failed to fetch")));
    await expect(http.health()).rejects.toMatchObject({ code: "unreachable" });
  });

  it("maps a timeout to unreachable", async () => {
    const { http } = transport(() =>
      Promise.reject(new DOMException("The operation timed out.", "TimeoutError")),
    );
    await expect(http.health()).rejects.toEqual({
      code: "unreachable",
      message: "The node at http://node.test did not answer in time.",
    });
  });

  it("rejects answers that are not JSON", async () => {
    const { http } = transport(() => new Response("<!doctype html>", { status: 200 }));
    await expect(http.health()).rejects.toMatchObject({ code: "bad_response" });
  });

  it("does not call the node without a token", async () => {
    const { http, calls } = transport(() => json(200, {}), null);
    await expect(http.health()).rejects.toMatchObject({ code: "unauthorized" });
    expect(calls).toHaveLength(0);
  });
});

describe("errorFromResponse", () => {
  it("uses the body of documented errors", async () => {
    for (const status of [400, 404, 500, 503]) {
      await expect(errorFromResponse(json(status, { code: "c", message: "m" }))).resolves.toEqual({
        code: "c",
        message: "m",
      });
    }
  });

  it("always reports 401 as unauthorized", async () => {
    await expect(
      errorFromResponse(json(401, { code: "bad_token", message: "token mismatch" })),
    ).resolves.toEqual({ code: "unauthorized", message: "token mismatch" });
    await expect(errorFromResponse(new Response("", { status: 401 }))).resolves.toMatchObject({
      code: "unauthorized",
    });
  });

  it("treats gateway failures and empty 500s as an unreachable node", async () => {
    for (const response of [
      new Response("Bad Gateway", { status: 502 }),
      new Response("", { status: 503 }),
      new Response("", { status: 504 }),
      new Response("", { status: 500 }),
    ]) {
      await expect(errorFromResponse(response)).resolves.toMatchObject({ code: "unreachable" });
    }
  });

  it("names the status of other undescribed errors", async () => {
    await expect(
      errorFromResponse(new Response("nope", { status: 404, statusText: "Not Found" })),
    ).resolves.toEqual({
      code: "http_404",
      message: "The node answered HTTP 404 Not Found without an error description.",
    });
    await expect(errorFromResponse(json(500, { error: "x" }))).resolves.toMatchObject({
      code: "http_500",
    });
  });
});

describe("URLs", () => {
  it("builds the event socket URL matching the page's scheme", () => {
    expect(eventsSocketUrl("http://127.0.0.1:7420", "a b")).toBe(
      "ws://127.0.0.1:7420/api/events?access_token=a+b",
    );
    expect(eventsSocketUrl("https://node.example", "t")).toBe(
      "wss://node.example/api/events?access_token=t",
    );
  });

  it("leaves out null query parameters", () => {
    expect(queryString({ a: null })).toBe("");
    expect(queryString({ a: 1, b: null, c: "x y,z" })).toBe("?a=1&c=x%20y,z");
  });
});

class FakeSocket implements EventSocket {
  onopen: EventSocket["onopen"] = null;
  onmessage: EventSocket["onmessage"] = null;
  onclose: EventSocket["onclose"] = null;
  closed = false;

  constructor(readonly url: string) {}

  close() {
    this.closed = true;
  }

  open() {
    this.onopen?.call(this as unknown as WebSocket, new globalThis.Event("open"));
  }

  receive(data: unknown) {
    this.onmessage?.call(this as unknown as WebSocket, { data } as MessageEvent);
  }

  drop() {
    this.onclose?.call(this as unknown as WebSocket, {} as CloseEvent);
  }
}

describe("event stream", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function streaming() {
    const sockets: FakeSocket[] = [];
    const tokens = createTokenStore(null);
    tokens.set("tok");
    const http = new HttpTransport({
      baseUrl: "http://node.test",
      tokens,
      fetch: fakeFetch(() => json(200, {})).fetch,
      openSocket: (url) => {
        const socket = new FakeSocket(url);
        sockets.push(socket);
        return socket;
      },
    });
    const events: Event[] = [];
    const statuses: ConnectionStatus[] = [];
    const stop = http.stream(
      (e) => events.push(e),
      (s) => statuses.push(s),
    );
    return { sockets, events, statuses, stop, last: () => sockets[sockets.length - 1] };
  }

  it("goes live and delivers well-formed events only", () => {
    const { sockets, events, statuses, last } = streaming();
    expect(sockets).toHaveLength(1);
    expect(last()?.url).toBe("ws://node.test/api/events?access_token=tok");
    last()?.open();
    const event: Event = { id: 1, ts_ms: 2, topic: "node", kind: "started", data: null };
    last()?.receive(JSON.stringify(event));
    last()?.receive("not json");
    last()?.receive(JSON.stringify({ id: "x" }));
    expect(events).toEqual([event]);
    expect(statuses).toEqual(["reconnecting", "live"]);
  });

  it("reconnects with backoff and reports offline after repeated failures", async () => {
    const { sockets, statuses, last, stop } = streaming();
    for (let failure = 1; failure <= OFFLINE_AFTER_FAILURES; failure++) {
      last()?.drop();
      await vi.advanceTimersByTimeAsync(reconnectDelayMs(failure - 1) - 1);
      expect(sockets).toHaveLength(failure);
      await vi.advanceTimersByTimeAsync(1);
      expect(sockets).toHaveLength(failure + 1);
    }
    expect(statuses.at(-1)).toBe("offline");
    last()?.open();
    expect(statuses.at(-1)).toBe("live");
    stop();
  });

  it("restarts the backoff after a live connection drops", async () => {
    const { sockets, statuses, last, stop } = streaming();
    last()?.drop();
    await vi.advanceTimersByTimeAsync(reconnectDelayMs(0));
    last()?.drop();
    await vi.advanceTimersByTimeAsync(reconnectDelayMs(1));
    last()?.open();
    last()?.drop();
    expect(statuses.at(-1)).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(reconnectDelayMs(0));
    expect(sockets).toHaveLength(4);
    stop();
  });

  it("stops reconnecting once stopped", async () => {
    const { sockets, stop, last } = streaming();
    const socket = last();
    stop();
    expect(socket?.closed).toBe(true);
    socket?.drop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sockets).toHaveLength(1);
  });

  it("backs off from 0.5 s doubling to 10 s", () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(reconnectDelayMs)).toEqual([
      500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
  });
});
