import { afterEach, describe, expect, it, vi } from "vitest";

const invoke = vi.hoisted(() => vi.fn());
vi.mock("@tauri-apps/api/core", () => ({ invoke }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

const { TauriTransport, bytesOf } = await import("./tauri");

afterEach(() => invoke.mockReset());

describe("Tauri job output", () => {
  it("invokes idle_job_output and wraps the ArrayBuffer it resolves to", async () => {
    invoke.mockResolvedValue(new Uint8Array([0x50, 0x35, 0x0a, 0xff]).buffer);
    const bytes = await new TauriTransport().idleJobOutput(7);
    expect(invoke).toHaveBeenCalledWith("idle_job_output", { id: 7 });
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes]).toEqual([0x50, 0x35, 0x0a, 0xff]);
  });

  it("passes the command's ApiError on", async () => {
    invoke.mockRejectedValue({ code: "not_found", message: "no job 9" });
    await expect(new TauriTransport().idleJobOutput(9)).rejects.toEqual({ code: "not_found", message: "no job 9" });
  });

  it("rejects an answer that is not bytes", async () => {
    invoke.mockResolvedValue({ output: "x" });
    await expect(new TauriTransport().idleJobOutput(1)).rejects.toMatchObject({ code: "bad_response" });
  });
});

describe("Tauri scheduler commands", () => {
  it("invokes the sched_* commands with the arguments the desktop app declares", async () => {
    invoke.mockResolvedValue({});
    const transport = new TauriTransport();
    const request = { example: "wordcount", input: "a b", tier: "gold" as const };
    await transport.schedJobs();
    await transport.schedSubmit(request);
    await transport.schedJob(4);
    await transport.schedCancel(5);
    await transport.schedStats();
    expect(invoke.mock.calls).toEqual([
      ["sched_jobs"],
      ["sched_submit", { request }],
      ["sched_job", { id: 4 }],
      ["sched_cancel", { id: 5 }],
      ["sched_stats"],
    ]);
  });

  it("invokes sched_job_output and wraps the ArrayBuffer it resolves to", async () => {
    invoke.mockResolvedValue(new Uint8Array([0x6f, 0x6b, 0x0a]).buffer);
    const bytes = await new TauriTransport().schedJobOutput(7);
    expect(invoke).toHaveBeenCalledWith("sched_job_output", { id: 7 });
    expect([...bytes]).toEqual([0x6f, 0x6b, 0x0a]);
  });

  it("passes the scheduler's ApiError on", async () => {
    invoke.mockRejectedValue({ code: "invalid_input", message: "job 9 has not finished; its output comes when it does" });
    await expect(new TauriTransport().schedJobOutput(9)).rejects.toEqual({
      code: "invalid_input",
      message: "job 9 has not finished; its output comes when it does",
    });
  });
});

describe("Tauri BitChat commands", () => {
  it("invokes the bitchat_* commands with the arguments the desktop app declares", async () => {
    invoke.mockResolvedValue(null);
    const transport = new TauriTransport();
    const query = { channel: "#mesh", limit: 100 };
    const request = { to: "0011223344556677", text: "hi" };
    const flags = { favourite: true, verified: null };
    await transport.bitchatStatus();
    await transport.bitchatPeers();
    await transport.bitchatMessages(query);
    await transport.bitchatSend(request);
    await transport.bitchatMarkRead("0011223344556677");
    await expect(transport.bitchatSetPeer("0011223344556677", flags)).resolves.toBeUndefined();
    await transport.bitchatSetNickname({ nickname: "ada" });
    expect(invoke.mock.calls).toEqual([
      ["bitchat_status"],
      ["bitchat_peers"],
      ["bitchat_messages", { query }],
      ["bitchat_send", { request }],
      ["bitchat_mark_read", { peer: "0011223344556677" }],
      ["bitchat_set_peer", { peer: "0011223344556677", flags }],
      ["bitchat_set_nickname", { request: { nickname: "ada" } }],
    ]);
  });
});

describe("Tauri Betanet commands", () => {
  it("invokes the betanet_* commands with the arguments the desktop app declares", async () => {
    invoke.mockResolvedValue(null);
    const transport = new TauriTransport();
    const request = { to: "12D3KooWpeer", reply_to: null, text: "hi", base64: null };
    const query = { limit: 100 };
    await transport.betanetStatus();
    await transport.betanetDeploy();
    await transport.betanetSend(request);
    await transport.betanetInbox(query);
    expect(invoke.mock.calls).toEqual([
      ["betanet_status"],
      ["betanet_deploy"],
      ["betanet_send", { request }],
      ["betanet_inbox", { query }],
    ]);
  });

  it("passes the command's ApiError on", async () => {
    invoke.mockRejectedValue({ code: "invalid_input", message: "12D3KooWx is not a Betanet endpoint in this epoch" });
    await expect(
      new TauriTransport().betanetSend({ to: "12D3KooWx", reply_to: null, text: "hi", base64: null }),
    ).rejects.toEqual({ code: "invalid_input", message: "12D3KooWx is not a Betanet endpoint in this epoch" });
  });
});

describe("bytesOf", () => {
  it("takes an ArrayBuffer, a typed array or an array of bytes", () => {
    expect([...bytesOf(new Uint8Array([1, 2]).buffer)]).toEqual([1, 2]);
    expect([...bytesOf(new Uint8Array([0, 1, 2, 3]).subarray(1, 3))]).toEqual([1, 2]);
    expect([...bytesOf([0, 128, 255])]).toEqual([0, 128, 255]);
    expect(bytesOf(new ArrayBuffer(0))).toHaveLength(0);
  });

  it("refuses anything else", () => {
    for (const value of [null, "abc", [1, 256], [-1], [0.5], { length: 1 }]) {
      expect(() => bytesOf(value)).toThrow();
    }
  });
});
