//! What the chat shows, as it crosses to the API, the event bus and the dashboard.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The public channel every peer in range shares.
pub const PUBLIC_CHANNEL: &str = "#mesh";

/// Where an outgoing private message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for the peer or its Noise session; kept and retried for 24 h.
    Queued,
    /// Encrypted and sent at least once, not acknowledged yet.
    Sent,
    Delivered,
    Read,
    /// Not acknowledged within 24 h or 8 tries while the peer was in reach.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        [Self::Queued, Self::Sent, Self::Delivered, Self::Read, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }

    /// States only move forward: a late "delivered" never undoes "read".
    pub fn rank(self) -> u8 {
        match self {
            DeliveryState::Queued => 0,
            DeliveryState::Sent => 1,
            DeliveryState::Failed => 2,
            DeliveryState::Delivered => 3,
            DeliveryState::Read => 4,
        }
    }
}

/// One message, public (channel `#mesh`) or private (channel = the other peer's id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ChatMessage {
    pub id: String,
    /// `#mesh`, or the other peer's id (16 hex digits) for a private chat.
    pub channel: String,
    /// Sender's peer id (16 hex digits).
    pub sender: String,
    pub sender_nickname: String,
    pub text: String,
    /// The sender's timestamp.
    #[ts(type = "number")]
    pub timestamp_ms: u64,
    /// When this node received (or sent) it.
    #[ts(type = "number")]
    pub received_ms: u64,
    pub outgoing: bool,
    pub private: bool,
    /// Outgoing private messages only.
    pub delivery: Option<DeliveryState>,
    /// Incoming private messages: read receipt sent.
    pub read: bool,
}

/// A BitChat peer this node has heard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ChatPeer {
    /// 16 hex digits: the first 8 bytes of SHA-256 of its Noise key.
    pub peer_id: String,
    pub nickname: String,
    /// Full SHA-256 of its Noise key, 64 hex digits.
    pub fingerprint: String,
    /// Has a direct link to this node now.
    pub direct: bool,
    /// Heard within the last 60 s (directly or relayed).
    pub reachable: bool,
    #[ts(type = "number")]
    pub last_heard_ms: u64,
    /// Received signal strength of the direct link, when the radio reports one.
    pub rssi_dbm: Option<i16>,
    /// Hops its last announce travelled (0 = direct).
    pub hops: Option<u8>,
    pub favourite: bool,
    /// The user compared fingerprints and marked it verified.
    pub verified: bool,
    /// Its keys are pinned since this time (trust on first use).
    #[ts(type = "number")]
    pub first_seen_ms: u64,
    pub has_session: bool,
}

/// Whether the radio can be used, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AdapterState {
    Starting,
    Ready {
        /// What carries the frames: "Bluetooth LE (hci0)", "simulated radio (loopback UDP)"…
        transport: String,
    },
    Unavailable {
        reason: String,
    },
}

/// Status of the BitChat service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct BitchatStatus {
    pub adapter: AdapterState,
    /// True when the frames travel over a simulated radio, not Bluetooth.
    pub simulated: bool,
    pub peer_id: String,
    pub fingerprint: String,
    pub nickname: String,
    pub links: u32,
    pub reachable_peers: u32,
    pub outbox: u32,
    pub counters: ChatCounters,
}

/// What the engine has done since start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ChatCounters {
    #[ts(type = "number")]
    pub frames_in: u64,
    #[ts(type = "number")]
    pub frames_out: u64,
    #[ts(type = "number")]
    pub relayed: u64,
    #[ts(type = "number")]
    pub dropped_duplicate: u64,
    #[ts(type = "number")]
    pub dropped_invalid: u64,
    /// Timestamps more than 120 s from this machine's clock (keep it NTP-synced).
    #[ts(type = "number")]
    pub dropped_skewed: u64,
    /// Over a rate limit: sync requests (8 per 30 s a link), public messages (5, then 1/s a sender).
    #[ts(type = "number")]
    pub dropped_rate_limited: u64,
    #[ts(type = "number")]
    pub handshakes: u64,
}

/// What changed, for the event bus and the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChatEvent {
    Message {
        message: ChatMessage,
    },
    Delivery {
        message_id: String,
        peer_id: String,
        state: DeliveryState,
    },
    Peer {
        peer: ChatPeer,
    },
    PeerLeft {
        peer_id: String,
    },
    /// An announce for a known peer id carried other keys than the pinned ones; it was ignored.
    KeyMismatch {
        peer_id: String,
        nickname: String,
    },
    Adapter {
        adapter: AdapterState,
    },
}
