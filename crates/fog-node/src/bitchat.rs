//! BitChat in the node: its keys next to the node key, the radio (Bluetooth LE, or the
//! simulated loopback radio when the configuration asks for it), and its events on the bus.

use std::path::Path;
use std::sync::Arc;

use fog_bitchat::keys::ChatKeys;
use fog_bitchat::model::{AdapterState, ChatEvent};
use fog_bitchat::service::Bitchat;
use fog_store::Store;
use tokio::sync::broadcast::error::RecvError;

use crate::api::types::ServiceState;
use crate::config::BitchatConfig;
use crate::node::NodeState;

/// Starts BitChat, or says why it did not start.
pub async fn start(config: &BitchatConfig, data_dir: &Path, store: Arc<Store>) -> Result<Option<Bitchat>, String> {
    if !config.enabled {
        return Ok(None);
    }
    let (keys, _) = ChatKeys::load_or_create(data_dir).map_err(|e| e.to_string())?;
    let transport = match &config.simulated_radio {
        Some(radio) => fog_bitchat::transport::udp::start(radio.listen, radio.neighbours.clone())
            .await
            .map_err(|e| e.to_string())?,
        None => fog_bitchat::transport::ble::start(config.adapter.clone(), config.roles),
    };
    Bitchat::start(store, keys, config.nickname.as_deref(), transport).map(Some).map_err(|e| e.to_string())
}

/// What the services list says about BitChat in each adapter state.
pub fn describe(adapter: &AdapterState, simulated: bool) -> (ServiceState, String) {
    match adapter {
        AdapterState::Starting => (ServiceState::Starting, "looking for a Bluetooth adapter".into()),
        AdapterState::Ready { transport } if simulated => {
            (ServiceState::Running, format!("on a simulated radio, not Bluetooth: {transport}"))
        }
        AdapterState::Ready { transport } => (ServiceState::Running, format!("chatting over {transport}")),
        AdapterState::Unavailable { reason } => {
            (ServiceState::Stopped, format!("{reason}; chat history stays readable, the rest of the node runs on"))
        }
    }
}

/// Puts BitChat's events on the bus (topic `bitchat`, kind = the event's kind) and keeps the
/// services list in step with the adapter.
pub async fn forward_events(chat: Bitchat, state: Arc<NodeState>) {
    let (bus, services) = (&state.bus, &state.services);
    let mut events = chat.events();
    let status = chat.status();
    let (state, detail) = describe(&status.adapter, status.simulated);
    services.set("bitchat", "BitChat", state, detail);
    loop {
        match events.recv().await {
            Ok(event) => {
                if let ChatEvent::Adapter { adapter } = &event {
                    let (state, detail) = describe(adapter, chat.status().simulated);
                    services.set("bitchat", "BitChat", state, detail);
                }
                let kind = match &event {
                    ChatEvent::Message { .. } => "message",
                    ChatEvent::Delivery { .. } => "delivery",
                    ChatEvent::Peer { .. } => "peer",
                    ChatEvent::PeerLeft { .. } => "peer_left",
                    ChatEvent::KeyMismatch { .. } => "key_mismatch",
                    ChatEvent::Adapter { .. } => "adapter",
                };
                bus.publish("bitchat", kind, &event);
            }
            Err(RecvError::Lagged(missed)) => tracing::warn!("{missed} BitChat events were not recorded"),
            Err(RecvError::Closed) => return,
        }
    }
}
