//! One BitChat peer as a state machine, with no I/O: frames in from links, frames out to links,
//! and what changed for the user. The service feeds it frames, commands and the clock, sends
//! what it asks to send and keeps what it reports; tests drive many of them over a simulated
//! radio.
//!
//! It speaks as the apps do: a signed announce 0.6 s after start, on every new link and then
//! every 4 s while alone or 15 ± 4 s once linked; signed public messages with TTL 7; the relay
//! rules of [`crate::router`] with their jitter; fragments sized to each link; Noise XX sessions
//! started on demand, the crossed-handshake tie-break, delivered and read receipts; an outbox that
//! retries a private message while its peer is in reach (at most 8 tries, 24 h); gossip sync
//! every 15 s; trust-on-first-use pinning of announced keys; leave on shutdown.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::limits::{Buckets, Rate, Window, Windows};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::announce::Announce;
use crate::fragment::{self, Limits, Reassembler};
use crate::identity;
use crate::keys::ChatKeys;
use crate::model::{ChatEvent, ChatMessage, ChatPeer, DeliveryState, PUBLIC_CHANNEL};
use crate::noise::{keeps_initiator_role, Handshake, Session};
use crate::packet::{kind, Encoding, Packet, PeerId, ORIGIN_TTL};
use crate::payload::{Fragment, NoisePayload};
use crate::router::{self, Decision, Neighbourhood, Next, SeenIds};
use crate::signing;
use crate::sync::{packet_id, Gcs, RequestSync, DEFAULT_FILTER_BYTES, DEFAULT_P};

/// A link to one neighbour, as the transport numbers it.
pub type LinkId = u64;

/// Largest frame put in one write, whatever the link allows (PROTOCOL.md §8).
pub const MAX_FRAME_BYTES: usize = 512;
/// Longest public message (iOS's input limit).
pub const MAX_PUBLIC_CHARS: usize = 60_000;
/// Longest private message: the TLV the apps use holds 255 bytes.
pub const MAX_PRIVATE_BYTES: usize = 255;
/// A peer counts as in reach this long after it was last heard.
pub const REACHABLE_MS: u64 = 60_000;
/// Outbox: tries while the peer is in reach, and how long a message is kept.
pub const OUTBOX_TRIES: u32 = 8;
pub const OUTBOX_KEEP_MS: u64 = 24 * 3600 * 1000;
const RETRY_MS: u64 = 5_000;
const SYNC_EVERY_MS: u64 = 15_000;
/// Sync responses are accepted this long after our request to that link.
const SYNC_ANSWER_MS: u64 = 30_000;
const SYNC_REPLY_MAX: usize = 64;
const HISTORY_MS: u64 = 6 * 3600 * 1000;
const HISTORY_MAX: usize = 1000;
const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
const RESPONDER_TIMEOUT_MS: u64 = 20_000;
/// Handshakes we start with one peer, at most this many a minute.
const HANDSHAKES_PER_MINUTE: usize = 10;
/// A session is replaced by a new handshake after this long or this many messages (Android's
/// rule; iOS keeps one a day).
const REKEY_AFTER_MS: u64 = 3600 * 1000;
const REKEY_AFTER_MESSAGES: u32 = 1000;
/// Sync requests answered per link, at most this many per 30 s.
const SYNC_ANSWERS_PER_30S: usize = 8;
/// Public messages shown per sender: a burst of 5, then one a second (iOS's bucket) …
const PUBLIC_PER_SENDER: Rate = Rate { burst: 5.0, per_second: 1.0 };
/// … and per content, whoever sends it: a burst of 3, then one every 2 s.
const PUBLIC_PER_CONTENT: Rate = Rate { burst: 3.0, per_second: 0.5 };
/// Handshakes others start with us: 10 a minute per peer, 30 in all (iOS).
const INCOMING_HANDSHAKES_PER_PEER: usize = 10;
const INCOMING_HANDSHAKES: usize = 30;
/// Noise transport messages: 100 a second per peer, 500 in all (iOS).
const NOISE_PER_PEER: Rate = Rate { burst: 100.0, per_second: 100.0 };
const NOISE_ALL: Rate = Rate { burst: 500.0, per_second: 500.0 };
/// Public messages from senders we have no announce for yet wait this long, at most this many.
const UNVERIFIED_MS: u64 = 60_000;
const UNVERIFIED_MAX: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChatError {
    #[error("the message is empty")]
    Empty,
    #[error("the message is too long: {len} {unit}, at most {max}")]
    TooLong { len: usize, max: usize, unit: &'static str },
    #[error("no peer {0} has been seen; private messages go to peers whose announce was heard")]
    UnknownPeer(String),
    #[error("the nickname must be 1 to 32 characters without control characters")]
    BadNickname,
}

/// Something for the service to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Transmit {
        link: LinkId,
        frame: Vec<u8>,
    },
    Event(ChatEvent),
    /// A peer's keys were pinned (first announce): persist them.
    Pinned {
        peer_id: PeerId,
        nickname: String,
        noise_key: [u8; 32],
        signing_key: [u8; 32],
        at_ms: u64,
    },
}

/// A pinned peer, as the service restores it at start.
#[derive(Debug, Clone)]
pub struct KnownPeer {
    pub nickname: String,
    pub noise_key: [u8; 32],
    pub signing_key: [u8; 32],
    pub first_seen_ms: u64,
    pub last_heard_ms: u64,
    pub favourite: bool,
    pub verified: bool,
}

/// An outgoing private message still waiting for its delivery receipt.
#[derive(Debug, Clone)]
pub struct Pending {
    pub peer: PeerId,
    pub id: String,
    pub text: String,
    pub created_ms: u64,
    pub tries: u32,
}

struct Link {
    peer: Option<PeerId>,
    mtu: usize,
    rssi_dbm: Option<i16>,
}

struct Peer {
    known: KnownPeer,
    hops: Option<u8>,
    /// Reachability as last reported, to report changes once.
    reported_reachable: bool,
}

/// A handshake in progress keeps its last message, sent again every 2 s until the answer
/// comes (the same bytes, so a late copy does no harm); a lost message then costs 2 s, not a
/// whole new handshake.
enum Noise {
    Initiating { handshake: Handshake, started_ms: u64, sent: Vec<u8>, resend_ms: u64 },
    Responding { handshake: Handshake, started_ms: u64, sent: Vec<u8>, resend_ms: u64 },
    Established(Box<Session>),
}

const HANDSHAKE_RESEND_MS: u64 = 2_000;
const READ_RECEIPT_COPIES: u64 = 3;
const READ_RECEIPT_SPACING_MS: u64 = 3_000;
/// The initiator's last handshake message is kept this long, to answer a repeated second one.
const FINAL_KEEP_MS: u64 = 20_000;

struct Relay {
    due_ms: u64,
    packet: Packet,
    links: Vec<LinkId>,
}

struct Rand(u64);

impl Rand {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn between(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes()[..chunk.len()]);
        }
        out
    }
}

pub struct Engine {
    keys: ChatKeys,
    me: PeerId,
    nickname: String,
    links: BTreeMap<LinkId, Link>,
    peers: HashMap<PeerId, Peer>,
    seen: SeenIds,
    reassembler: Reassembler,
    sessions: HashMap<PeerId, Noise>,
    handshake_times: HashMap<PeerId, VecDeque<u64>>,
    final_messages: HashMap<PeerId, (Vec<u8>, u64)>,
    /// The initiation we last answered per peer, so a repeated copy is not taken for a new one.
    answered: HashMap<PeerId, (Vec<u8>, u64)>,
    receipts: Vec<(u64, PeerId, String)>,
    /// When each session started and how many messages it carried, for re-keying.
    session_use: HashMap<PeerId, (u64, u32)>,
    sync_answers: HashMap<LinkId, VecDeque<u64>>,
    public_per_sender: Buckets<PeerId>,
    public_per_content: Buckets<[u8; 8]>,
    incoming_handshakes_per_peer: Windows<PeerId>,
    incoming_handshakes: Window,
    noise_per_peer: Buckets<PeerId>,
    noise_all: Buckets<()>,
    /// Noise payloads waiting for a session.
    waiting: HashMap<PeerId, Vec<NoisePayload>>,
    outbox: Vec<(Pending, u64)>,
    received_private: HashSet<String>,
    relays: Vec<Relay>,
    history: VecDeque<([u8; 16], Packet, u64)>,
    unverified: VecDeque<(Packet, u64)>,
    sync_asked: HashMap<LinkId, u64>,
    next_announce_ms: u64,
    next_sync_ms: u64,
    rand: Rand,
    out: VecDeque<Output>,
    counters: crate::model::ChatCounters,
}

impl Engine {
    /// A peer with `keys`, starting at `now_ms`. `seed` drives jitter and fragment ids, so a
    /// simulation repeats; the service seeds it from the OS.
    pub fn new(keys: ChatKeys, nickname: &str, now_ms: u64, seed: u64) -> Engine {
        let me = keys.peer_id();
        Engine {
            keys,
            me,
            nickname: nickname.to_owned(),
            links: BTreeMap::new(),
            peers: HashMap::new(),
            seen: SeenIds::default(),
            reassembler: Reassembler::new(Limits::default()),
            sessions: HashMap::new(),
            handshake_times: HashMap::new(),
            final_messages: HashMap::new(),
            answered: HashMap::new(),
            receipts: Vec::new(),
            session_use: HashMap::new(),
            sync_answers: HashMap::new(),
            public_per_sender: Buckets::new(PUBLIC_PER_SENDER),
            public_per_content: Buckets::new(PUBLIC_PER_CONTENT),
            incoming_handshakes_per_peer: Windows::new(INCOMING_HANDSHAKES_PER_PEER, 60_000),
            incoming_handshakes: Window::new(INCOMING_HANDSHAKES, 60_000),
            noise_per_peer: Buckets::new(NOISE_PER_PEER),
            noise_all: Buckets::new(NOISE_ALL),
            waiting: HashMap::new(),
            outbox: Vec::new(),
            received_private: HashSet::new(),
            relays: Vec::new(),
            history: VecDeque::new(),
            unverified: VecDeque::new(),
            sync_asked: HashMap::new(),
            next_announce_ms: now_ms + 600,
            next_sync_ms: now_ms + SYNC_EVERY_MS,
            rand: Rand(seed),
            out: VecDeque::new(),
            counters: Default::default(),
        }
    }

    pub fn peer_id(&self) -> PeerId {
        self.me
    }

    pub fn keys(&self) -> &ChatKeys {
        &self.keys
    }

    pub fn nickname(&self) -> &str {
        &self.nickname
    }

    pub fn counters(&self) -> &crate::model::ChatCounters {
        &self.counters
    }

    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// The next thing to do, if any.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Engine::tick`] next has work.
    pub fn next_wakeup(&self) -> u64 {
        let relay = self.relays.iter().map(|r| r.due_ms).min().unwrap_or(u64::MAX);
        let retry = self.outbox.iter().map(|(_, next)| *next).min().unwrap_or(u64::MAX);
        let receipt = self.receipts.iter().map(|(at, _, _)| *at).min().unwrap_or(u64::MAX);
        self.next_announce_ms.min(self.next_sync_ms).min(relay).min(retry).min(receipt)
    }

    /// Restores a pinned peer from storage.
    pub fn restore_peer(&mut self, peer_id: PeerId, known: KnownPeer) {
        self.peers.insert(peer_id, Peer { known, hops: None, reported_reachable: false });
    }

    /// Restores an unacknowledged private message from storage.
    pub fn restore_pending(&mut self, pending: Pending, now_ms: u64) {
        self.outbox.push((pending, now_ms));
    }

    pub fn set_flags(&mut self, peer_id: PeerId, favourite: Option<bool>, verified: Option<bool>, now_ms: u64) {
        let Some(peer) = self.peers.get_mut(&peer_id) else { return };
        if let Some(favourite) = favourite {
            peer.known.favourite = favourite;
        }
        if let Some(verified) = verified {
            peer.known.verified = verified;
        }
        self.report_peer(peer_id, now_ms);
    }

    pub fn set_nickname(&mut self, nickname: &str, now_ms: u64) -> Result<(), ChatError> {
        let nickname = nickname.trim();
        if nickname.is_empty() || nickname.chars().count() > 32 || nickname.chars().any(char::is_control) {
            return Err(ChatError::BadNickname);
        }
        self.nickname = nickname.to_owned();
        self.announce(now_ms);
        Ok(())
    }

    pub fn link_up(&mut self, link: LinkId, mtu: usize, rssi_dbm: Option<i16>, now_ms: u64) {
        self.links.insert(link, Link { peer: None, mtu, rssi_dbm });
        // The apps announce shortly after a new connection; so do we, at once.
        self.announce_on(link, now_ms);
    }

    pub fn link_down(&mut self, link: LinkId, now_ms: u64) {
        if let Some(Link { peer: Some(peer), .. }) = self.links.remove(&link) {
            self.report_peer(peer, now_ms);
        }
        self.sync_asked.remove(&link);
    }

    /// All peers heard, as the page lists them.
    pub fn peers(&self, now_ms: u64) -> Vec<ChatPeer> {
        let mut peers: Vec<ChatPeer> = self.peers.keys().map(|id| self.peer_view(*id, now_ms)).collect();
        peers.sort_by(|a, b| b.reachable.cmp(&a.reachable).then(b.last_heard_ms.cmp(&a.last_heard_ms)));
        peers
    }

    pub fn peer(&self, peer_id: PeerId, now_ms: u64) -> Option<ChatPeer> {
        self.peers.contains_key(&peer_id).then(|| self.peer_view(peer_id, now_ms))
    }

    fn direct_link(&self, peer_id: PeerId) -> Option<(LinkId, &Link)> {
        self.links.iter().find(|(_, l)| l.peer == Some(peer_id)).map(|(id, l)| (*id, l))
    }

    fn reachable(&self, peer_id: PeerId, now_ms: u64) -> bool {
        self.direct_link(peer_id).is_some()
            || self.peers.get(&peer_id).is_some_and(|p| now_ms.saturating_sub(p.known.last_heard_ms) < REACHABLE_MS)
    }

    /// Peers in reach now (cheaper than [`Engine::peers`], for the status line).
    pub fn reachable_count(&self, now_ms: u64) -> usize {
        self.peers.keys().filter(|id| self.reachable(**id, now_ms)).count()
    }

    fn peer_view(&self, peer_id: PeerId, now_ms: u64) -> ChatPeer {
        let peer = &self.peers[&peer_id];
        let link = self.direct_link(peer_id);
        ChatPeer {
            peer_id: hex::encode(peer_id),
            nickname: peer.known.nickname.clone(),
            fingerprint: hex::encode(identity::fingerprint(&peer.known.noise_key)),
            direct: link.is_some(),
            reachable: self.reachable(peer_id, now_ms),
            last_heard_ms: peer.known.last_heard_ms,
            rssi_dbm: link.and_then(|(_, l)| l.rssi_dbm),
            hops: if link.is_some() { Some(0) } else { peer.hops },
            favourite: peer.known.favourite,
            verified: peer.known.verified,
            first_seen_ms: peer.known.first_seen_ms,
            has_session: matches!(self.sessions.get(&peer_id), Some(Noise::Established(_))),
        }
    }

    fn report_peer(&mut self, peer_id: PeerId, now_ms: u64) {
        if !self.peers.contains_key(&peer_id) {
            return;
        }
        let view = self.peer_view(peer_id, now_ms);
        if let Some(peer) = self.peers.get_mut(&peer_id) {
            peer.reported_reachable = view.reachable;
        }
        self.out.push_back(Output::Event(ChatEvent::Peer { peer: view }));
    }

    // ----- sending -----

    /// Sends a public message to `#mesh`.
    pub fn send_public(&mut self, text: &str, now_ms: u64) -> Result<ChatMessage, ChatError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ChatError::Empty);
        }
        let chars = text.chars().count();
        if chars > MAX_PUBLIC_CHARS {
            return Err(ChatError::TooLong { len: chars, max: MAX_PUBLIC_CHARS, unit: "characters" });
        }
        let mut packet = Packet::new(kind::MESSAGE, self.me, now_ms, text.as_bytes().to_vec());
        signing::sign(&mut packet, self.keys.signing()).expect("a message within the size limits encodes");
        self.seen.first_time(router::message_id(&packet), now_ms);
        self.remember(&packet, now_ms);
        self.originate(&packet, None);
        let message = ChatMessage {
            id: public_message_id(&self.me, now_ms, text),
            channel: PUBLIC_CHANNEL.into(),
            sender: hex::encode(self.me),
            sender_nickname: self.nickname.clone(),
            text: text.to_owned(),
            timestamp_ms: now_ms,
            received_ms: now_ms,
            outgoing: true,
            private: false,
            delivery: None,
            read: true,
        };
        self.out.push_back(Output::Event(ChatEvent::Message { message: message.clone() }));
        Ok(message)
    }

    /// Queues an end-to-end encrypted message to `peer`; it goes out now if the peer is in
    /// reach, and is retried until a delivery receipt comes back.
    pub fn send_private(&mut self, peer: PeerId, text: &str, now_ms: u64) -> Result<ChatMessage, ChatError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ChatError::Empty);
        }
        if text.len() > MAX_PRIVATE_BYTES {
            return Err(ChatError::TooLong { len: text.len(), max: MAX_PRIVATE_BYTES, unit: "bytes" });
        }
        if !self.peers.contains_key(&peer) {
            return Err(ChatError::UnknownPeer(hex::encode(peer)));
        }
        let id = uuid_string(self.rand.bytes());
        let message = ChatMessage {
            id: id.clone(),
            channel: hex::encode(peer),
            sender: hex::encode(self.me),
            sender_nickname: self.nickname.clone(),
            text: text.to_owned(),
            timestamp_ms: now_ms,
            received_ms: now_ms,
            outgoing: true,
            private: true,
            delivery: Some(DeliveryState::Queued),
            read: true,
        };
        self.out.push_back(Output::Event(ChatEvent::Message { message: message.clone() }));
        self.outbox.push((Pending { peer, id, text: text.to_owned(), created_ms: now_ms, tries: 0 }, now_ms));
        self.retry_outbox(now_ms);
        Ok(message)
    }

    /// Sends read receipts for these received messages. Nothing acknowledges a receipt, so
    /// each goes out three times, 3 s apart (a repeat changes nothing at the sender).
    pub fn mark_read(&mut self, peer: PeerId, message_ids: &[String], now_ms: u64) {
        for id in message_ids {
            for n in 0..READ_RECEIPT_COPIES {
                self.receipts.push((now_ms + n * READ_RECEIPT_SPACING_MS, peer, id.clone()));
            }
        }
        self.send_due_receipts(now_ms);
    }

    fn send_due_receipts(&mut self, now_ms: u64) {
        let (due, later): (Vec<_>, Vec<_>) = self.receipts.drain(..).partition(|(at, _, _)| *at <= now_ms);
        self.receipts = later;
        for (_, peer, message_id) in due {
            self.send_noise(peer, NoisePayload::ReadReceipt { message_id }, now_ms);
        }
    }

    /// Says goodbye to the mesh (on shutdown).
    pub fn leave(&mut self, now_ms: u64) {
        let mut packet = Packet::new(kind::LEAVE, self.me, now_ms, Vec::new());
        signing::sign(&mut packet, self.keys.signing()).expect("an empty leave encodes");
        self.originate(&packet, None);
    }

    fn announce_packet(&self, now_ms: u64) -> Packet {
        let neighbors: Vec<PeerId> = self.links.values().filter_map(|l| l.peer).take(10).collect();
        let announce = Announce {
            nickname: self.nickname.clone(),
            noise_key: *self.keys.noise_public(),
            signing_key: self.keys.signing_public(),
            neighbors,
            capabilities: None,
            bridge_geohash: None,
            unknown: Vec::new(),
        };
        let payload = announce.encode().expect("our own announce fits its TLVs");
        let mut packet = Packet::new(kind::ANNOUNCE, self.me, now_ms, payload);
        signing::sign(&mut packet, self.keys.signing()).expect("an announce encodes");
        packet
    }

    fn announce(&mut self, now_ms: u64) {
        let packet = self.announce_packet(now_ms);
        self.seen.first_time(router::message_id(&packet), now_ms);
        self.originate(&packet, None);
        self.schedule_announce(now_ms);
    }

    fn announce_on(&mut self, link: LinkId, now_ms: u64) {
        let packet = self.announce_packet(now_ms);
        self.seen.first_time(router::message_id(&packet), now_ms);
        self.transmit(link, &packet);
    }

    fn schedule_announce(&mut self, now_ms: u64) {
        self.next_announce_ms =
            now_ms + if self.links.is_empty() { 4_000 } else { self.rand.between((11_000, 19_000)) };
    }

    /// To every link, or to the recipient's link when it is a neighbour.
    fn originate(&mut self, packet: &Packet, recipient: Option<PeerId>) {
        let targets: Vec<LinkId> = match recipient.and_then(|r| self.direct_link(r)) {
            Some((link, _)) => vec![link],
            None => self.links.keys().copied().collect(),
        };
        for link in targets {
            self.transmit(link, packet);
        }
    }

    /// One packet on one link: one frame per write, fragmented when it does not fit.
    fn transmit(&mut self, link: LinkId, packet: &Packet) {
        let Some(mtu) = self.links.get(&link).map(|l| l.mtu) else { return };
        let limit = mtu.saturating_sub(3).clamp(fragment::MIN_CHUNK_BYTES + 64, MAX_FRAME_BYTES);
        let Ok(frame) = crate::encode(packet, Encoding::AIR) else { return };
        if frame.len() <= limit {
            self.counters.frames_out += 1;
            self.out.push_back(Output::Transmit { link, frame });
            return;
        }
        // The fragment's own header: v1/v2 header, sender, recipient, route, fragment header.
        let route = packet.route.as_ref().map_or(0, |r| 1 + r.len() * 8);
        let overhead = 16 + 8 + 8 + route + crate::payload::FRAGMENT_HEADER_BYTES + 2;
        let unpadded = crate::encode(packet, Encoding { compress: true, pad: Some(false) }).unwrap_or(frame);
        let chunk = limit.saturating_sub(overhead).max(fragment::MIN_CHUNK_BYTES);
        let Ok(parts) = fragment::split(packet, &unpadded, chunk, self.rand.bytes()) else { return };
        for part in parts {
            if let Ok(frame) = crate::encode(&part, Encoding::AIR) {
                self.counters.frames_out += 1;
                self.out.push_back(Output::Transmit { link, frame });
            }
        }
    }

    fn send_noise(&mut self, peer: PeerId, payload: NoisePayload, now_ms: u64) {
        let worn = self.session_use.get(&peer).is_some_and(|(since, messages)| {
            now_ms.saturating_sub(*since) >= REKEY_AFTER_MS || *messages >= REKEY_AFTER_MESSAGES
        });
        if worn && matches!(self.sessions.get(&peer), Some(Noise::Established(_))) {
            self.sessions.remove(&peer);
            self.session_use.remove(&peer);
        }
        if let Some(Noise::Established(session)) = self.sessions.get_mut(&peer) {
            let Ok(plaintext) = payload.encode() else { return };
            match session.encrypt(&plaintext) {
                Ok(ciphertext) => {
                    if let Some((_, messages)) = self.session_use.get_mut(&peer) {
                        *messages += 1;
                    }
                    let mut packet = Packet::new(kind::NOISE_ENCRYPTED, self.me, now_ms, ciphertext);
                    packet.recipient = Some(peer);
                    self.originate(&packet, Some(peer));
                    return;
                }
                // Counter exhausted: re-key with a new handshake.
                Err(_) => {
                    self.sessions.remove(&peer);
                }
            }
        }
        self.waiting.entry(peer).or_default().push(payload);
        if !self.sessions.contains_key(&peer) {
            self.start_handshake(peer, now_ms);
        }
    }

    fn start_handshake(&mut self, peer: PeerId, now_ms: u64) {
        let times = self.handshake_times.entry(peer).or_default();
        times.retain(|t| now_ms.saturating_sub(*t) < 60_000);
        if times.len() >= HANDSHAKES_PER_MINUTE {
            return;
        }
        times.push_back(now_ms);
        let Ok(mut handshake) = Handshake::initiator(self.keys.noise_secret()) else { return };
        let Ok(message) = handshake.write() else { return };
        self.counters.handshakes += 1;
        self.sessions.insert(
            peer,
            Noise::Initiating {
                handshake,
                started_ms: now_ms,
                sent: message.clone(),
                resend_ms: now_ms + HANDSHAKE_RESEND_MS,
            },
        );
        self.send_handshake(peer, message, now_ms);
    }

    fn send_handshake(&mut self, peer: PeerId, message: Vec<u8>, now_ms: u64) {
        let mut packet = Packet::new(kind::NOISE_HANDSHAKE, self.me, now_ms, message);
        packet.recipient = Some(peer);
        self.originate(&packet, Some(peer));
    }

    fn flush_waiting(&mut self, peer: PeerId, now_ms: u64) {
        for payload in self.waiting.remove(&peer).unwrap_or_default() {
            let private_id = match &payload {
                NoisePayload::PrivateMessage { id, .. } => Some(id.clone()),
                _ => None,
            };
            self.send_noise(peer, payload, now_ms);
            if let Some(id) = private_id {
                self.mark_sent(&id, peer);
            }
        }
    }

    fn mark_sent(&mut self, id: &str, peer: PeerId) {
        if matches!(self.sessions.get(&peer), Some(Noise::Established(_))) {
            self.out.push_back(Output::Event(ChatEvent::Delivery {
                message_id: id.to_owned(),
                peer_id: hex::encode(peer),
                state: DeliveryState::Sent,
            }));
        }
    }

    fn retry_outbox(&mut self, now_ms: u64) {
        let mut failed = Vec::new();
        let mut due = Vec::new();
        for (index, (pending, next_ms)) in self.outbox.iter_mut().enumerate() {
            if now_ms.saturating_sub(pending.created_ms) >= OUTBOX_KEEP_MS {
                failed.push(index);
                continue;
            }
            if *next_ms > now_ms {
                continue;
            }
            due.push(index);
        }
        for index in due {
            let (peer, id, text) = {
                let (pending, _) = &self.outbox[index];
                (pending.peer, pending.id.clone(), pending.text.clone())
            };
            if !self.reachable(peer, now_ms) {
                // Tried again as soon as the peer is heard.
                self.outbox[index].1 = u64::MAX;
                continue;
            }
            let tries = {
                let (pending, next_ms) = &mut self.outbox[index];
                pending.tries += 1;
                *next_ms = now_ms + RETRY_MS * u64::from(pending.tries.min(3));
                pending.tries
            };
            if tries > OUTBOX_TRIES {
                failed.push(index);
                continue;
            }
            let already_waiting = self
                .waiting
                .get(&peer)
                .is_some_and(|w| w.iter().any(|p| matches!(p, NoisePayload::PrivateMessage { id: i, .. } if *i == id)));
            if !already_waiting {
                self.send_noise(peer, NoisePayload::PrivateMessage { id: id.clone(), content: text }, now_ms);
                self.mark_sent(&id, peer);
            }
        }
        failed.sort_unstable();
        failed.dedup();
        for index in failed.into_iter().rev() {
            let (pending, _) = self.outbox.remove(index);
            self.out.push_back(Output::Event(ChatEvent::Delivery {
                message_id: pending.id,
                peer_id: hex::encode(pending.peer),
                state: DeliveryState::Failed,
            }));
        }
    }

    // ----- time -----

    /// Does what is due at `now_ms`: relays whose jitter ran out, announces, sync, retries,
    /// handshake timeouts, reachability changes.
    pub fn tick(&mut self, now_ms: u64) {
        let mut due = Vec::new();
        self.relays.retain_mut(|relay| {
            if relay.due_ms <= now_ms {
                due.push((std::mem::take(&mut relay.links), relay.packet.clone()));
                false
            } else {
                true
            }
        });
        for (links, packet) in due {
            for link in links {
                self.transmit(link, &packet);
            }
        }
        if now_ms >= self.next_announce_ms {
            self.announce(now_ms);
        }
        if now_ms >= self.next_sync_ms {
            self.request_sync(now_ms);
        }
        let mut resend = Vec::new();
        for (peer, noise) in &mut self.sessions {
            if let Noise::Initiating { sent, resend_ms, .. } | Noise::Responding { sent, resend_ms, .. } = noise {
                if *resend_ms <= now_ms {
                    *resend_ms = now_ms + HANDSHAKE_RESEND_MS;
                    resend.push((*peer, sent.clone()));
                }
            }
        }
        for (peer, message) in resend {
            self.send_handshake(peer, message, now_ms);
        }
        self.final_messages.retain(|_, (_, at)| now_ms.saturating_sub(*at) < FINAL_KEEP_MS);
        self.answered.retain(|_, (_, at)| now_ms.saturating_sub(*at) < FINAL_KEEP_MS);
        let mut timed_out = Vec::new();
        self.sessions.retain(|peer, noise| {
            let alive = match noise {
                Noise::Initiating { started_ms, .. } => now_ms.saturating_sub(*started_ms) < HANDSHAKE_TIMEOUT_MS,
                Noise::Responding { started_ms, .. } => now_ms.saturating_sub(*started_ms) < RESPONDER_TIMEOUT_MS,
                Noise::Established(_) => true,
            };
            if !alive {
                timed_out.push(*peer);
            }
            alive
        });
        // A handshake lost on the way is started again while something waits for it.
        for peer in timed_out {
            if self.waiting.get(&peer).is_some_and(|w| !w.is_empty()) && self.reachable(peer, now_ms) {
                self.start_handshake(peer, now_ms);
            }
        }
        self.retry_outbox(now_ms);
        self.send_due_receipts(now_ms);
        self.reassembler.expire(now_ms);
        self.unverified.retain(|(_, at)| now_ms.saturating_sub(*at) < UNVERIFIED_MS);
        let changed: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(id, p)| p.reported_reachable != self.reachable(**id, now_ms))
            .map(|(id, _)| *id)
            .collect();
        for peer in changed {
            self.report_peer(peer, now_ms);
        }
    }

    // ----- sync -----

    fn remember(&mut self, packet: &Packet, now_ms: u64) {
        let original = Packet { ttl: 0, is_rsr: false, ..packet.clone() };
        let id = packet_id(original.kind, &original.sender, original.timestamp_ms, &original.payload);
        if self.history.iter().any(|(h, _, _)| *h == id) {
            return;
        }
        self.history.push_back((id, original, now_ms));
        while self.history.len() > HISTORY_MAX
            || self.history.front().is_some_and(|(_, _, at)| now_ms.saturating_sub(*at) > HISTORY_MS)
        {
            self.history.pop_front();
        }
    }

    fn request_sync(&mut self, now_ms: u64) {
        self.next_sync_ms = now_ms + self.rand.between((SYNC_EVERY_MS - 2_000, SYNC_EVERY_MS + 2_000));
        let ids: Vec<[u8; 16]> = self.history.iter().rev().map(|(id, _, _)| *id).collect();
        let request = RequestSync {
            filter: Gcs::build_shifted(&ids, DEFAULT_P, DEFAULT_FILTER_BYTES, self.rand.next()),
            types: Some(1 << 1),
            since_ms: None,
            fragment_ids: None,
        };
        let Ok(payload) = request.encode() else { return };
        let targets: Vec<(LinkId, PeerId)> =
            self.links.iter().filter_map(|(id, l)| l.peer.map(|peer| (*id, peer))).collect();
        for (link, peer) in targets {
            let mut packet = Packet::new(kind::REQUEST_SYNC, self.me, now_ms, payload.clone());
            packet.ttl = 0;
            packet.recipient = Some(peer);
            self.sync_asked.insert(link, now_ms);
            self.transmit(link, &packet);
        }
    }

    fn answer_sync(&mut self, link: LinkId, packet: &Packet, now_ms: u64) {
        let answered = self.sync_answers.entry(link).or_default();
        answered.retain(|at| now_ms.saturating_sub(*at) < 30_000);
        if answered.len() >= SYNC_ANSWERS_PER_30S {
            self.counters.dropped_rate_limited += 1;
            return;
        }
        answered.push_back(now_ms);
        let Ok(request) = RequestSync::decode(&packet.payload) else {
            self.counters.dropped_invalid += 1;
            return;
        };
        let wanted = |kind: u8| {
            request.types.is_none_or(|types| match kind {
                kind::MESSAGE => types & (1 << 1) != 0,
                kind::ANNOUNCE => types & 1 != 0,
                _ => false,
            })
        };
        let since = request.since_ms.unwrap_or(0);
        let candidates: Vec<&([u8; 16], Packet, u64)> =
            self.history.iter().filter(|(_, p, _)| wanted(p.kind) && p.timestamp_ms >= since).collect();
        let ids: Vec<[u8; 16]> = candidates.iter().map(|(id, _, _)| *id).collect();
        let has = request.filter.membership(&ids);
        let missing: Vec<Packet> = candidates
            .iter()
            .zip(has)
            .filter(|(_, has)| !has)
            .map(|((_, p, _), _)| Packet { ttl: 0, is_rsr: true, ..p.clone() })
            .take(SYNC_REPLY_MAX)
            .collect();
        for packet in missing {
            self.transmit(link, &packet);
        }
    }

    // ----- receiving -----

    /// A frame from `link`. Bad frames are counted and dropped; nothing here panics on them.
    pub fn receive(&mut self, link: LinkId, frame: &[u8], now_ms: u64) {
        self.counters.frames_in += 1;
        let Ok(packet) = crate::decode(frame) else {
            self.counters.dropped_invalid += 1;
            return;
        };
        self.handle(link, packet, true, now_ms);
    }

    fn handle(&mut self, link: LinkId, packet: Packet, relayable: bool, now_ms: u64) {
        if packet.kind == kind::REQUEST_SYNC {
            if packet.sender != self.me
                && packet.recipient.is_none_or(|r| r == self.me || r == crate::packet::BROADCAST)
            {
                self.answer_sync(link, &packet, now_ms);
            }
            return;
        }
        if packet.is_rsr && self.sync_asked.get(&link).is_none_or(|at| now_ms.saturating_sub(*at) > SYNC_ANSWER_MS) {
            self.counters.dropped_invalid += 1;
            return;
        }
        // An announce is checked once; its verdict serves the link binding and the delivery.
        let announce = (packet.kind == kind::ANNOUNCE).then(|| signing::verify_announce(&packet).ok()).flatten();
        let mut announce_accepted = false;
        // An announce at full TTL comes from the neighbour at the other end of this link.
        if packet.ttl == ORIGIN_TTL && !packet.is_rsr {
            if let Some(announce) = &announce {
                announce_accepted = self.accept_announce(&packet, announce, 0, now_ms);
                if announce_accepted {
                    let newly_bound = self.links.get(&link).is_some_and(|l| l.peer != Some(packet.sender));
                    if let Some(l) = self.links.get_mut(&link) {
                        l.peer = Some(packet.sender);
                    }
                    if newly_bound {
                        self.report_peer(packet.sender, now_ms);
                        // Something may be waiting for this peer.
                        self.retry_now(packet.sender);
                    }
                }
            }
        }
        let links: Vec<PeerId> = self.links.values().filter_map(|l| l.peer).collect();
        let ingress = self.links.get(&link).and_then(|l| l.peer);
        let at = Neighbourhood { me: self.me, links: &links, ingress, now_ms };
        let decision = router::decide(&packet, &mut self.seen, &at);
        let (deliver, relay) = match decision {
            Decision::Accept { deliver, relay } => (deliver, relay),
            Decision::Drop(router::Drop::Skewed) => {
                self.counters.dropped_skewed += 1;
                return;
            }
            Decision::Drop(why) => {
                if why == router::Drop::Duplicate {
                    // Someone nearby relayed it first, so ours is not needed (iOS).
                    self.relays.retain(|r| !r.packet.same_as(&packet));
                }
                self.counters.dropped_duplicate += 1;
                return;
            }
        };
        if let Some(relay) = relay.filter(|_| relayable) {
            let targets: Vec<LinkId> = match relay.next {
                Next::Links(peers) => self
                    .links
                    .iter()
                    .filter(|(_, l)| l.peer.is_some_and(|p| peers.contains(&p)))
                    .map(|(id, _)| *id)
                    .collect(),
                Next::Hop(peer) => self.direct_link(peer).map(|(id, _)| id).into_iter().collect(),
            };
            if !targets.is_empty() {
                self.counters.relayed += 1;
                let due_ms = now_ms + self.rand.between(relay.jitter_ms);
                self.relays.push(Relay { due_ms, packet: Packet { ttl: relay.ttl, ..packet.clone() }, links: targets });
            }
        }
        if deliver {
            match announce {
                Some(announce) => self.deliver_announce(&packet, &announce, announce_accepted, now_ms),
                None => self.deliver(link, packet, now_ms),
            }
        }
    }

    fn retry_now(&mut self, peer: PeerId) {
        for (pending, next_ms) in &mut self.outbox {
            if pending.peer == peer {
                *next_ms = 0;
            }
        }
    }

    fn deliver(&mut self, link: LinkId, packet: Packet, now_ms: u64) {
        match packet.kind {
            // A verified announce went to `deliver_announce`; this one failed its checks.
            kind::ANNOUNCE => self.counters.dropped_invalid += 1,
            kind::MESSAGE => self.deliver_public(packet, now_ms),
            kind::LEAVE => {
                let Some(peer) = self.peers.get(&packet.sender) else { return };
                let Ok(key) = VerifyingKey::from_bytes(&peer.known.signing_key) else { return };
                if signing::verify(&packet, &key) {
                    self.peers.get_mut(&packet.sender).expect("present").known.last_heard_ms = 0;
                    self.sessions.remove(&packet.sender);
                    self.out.push_back(Output::Event(ChatEvent::PeerLeft { peer_id: hex::encode(packet.sender) }));
                    self.report_peer(packet.sender, now_ms);
                }
            }
            kind::NOISE_HANDSHAKE if packet.recipient == Some(self.me) => self.on_handshake(packet, now_ms),
            kind::NOISE_ENCRYPTED if packet.recipient == Some(self.me) => self.on_encrypted(packet, now_ms),
            kind::FRAGMENT => {
                let Ok(fragment) = Fragment::decode(&packet.payload) else {
                    self.counters.dropped_invalid += 1;
                    return;
                };
                match self.reassembler.add(packet.sender, fragment, now_ms) {
                    Ok(Some(whole)) => {
                        // Its fragments were relayed already; the whole packet is for us only.
                        self.handle(link, Packet { ttl: 0, ..whole }, false, now_ms)
                    }
                    Ok(None) => {}
                    Err(_) => self.counters.dropped_invalid += 1,
                }
            }
            // Types this build does not handle are skipped (they were relayed if relayable).
            _ => {}
        }
    }

    /// Records a verified announce (unless the link binding already did) and delivers the
    /// public messages from its sender that were waiting for its keys.
    fn deliver_announce(&mut self, packet: &Packet, announce: &Announce, accepted: bool, now_ms: u64) {
        let hops = ORIGIN_TTL.saturating_sub(packet.ttl);
        if !accepted && !self.accept_announce(packet, announce, hops, now_ms) {
            return;
        }
        let (from_peer, rest): (Vec<_>, Vec<_>) =
            self.unverified.drain(..).partition(|(p, _)| p.sender == packet.sender);
        self.unverified = rest.into();
        for (message, _) in from_peer {
            self.deliver_public(message, now_ms);
        }
    }

    /// Pins a first announce, refuses one whose keys differ from the pinned ones, and records
    /// the peer as heard. False if refused.
    fn accept_announce(&mut self, packet: &Packet, announce: &Announce, hops: u8, now_ms: u64) -> bool {
        let sender = packet.sender;
        match self.peers.get_mut(&sender) {
            Some(peer)
                if peer.known.noise_key != announce.noise_key || peer.known.signing_key != announce.signing_key =>
            {
                self.counters.dropped_invalid += 1;
                self.out.push_back(Output::Event(ChatEvent::KeyMismatch {
                    peer_id: hex::encode(sender),
                    nickname: announce.nickname.clone(),
                }));
                false
            }
            Some(peer) => {
                let changed = peer.known.nickname != announce.nickname || !peer.reported_reachable;
                peer.known.nickname.clone_from(&announce.nickname);
                peer.known.last_heard_ms = now_ms;
                peer.hops = Some(hops);
                if changed {
                    self.retry_now(sender);
                    self.report_peer(sender, now_ms);
                }
                true
            }
            None => {
                let known = KnownPeer {
                    nickname: announce.nickname.clone(),
                    noise_key: announce.noise_key,
                    signing_key: announce.signing_key,
                    first_seen_ms: now_ms,
                    last_heard_ms: now_ms,
                    favourite: false,
                    verified: false,
                };
                self.out.push_back(Output::Pinned {
                    peer_id: sender,
                    nickname: known.nickname.clone(),
                    noise_key: known.noise_key,
                    signing_key: known.signing_key,
                    at_ms: now_ms,
                });
                self.peers.insert(sender, Peer { known, hops: Some(hops), reported_reachable: false });
                self.retry_now(sender);
                self.report_peer(sender, now_ms);
                true
            }
        }
    }

    fn deliver_public(&mut self, packet: Packet, now_ms: u64) {
        let Some(peer) = self.peers.get(&packet.sender) else {
            if self.unverified.len() >= UNVERIFIED_MAX {
                self.unverified.pop_front();
            }
            self.unverified.push_back((packet, now_ms));
            return;
        };
        let verified =
            VerifyingKey::from_bytes(&peer.known.signing_key).is_ok_and(|key| signing::verify(&packet, &key));
        let Ok(text) = String::from_utf8(packet.payload.clone()) else {
            self.counters.dropped_invalid += 1;
            return;
        };
        if !verified {
            self.counters.dropped_invalid += 1;
            return;
        }
        let nickname = peer.known.nickname.clone();
        // Live messages only: a sync reply fills in old ones, many at once by design.
        let allowed = packet.is_rsr
            || (self.public_per_sender.take(packet.sender, now_ms)
                && self.public_per_content.take(content_key(&text), now_ms));
        if !allowed {
            self.counters.dropped_rate_limited += 1;
            return;
        }
        self.remember(&packet, now_ms);
        let message = ChatMessage {
            id: public_message_id(&packet.sender, packet.timestamp_ms, text.trim()),
            channel: PUBLIC_CHANNEL.into(),
            sender: hex::encode(packet.sender),
            sender_nickname: nickname,
            text,
            timestamp_ms: packet.timestamp_ms,
            received_ms: now_ms,
            outgoing: false,
            private: false,
            delivery: None,
            read: false,
        };
        self.out.push_back(Output::Event(ChatEvent::Message { message }));
    }

    fn on_handshake(&mut self, packet: Packet, now_ms: u64) {
        let peer = packet.sender;
        let message = packet.payload;
        let fresh_initiation = message.len() == 32;
        if fresh_initiation && self.answered.get(&peer).is_some_and(|(m, _)| *m == message) {
            if let Some(Noise::Responding { sent, .. }) = self.sessions.get(&peer) {
                let again = sent.clone();
                self.send_handshake(peer, again, now_ms);
            }
            return;
        }
        if fresh_initiation {
            if matches!(self.sessions.get(&peer), Some(Noise::Initiating { .. })) && keeps_initiator_role(self.me, peer)
            {
                return;
            }
            if !(self.incoming_handshakes_per_peer.admit(peer, now_ms) && self.incoming_handshakes.admit(now_ms)) {
                self.counters.dropped_rate_limited += 1;
                return;
            }
            // A new initiation replaces whatever we had: the peer re-keys or restarted.
            self.sessions.remove(&peer);
            let Ok(mut handshake) = Handshake::responder(self.keys.noise_secret()) else { return };
            if handshake.read(&message).is_err() {
                self.counters.dropped_invalid += 1;
                return;
            }
            let Ok(reply) = handshake.write() else { return };
            self.counters.handshakes += 1;
            self.answered.insert(peer, (message.clone(), now_ms));
            self.sessions.insert(
                peer,
                Noise::Responding {
                    handshake,
                    started_ms: now_ms,
                    sent: reply.clone(),
                    resend_ms: now_ms + HANDSHAKE_RESEND_MS,
                },
            );
            self.send_handshake(peer, reply, now_ms);
            return;
        }
        match self.sessions.remove(&peer) {
            Some(Noise::Initiating { mut handshake, .. }) => {
                let finished = handshake.read(&message).and_then(|()| {
                    let last = handshake.write()?;
                    Ok((last, handshake.finish(peer)?))
                });
                match finished {
                    Ok((last, session)) => {
                        self.final_messages.insert(peer, (last.clone(), now_ms));
                        self.send_handshake(peer, last, now_ms);
                        self.established(peer, session, now_ms);
                    }
                    Err(_) => self.counters.dropped_invalid += 1,
                }
            }
            Some(Noise::Responding { mut handshake, .. }) => {
                match handshake.read(&message).and_then(|()| handshake.finish(peer)) {
                    Ok(session) => self.established(peer, session, now_ms),
                    Err(_) => self.counters.dropped_invalid += 1,
                }
            }
            Some(established) => {
                self.sessions.insert(peer, established);
                // Our last message was lost and the responder repeats its own: repeat ours.
                if let Some((last, _)) = self.final_messages.get(&peer).cloned() {
                    self.send_handshake(peer, last, now_ms);
                }
            }
            None => {}
        }
    }

    fn established(&mut self, peer: PeerId, session: Session, now_ms: u64) {
        // The session must belong to the keys this peer announced, when we know them.
        if self.peers.get(&peer).is_some_and(|p| p.known.noise_key != *session.remote_static_key()) {
            self.counters.dropped_invalid += 1;
            return;
        }
        self.sessions.insert(peer, Noise::Established(Box::new(session)));
        self.session_use.insert(peer, (now_ms, 0));
        self.flush_waiting(peer, now_ms);
        self.report_peer(peer, now_ms);
    }

    fn on_encrypted(&mut self, packet: Packet, now_ms: u64) {
        let peer = packet.sender;
        if !(self.noise_per_peer.take(peer, now_ms) && self.noise_all.take((), now_ms)) {
            self.counters.dropped_rate_limited += 1;
            return;
        }
        let plaintext = match self.sessions.get_mut(&peer) {
            Some(Noise::Established(session)) => session.decrypt(&packet.payload).ok(),
            _ => None,
        };
        let Some(plaintext) = plaintext else {
            // No session (we restarted, or it was re-keyed): a new handshake lets the sender's
            // retries through.
            self.counters.dropped_invalid += 1;
            if !matches!(self.sessions.get(&peer), Some(Noise::Initiating { .. } | Noise::Responding { .. })) {
                self.sessions.remove(&peer);
                self.start_handshake(peer, now_ms);
            }
            return;
        };
        if let Some((_, messages)) = self.session_use.get_mut(&peer) {
            *messages += 1;
        }
        let Ok(payload) = NoisePayload::decode(&plaintext) else {
            self.counters.dropped_invalid += 1;
            return;
        };
        match payload {
            NoisePayload::PrivateMessage { id, content } => {
                self.send_noise(peer, NoisePayload::Delivered { message_id: id.clone() }, now_ms);
                if !self.received_private.insert(id.clone()) {
                    return;
                }
                let nickname = self.peers.get(&peer).map(|p| p.known.nickname.clone()).unwrap_or_default();
                let message = ChatMessage {
                    id,
                    channel: hex::encode(peer),
                    sender: hex::encode(peer),
                    sender_nickname: nickname,
                    text: content,
                    timestamp_ms: packet.timestamp_ms,
                    received_ms: now_ms,
                    outgoing: false,
                    private: true,
                    delivery: None,
                    read: false,
                };
                self.out.push_back(Output::Event(ChatEvent::Message { message }));
            }
            NoisePayload::Delivered { message_id } => self.acknowledged(peer, message_id, DeliveryState::Delivered),
            NoisePayload::ReadReceipt { message_id } => self.acknowledged(peer, message_id, DeliveryState::Read),
            NoisePayload::PrivateFile(_) | NoisePayload::Other { .. } => {}
        }
    }

    fn acknowledged(&mut self, peer: PeerId, message_id: String, state: DeliveryState) {
        self.outbox.retain(|(p, _)| !(p.peer == peer && p.id == message_id));
        self.out.push_back(Output::Event(ChatEvent::Delivery { message_id, peer_id: hex::encode(peer), state }));
    }

    /// Marks ids of private messages already received (from storage), so a retry is not shown
    /// twice after a restart.
    pub fn restore_received(&mut self, ids: impl IntoIterator<Item = String>) {
        self.received_private.extend(ids);
    }
}

/// The key of a public message's content bucket: its text, trimmed and case-folded.
fn content_key(text: &str) -> [u8; 8] {
    let digest = Sha256::digest(text.trim().to_lowercase());
    digest[..8].try_into().expect("8 bytes")
}

/// iOS's local id of a public message: the first 32 hex digits of
/// SHA-256("senderHex|timestampMs|text").
pub fn public_message_id(sender: &PeerId, timestamp_ms: u64, text: &str) -> String {
    let digest = Sha256::digest(format!("{}|{timestamp_ms}|{text}", hex::encode(sender)));
    hex::encode(&digest[..16])
}

/// A version-4 UUID string, upper case, as iOS writes message ids.
fn uuid_string(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode_upper(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Parses a peer id written as 16 hex digits.
pub fn parse_peer_id(text: &str) -> Option<PeerId> {
    let mut id = [0u8; 8];
    hex::decode_to_slice(text.trim(), &mut id).ok()?;
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    /// Engines joined in a line by perfect links; frames arrive in the same step.
    struct Line {
        engines: Vec<Engine>,
        events: Vec<Vec<ChatEvent>>,
        now: u64,
    }

    impl Line {
        fn new(n: usize) -> Line {
            let mut engines: Vec<Engine> =
                (0..n).map(|i| Engine::new(ChatKeys::generate(), &format!("e{i}"), T0, i as u64 + 1)).collect();
            for (i, engine) in engines.iter_mut().enumerate() {
                for j in [i.wrapping_sub(1), i + 1] {
                    if j < n {
                        engine.link_up(j as LinkId, 517, None, T0);
                    }
                }
            }
            Line { events: (0..n).map(|_| Vec::new()).collect(), engines, now: T0 }
        }

        fn pump(&mut self) {
            loop {
                let mut moved = false;
                for i in 0..self.engines.len() {
                    while let Some(out) = self.engines[i].poll() {
                        moved = true;
                        match out {
                            Output::Transmit { link, frame } => {
                                self.engines[link as usize].receive(i as LinkId, &frame, self.now)
                            }
                            Output::Event(e) => self.events[i].push(e),
                            Output::Pinned { .. } => {}
                        }
                    }
                }
                if !moved {
                    return;
                }
            }
        }

        fn run(&mut self, ms: u64) {
            let end = self.now + ms;
            while self.now < end {
                self.now += 10;
                for e in &mut self.engines {
                    e.tick(self.now);
                }
                self.pump();
            }
        }
    }

    /// Frames `from` wants to send, kept back instead of delivered.
    fn held(engine: &mut Engine) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(out) = engine.poll() {
            if let Output::Transmit { frame, .. } = out {
                frames.push(frame);
            }
        }
        frames
    }

    #[test]
    fn private_messages_survive_reordering_and_replays_are_refused() {
        let mut line = Line::new(2);
        line.run(2_000);
        let bob = line.engines[1].peer_id();
        // A first message sets up the session.
        line.engines[0].send_private(bob, "first", line.now).unwrap();
        line.run(1_000);
        let ids: Vec<String> =
            (0..3).map(|i| line.engines[0].send_private(bob, &format!("m{i}"), line.now).unwrap().id).collect();
        let frames = held(&mut line.engines[0]);
        assert_eq!(frames.len(), 3, "one encrypted frame each");
        let now = line.now;
        let before = line.engines[1].counters().dropped_invalid;
        for frame in frames.iter().rev() {
            line.engines[1].receive(0, frame, now);
        }
        // The same frame again is a duplicate packet; its ciphertext re-wrapped in a new packet
        // gets past duplicate suppression and must be stopped by the Noise replay window.
        line.engines[1].receive(0, &frames[0], now);
        let mut rewrapped = crate::decode(&frames[0]).unwrap();
        rewrapped.timestamp_ms += 1;
        line.engines[1].receive(0, &crate::encode(&rewrapped, Encoding::AIR).unwrap(), now);
        line.pump();
        let got: Vec<&String> = line.events[1]
            .iter()
            .filter_map(|e| match e {
                ChatEvent::Message { message } if message.private && ids.contains(&message.id) => Some(&message.id),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), 3, "each message once, in whatever order: {got:?}");
        assert_eq!(line.engines[1].counters().dropped_invalid, before + 1, "the replayed ciphertext");
        let delivered = |id: &String| {
            line.events[0].iter().any(|e| matches!(e, ChatEvent::Delivery { message_id, state: DeliveryState::Delivered, .. } if message_id == id))
        };
        assert!(ids.iter().all(delivered));
    }

    #[test]
    fn a_worn_session_is_replaced_by_a_new_handshake() {
        let mut line = Line::new(2);
        line.run(2_000);
        let bob = line.engines[1].peer_id();
        line.engines[0].send_private(bob, "before", line.now).unwrap();
        line.run(1_000);
        let handshakes = line.engines[0].counters().handshakes;
        line.now += REKEY_AFTER_MS;
        line.run(1_000);
        let sent = line.engines[0].send_private(bob, "after an hour", line.now).unwrap();
        line.run(1_000);
        assert_eq!(line.engines[0].counters().handshakes, handshakes + 1);
        let got = line.events[1].iter().any(|e| matches!(e, ChatEvent::Message { message } if message.id == sent.id));
        assert!(got);
    }

    #[test]
    fn a_flood_of_public_messages_from_one_sender_is_cut_to_its_bucket() {
        let mut line = Line::new(2);
        line.run(2_000);
        for i in 0..20 {
            line.engines[0].send_public(&format!("spam {i}"), line.now).unwrap();
        }
        line.pump();
        let shown = line.events[1]
            .iter()
            .filter(|e| matches!(e, ChatEvent::Message { message } if message.text.starts_with("spam")))
            .count();
        assert_eq!(shown, 5);
        assert_eq!(line.engines[1].counters().dropped_rate_limited, 15);
    }

    #[test]
    fn the_same_text_is_cut_to_its_content_bucket() {
        let mut line = Line::new(2);
        line.run(2_000);
        for _ in 0..5 {
            line.now += 1;
            line.engines[0].send_public("same words", line.now).unwrap();
        }
        line.pump();
        let shown = line.events[1]
            .iter()
            .filter(|e| matches!(e, ChatEvent::Message { message } if message.text == "same words"))
            .count();
        assert_eq!(shown, 3);
        assert_eq!(line.engines[1].counters().dropped_rate_limited, 2);
    }

    #[test]
    fn a_pending_relay_is_cancelled_when_a_duplicate_arrives_first() {
        let got = |line: &Line, text: &str| {
            line.events[2].iter().any(|e| matches!(e, ChatEvent::Message { message } if message.text == text))
        };
        let mut line = Line::new(3);
        line.run(2_000);
        for (text, duplicate) in [("relayed", false), ("someone else relayed it", true)] {
            line.engines[0].send_public(text, line.now).unwrap();
            for frame in held(&mut line.engines[0]) {
                line.engines[1].receive(0, &frame, line.now);
                if duplicate {
                    // As if the third peer had relayed it to the middle one before its jitter ran out.
                    line.engines[1].receive(2, &frame, line.now);
                }
            }
            line.run(300);
            assert_eq!(got(&line, text), !duplicate, "{text}");
        }
    }

    #[test]
    fn a_private_message_goes_end_to_end_with_receipts() {
        let mut line = Line::new(4);
        line.run(2_000);
        let last = line.engines[3].peer_id();
        assert!(line.engines[0].peer(last, line.now).is_some_and(|p| p.reachable && !p.direct));
        let sent = line.engines[0].send_private(last, "hi", line.now).unwrap();
        line.run(2_000);
        let got = line.events[3].iter().any(|e| matches!(e, ChatEvent::Message { message } if message.id == sent.id));
        assert!(got, "{:?}", line.events[3]);
        let delivered = line.events[0].iter().any(
            |e| matches!(e, ChatEvent::Delivery { message_id, state: DeliveryState::Delivered, .. } if *message_id == sent.id),
        );
        assert!(delivered);
        assert_eq!(line.engines[0].outbox_len(), 0);
    }
}
