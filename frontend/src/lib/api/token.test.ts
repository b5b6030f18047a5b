import { describe, expect, it } from "vitest";
import { createTokenStore, splitTokenFragment } from "./token";

describe("splitTokenFragment", () => {
  it("reads a bare token fragment", () => {
    expect(splitTokenFragment("#token=abc123")).toEqual({ token: "abc123", remainder: "" });
  });

  it("keeps the route and other parameters", () => {
    expect(splitTokenFragment("#/logs?token=abc")).toEqual({ token: "abc", remainder: "#/logs" });
    expect(splitTokenFragment("#/logs?x=1&token=abc")).toEqual({
      token: "abc",
      remainder: "#/logs?x=1",
    });
    expect(splitTokenFragment("#token=abc&x=1")).toEqual({ token: "abc", remainder: "#x=1" });
  });

  it("decodes percent escapes but keeps plus signs", () => {
    expect(splitTokenFragment("#token=a%2Fb+c%3D").token).toBe("a/b+c=");
    expect(splitTokenFragment("#token=%E0%A4%A").token).toBe("%E0%A4%A");
  });

  it("finds nothing in fragments without a token", () => {
    for (const hash of ["", "#", "#/overview", "#/logs?x=1", "#tokens=1", "#token="]) {
      expect(splitTokenFragment(hash)).toEqual({ token: null, remainder: hash });
    }
  });
});

describe("createTokenStore", () => {
  const memoryStorage = () => {
    const items = new Map<string, string>();
    return {
      getItem: (key: string) => items.get(key) ?? null,
      setItem: (key: string, value: string) => void items.set(key, value),
      removeItem: (key: string) => void items.delete(key),
      items,
    };
  };

  it("keeps the token in the given storage", () => {
    const storage = memoryStorage();
    const store = createTokenStore(storage);
    expect(store.get()).toBeNull();
    store.set("t1");
    expect(store.get()).toBe("t1");
    expect([...storage.items.values()]).toEqual(["t1"]);
    expect(createTokenStore(storage).get()).toBe("t1");
    store.clear();
    expect(store.get()).toBeNull();
  });

  it("falls back to memory when storage fails", () => {
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
      removeItem: () => {
        throw new Error("denied");
      },
    };
    const store = createTokenStore(broken);
    store.set("t2");
    expect(store.get()).toBe("t2");
    store.clear();
    expect(store.get()).toBeNull();
    const none = createTokenStore(null);
    none.set("t3");
    expect(none.get()).toBe("t3");
  });
});
