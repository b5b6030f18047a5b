//! `fog mix status|deploy|send|reply|inbox`: Betanet through a running node's API.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use fog_mixnet::model::{BetanetMessage, BetanetStatus, MessageState};
use fog_node::Config;

use crate::client::NodeClient;
use crate::{overrides, ConfigArgs};

#[derive(Args)]
pub struct MixArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: MixCommand,
}

#[derive(Subcommand)]
enum MixCommand {
    /// The topology, this node's mixnode and its client's streams.
    Status,
    /// Make this node a mixnode (kept across restarts).
    Deploy,
    /// Send through the mixnet to a node (its peer id): text, or a file when the argument is
    /// the path of one.
    Send {
        node: String,
        text_or_file: String,
        /// Wait until every fragment is acknowledged (or the message fails).
        #[arg(long)]
        wait: bool,
    },
    /// Answer a received message through the reply SURBs that came with it.
    Reply { id: String, text: String },
    /// Messages sent and received, newest first.
    Inbox {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

pub fn run(args: MixArgs) -> anyhow::Result<()> {
    let client = NodeClient::from_config(&Config::load(&overrides(&args.config))?)?;
    match args.command {
        MixCommand::Status => print_status(&serde_json::from_value(client.get("/api/betanet/status")?)?),
        MixCommand::Deploy => {
            let status: BetanetStatus =
                serde_json::from_value(client.post("/api/betanet/deploy", serde_json::json!({}))?)?;
            println!("deployed: this node mixes from now on (epoch {})", status.epoch);
            print_status(&status);
        }
        MixCommand::Send { node, text_or_file, wait } => {
            let path = std::path::Path::new(&text_or_file);
            let body = if path.is_file() {
                let bytes = std::fs::read(path)?;
                println!("sending the file {} ({} bytes)", path.display(), bytes.len());
                serde_json::json!({ "to": node, "base64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes) })
            } else {
                serde_json::json!({ "to": node, "text": text_or_file })
            };
            let message: BetanetMessage = serde_json::from_value(client.post("/api/betanet/send", body)?)?;
            println!("queued {} ({} bytes) for {node}", message.id, message.bytes);
            if wait {
                wait_for(&client, &message.id)?;
            }
        }
        MixCommand::Reply { id, text } => {
            let body = serde_json::json!({ "reply_to": id, "text": text });
            let message: BetanetMessage = serde_json::from_value(client.post("/api/betanet/send", body)?)?;
            println!("reply {} queued in the SURBs of {id}", message.id);
        }
        MixCommand::Inbox { limit } => {
            let messages: Vec<BetanetMessage> =
                serde_json::from_value(client.get(&format!("/api/betanet/inbox?limit={limit}"))?)?;
            if messages.is_empty() {
                println!("no messages yet");
            }
            for m in messages {
                let who = match (&m.state, &m.to) {
                    (MessageState::Received, _) => "← anonymous".to_owned(),
                    (_, Some(to)) => format!("→ {to}"),
                    (_, None) => "→ reply".to_owned(),
                };
                let reply = m.in_reply_to.as_deref().map(|r| format!(" (re {r})")).unwrap_or_default();
                let surbs = if m.reply_surbs > 0 { format!(" [{} reply SURBs]", m.reply_surbs) } else { String::new() };
                let reason = m.reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default();
                let body = if m.binary {
                    format!("({} bytes, not text)", m.bytes)
                } else if m.text.chars().count() > 120 {
                    format!("{}… ({} bytes)", m.text.chars().take(120).collect::<String>(), m.bytes)
                } else {
                    m.text.clone()
                };
                println!("{} {:<9} {who}{reply}{surbs}: {body}{reason}", m.id, m.state.as_str());
            }
        }
    }
    Ok(())
}

fn wait_for(client: &NodeClient, id: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let messages: Vec<BetanetMessage> = serde_json::from_value(client.get("/api/betanet/inbox?limit=1000")?)?;
        match messages.iter().find(|m| m.id == id).map(|m| (m.state, m.reason.clone())) {
            Some((MessageState::Delivered, _)) => {
                println!("delivered: every fragment acknowledged after {:.2} s", started.elapsed().as_secs_f64());
                return Ok(());
            }
            Some((MessageState::Failed, reason)) => anyhow::bail!("failed: {}", reason.unwrap_or_default()),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn print_status(status: &BetanetStatus) {
    let (topology, mix, client) = (&status.topology, &status.mixnode, &status.client);
    println!("me: {} — key mode {}, epoch {} ({} s)", status.peer_id, status.key_mode, status.epoch, status.epoch_secs);
    match &topology.reason {
        Some(reason) => println!("topology: not usable — {reason} ({} descriptors)", topology.descriptors),
        None => println!("topology: {} endpoints, {} descriptors", topology.endpoints, topology.descriptors),
    }
    for (i, layer) in topology.layers.iter().enumerate() {
        let nodes: Vec<String> = layer
            .iter()
            .map(|m| {
                format!(
                    "{}{}{}",
                    m.peer_id,
                    if m.is_self { " (me)" } else { "" },
                    if m.healthy { "" } else { " stale" }
                )
            })
            .collect();
        println!("  layer {}: {}", i + 1, if nodes.is_empty() { "—".into() } else { nodes.join(", ") });
    }
    let layer = mix.layer.map(|l| format!("layer {l}")).unwrap_or_else(|| "not in the topology".into());
    println!(
        "mixnode: {} ({layer}); in {:.1}/s, out {:.1}/s; received {}, forwarded {}, delivered {}, queue {}",
        if mix.deployed { "deployed" } else { "not deployed (receives only)" },
        mix.packets_in_per_s,
        mix.packets_out_per_s,
        mix.received,
        mix.forwarded,
        mix.delivered,
        mix.queue_depth
    );
    let drops: Vec<String> = mix.drops.iter().map(|d| format!("{} {}", d.reason, d.count)).collect();
    println!(
        "  drops: {}; replay filter {:.4} % of {:.1} MB",
        drops.join(", "),
        mix.replay_fill * 100.0,
        mix.replay_memory_bytes as f64 / 1e6
    );
    let rtt = client.loop_rtt_ms.map(|r| format!("{r:.1} ms")).unwrap_or_else(|| "none back yet".into());
    println!(
        "client: real {:.1}/s, cover {:.1}/s, loop RTT {rtt}; messages sent {}, delivered {}, failed {}, received {}; retransmissions {}",
        client.real_per_s,
        client.cover_per_s,
        client.messages_sent,
        client.messages_delivered,
        client.messages_failed,
        client.messages_received,
        client.retransmissions
    );
}
