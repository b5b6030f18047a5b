//! `fog bitchat send|peers|log`: BitChat through a running node's API.

use fog_bitchat::model::{AdapterState, BitchatStatus, ChatMessage, ChatPeer};
use fog_node::Config;

use crate::client::NodeClient;
use crate::{overrides, ConfigArgs};

pub enum ChatCommand {
    Send { to: Option<String>, text: String },
    Peers,
    Log { channel: Option<String>, limit: u32 },
}

pub fn run(config: &ConfigArgs, command: ChatCommand) -> anyhow::Result<()> {
    let client = NodeClient::from_config(&Config::load(&overrides(config))?)?;
    let status: BitchatStatus = serde_json::from_value(client.get("/api/bitchat/status")?)?;
    match command {
        ChatCommand::Send { to, text } => {
            let body = serde_json::json!({ "to": to, "text": text });
            let message: ChatMessage = serde_json::from_value(client.post("/api/bitchat/messages", body)?)?;
            let state = message.delivery.map(|d| format!(" ({})", d.as_str())).unwrap_or_default();
            println!("sent to {} as {}{state}", message.channel, message.id);
        }
        ChatCommand::Peers => {
            print_adapter(&status);
            let peers: Vec<ChatPeer> = serde_json::from_value(client.get("/api/bitchat/peers")?)?;
            if peers.is_empty() {
                println!("no peers heard yet");
            }
            for p in peers {
                let reach = match (p.direct, p.reachable) {
                    (true, _) => "direct".to_owned(),
                    (false, true) => format!("relayed ({} hops)", p.hops.map_or("?".into(), |h| h.to_string())),
                    (false, false) => "out of reach".to_owned(),
                };
                let marks = [(p.verified, "verified"), (p.favourite, "favourite"), (p.has_session, "session")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, name)| *name)
                    .collect::<Vec<_>>()
                    .join(", ");
                let signal = p.rssi_dbm.map_or("—".into(), |r| format!("{r} dBm"));
                println!("{}  {:<20} {:<18} signal {signal:<8} {marks}", p.peer_id, p.nickname, reach);
            }
        }
        ChatCommand::Log { channel, limit } => {
            let mut path = format!("/api/bitchat/messages?limit={limit}");
            if let Some(channel) = channel {
                path.push_str(&format!("&channel={}", channel.replace('#', "%23")));
            }
            let messages: Vec<ChatMessage> = serde_json::from_value(client.get(&path)?)?;
            if messages.is_empty() {
                println!("no messages yet");
            }
            for m in messages {
                let state = m.delivery.map(|d| format!(" [{}]", d.as_str())).unwrap_or_default();
                let arrow = if m.outgoing { "→" } else { "←" };
                println!("{} {arrow} {:<16} {}: {}{state}", m.channel, m.sender_nickname, m.id, m.text);
            }
        }
    }
    Ok(())
}

fn print_adapter(status: &BitchatStatus) {
    match &status.adapter {
        AdapterState::Starting => println!("radio: starting"),
        AdapterState::Ready { transport } if status.simulated => println!("radio: simulated radio — {transport}"),
        AdapterState::Ready { transport } => println!("radio: {transport}"),
        AdapterState::Unavailable { reason } => println!("radio: unavailable — {reason}"),
    }
    println!("me: {} ({}), fingerprint {}", status.nickname, status.peer_id, status.fingerprint);
}

/// Probes Bluetooth as the node would; exits with an error naming the reason if it cannot.
pub fn radio() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match runtime.block_on(fog_bitchat::transport::ble::probe(None)) {
        Ok((_, adapter)) => {
            println!("radio: Bluetooth LE ({adapter})");
            Ok(())
        }
        Err(reason) => anyhow::bail!("radio: unavailable — {reason}"),
    }
}
