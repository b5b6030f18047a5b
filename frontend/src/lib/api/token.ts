/** What a URL fragment carrying an access token splits into. */
export type FragmentToken = {
  token: string | null;
  /** The fragment without the token (e.g. "#/logs"), or "" when nothing is left. */
  remainder: string;
};

/**
 * Reads `#token=<token>` (also `#/route?token=<token>`) without treating "+" as a
 * space, since tokens may be base64.
 */
export function splitTokenFragment(hash: string): FragmentToken {
  const fragment = hash.startsWith("#") ? hash.slice(1) : hash;
  const queryStart = fragment.startsWith("/") ? fragment.indexOf("?") : 0;
  if (queryStart < 0) return { token: null, remainder: hash };

  const path = fragment.slice(0, queryStart);
  const params = fragment.slice(queryStart === 0 ? 0 : queryStart + 1).split("&");
  let token: string | null = null;
  const kept: string[] = [];
  for (const param of params) {
    if (param.startsWith("token=")) {
      token = decodeComponent(param.slice("token=".length)).trim() || null;
    } else if (param !== "") {
      kept.push(param);
    }
  }
  if (token === null) return { token: null, remainder: hash };

  const rest = kept.length > 0 ? `${path}${path ? "?" : ""}${kept.join("&")}` : path;
  return { token, remainder: rest ? `#${rest}` : "" };
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

type KeyValueStorage = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export interface TokenStore {
  get(): string | null;
  set(token: string): void;
  clear(): void;
}

const STORAGE_KEY = "fog-compute.token";

/**
 * Keeps the token for this tab only. Storage can be unavailable (privacy modes),
 * in which case the token lives in memory until the page is closed.
 */
export function createTokenStore(storage: KeyValueStorage | null): TokenStore {
  let memory: string | null = null;
  const attempt = <T>(action: (s: KeyValueStorage) => T): T | undefined => {
    if (!storage) return undefined;
    try {
      return action(storage);
    } catch {
      return undefined;
    }
  };
  return {
    get: () => attempt((s) => s.getItem(STORAGE_KEY)) ?? memory,
    set(token) {
      memory = token;
      attempt((s) => s.setItem(STORAGE_KEY, token));
    },
    clear() {
      memory = null;
      attempt((s) => s.removeItem(STORAGE_KEY));
    },
  };
}
