import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type {
  ConnectRequest,
  DashboardStats,
  DisconnectRequest,
  Event,
  EventsQuery,
  Health,
  KnownPeer,
  LogTail,
  LogsQuery,
  MeshPeer,
  MeshStats,
  MeshTopology,
  NodeInfo,
  Settings,
  SettingsUpdate,
} from "./bindings";
import type { EventListener, StatusListener, Transport, Unsubscribe } from "./transport";

/** Name of the Tauri event the desktop app emits for every node event. */
export const EVENT_CHANNEL = "fog://event";

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
