//! What Betanet shows, as it crosses to the API, the event bus and the dashboard.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The whole picture the Betanet page draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct BetanetStatus {
    /// This node's mesh peer id (its Betanet address).
    pub peer_id: String,
    /// `kem` (one key exchange a hop) or `sphinx` (re-blinded group element).
    pub key_mode: String,
    pub epoch: u32,
    pub epoch_secs: u32,
    /// When the current epoch ends, ms since the Unix epoch.
    #[ts(type = "number")]
    pub epoch_ends_ms: u64,
    pub topology: TopologyView,
    pub mixnode: MixnodeStats,
    pub client: ClientStats,
}

/// The stratified topology of the current epoch, as this node derives it from descriptors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct TopologyView {
    pub epoch: u32,
    /// Layers 1..3, each with its mixnodes.
    pub layers: Vec<Vec<MixnodeView>>,
    /// Nodes that can receive (every node with a key for this epoch).
    pub endpoints: u32,
    /// Descriptors held.
    pub descriptors: u32,
    /// Every layer has a mixnode, so packets can be sent.
    pub usable: bool,
    /// Why not, when not usable.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct MixnodeView {
    pub peer_id: String,
    /// 1, 2 or 3.
    pub layer: u32,
    /// Packets a second it offers.
    pub capacity: u32,
    /// Seconds since its descriptor was issued.
    pub descriptor_age_s: u32,
    /// Its descriptor is fresh (republished on time).
    pub healthy: bool,
    /// Epochs it holds keys for.
    pub key_epochs: Vec<u32>,
    pub is_self: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct DropCount {
    /// `malformed`, `mac`, `replay`, `expired_epoch`, `queue_full` or `no_route`.
    pub reason: String,
    #[ts(type = "number")]
    pub count: u64,
}

/// Packets whose processing took at most `le_us` (cumulative; `null` is the total).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct HistogramBucket {
    pub le_us: Option<u32>,
    #[ts(type = "number")]
    pub count: u64,
}

/// This node's mixing: every node processes packets addressed to it; a deployed mixnode also
/// forwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct MixnodeStats {
    pub deployed: bool,
    /// Its layer in the current epoch (1..3), once its descriptor is in the topology.
    pub layer: Option<u32>,
    pub packets_in_per_s: f64,
    pub packets_out_per_s: f64,
    #[ts(type = "number")]
    pub received: u64,
    #[ts(type = "number")]
    pub forwarded: u64,
    /// Packets for this node itself.
    #[ts(type = "number")]
    pub delivered: u64,
    pub drops: Vec<DropCount>,
    /// Share of the replay filter in use.
    pub replay_fill: f64,
    #[ts(type = "number")]
    pub replay_memory_bytes: u64,
    pub queue_depth: u32,
    /// Per-hop processing time.
    pub hop_time_us: Vec<HistogramBucket>,
    pub key_epochs: Vec<u32>,
}

/// The client's streams and messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ClientStats {
    /// Real packets a second (over the last few seconds).
    pub real_per_s: f64,
    /// Cover packets a second (drop and loop).
    pub cover_per_s: f64,
    /// Round trip of the last loop cover packet.
    pub loop_rtt_ms: Option<f64>,
    #[ts(type = "number")]
    pub real_sent: u64,
    #[ts(type = "number")]
    pub drop_cover_sent: u64,
    #[ts(type = "number")]
    pub loop_cover_sent: u64,
    #[ts(type = "number")]
    pub loops_returned: u64,
    #[ts(type = "number")]
    pub retransmissions: u64,
    #[ts(type = "number")]
    pub messages_sent: u64,
    #[ts(type = "number")]
    pub messages_delivered: u64,
    #[ts(type = "number")]
    pub messages_failed: u64,
    #[ts(type = "number")]
    pub messages_received: u64,
    pub in_flight: u32,
    pub send_interval_ms: f64,
    pub loop_interval_ms: f64,
    pub mix_delay_ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Outgoing, some fragments not acknowledged yet.
    Sending,
    /// Outgoing, every fragment acknowledged.
    Delivered,
    /// Outgoing, given up after its retries.
    Failed,
    /// Incoming.
    Received,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Sending => "sending",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
            MessageState::Received => "received",
        }
    }

    pub fn parse(text: &str) -> Option<MessageState> {
        [Self::Sending, Self::Delivered, Self::Failed, Self::Received].into_iter().find(|s| s.as_str() == text)
    }
}

/// A message sent or received through the mixnet. Incoming messages are anonymous.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct BetanetMessage {
    /// 32 hex digits.
    pub id: String,
    pub state: MessageState,
    /// For outgoing messages: the destination's peer id, or `null` for a reply (sent through
    /// the other side's SURBs, so we do not know where it goes).
    pub to: Option<String>,
    /// The body, when it is UTF-8 text (else empty, and `binary` is set).
    pub text: String,
    /// The body is not text (a file); `bytes` says how long it is.
    pub binary: bool,
    pub bytes: u32,
    /// The message this one answers.
    pub in_reply_to: Option<String>,
    /// Incoming: reply SURBs still unused.
    pub reply_surbs: u32,
    #[ts(type = "number")]
    pub at_ms: u64,
    /// Why it failed.
    pub reason: Option<String>,
}

/// Something the Betanet page or a script may follow live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BetanetEvent {
    Received { message: BetanetMessage },
    Delivered { id: String },
    Failed { id: String, reason: String },
    Deployed { epoch: u32 },
    Rotated { epoch: u32 },
}
