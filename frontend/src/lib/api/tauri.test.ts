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
