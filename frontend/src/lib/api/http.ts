import type {
  ApiError,
  BenchRequest,
  BenchResult,
  BetanetInboxQuery,
  BetanetMessage,
  BetanetSend,
  BetanetStatus,
  BitchatMessagesQuery,
  BitchatNickname,
  BitchatPeerFlags,
  BitchatRead,
  BitchatSend,
  BitchatStatus,
  ChatMessage,
  ChatPeer,
  ConnectRequest,
  DashboardStats,
  DisconnectRequest,
  Event,
  EventsQuery,
  ExampleJob,
  HarvestSettings,
  HarvestStats,
  Health,
  IdleDevice,
  IdleJobSubmit,
  IdleOffer,
  JobView,
  KnownPeer,
  LogTail,
  LogsQuery,
  MeshPeer,
  MeshStats,
  MeshTopology,
  NodeInfo,
  SchedJob,
  SchedJobDetail,
  SchedJobSubmit,
  SchedStats,
  Settings,
  SettingsUpdate,
} from "./bindings";
import type { TokenStore } from "./token";
import {
  isApiError,
  isEvent,
  type EventListener,
  type StatusListener,
  type Transport,
  type Unsubscribe,
} from "./transport";

/** The part of `WebSocket` the event stream uses, so tests can substitute it. */
export type EventSocket = {
  onopen: ((this: WebSocket, ev: globalThis.Event) => unknown) | null;
  onmessage: ((this: WebSocket, ev: MessageEvent) => unknown) | null;
  onclose: ((this: WebSocket, ev: CloseEvent) => unknown) | null;
  close(): void;
};

export type HttpTransportOptions = {
  /** Origin of the node's API, e.g. `window.location.origin`. */
  baseUrl: string;
  tokens: TokenStore;
  fetch?: typeof fetch;
  openSocket?: (url: string) => EventSocket;
  requestTimeoutMs?: number;
};

/** Consecutive failed connection attempts after which the stream is reported offline. */
export const OFFLINE_AFTER_FAILURES = 5;
const RECONNECT_FIRST_DELAY_MS = 500;
const RECONNECT_MAX_DELAY_MS = 10_000;
/**
 * How long a benchmark run may take before the request gives up. The node caps runs at
 * seconds, but a debug build of the node is many times slower than a release build.
 */
export const BENCH_RUN_TIMEOUT_MS = 120_000;

/** Backoff before reconnection attempt `attempt` (0-based): 0.5 s doubling up to 10 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_FIRST_DELAY_MS * 2 ** Math.max(0, attempt), RECONNECT_MAX_DELAY_MS);
}

/** WebSocket URL for the live event stream; browsers cannot set headers on it, hence the query token. */
export function eventsSocketUrl(baseUrl: string, token: string): string {
  const url = new URL("/api/events", baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("access_token", token);
  return url.toString();
}

/** Builds `?a=1&b=x,y`, leaving out null values and keeping commas readable. */
export function queryString(params: Record<string, string | number | null>): string {
  const parts = Object.entries(params)
    .filter((entry): entry is [string, string | number] => entry[1] !== null)
    .map(([key, value]) => `${key}=${encodeURIComponent(String(value)).replace(/%2C/gi, ",")}`);
  return parts.length > 0 ? `?${parts.join("&")}` : "";
}

// What a request for bytes accepts: the bytes, or the node's JSON error.
const BYTES_ACCEPT = "application/octet-stream, application/json";

// Statuses a proxy or gateway uses when the node behind it does not answer.
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/** Maps a failed HTTP response to the `ApiError` it stands for. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    // A body that cannot be read is treated like an empty one.
  }
  const body = parseJson(text);
  const status = response.status;

  if (status === 401) {
    return {
      code: "unauthorized",
      message: isApiError(body) ? body.message : "The node rejected the access token.",
    };
  }
  if (isApiError(body)) return { code: body.code, message: body.message };
  if (GATEWAY_STATUSES.has(status) || (status === 500 && text.trim() === "")) {
    return {
      code: "unreachable",
      message: `The node did not answer (HTTP ${status} from the server in front of it).`,
    };
  }
  const statusText = response.statusText ? ` ${response.statusText}` : "";
  return {
    code: `http_${status}`,
    message: `The node answered HTTP ${status}${statusText} without an error description.`,
  };
}

/** Maps a rejected `fetch` (no HTTP answer at all) to an `ApiError`. */
export function errorFromNetworkFailure(cause: unknown, baseUrl: string): ApiError {
  const timedOut = cause instanceof DOMException && cause.name === "TimeoutError";
  return {
    code: "unreachable",
    message: timedOut
      ? `The node at ${baseUrl} did not answer in time.`
      : `Cannot reach the node at ${baseUrl}.`,
  };
}

/** A job id as a path segment; anything but a whole number is a bug in the caller. */
function jobPath(id: number): string {
  if (!Number.isSafeInteger(id) || id < 0) {
    throw { code: "invalid_input", message: `${String(id)} is not a job id.` } satisfies ApiError;
  }
  return String(id);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export class HttpTransport implements Transport {
  readonly kind = "http";
  readonly #baseUrl: string;
  readonly #tokens: TokenStore;
  readonly #fetch: typeof fetch;
  readonly #openSocket: (url: string) => EventSocket;
  readonly #timeoutMs: number;

  constructor(options: HttpTransportOptions) {
    this.#baseUrl = options.baseUrl;
    this.#tokens = options.tokens;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#openSocket = options.openSocket ?? ((url) => new WebSocket(url));
    this.#timeoutMs = options.requestTimeoutMs ?? 15_000;
  }

  nodeInfo(): Promise<NodeInfo> {
    return this.#request("GET", "/api/node");
  }

  health(): Promise<Health> {
    return this.#request("GET", "/api/health");
  }

  dashboardStats(): Promise<DashboardStats> {
    return this.#request("GET", "/api/dashboard/stats");
  }

  logs(query: LogsQuery): Promise<LogTail> {
    return this.#request("GET", `/api/logs${queryString({ lines: query.lines })}`);
  }

  recentEvents(query: EventsQuery): Promise<Event[]> {
    const search = queryString({ limit: query.limit, topics: query.topics });
    return this.#request("GET", `/api/events/recent${search}`);
  }

  settings(): Promise<Settings> {
    return this.#request("GET", "/api/settings");
  }

  updateSettings(update: SettingsUpdate): Promise<Settings> {
    return this.#request("PUT", "/api/settings", update);
  }

  meshStats(): Promise<MeshStats> {
    return this.#request("GET", "/api/p2p/stats");
  }

  meshPeers(): Promise<MeshPeer[]> {
    return this.#request("GET", "/api/p2p/peers");
  }

  meshKnownPeers(): Promise<KnownPeer[]> {
    return this.#request("GET", "/api/p2p/known");
  }

  meshTopology(): Promise<MeshTopology> {
    return this.#request("GET", "/api/p2p/topology");
  }

  meshConnect(request: ConnectRequest): Promise<void> {
    return this.#command("/api/p2p/connect", request);
  }

  meshDisconnect(request: DisconnectRequest): Promise<void> {
    return this.#command("/api/p2p/disconnect", request);
  }

  idleStats(): Promise<HarvestStats> {
    return this.#request("GET", "/api/idle-compute/stats");
  }

  idleDevices(): Promise<IdleDevice[]> {
    return this.#request("GET", "/api/idle-compute/devices");
  }

  idleSettings(): Promise<HarvestSettings> {
    return this.#request("GET", "/api/idle-compute/settings");
  }

  idleUpdateSettings(settings: HarvestSettings): Promise<HarvestSettings> {
    return this.#request("PUT", "/api/idle-compute/settings", settings);
  }

  idleExamples(): Promise<ExampleJob[]> {
    return this.#request("GET", "/api/idle-compute/examples");
  }

  idleSubmit(request: IdleJobSubmit): Promise<JobView> {
    return this.#request("POST", "/api/idle-compute/jobs", request);
  }

  // Async, so that a bad id rejects like every other failure instead of throwing.
  async idleJob(id: number): Promise<JobView> {
    return this.#request("GET", `/api/idle-compute/jobs/${jobPath(id)}`);
  }

  async idleJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>> {
    return this.#requestBytes(`/api/idle-compute/jobs/${jobPath(id)}/output`);
  }

  async idleCancel(id: number): Promise<JobView> {
    return this.#request("POST", `/api/idle-compute/jobs/${jobPath(id)}/cancel`);
  }

  idleOffer(offer: IdleOffer): Promise<JobView> {
    return this.#request("POST", "/api/idle-compute/offer", offer);
  }

  async idleRemoteJob(peer: string, id: number): Promise<JobView> {
    return this.#request("GET", `/api/idle-compute/peers/${encodeURIComponent(peer)}/jobs/${jobPath(id)}`);
  }

  schedJobs(): Promise<SchedJob[]> {
    return this.#request("GET", "/api/scheduler/jobs");
  }

  schedSubmit(request: SchedJobSubmit): Promise<SchedJob> {
    return this.#request("POST", "/api/scheduler/jobs", request);
  }

  async schedJob(id: number): Promise<SchedJobDetail> {
    return this.#request("GET", `/api/scheduler/jobs/${jobPath(id)}`);
  }

  async schedJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>> {
    return this.#requestBytes(`/api/scheduler/jobs/${jobPath(id)}/output`);
  }

  async schedCancel(id: number): Promise<SchedJob> {
    return this.#request("POST", `/api/scheduler/jobs/${jobPath(id)}/cancel`);
  }

  schedStats(): Promise<SchedStats> {
    return this.#request("GET", "/api/scheduler/stats");
  }

  benchRun(request: BenchRequest): Promise<BenchResult> {
    return this.#request("POST", "/api/bench/run", request, Math.max(this.#timeoutMs, BENCH_RUN_TIMEOUT_MS));
  }

  benchResults(): Promise<BenchResult[]> {
    return this.#request("GET", "/api/bench/results");
  }

  bitchatStatus(): Promise<BitchatStatus> {
    return this.#request("GET", "/api/bitchat/status");
  }

  bitchatPeers(): Promise<ChatPeer[]> {
    return this.#request("GET", "/api/bitchat/peers");
  }

  bitchatMessages(query: BitchatMessagesQuery): Promise<ChatMessage[]> {
    // queryString encodes the channel, so "#mesh" travels as %23mesh rather than as a fragment.
    const search = queryString({ channel: query.channel, limit: query.limit });
    return this.#request("GET", `/api/bitchat/messages${search}`);
  }

  bitchatSend(request: BitchatSend): Promise<ChatMessage> {
    return this.#request("POST", "/api/bitchat/messages", request);
  }

  bitchatMarkRead(peer: string): Promise<BitchatRead> {
    return this.#request("POST", `/api/bitchat/peers/${encodeURIComponent(peer)}/read`);
  }

  bitchatSetPeer(peer: string, flags: BitchatPeerFlags): Promise<void> {
    return this.#command(`/api/bitchat/peers/${encodeURIComponent(peer)}`, flags, "PUT");
  }

  bitchatSetNickname(request: BitchatNickname): Promise<BitchatStatus> {
    return this.#request("PUT", "/api/bitchat/nickname", request);
  }

  betanetStatus(): Promise<BetanetStatus> {
    return this.#request("GET", "/api/betanet/status");
  }

  betanetDeploy(): Promise<BetanetStatus> {
    return this.#request("POST", "/api/betanet/deploy");
  }

  betanetSend(request: BetanetSend): Promise<BetanetMessage> {
    return this.#request("POST", "/api/betanet/send", request);
  }

  betanetInbox(query: BetanetInboxQuery): Promise<BetanetMessage[]> {
    return this.#request("GET", `/api/betanet/inbox${queryString({ limit: query.limit })}`);
  }

  stream(onEvent: EventListener, onStatus: StatusListener): Unsubscribe {
    let socket: EventSocket | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let stopped = false;

    const connect = () => {
      const token = this.#tokens.get();
      if (!token) {
        onStatus("unauthorized");
        return;
      }
      let opened = false;
      socket = this.#openSocket(eventsSocketUrl(this.#baseUrl, token));
      socket.onopen = () => {
        opened = true;
        failures = 0;
        onStatus("live");
      };
      socket.onmessage = (message) => {
        const event = typeof message.data === "string" ? parseJson(message.data) : null;
        if (isEvent(event)) onEvent(event);
      };
      socket.onclose = () => {
        socket = null;
        if (stopped) return;
        // A connection that was live starts the backoff afresh.
        failures = opened ? 1 : failures + 1;
        onStatus(failures >= OFFLINE_AFTER_FAILURES ? "offline" : "reconnecting");
        retryTimer = setTimeout(connect, reconnectDelayMs(failures - 1));
      };
    };

    onStatus("reconnecting");
    connect();
    return () => {
      stopped = true;
      clearTimeout(retryTimer);
      socket?.close();
      socket = null;
    };
  }

  /** A request whose answer is JSON. */
  async #request<T>(
    method: "GET" | "PUT" | "POST",
    path: string,
    body?: unknown,
    timeoutMs = this.#timeoutMs,
  ): Promise<T> {
    const response = await this.#send(method, path, body, timeoutMs);
    const text = await response.text().catch(() => "");
    const parsed = parseJson(text);
    if (parsed === null && text.trim() !== "null") {
      throw {
        code: "bad_response",
        message: `${this.#baseUrl}${path} did not answer with JSON; is this the node's API?`,
      } satisfies ApiError;
    }
    return parsed as T;
  }

  /** A GET whose answer is raw bytes (`application/octet-stream`); failures still answer JSON. */
  async #requestBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
    const response = await this.#send("GET", path, undefined, this.#timeoutMs, BYTES_ACCEPT);
    // A static server or dev proxy that does not know the route answers its HTML page instead.
    const type = response.headers.get("Content-Type") ?? "";
    if (/^\s*text\/html\b/i.test(type)) {
      throw {
        code: "bad_response",
        message: `${this.#baseUrl}${path} answered with a web page, not the job's output; is this the node's API?`,
      } satisfies ApiError;
    }
    let buffer: ArrayBuffer;
    try {
      buffer = await response.arrayBuffer();
    } catch (cause) {
      // The answer broke off (or timed out) part way through.
      throw errorFromNetworkFailure(cause, this.#baseUrl);
    }
    return new Uint8Array(buffer);
  }

  /** A POST or PUT whose success carries no data (the node answers 204 No Content). */
  async #command(path: string, body: unknown, method: "POST" | "PUT" = "POST"): Promise<void> {
    const response = await this.#send(method, path, body);
    // Read to the end so the connection can be reused; a body on a 2xx answer is ignored.
    await response.text().catch(() => "");
  }

  /** Sends one request with the token and returns a successful response; rejects with an `ApiError`. */
  async #send(
    method: "GET" | "PUT" | "POST",
    path: string,
    body?: unknown,
    timeoutMs = this.#timeoutMs,
    accept = "application/json",
  ): Promise<Response> {
    const token = this.#tokens.get();
    if (!token) {
      throw { code: "unauthorized", message: "No access token has been given yet." } satisfies ApiError;
    }
    const headers: Record<string, string> = {
      Accept: accept,
      Authorization: `Bearer ${token}`,
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";

    let response: Response;
    try {
      response = await this.#fetch(`${this.#baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw errorFromNetworkFailure(cause, this.#baseUrl);
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }
}
