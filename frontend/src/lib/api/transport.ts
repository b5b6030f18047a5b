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

/** State of the live event stream, as shown in the header. */
export type ConnectionStatus = "live" | "reconnecting" | "offline" | "unauthorized";

export type EventListener = (event: Event) => void;
export type StatusListener = (status: ConnectionStatus) => void;
export type Unsubscribe = () => void;

/**
 * One way of reaching a node. Implementations reject with an `ApiError`-shaped
 * object; the client normalises anything else that slips through.
 */
export interface Transport {
  readonly kind: "http" | "tauri";
  nodeInfo(): Promise<NodeInfo>;
  health(): Promise<Health>;
  dashboardStats(): Promise<DashboardStats>;
  logs(query: LogsQuery): Promise<LogTail>;
  recentEvents(query: EventsQuery): Promise<Event[]>;
  settings(): Promise<Settings>;
  updateSettings(update: SettingsUpdate): Promise<Settings>;
  meshStats(): Promise<MeshStats>;
  meshPeers(): Promise<MeshPeer[]>;
  meshKnownPeers(): Promise<KnownPeer[]>;
  meshTopology(): Promise<MeshTopology>;
  /** Starts dialling; the connection itself arrives later as a `mesh.peer_connected` event. */
  meshConnect(request: ConnectRequest): Promise<void>;
  meshDisconnect(request: DisconnectRequest): Promise<void>;
  idleStats(): Promise<HarvestStats>;
  idleDevices(): Promise<IdleDevice[]>;
  idleSettings(): Promise<HarvestSettings>;
  /** Replaces all the donation settings at once. */
  idleUpdateSettings(settings: HarvestSettings): Promise<HarvestSettings>;
  idleExamples(): Promise<ExampleJob[]>;
  idleSubmit(request: IdleJobSubmit): Promise<JobView>;
  idleJob(id: number): Promise<JobView>;
  /** The whole stdout of a finished job, as bytes. */
  idleJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>>;
  idleCancel(id: number): Promise<JobView>;
  idleOffer(offer: IdleOffer): Promise<JobView>;
  idleRemoteJob(peer: string, id: number): Promise<JobView>;
  schedJobs(): Promise<SchedJob[]>;
  schedSubmit(request: SchedJobSubmit): Promise<SchedJob>;
  schedJob(id: number): Promise<SchedJobDetail>;
  /** The whole stdout of a scheduled job that has ended, as bytes. */
  schedJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>>;
  schedCancel(id: number): Promise<SchedJob>;
  schedStats(): Promise<SchedStats>;
  /** Runs one benchmark in the node and resolves when it has finished. */
  benchRun(request: BenchRequest): Promise<BenchResult>;
  benchResults(): Promise<BenchResult[]>;
  bitchatStatus(): Promise<BitchatStatus>;
  bitchatPeers(): Promise<ChatPeer[]>;
  bitchatMessages(query: BitchatMessagesQuery): Promise<ChatMessage[]>;
  bitchatSend(request: BitchatSend): Promise<ChatMessage>;
  bitchatMarkRead(peer: string): Promise<BitchatRead>;
  bitchatSetPeer(peer: string, flags: BitchatPeerFlags): Promise<void>;
  bitchatSetNickname(request: BitchatNickname): Promise<BitchatStatus>;
  betanetStatus(): Promise<BetanetStatus>;
  /** Makes this node a mixnode; idempotent. */
  betanetDeploy(): Promise<BetanetStatus>;
  betanetSend(request: BetanetSend): Promise<BetanetMessage>;
  betanetInbox(query: BetanetInboxQuery): Promise<BetanetMessage[]>;
  /** Starts the live event stream; the returned function stops it. */
  stream(onEvent: EventListener, onStatus: StatusListener): Unsubscribe;
}

export function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<string, unknown>).code === "string" &&
    typeof (value as Record<string, unknown>).message === "string"
  );
}

/** Turns whatever a transport rejected with into an `ApiError`. */
export function toApiError(value: unknown): ApiError {
  if (isApiError(value)) return { code: value.code, message: value.message };
  if (typeof value === "string") return { code: "transport_error", message: value };
  if (value instanceof Error) return { code: "unreachable", message: value.message };
  return { code: "unknown", message: "The request failed for an unknown reason." };
}

export function isEvent(value: unknown): value is Event {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.id === "number" &&
    typeof record.ts_ms === "number" &&
    typeof record.topic === "string" &&
    typeof record.kind === "string" &&
    "data" in record
  );
}
