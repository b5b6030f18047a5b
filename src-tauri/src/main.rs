//! The Fog Compute desktop app: starts a node in-process and shows the dashboard in a window.
//! Every command is a thin call into `NodeApi`; bus events are forwarded to the window.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use fog_node::api::types::{
    ApiError, DashboardStats, Event, EventsQuery, Health, LogTail, LogsQuery, NodeInfo, Settings, SettingsUpdate,
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
}

fn main() -> ExitCode {
    // WebKitGTK shows a blank window on some NVIDIA/Wayland setups with its DMA-BUF renderer.
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fog-compute: {e:#}");
            ExitCode::FAILURE
        }
    }
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
            update_settings
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
