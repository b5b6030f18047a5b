import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
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
import type { EventListener, StatusListener, Transport, Unsubscribe } from "./transport";

/** Name of the Tauri event the desktop app emits for every node event. */
export const EVENT_CHANNEL = "fog://event";

/**
 * The bytes of a raw IPC answer: an ArrayBuffer normally; a typed array or a plain array of
 * numbers is taken as well, in case the IPC falls back to JSON.
 */
export function bytesOf(value: unknown): Uint8Array<ArrayBuffer> {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  }
  if (Array.isArray(value) && value.every((n) => Number.isInteger(n) && n >= 0 && n <= 255)) {
    return Uint8Array.from(value as number[]);
  }
  throw { code: "bad_response", message: "The desktop app did not answer with the job's output." } satisfies ApiError;
}

/** Inside the desktop app: commands over Tauri IPC, which rejects with an `ApiError`. */
export class TauriTransport implements Transport {
  readonly kind = "tauri";

  nodeInfo(): Promise<NodeInfo> {
    return invoke("node_info");
  }

  health(): Promise<Health> {
    return invoke("health");
  }

  dashboardStats(): Promise<DashboardStats> {
    return invoke("dashboard_stats");
  }

  logs(query: LogsQuery): Promise<LogTail> {
    return invoke("logs", { query });
  }

  recentEvents(query: EventsQuery): Promise<Event[]> {
    return invoke("recent_events", { query });
  }

  settings(): Promise<Settings> {
    return invoke("settings");
  }

  updateSettings(update: SettingsUpdate): Promise<Settings> {
    return invoke("update_settings", { update });
  }

  meshStats(): Promise<MeshStats> {
    return invoke("p2p_stats");
  }

  meshPeers(): Promise<MeshPeer[]> {
    return invoke("p2p_peers");
  }

  meshKnownPeers(): Promise<KnownPeer[]> {
    return invoke("p2p_known");
  }

  meshTopology(): Promise<MeshTopology> {
    return invoke("p2p_topology");
  }

  // The commands resolve to null on success.
  async meshConnect(request: ConnectRequest): Promise<void> {
    await invoke<null>("p2p_connect", { request });
  }

  async meshDisconnect(request: DisconnectRequest): Promise<void> {
    await invoke<null>("p2p_disconnect", { request });
  }

  idleStats(): Promise<HarvestStats> {
    return invoke("idle_stats");
  }

  idleDevices(): Promise<IdleDevice[]> {
    return invoke("idle_devices");
  }

  idleSettings(): Promise<HarvestSettings> {
    return invoke("idle_settings");
  }

  idleUpdateSettings(settings: HarvestSettings): Promise<HarvestSettings> {
    return invoke("idle_update_settings", { settings });
  }

  idleExamples(): Promise<ExampleJob[]> {
    return invoke("idle_examples");
  }

  idleSubmit(request: IdleJobSubmit): Promise<JobView> {
    return invoke("idle_submit", { request });
  }

  idleJob(id: number): Promise<JobView> {
    return invoke("idle_job", { id });
  }

  // The command answers with raw bytes (`tauri::ipc::Response`), which arrive as an ArrayBuffer.
  async idleJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>> {
    return bytesOf(await invoke<unknown>("idle_job_output", { id }));
  }

  idleCancel(id: number): Promise<JobView> {
    return invoke("idle_cancel", { id });
  }

  idleOffer(offer: IdleOffer): Promise<JobView> {
    return invoke("idle_offer", { offer });
  }

  idleRemoteJob(peer: string, id: number): Promise<JobView> {
    return invoke("idle_remote_job", { peer, id });
  }

  schedJobs(): Promise<SchedJob[]> {
    return invoke("sched_jobs");
  }

  schedSubmit(request: SchedJobSubmit): Promise<SchedJob> {
    return invoke("sched_submit", { request });
  }

  schedJob(id: number): Promise<SchedJobDetail> {
    return invoke("sched_job", { id });
  }

  // Raw bytes, as for idle jobs.
  async schedJobOutput(id: number): Promise<Uint8Array<ArrayBuffer>> {
    return bytesOf(await invoke<unknown>("sched_job_output", { id }));
  }

  schedCancel(id: number): Promise<SchedJob> {
    return invoke("sched_cancel", { id });
  }

  schedStats(): Promise<SchedStats> {
    return invoke("sched_stats");
  }

  benchRun(request: BenchRequest): Promise<BenchResult> {
    return invoke("bench_run", { request });
  }

  benchResults(): Promise<BenchResult[]> {
    return invoke("bench_results");
  }

  bitchatStatus(): Promise<BitchatStatus> {
    return invoke("bitchat_status");
  }

  bitchatPeers(): Promise<ChatPeer[]> {
    return invoke("bitchat_peers");
  }

  bitchatMessages(query: BitchatMessagesQuery): Promise<ChatMessage[]> {
    return invoke("bitchat_messages", { query });
  }

  bitchatSend(request: BitchatSend): Promise<ChatMessage> {
    return invoke("bitchat_send", { request });
  }

  bitchatMarkRead(peer: string): Promise<BitchatRead> {
    return invoke("bitchat_mark_read", { peer });
  }

  // Resolves to null on success, like the mesh commands.
  async bitchatSetPeer(peer: string, flags: BitchatPeerFlags): Promise<void> {
    await invoke<null>("bitchat_set_peer", { peer, flags });
  }

  bitchatSetNickname(request: BitchatNickname): Promise<BitchatStatus> {
    return invoke("bitchat_set_nickname", { request });
  }

  betanetStatus(): Promise<BetanetStatus> {
    return invoke("betanet_status");
  }

  betanetDeploy(): Promise<BetanetStatus> {
    return invoke("betanet_deploy");
  }

  betanetSend(request: BetanetSend): Promise<BetanetMessage> {
    return invoke("betanet_send", { request });
  }

  betanetInbox(query: BetanetInboxQuery): Promise<BetanetMessage[]> {
    return invoke("betanet_inbox", { query });
  }

  stream(onEvent: EventListener, onStatus: StatusListener): Unsubscribe {
    let stopListening: (() => void) | null = null;
    let stopped = false;
    onStatus("reconnecting");
    listen<Event>(EVENT_CHANNEL, (message) => onEvent(message.payload)).then(
      (unlisten) => {
        if (stopped) {
          unlisten();
          return;
        }
        stopListening = unlisten;
        onStatus("live");
      },
      () => onStatus("offline"),
    );
    return () => {
      stopped = true;
      stopListening?.();
    };
  }
}
