import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { coalesce, poll, singleFlight } from "./poll";

describe("poll", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs at once, then after each run, until stopped", async () => {
    const task = vi.fn(() => Promise.resolve());
    const stop = poll(task, 1000);
    expect(task).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(task).toHaveBeenCalledTimes(2);
    stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(task).toHaveBeenCalledTimes(2);
  });

  it("waits for a slow run before scheduling the next", async () => {
    let finish: () => void = () => undefined;
    const task = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const stop = poll(task, 1000);
    await vi.advanceTimersByTimeAsync(5000);
    expect(task).toHaveBeenCalledTimes(1);
    finish();
    await vi.advanceTimersByTimeAsync(1000);
    expect(task).toHaveBeenCalledTimes(2);
    stop();
  });

  it("keeps going after a failed run", async () => {
    const task = vi.fn(() => Promise.reject(new Error("down")));
    const stop = poll(task, 1000);
    await vi.advanceTimersByTimeAsync(2000);
    expect(task).toHaveBeenCalledTimes(3);
    stop();
  });
});

describe("coalesce", () => {
  // Lets every pending promise callback run.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

  it("folds triggers during a run into one more run", async () => {
    const finishes: (() => void)[] = [];
    const task = vi.fn(() => new Promise<void>((resolve) => finishes.push(resolve)));
    const trigger = coalesce(task);
    trigger();
    trigger();
    trigger();
    expect(task).toHaveBeenCalledTimes(1);
    finishes[0]?.();
    await settle();
    expect(task).toHaveBeenCalledTimes(2);
    finishes[1]?.();
    await settle();
    expect(task).toHaveBeenCalledTimes(2);
    trigger();
    expect(task).toHaveBeenCalledTimes(3);
  });

  it("keeps working after a failed run", async () => {
    const task = vi.fn(() => Promise.reject(new Error("down")));
    const trigger = coalesce(task);
    trigger();
    await settle();
    trigger();
    expect(task).toHaveBeenCalledTimes(2);
  });
});

describe("singleFlight", () => {
  it("lets calls during a run share it, and starts afresh after", async () => {
    const finishes: ((value: number) => void)[] = [];
    const task = vi.fn(() => new Promise<number>((resolve) => finishes.push(resolve)));
    const run = singleFlight(task);
    const first = run();
    const second = run();
    expect(task).toHaveBeenCalledTimes(1);
    finishes[0]?.(1);
    await expect(Promise.all([first, second])).resolves.toEqual([1, 1]);
    const third = run();
    expect(task).toHaveBeenCalledTimes(2);
    finishes[1]?.(2);
    await expect(third).resolves.toBe(2);
  });

  it("starts afresh after a failed run", async () => {
    const task = vi.fn(() => Promise.reject(new Error("down")));
    const run = singleFlight(task);
    await expect(run()).rejects.toThrow("down");
    await expect(run()).rejects.toThrow("down");
    expect(task).toHaveBeenCalledTimes(2);
  });
});
