import { describe, expect, it, vi } from "vitest";
import { saveBytes, type SaveEnvironment } from "./download";

function fakeEnvironment() {
  const link = {
    href: "",
    download: "",
    rel: "",
    style: { display: "" },
    click: vi.fn(),
    remove: vi.fn(),
  };
  const blobs: Blob[] = [];
  const pending: (() => void)[] = [];
  const env = {
    document: {
      createElement: vi.fn(() => link),
      body: { append: vi.fn() },
    },
    createObjectURL: vi.fn((blob: Blob) => {
      blobs.push(blob);
      return "blob:fake/1";
    }),
    revokeObjectURL: vi.fn(),
    later: (task: () => void) => pending.push(task),
  };
  return { env: env as unknown as SaveEnvironment & typeof env, link, blobs, pending };
}

describe("saveBytes", () => {
  it("clicks a temporary download link to a blob and revokes its URL afterwards", async () => {
    const { env, link, blobs, pending } = fakeEnvironment();
    saveBytes(new Uint8Array([1, 2, 3]), "job-7-mandelbrot.pgm", "image/x-portable-graymap", env);

    expect(env.document.createElement).toHaveBeenCalledWith("a");
    expect(link).toMatchObject({ href: "blob:fake/1", download: "job-7-mandelbrot.pgm" });
    expect(env.document.body.append).toHaveBeenCalledWith(link);
    expect(link.click).toHaveBeenCalledOnce();
    expect(link.remove).toHaveBeenCalledOnce();
    expect(blobs[0]?.type).toBe("image/x-portable-graymap");
    expect([...new Uint8Array(await (blobs[0] as Blob).arrayBuffer())]).toEqual([1, 2, 3]);

    expect(env.revokeObjectURL).not.toHaveBeenCalled();
    for (const task of pending) task();
    expect(env.revokeObjectURL).toHaveBeenCalledWith("blob:fake/1");
  });

  it("removes the link and revokes the URL even when the click throws", () => {
    const { env, link, pending } = fakeEnvironment();
    link.click.mockImplementation(() => {
      throw new Error("blocked");
    });
    expect(() => saveBytes(new Uint8Array([1]), "job-1.bin", undefined, env)).toThrow("blocked");
    expect(link.remove).toHaveBeenCalledOnce();
    for (const task of pending) task();
    expect(env.revokeObjectURL).toHaveBeenCalledWith("blob:fake/1");
  });
});
