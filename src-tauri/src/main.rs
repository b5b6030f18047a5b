//! The Fog Compute desktop app: starts a node in-process and shows the dashboard in a window.
//! Every command is a thin call into `NodeApi`; bus events are forwarded to the window.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use fog_node::api::types::{
    ApiError, BenchRequest, BenchResult, BetanetInboxQuery, BetanetMessage, BetanetSend, BetanetStatus,
    BitchatMessagesQuery, BitchatNickname, BitchatPeerFlags, BitchatRead, BitchatSend, BitchatStatus, ChatMessage,
    ChatPeer, ConnectRequest, DashboardStats, DisconnectRequest, Event, EventsQuery, ExampleJob, HarvestSettings,
    HarvestStats, Health, IdleDevice, IdleJobSubmit, IdleOffer, JobView, KnownPeer, LogTail, LogsQuery, MeshPeer,
    MeshStats, MeshTopology, NodeInfo, SchedJob, SchedJobDetail, SchedJobSubmit, SchedStats, Settings, SettingsUpdate,
};
use fog_node::{logging, Config, Node, NodeApi, Overrides};
use tauri::{Emitter, Manager, RunEvent};

/// Name of the window event that carries node events.
const EVENT_CHANNEL: &str = "fog://event";

/// Defines one Tauri command per NodeApi operation, each a direct call.
macro_rules! node_commands {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        $(
            #[tauri::command]
            async fn $name(api: tauri::State<'_, NodeApi>, $($arg: $ty),*) -> Result<$out, ApiError> {
                api.$name($($arg),*).await
            }
        )*
    };
}

node_commands! {
    node_info() -> NodeInfo;
    health() -> Health;
    dashboard_stats() -> DashboardStats;
    logs(query: LogsQuery) -> LogTail;
    recent_events(query: EventsQuery) -> Vec<Event>;
    settings() -> Settings;
    update_settings(update: SettingsUpdate) -> Settings;
    p2p_stats() -> MeshStats;
    p2p_peers() -> Vec<MeshPeer>;
    p2p_known() -> Vec<KnownPeer>;
    p2p_topology() -> MeshTopology;
    p2p_connect(request: ConnectRequest) -> ();
    p2p_disconnect(request: DisconnectRequest) -> ();
    idle_stats() -> HarvestStats;
    idle_devices() -> Vec<IdleDevice>;
    idle_settings() -> HarvestSettings;
    idle_update_settings(settings: HarvestSettings) -> HarvestSettings;
    idle_examples() -> Vec<ExampleJob>;
    idle_submit(request: IdleJobSubmit) -> JobView;
    idle_job(id: u64) -> JobView;
    idle_cancel(id: u64) -> JobView;
    idle_offer(offer: IdleOffer) -> JobView;
    idle_remote_job(peer: String, id: u64) -> JobView;
    sched_submit(request: SchedJobSubmit) -> SchedJob;
    sched_jobs() -> Vec<SchedJob>;
    sched_job(id: u64) -> SchedJobDetail;
    sched_cancel(id: u64) -> SchedJob;
    sched_stats() -> SchedStats;
    bitchat_status() -> BitchatStatus;
    bitchat_peers() -> Vec<ChatPeer>;
    bitchat_messages(query: BitchatMessagesQuery) -> Vec<ChatMessage>;
    bitchat_send(request: BitchatSend) -> ChatMessage;
    bitchat_mark_read(peer: String) -> BitchatRead;
    bitchat_set_peer(peer: String, flags: BitchatPeerFlags) -> ();
    bitchat_set_nickname(request: BitchatNickname) -> BitchatStatus;
    betanet_status() -> BetanetStatus;
    betanet_deploy() -> BetanetStatus;
    betanet_send(request: BetanetSend) -> BetanetMessage;
    betanet_inbox(query: BetanetInboxQuery) -> Vec<BetanetMessage>;
    bench_run(request: BenchRequest) -> BenchResult;
    bench_results() -> Vec<BenchResult>;
}

/// A job's whole stdout as raw bytes (an `ArrayBuffer` in the window), not a JSON array.
#[tauri::command]
async fn idle_job_output(api: tauri::State<'_, NodeApi>, id: u64) -> Result<tauri::ipc::Response, ApiError> {
    api.idle_job_output(id).await.map(tauri::ipc::Response::new)
}

/// A job's whole stdout as raw bytes (an `ArrayBuffer` in the window), not a JSON array.
#[tauri::command]
async fn sched_job_output(api: tauri::State<'_, NodeApi>, id: u64) -> Result<tauri::ipc::Response, ApiError> {
    api.sched_job_output(id).await.map(tauri::ipc::Response::new)
}

fn main() -> ExitCode {
    // WebKitGTK shows a blank window on some NVIDIA/Wayland setups with its DMA-BUF renderer.
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
    let locale = |name| std::env::var(name).ok();
    if let Some(variable) = ctype_override(locale("LC_ALL"), locale("LC_CTYPE"), locale("LANG")) {
        std::env::set_var(variable, "C");
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fog-compute: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// WebKitGTK derives the page's language from the LC_CTYPE locale and turns `C.UTF-8` (Debian's
/// default outside desktops) into the tag "C", with which every JavaScript `Intl` constructor
/// throws and the dashboard cannot start; plain `C` it maps to en-US. Returns the variable to
/// set to `C` when the effective LC_CTYPE is `C.<encoding>` or `POSIX.<encoding>`.
fn ctype_override(lc_all: Option<String>, lc_ctype: Option<String>, lang: Option<String>) -> Option<&'static str> {
    let set = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    let (variable, value) = match (set(&lc_all), set(&lc_ctype), set(&lang)) {
        (Some(all), _, _) => ("LC_ALL", all),
        (None, Some(ctype), _) => ("LC_CTYPE", ctype),
        (None, None, Some(lang)) => ("LC_CTYPE", lang),
        (None, None, None) => return None,
    };
    let language = value.split(['.', '@']).next().unwrap_or_default();
    let c_with_suffix = (language == "C" || language == "POSIX") && value != language;
    c_with_suffix.then_some(variable)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(&Overrides::default())?;
    let _log_guard = logging::init(&config.log.level, &config.data_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tauri::async_runtime::set(runtime.handle().clone());
    let node = runtime.block_on(Node::start(config))?;
    let api = node.api();

    let app = tauri::Builder::default()
        .manage(api.clone())
        .invoke_handler(tauri::generate_handler![
            node_info,
            health,
            dashboard_stats,
            logs,
            recent_events,
            settings,
            update_settings,
            p2p_stats,
            p2p_peers,
            p2p_known,
            p2p_topology,
            p2p_connect,
            p2p_disconnect,
            idle_stats,
            idle_devices,
            idle_settings,
            idle_update_settings,
            idle_examples,
            idle_submit,
            idle_job,
            idle_job_output,
            idle_cancel,
            idle_offer,
            idle_remote_job,
            sched_submit,
            sched_jobs,
            sched_job,
            sched_job_output,
            sched_cancel,
            sched_stats,
            bitchat_status,
            bitchat_peers,
            bitchat_messages,
            bitchat_send,
            bitchat_mark_read,
            bitchat_set_peer,
            bitchat_set_nickname,
            betanet_status,
            betanet_deploy,
            betanet_send,
            betanet_inbox,
            bench_run,
            bench_results
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            let mut events = api.subscribe();
            tauri::async_runtime::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(event) => {
                            if let Err(e) = handle.emit(EVENT_CHANNEL, &event) {
                                tracing::warn!("cannot forward event to the window: {e}");
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!("window missed {missed} events");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
            if let Some(window) = app.get_webview_window("main") {
                window.set_title(&format!("Fog Compute {}", env!("CARGO_PKG_VERSION")))?;
            }
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))?;

    let mut node = Some(node);
    app.run(move |_, event| {
        if let RunEvent::Exit = event {
            if let Some(node) = node.take() {
                runtime.block_on(node.shutdown());
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ctype_override;

    fn some(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn only_c_with_an_encoding_is_overridden() {
        assert_eq!(ctype_override(None, None, some("C.UTF-8")), Some("LC_CTYPE"));
        assert_eq!(ctype_override(None, some("C.utf8"), some("de_DE.UTF-8")), Some("LC_CTYPE"));
        assert_eq!(ctype_override(some("POSIX.UTF-8"), None, None), Some("LC_ALL"));
        assert_eq!(ctype_override(None, None, some("C")), None);
        assert_eq!(ctype_override(None, None, some("en_US.UTF-8")), None);
        assert_eq!(ctype_override(some(""), None, some("de_DE.UTF-8")), None);
        assert_eq!(ctype_override(None, None, None), None);
    }
}
