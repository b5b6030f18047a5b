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
import { HttpTransport } from "./http";
import { TauriTransport } from "./tauri";
import { createTokenStore, splitTokenFragment, type TokenStore } from "./token";
import {
  toApiError,
  type ConnectionStatus,
  type EventListener,
  type StatusListener,
  type Transport,
  type Unsubscribe,
} from "./transport";

export type * from "./bindings";
export type { ConnectionStatus, EventListener, StatusListener, Unsubscribe } from "./transport";
export { isApiError } from "./transport";

/**
 * Whether the client may talk to the node: "ok", or it needs a token because
 * none was given ("missing") or the node refused the one it had ("rejected").
 */
export type AuthState = "ok" | "missing" | "rejected";
export type AuthListener = (state: AuthState) => void;

type Subscriber = { onEvent: EventListener | null; onStatus: StatusListener | null };

/**
 * The one typed API of the dashboard. Every method rejects with an `ApiError`.
 * All subscribers share a single live event stream.
 */
export class FogClient {
  readonly #transport: Transport;
  readonly #tokens: TokenStore | null;
  readonly #subscribers = new Set<Subscriber>();
  readonly #authListeners = new Set<AuthListener>();
  #auth: AuthState;
  #authDetail: string | null = null;
  #status: ConnectionStatus = "offline";
  #stopStream: Unsubscribe | null = null;

  /** `tokens` is null for transports that need no token (Tauri). */
  constructor(transport: Transport, tokens: TokenStore | null) {
    this.#transport = transport;
    this.#tokens = tokens;
    this.#auth = tokens && !tokens.get() ? "missing" : "ok";
  }

  get transportKind(): Transport["kind"] {
    return this.#transport.kind;
  }

  get authState(): AuthState {
    return this.#auth;
  }

  /** The node's own explanation of why it refused the token, if it gave one. */
  get authDetail(): string | null {
    return this.#authDetail;
  }

  get connectionStatus(): ConnectionStatus {
    return this.#status;
  }

  setToken(token: string): void {
    if (!this.#tokens) return;
    this.#tokens.set(token.trim());
    this.#authDetail = null;
    this.#setAuth("ok");
    this.#restartStream();
  }

  onAuthChange(listener: AuthListener): Unsubscribe {
    this.#authListeners.add(listener);
    return () => this.#authListeners.delete(listener);
  }

  nodeInfo(): Promise<NodeInfo> {
    return this.#call(() => this.#transport.nodeInfo());
  }

  health(): Promise<Health> {
    return this.#call(() => this.#transport.health());
  }

  dashboardStats(): Promise<DashboardStats> {
    return this.#call(() => this.#transport.dashboardStats());
  }

  logs(query: LogsQuery): Promise<LogTail> {
    return this.#call(() => this.#transport.logs(query));
  }

  recentEvents(query: EventsQuery): Promise<Event[]> {
    return this.#call(() => this.#transport.recentEvents(query));
  }

  settings(): Promise<Settings> {
    return this.#call(() => this.#transport.settings());
  }

  updateSettings(update: SettingsUpdate): Promise<Settings> {
    return this.#call(() => this.#transport.updateSettings(update));
  }

  /** Rejects with code `unavailable` when the node's mesh service is not running. */
  meshStats(): Promise<MeshStats> {
    return this.#call(() => this.#transport.meshStats());
  }

  meshPeers(): Promise<MeshPeer[]> {
    return this.#call(() => this.#transport.meshPeers());
  }

  /** The peer book: every peer this node has met, connected or not, most recently seen first. */
  meshKnownPeers(): Promise<KnownPeer[]> {
    return this.#call(() => this.#transport.meshKnownPeers());
  }

  /**
   * The mesh as far as this node can see: it asks each connected peer for its peers,
   * so the answer takes up to a few seconds. Poll it sparingly and one at a time.
   */
  meshTopology(): Promise<MeshTopology> {
    return this.#call(() => this.#transport.meshTopology());
  }

  /** Resolves once the node has started dialling; the peer appears with a `mesh.peer_connected` event. */
  meshConnect(request: ConnectRequest): Promise<void> {
    return this.#call(() => this.#transport.meshConnect(request));
  }

  meshDisconnect(request: DisconnectRequest): Promise<void> {
    return this.#call(() => this.#transport.meshDisconnect(request));
  }

  /**
   * Everything the Idle compute page shows: the device, the policy's decision, jobs, totals
   * and history. Rejects with code `unavailable` when the node's idle-compute service is off.
   * Finished jobs in `recent` come without their output; `idleJob` has it.
   */
  idleStats(): Promise<HarvestStats> {
    return this.#call(() => this.#transport.idleStats());
  }

  /** This node and the peers that advertise spare capacity on the mesh. */
  idleDevices(): Promise<IdleDevice[]> {
    return this.#call(() => this.#transport.idleDevices());
  }

  idleSettings(): Promise<HarvestSettings> {
    return this.#call(() => this.#transport.idleSettings());
  }

  /**
   * Replaces the donation settings (send the whole object). A refused value rejects with
   * `invalid_input` and a message that starts with the field's name, e.g. `cpu_pct_idle: …`.
   */
  idleUpdateSettings(settings: HarvestSettings): Promise<HarvestSettings> {
    return this.#call(() => this.#transport.idleUpdateSettings(settings));
  }

  /** The example jobs every node carries. */
  idleExamples(): Promise<ExampleJob[]> {
    return this.#call(() => this.#transport.idleExamples());
  }

  /** Queues a job on this node; it waits in the queue while the policy pauses. */
  idleSubmit(request: IdleJobSubmit): Promise<JobView> {
    return this.#call(() => this.#transport.idleSubmit(request));
  }

  /** One job, finished ones with their output. */
  idleJob(id: number): Promise<JobView> {
    return this.#call(() => this.#transport.idleJob(id));
  }

  /**
   * The whole stdout of a finished job on this node, as bytes: also what `idleJob` leaves out
   * (`output_text` is null) because it is binary or too long to preview. Up to the job's
   * output limit (at most 64 MiB), so fetch it only when the user asks for it.
   */
  idleJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>> {
    return this.#call(() => this.#transport.idleJobOutput(id));
  }

  /** Cancels a queued or running job; a running one stops at its next tick. */
  idleCancel(id: number): Promise<JobView> {
    return this.#call(() => this.#transport.idleCancel(id));
  }

  /**
   * Offers a job to another node of the mesh. Resolves with the job as that node accepted
   * and queued it (its `id` is the other node's); a refusal by that node's harvest policy
   * rejects with `invalid_input` and a message that starts with its peer id, e.g.
   * `12D3KooW…: refused: paused: on battery`.
   */
  idleOffer(offer: IdleOffer): Promise<JobView> {
    return this.#call(() => this.#transport.idleOffer(offer));
  }

  /** A job this node offered to `peer`, as that node sees it; finished ones with their output. */
  idleRemoteJob(peer: string, id: number): Promise<JobView> {
    return this.#call(() => this.#transport.idleRemoteJob(peer, id));
  }

  /**
   * The scheduler's jobs: every job that has not ended, newest first, then the most recent
   * that have. Rejects with code `unavailable` when the node's scheduler is not running.
   */
  schedJobs(): Promise<SchedJob[]> {
    return this.#call(() => this.#transport.schedJobs());
  }

  /**
   * Queues a batch job for the scheduler, which places it on this node or a peer. A refused
   * submission rejects with `invalid_input` and a message that starts with the field's name,
   * e.g. `deadline: the deadline has already passed`; nothing is queued then.
   */
  schedSubmit(request: SchedJobSubmit): Promise<SchedJob> {
    return this.#call(() => this.#transport.schedSubmit(request));
  }

  /** One scheduled job with every placement attempt it has had. */
  schedJob(id: number): Promise<SchedJobDetail> {
    return this.#call(() => this.#transport.schedJob(id));
  }

  /**
   * The whole stdout of a scheduled job that has ended, as bytes: also what its result leaves
   * out (`output_text` is null) because it is binary or too long to preview.
   */
  schedJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>> {
    return this.#call(() => this.#transport.schedJobOutput(id));
  }

  /** Cancels a job that has not ended; a job that has rejects with `invalid_input`. */
  schedCancel(id: number): Promise<SchedJob> {
    return this.#call(() => this.#transport.schedCancel(id));
  }

  /** Queue counts, SLA figures per tier, the last placement round and the nodes jobs can go to. */
  schedStats(): Promise<SchedStats> {
    return this.#call(() => this.#transport.schedStats());
  }

  /**
   * Runs one benchmark in the node (`nsga`, `sandbox` or `mixnode`) and resolves with what it measured,
   * after tens of milliseconds to a few seconds; it cannot be cancelled. Bad parameters reject
   * with `invalid_input`; a run while another is in progress rejects with `unavailable`.
   */
  benchRun(request: BenchRequest): Promise<BenchResult> {
    return this.#call(() => this.#transport.benchRun(request));
  }

  /** The benchmark runs since the node started, newest first. */
  benchResults(): Promise<BenchResult[]> {
    return this.#call(() => this.#transport.benchResults());
  }

  /**
   * The BitChat service: whether the radio can be used (and why not), this node's BitChat
   * identity, link and peer counts, the outbox and counters. Rejects with code `unavailable`
   * when the node's BitChat service is not running; a missing radio is not an error but
   * `adapter.state === "unavailable"` with the reason.
   */
  bitchatStatus(): Promise<BitchatStatus> {
    return this.#call(() => this.#transport.bitchatStatus());
  }

  /** Every BitChat peer this node has heard, reachable or not. */
  bitchatPeers(): Promise<ChatPeer[]> {
    return this.#call(() => this.#transport.bitchatPeers());
  }

  /**
   * Stored messages, oldest first: the last `limit` of `channel` (`#mesh` or a peer id), or of
   * all channels when `channel` is null. Readable while the radio is unavailable.
   */
  bitchatMessages(query: BitchatMessagesQuery): Promise<ChatMessage[]> {
    return this.#call(() => this.#transport.bitchatMessages(query));
  }

  /**
   * Sends to `#mesh` (`to` null or "#mesh") or privately to a peer id. Resolves with the stored
   * message; a private one starts `queued` and moves on with `bitchat.delivery` events. Bad input
   * (empty, too long, unknown peer) rejects with a message naming the problem.
   */
  bitchatSend(request: BitchatSend): Promise<ChatMessage> {
    return this.#call(() => this.#transport.bitchatSend(request));
  }

  /** Marks a private chat read and sends read receipts for what was unread. */
  bitchatMarkRead(peer: string): Promise<BitchatRead> {
    return this.#call(() => this.#transport.bitchatMarkRead(peer));
  }

  /** Sets a peer's favourite and verified marks; null leaves a mark as it is. */
  bitchatSetPeer(peer: string, flags: BitchatPeerFlags): Promise<void> {
    return this.#call(() => this.#transport.bitchatSetPeer(peer, flags));
  }

  /** Changes this node's BitChat nickname (1 to 32 characters) and announces it. */
  bitchatSetNickname(request: BitchatNickname): Promise<BitchatStatus> {
    return this.#call(() => this.#transport.bitchatSetNickname(request));
  }

  /**
   * Everything the Betanet page draws: this node's address and key mode, the epoch, the
   * topology of mixnodes, this node's mixing and its client's streams. Rejects with code
   * `unavailable` when the node's Betanet service is not running.
   */
  betanetStatus(): Promise<BetanetStatus> {
    return this.#call(() => this.#transport.betanetStatus());
  }

  /**
   * Turns this node into a mixnode (idempotent) and resolves with the status after it; the
   * node announces it with a `betanet` `deployed` event.
   */
  betanetDeploy(): Promise<BetanetStatus> {
    return this.#call(() => this.#transport.betanetDeploy());
  }

  /**
   * Sends a message through the mixnet: to a node (`to`, its peer id) or as a reply to a
   * received message (`reply_to`, its id), with `text`. Resolves with the stored message,
   * which starts `sending` and moves on with `betanet` `delivered` or `failed` events. Bad
   * input rejects with `invalid_input` and a message naming the problem.
   */
  betanetSend(request: BetanetSend): Promise<BetanetMessage> {
    return this.#call(() => this.#transport.betanetSend(request));
  }

  /** The last `limit` messages sent and received, newest first. */
  betanetInbox(query: BetanetInboxQuery): Promise<BetanetMessage[]> {
    return this.#call(() => this.#transport.betanetInbox(query));
  }

  /**
   * Live events plus the connection status (sent immediately, then on change).
   * Either callback may be null when the caller needs only the other.
   */
  subscribe(onEvent: EventListener | null, onStatus: StatusListener | null): Unsubscribe {
    const subscriber: Subscriber = { onEvent, onStatus };
    this.#subscribers.add(subscriber);
    onStatus?.(this.#status);
    if (!this.#stopStream) this.#startStream();
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.#stopCurrentStream("offline");
    };
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (cause) {
      const error: ApiError = toApiError(cause);
      if (error.code === "unauthorized" && this.#tokens) this.#rejectToken(error.message);
      throw error;
    }
  }

  #rejectToken(detail: string): void {
    // Several requests in flight may fail together; the first one decides.
    if (this.#auth !== "ok") return;
    this.#authDetail = detail;
    this.#tokens?.clear();
    this.#stopCurrentStream("unauthorized");
    this.#setAuth("rejected");
  }

  #setAuth(state: AuthState): void {
    if (state === this.#auth) return;
    this.#auth = state;
    for (const listener of [...this.#authListeners]) listener(state);
  }

  #setStatus(status: ConnectionStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    for (const subscriber of [...this.#subscribers]) subscriber.onStatus?.(status);
  }

  #startStream(): void {
    if (this.#subscribers.size === 0) return;
    if (this.#auth !== "ok") {
      this.#setStatus("unauthorized");
      return;
    }
    this.#stopStream = this.#transport.stream(
      (event) => {
        for (const subscriber of [...this.#subscribers]) subscriber.onEvent?.(event);
      },
      (status) => this.#setStatus(status),
    );
  }

  #stopCurrentStream(status: ConnectionStatus): void {
    this.#stopStream?.();
    this.#stopStream = null;
    this.#setStatus(status);
  }

  #restartStream(): void {
    this.#stopStream?.();
    this.#stopStream = null;
    this.#startStream();
  }
}

function sessionStorageOf(win: Window): Storage | null {
  try {
    return win.sessionStorage;
  } catch {
    return null;
  }
}

/**
 * Picks the transport for where the dashboard runs: Tauri IPC inside the desktop
 * app, otherwise HTTP to the origin that served the page. A `#token=` fragment is
 * taken once and removed from the address so it does not stay in history.
 */
export function createClient(win: Window): FogClient {
  if ("__TAURI_INTERNALS__" in win) return new FogClient(new TauriTransport(), null);

  const tokens = createTokenStore(sessionStorageOf(win));
  const { token, remainder } = splitTokenFragment(win.location.hash);
  if (token) {
    tokens.set(token);
    const { pathname, search } = win.location;
    win.history.replaceState(win.history.state, "", `${pathname}${search}${remainder}`);
  }
  return new FogClient(new HttpTransport({ baseUrl: win.location.origin, tokens }), tokens);
}

let shared: FogClient | null = null;

/** The client of this page, created on first use. */
export function getClient(): FogClient {
  shared ??= createClient(window);
  return shared;
}
