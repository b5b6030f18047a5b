//! The client engine, with no I/O: a Poisson stream of packets in which real packets take
//! the place of drop cover, a second Poisson stream of loop cover that measures the round
//! trip, fragmentation with an acknowledgement SURB in every fragment, retransmission of the
//! fragments whose acknowledgement does not come back, and reply SURBs.
//!
//! As in Loopix and Nym, an observer of this node's link sees packets leave at the same
//! Poisson rate whether or not it sends anything.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::directory::{NetworkParams, Topology, LAYERS};
use crate::message::{self, Envelope, MessageError, MessageId, Payload, Reassembly, MAX_REPLY_SURBS};
use crate::sphinx::{self, Hop, PreparedKey, Surb, SurbKeys, ADDRESS_LEN};

#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// Mean gap of the main stream (real packets or drop cover), ms.
    pub send_interval_ms: f64,
    /// Mean gap of the loop cover stream, ms.
    pub loop_interval_ms: f64,
    /// Mean delay a packet is held at each mixnode, ms.
    pub mix_delay_ms: f64,
    /// Reply SURBs attached to each message.
    pub reply_surbs: usize,
    /// Sends of one fragment before its message counts as failed.
    pub max_tries: u32,
    /// Wait for an acknowledgement beyond the expected round trip, ms.
    pub ack_slack_ms: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            send_interval_ms: 20.0,
            loop_interval_ms: 200.0,
            mix_delay_ms: 50.0,
            reply_surbs: 2,
            max_tries: 10,
            ack_slack_ms: 1_500,
        }
    }
}

/// Where a message goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// An endpoint of the directory, by identity.
    Node([u8; ADDRESS_LEN]),
    /// Through reply SURBs someone gave us (each used once).
    Surbs(Vec<Surb>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("no usable Betanet topology: {0}")]
    NoTopology(String),
    #[error("{0} is not a Betanet endpoint in this epoch")]
    UnknownDestination(String),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("{0} reply SURBs for {1} fragments")]
    NotEnoughSurbs(usize, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A whole message arrived (from an anonymous sender).
    Received { id: MessageId, body: Vec<u8>, reply_surbs: Vec<Surb>, in_reply_to: Option<MessageId> },
    /// Every fragment of a message we sent was acknowledged.
    Delivered { id: MessageId },
    /// A fragment was sent `max_tries` times without an acknowledgement.
    Failed { id: MessageId, reason: String },
    /// A loop cover packet came back after `rtt_us`.
    LoopReturned { rtt_us: u64 },
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClientCounters {
    pub real_sent: u64,
    pub drop_cover_sent: u64,
    pub loop_cover_sent: u64,
    pub loops_returned: u64,
    pub acks_received: u64,
    pub retransmissions: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_failed: u64,
    pub messages_received: u64,
    /// Packets for us that did not make sense (bad payload, unknown SURB).
    pub bad_deliveries: u64,
}

enum Outgoing {
    Fragment { message: MessageId, index: u8 },
    Ack { surb: Surb, message: MessageId, index: u8 },
}

struct OutMessage {
    target: Target,
    fragments: Vec<Vec<u8>>,
    acked: Vec<bool>,
    tries: Vec<u32>,
    /// When each sent fragment is given up on and sent again.
    deadlines: Vec<Option<u64>>,
}

enum SurbUse {
    Ack { message: MessageId, index: u8 },
    Reply { original: MessageId },
}

struct HeldSurb {
    keys: SurbKeys,
    purpose: SurbUse,
    epoch: u32,
}

/// splitmix64; seeded from the OS in the service, fixed in tests.
pub struct Rand(u64);

impl Rand {
    pub fn new(seed: u64) -> Rand {
        Rand(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Exponentially distributed with `mean`.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes16(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        out
    }
}

/// A packet to send, and the address of its first hop.
pub type Outbound = ([u8; ADDRESS_LEN], Vec<u8>);

/// Messages recently completed, so a retransmitted fragment does not deliver twice.
const RECENT_MAX: usize = 4096;

pub struct Client {
    me: [u8; ADDRESS_LEN],
    params: NetworkParams,
    pub config: ClientConfig,
    topology: Option<Topology>,
    prepared: HashMap<(u32, [u8; ADDRESS_LEN]), PreparedKey>,
    rng: Rand,
    outbox: VecDeque<Outgoing>,
    messages: HashMap<MessageId, OutMessage>,
    surbs: HashMap<[u8; 16], HeldSurb>,
    loops: HashMap<[u8; 16], u64>,
    reassembly: Reassembly,
    recent: VecDeque<MessageId>,
    recent_set: HashSet<MessageId>,
    next_real_us: u64,
    next_loop_us: u64,
    counters: ClientCounters,
    last_rtt_us: Option<u64>,
}

impl Client {
    pub fn new(me: [u8; ADDRESS_LEN], params: NetworkParams, config: ClientConfig, seed: u64, now_us: u64) -> Client {
        let mut rng = Rand::new(seed);
        let next_real_us = now_us + (rng.exponential(config.send_interval_ms) * 1000.0) as u64;
        let next_loop_us = now_us + (rng.exponential(config.loop_interval_ms) * 1000.0) as u64;
        Client {
            me,
            params,
            config,
            topology: None,
            prepared: HashMap::new(),
            rng,
            outbox: VecDeque::new(),
            messages: HashMap::new(),
            surbs: HashMap::new(),
            loops: HashMap::new(),
            reassembly: Reassembly::default(),
            recent: VecDeque::new(),
            recent_set: HashSet::new(),
            next_real_us,
            next_loop_us,
            counters: ClientCounters::default(),
            last_rtt_us: None,
        }
    }

    /// The topology to route through (the directory's for the current epoch). Keys of
    /// epochs no longer in use are dropped from the cache, as are SURBs of expired epochs.
    pub fn set_topology(&mut self, topology: Topology) {
        let epoch = topology.epoch;
        self.prepared.retain(|(e, _), _| *e + 1 >= epoch);
        self.surbs.retain(|_, s| s.epoch + 1 >= epoch);
        self.topology = Some(topology);
    }

    pub fn topology(&self) -> Option<&Topology> {
        self.topology.as_ref()
    }

    pub fn counters(&self) -> &ClientCounters {
        &self.counters
    }

    pub fn last_loop_rtt_us(&self) -> Option<u64> {
        self.last_rtt_us
    }

    /// Messages not yet fully acknowledged.
    pub fn in_flight(&self) -> usize {
        self.messages.len()
    }

    fn usable(&self) -> Result<&Topology, ClientError> {
        match &self.topology {
            None => Err(ClientError::NoTopology("no mixnode descriptors yet".into())),
            Some(t) if !t.is_usable() => Err(ClientError::NoTopology(format!(
                "{} mixnodes for {LAYERS} layers (each layer needs one)",
                t.mixnodes()
            ))),
            Some(t) => Ok(t),
        }
    }

    fn fragment_capacity(&self) -> usize {
        message::fragment_capacity(Surb::encoded_len(self.params.mode))
    }

    /// Queues a message to `target`; returns its id. The body is split over as many packets
    /// as it needs; with [`Target::Node`] reply SURBs are attached.
    pub fn send(&mut self, target: Target, body: &[u8]) -> Result<MessageId, ClientError> {
        self.usable()?;
        let id = self.rng.bytes16();
        let reply_surbs = match &target {
            Target::Node(node) => {
                let topology = self.usable()?;
                if !topology.endpoints.contains_key(node) {
                    return Err(ClientError::UnknownDestination(hex(node)));
                }
                let mut surbs = Vec::new();
                for _ in 0..self.config.reply_surbs.min(MAX_REPLY_SURBS) {
                    surbs.push(self.new_surb(SurbUse::Reply { original: id })?);
                }
                surbs
            }
            Target::Surbs(_) => Vec::new(),
        };
        let encoded = Envelope { reply_surbs, body: body.to_vec() }.encode();
        let fragments = message::split(&encoded, self.fragment_capacity())?;
        if let Target::Surbs(surbs) = &target {
            if surbs.len() < fragments.len() {
                return Err(ClientError::NotEnoughSurbs(surbs.len(), fragments.len()));
            }
        }
        let n = fragments.len();
        for index in 0..n {
            self.outbox.push_back(Outgoing::Fragment { message: id, index: index as u8 });
        }
        self.messages.insert(
            id,
            OutMessage { target, fragments, acked: vec![false; n], tries: vec![0; n], deadlines: vec![None; n] },
        );
        self.counters.messages_sent += 1;
        Ok(id)
    }

    fn prepared(&mut self, epoch: u32, identity: [u8; ADDRESS_LEN], key: sphinx::PublicKey) -> Option<()> {
        if let std::collections::hash_map::Entry::Vacant(entry) = self.prepared.entry((epoch, identity)) {
            entry.insert(PreparedKey::new(key).ok()?);
        }
        Some(())
    }

    /// A random path through the layers, then `destination`: (address, delay µs) per hop.
    fn path(&mut self, destination: [u8; ADDRESS_LEN]) -> Result<Vec<([u8; ADDRESS_LEN], u32)>, ClientError> {
        let topology = self.usable()?;
        let epoch = topology.epoch;
        let mut chosen = Vec::with_capacity(LAYERS + 1);
        let layers = topology.layers.clone();
        let destination_key =
            *topology.endpoints.get(&destination).ok_or_else(|| ClientError::UnknownDestination(hex(&destination)))?;
        for layer in &layers {
            let position = &layer[self.rng.below(layer.len())];
            self.prepared(epoch, position.identity, position.key)
                .ok_or_else(|| ClientError::NoTopology("a mixnode key is not a group element".into()))?;
            let delay_us = (self.rng.exponential(self.config.mix_delay_ms) * 1000.0).min(u32::MAX as f64) as u32;
            chosen.push((position.identity, delay_us));
        }
        self.prepared(epoch, destination, destination_key)
            .ok_or_else(|| ClientError::UnknownDestination(hex(&destination)))?;
        chosen.push((destination, 0));
        Ok(chosen)
    }

    fn hops(&self, path: &[([u8; ADDRESS_LEN], u32)], epoch: u32) -> Vec<Hop<'_>> {
        path.iter()
            .map(|(address, delay_us)| Hop {
                address: *address,
                key: &self.prepared[&(epoch, *address)],
                delay_us: *delay_us,
            })
            .collect()
    }

    fn epoch(&self) -> u32 {
        self.topology.as_ref().map(|t| t.epoch).unwrap_or_default()
    }

    fn new_surb(&mut self, purpose: SurbUse) -> Result<Surb, ClientError> {
        let path = self.path(self.me)?;
        let epoch = self.epoch();
        let id = self.rng.bytes16();
        let (surb, keys) = Surb::create(self.params.mode, epoch, &self.hops(&path, epoch), id)
            .map_err(|e| ClientError::NoTopology(e.to_string()))?;
        self.surbs.insert(id, HeldSurb { keys, purpose, epoch });
        Ok(surb)
    }

    fn forward(&mut self, destination: [u8; ADDRESS_LEN], payload: &Payload) -> Option<Outbound> {
        let path = self.path(destination).ok()?;
        let epoch = self.epoch();
        let packet = sphinx::build_packet(self.params.mode, epoch, &self.hops(&path, epoch), &payload.encode()).ok()?;
        Some((path[0].0, packet))
    }

    /// Expected round trip of a packet out and its acknowledgement back, µs.
    fn ack_timeout_us(&self) -> u64 {
        let mixing = 2.0 * LAYERS as f64 * self.config.mix_delay_ms;
        // Both directions wait for a slot in a Poisson stream too.
        let slots = 2.0 * self.config.send_interval_ms * (1.0 + self.outbox.len() as f64);
        ((mixing * 3.0 + slots) as u64 + self.config.ack_slack_ms) * 1000
    }

    fn real_packet(&mut self, now_us: u64) -> Option<Outbound> {
        while let Some(outgoing) = self.outbox.pop_front() {
            match outgoing {
                Outgoing::Ack { surb, message, index } => {
                    let packet = surb.reply(&Payload::Ack { message, index }.encode()).ok()?;
                    return Some((surb.first_hop, packet));
                }
                Outgoing::Fragment { message, index } => {
                    let Some(out) = self.messages.get(&message) else { continue };
                    let i = usize::from(index);
                    if out.acked[i] {
                        continue;
                    }
                    let count = out.fragments.len() as u8;
                    let data = out.fragments[i].clone();
                    let target = out.target.clone();
                    let Ok(ack) = self.new_surb(SurbUse::Ack { message, index }) else {
                        self.outbox.push_front(Outgoing::Fragment { message, index });
                        return None;
                    };
                    let payload = Payload::Fragment { message, index, count, ack: Some(ack), data };
                    let sent = match target {
                        Target::Node(node) => self.forward(node, &payload),
                        Target::Surbs(_) => self
                            .take_reply_surb(message)
                            .and_then(|surb| surb.reply(&payload.encode()).ok().map(|packet| (surb.first_hop, packet))),
                    };
                    let timeout = self.ack_timeout_us();
                    let out = self.messages.get_mut(&message).expect("present");
                    out.tries[i] += 1;
                    out.deadlines[i] = Some(now_us + timeout);
                    if out.tries[i] > 1 {
                        self.counters.retransmissions += 1;
                    }
                    match sent {
                        Some(sent) => return Some(sent),
                        None => continue,
                    }
                }
            }
        }
        None
    }

    fn take_reply_surb(&mut self, message: MessageId) -> Option<Surb> {
        match &mut self.messages.get_mut(&message)?.target {
            Target::Surbs(surbs) => surbs.pop(),
            Target::Node(_) => None,
        }
    }

    /// Packets due at `now_us` from both Poisson streams, and fragments to send again.
    /// Returns (first hop, packet) pairs; nothing while there is no usable topology.
    pub fn tick(&mut self, now_us: u64) -> (Vec<Outbound>, Vec<ClientEvent>) {
        let mut out = Vec::new();
        let mut events = Vec::new();
        self.retransmit(now_us, &mut events);
        if self.usable().is_err() {
            // Nothing can be sent; look again in a tenth of a second.
            self.next_real_us = self.next_real_us.max(now_us + 100_000);
            self.next_loop_us = self.next_loop_us.max(now_us + 100_000);
            return (out, events);
        }
        // A stalled caller does not get a burst: the schedule restarts a second back at most.
        self.next_real_us = self.next_real_us.max(now_us.saturating_sub(1_000_000));
        self.next_loop_us = self.next_loop_us.max(now_us.saturating_sub(1_000_000));
        while self.next_real_us <= now_us {
            self.next_real_us += (self.rng.exponential(self.config.send_interval_ms) * 1000.0) as u64;
            match self.real_packet(now_us) {
                Some(packet) => {
                    self.counters.real_sent += 1;
                    out.push(packet);
                }
                None => {
                    if let Some(packet) = self.drop_cover() {
                        self.counters.drop_cover_sent += 1;
                        out.push(packet);
                    }
                }
            }
        }
        while self.next_loop_us <= now_us {
            self.next_loop_us += (self.rng.exponential(self.config.loop_interval_ms) * 1000.0) as u64;
            let nonce = self.rng.bytes16();
            if let Some(packet) = self.forward(self.me, &Payload::Loop { nonce }) {
                self.loops.insert(nonce, now_us);
                self.counters.loop_cover_sent += 1;
                out.push(packet);
            }
        }
        // Loops older than a minute are lost ones.
        self.loops.retain(|_, sent| now_us.saturating_sub(*sent) < 60_000_000);
        (out, events)
    }

    /// When `tick` next has something to do.
    pub fn next_wake_us(&self) -> u64 {
        let deadline = self.messages.values().flat_map(|m| m.deadlines.iter().flatten()).min().copied();
        self.next_real_us.min(self.next_loop_us).min(deadline.unwrap_or(u64::MAX))
    }

    fn drop_cover(&mut self) -> Option<Outbound> {
        let endpoints: Vec<[u8; ADDRESS_LEN]> = self.usable().ok()?.endpoints.keys().copied().collect();
        let others: Vec<&[u8; ADDRESS_LEN]> = endpoints.iter().filter(|e| **e != self.me).collect();
        let destination = if others.is_empty() { self.me } else { *others[self.rng.below(others.len())] };
        self.forward(destination, &Payload::Drop)
    }

    fn retransmit(&mut self, now_us: u64, events: &mut Vec<ClientEvent>) {
        let mut failed = Vec::new();
        for (id, out) in &mut self.messages {
            for i in 0..out.fragments.len() {
                if out.acked[i] || out.deadlines[i].is_none_or(|d| d > now_us) {
                    continue;
                }
                out.deadlines[i] = None;
                if out.tries[i] >= self.config.max_tries {
                    failed.push((*id, format!("fragment {i} unacknowledged after {} sends", out.tries[i])));
                    break;
                }
                self.outbox.push_back(Outgoing::Fragment { message: *id, index: i as u8 });
            }
        }
        for (id, reason) in failed {
            self.messages.remove(&id);
            self.counters.messages_failed += 1;
            events.push(ClientEvent::Failed { id, reason });
        }
    }

    /// A packet the mixer delivered to this node (payload already decrypted by our hop).
    pub fn deliver(
        &mut self,
        mut packet: Vec<u8>,
        surb_id: Option<[u8; 16]>,
        now_us: u64,
        now_ms: u64,
    ) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        let mut in_reply_to = None;
        if let Some(id) = surb_id {
            let Some(held) = self.surbs.remove(&id) else {
                self.counters.bad_deliveries += 1;
                return events;
            };
            if held.keys.open(&mut packet).is_err() {
                self.counters.bad_deliveries += 1;
                return events;
            }
            match held.purpose {
                SurbUse::Ack { message, index } => {
                    match Payload::decode(sphinx::payload_data(&packet)) {
                        Ok(Payload::Ack { message: m, index: i }) if m == message && i == index => {
                            self.acknowledged(message, index, &mut events)
                        }
                        _ => self.counters.bad_deliveries += 1,
                    }
                    return events;
                }
                SurbUse::Reply { original } => in_reply_to = Some(original),
            }
        }
        match Payload::decode(sphinx::payload_data(&packet)) {
            Ok(Payload::Loop { nonce }) => {
                if let Some(sent) = self.loops.remove(&nonce) {
                    let rtt_us = now_us.saturating_sub(sent);
                    self.counters.loops_returned += 1;
                    self.last_rtt_us = Some(rtt_us);
                    events.push(ClientEvent::LoopReturned { rtt_us });
                }
            }
            Ok(Payload::Drop) => {}
            Ok(Payload::Ack { .. }) => self.counters.bad_deliveries += 1,
            Ok(Payload::Fragment { message, index, count, ack, data }) => {
                if let Some(surb) = ack {
                    self.outbox.push_back(Outgoing::Ack { surb, message, index });
                }
                if self.recent_set.contains(&message) {
                    return events;
                }
                if let Some(whole) = self.reassembly.add(message, index, count, data, now_ms) {
                    self.remember(message);
                    match Envelope::decode(&whole) {
                        Ok(envelope) => {
                            self.counters.messages_received += 1;
                            events.push(ClientEvent::Received {
                                id: message,
                                body: envelope.body,
                                reply_surbs: envelope.reply_surbs,
                                in_reply_to,
                            });
                        }
                        Err(_) => self.counters.bad_deliveries += 1,
                    }
                }
            }
            Err(_) => self.counters.bad_deliveries += 1,
        }
        events
    }

    fn remember(&mut self, message: MessageId) {
        self.recent.push_back(message);
        self.recent_set.insert(message);
        while self.recent.len() > RECENT_MAX {
            if let Some(old) = self.recent.pop_front() {
                self.recent_set.remove(&old);
            }
        }
    }

    fn acknowledged(&mut self, message: MessageId, index: u8, events: &mut Vec<ClientEvent>) {
        self.counters.acks_received += 1;
        let Some(out) = self.messages.get_mut(&message) else { return };
        let i = usize::from(index);
        if i < out.acked.len() {
            out.acked[i] = true;
            out.deadlines[i] = None;
        }
        if out.acked.iter().all(|a| *a) {
            self.messages.remove(&message);
            self.counters.messages_delivered += 1;
            events.push(ClientEvent::Delivered { id: message });
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
