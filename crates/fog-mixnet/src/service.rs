//! The Betanet service: one task that owns the mixing engine, the client engine and the
//! directory, fed by packets from a [`Transport`] and descriptors from gossip. It rotates the
//! epoch keys, publishes this node's descriptor, keeps the message log in SQLite, and
//! publishes a status snapshot and events.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fog_identity::NodeIdentity;
use fog_store::{Store, StoreError};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::client::{hex, Client, ClientConfig, ClientError, ClientEvent, Target};
use crate::directory::{Descriptor, Directory, NetworkParams, Topology, LAYERS};
use crate::keys::{KeyFileError, KeyFiles};
use crate::mixnode::{DropReason, KeyRing, Mixer, Received};
use crate::model::{
    BetanetEvent, BetanetMessage, BetanetStatus, ClientStats, DropCount, HistogramBucket, MessageState, MixnodeStats,
    MixnodeView, TopologyView,
};
use crate::sphinx::{KeyMode, ADDRESS_LEN};
use crate::store::MixStore;

/// Carries packets to other nodes.
pub trait Transport: Send + Sync + 'static {
    /// Hands `packet` to the link towards the node with identity `to` (its ed25519 key).
    /// False when it cannot be sent (no such peer, or its queue is full).
    fn send(&self, to: &[u8; ADDRESS_LEN], packet: Vec<u8>) -> bool;
}

/// Spreads this node's descriptor (gossip).
pub trait Publisher: Send + Sync + 'static {
    fn publish(&self, descriptor: Vec<u8>);
}

#[derive(Debug, Clone)]
pub struct BetanetConfig {
    pub data_dir: PathBuf,
    pub mode: KeyMode,
    pub epoch_secs: u32,
    /// How long a retired epoch's key is still accepted.
    pub grace_secs: u32,
    /// Mix from the start (else only after a deploy).
    pub mixnode: bool,
    /// Packets a second offered (in the descriptor), and the load the replay filter is sized for.
    pub capacity: u32,
    pub max_queue: usize,
    pub publish_every_secs: u32,
    pub client: ClientConfig,
}

impl BetanetConfig {
    pub fn params(&self) -> NetworkParams {
        NetworkParams {
            mode: self.mode,
            epoch_secs: self.epoch_secs,
            max_age_ms: u64::from(self.publish_every_secs) * 4500,
        }
    }

    /// Tags held at once at full load: the epoch and a grace period on each side.
    fn replay_capacity(&self) -> usize {
        self.capacity as usize * (self.epoch_secs as usize + 2 * self.grace_secs as usize)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BetanetError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyFileError),
    #[error("{0}")]
    Invalid(String),
    #[error("no message {0}")]
    NotFound(String),
    #[error("the Betanet service has stopped")]
    Stopped,
}

enum Command {
    Deploy(oneshot::Sender<Result<(), BetanetError>>),
    Send { to: String, body: Vec<u8>, reply: oneshot::Sender<Result<BetanetMessage, BetanetError>> },
    Reply { to_message: String, body: Vec<u8>, reply: oneshot::Sender<Result<BetanetMessage, BetanetError>> },
    Descriptor { bytes: Vec<u8>, sender: Option<String> },
}

/// Upper bounds (µs) of the per-hop processing time histogram.
const HOP_BUCKETS_US: [u32; 9] = [25, 50, 75, 100, 150, 250, 500, 1000, 5000];
/// Packets waiting for the service task.
const INBOUND_BUFFER: usize = 16_384;

#[derive(Clone)]
pub struct Betanet {
    commands: mpsc::Sender<Command>,
    inbound: mpsc::Sender<Vec<u8>>,
    overflow: Arc<AtomicU64>,
    status: Arc<Mutex<BetanetStatus>>,
    events: broadcast::Sender<BetanetEvent>,
    store: Arc<Store>,
}

fn wall_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

impl Betanet {
    /// Loads (or creates) the epoch keys and starts the service task.
    pub fn start(
        identity: NodeIdentity,
        store: Arc<Store>,
        config: BetanetConfig,
        transport: Arc<dyn Transport>,
        publisher: Arc<dyn Publisher>,
    ) -> Result<Betanet, BetanetError> {
        if config.epoch_secs < 2 || config.grace_secs >= config.epoch_secs {
            return Err(BetanetError::Invalid("epoch_secs must be ≥ 2 and grace_secs below it".into()));
        }
        let files = KeyFiles::new(&config.data_dir)?;
        let ring = files.load()?;
        let mixstore = MixStore(&store);
        mixstore.fail_unfinished()?;
        let deployed = config.mixnode || mixstore.setting("deployed")?.as_deref() == Some("1");
        let mut mixer = Mixer::new(ring, config.replay_capacity(), config.max_queue, deployed);
        for epoch in mixer.ring.epochs() {
            for tag in files.tags(epoch)? {
                mixer.remember(epoch, &tag);
            }
        }
        let me = identity.public_key().to_bytes();
        let mut seed = [0u8; 8];
        getrandom::getrandom(&mut seed).map_err(|e| BetanetError::Invalid(e.to_string()))?;
        let anchor = Instant::now();
        let client = Client::new(me, config.params(), config.client.clone(), u64::from_le_bytes(seed), 0);
        let (commands, command_rx) = mpsc::channel(256);
        let (inbound, inbound_rx) = mpsc::channel(INBOUND_BUFFER);
        let (events, _) = broadcast::channel(256);
        let status = Arc::new(Mutex::new(empty_status(&identity, &config)));
        let overflow = Arc::new(AtomicU64::new(0));
        let task = Task {
            peer_id: identity.peer_id(),
            identity,
            me,
            params: config.params(),
            config,
            files,
            mixer,
            client,
            directory: Directory::default(),
            transport,
            publisher,
            store: store.clone(),
            events: events.clone(),
            status: status.clone(),
            overflow: overflow.clone(),
            anchor,
            hop_histogram: [0; HOP_BUCKETS_US.len() + 1],
            local: Vec::new(),
            message_targets: HashMap::new(),
            rates: Rates::default(),
            next_publish: Instant::now(),
            topology_dirty: true,
        };
        tokio::spawn(task.run(command_rx, inbound_rx));
        Ok(Betanet { commands, inbound, overflow, status, events, store })
    }

    /// Where packets from other nodes go in (the transport's receiving side). A full buffer
    /// drops the packet, counted as "queue full".
    pub fn receive(&self, packet: Vec<u8>) {
        if self.inbound.try_send(packet).is_err() {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A descriptor from gossip; `sender` is the peer gossip names as its author.
    pub fn descriptor(&self, bytes: Vec<u8>, sender: Option<String>) {
        let _ = self.commands.try_send(Command::Descriptor { bytes, sender });
    }

    pub fn status(&self) -> BetanetStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn events(&self) -> broadcast::Receiver<BetanetEvent> {
        self.events.subscribe()
    }

    /// Makes this node a mixnode (kept across restarts); returns once its descriptor says so.
    pub async fn deploy(&self) -> Result<BetanetStatus, BetanetError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Deploy(reply)).await.map_err(|_| BetanetError::Stopped)?;
        answer.await.map_err(|_| BetanetError::Stopped)??;
        Ok(self.status())
    }

    /// Sends `body` to the node with mesh peer id `to`.
    pub async fn send(&self, to: &str, body: Vec<u8>) -> Result<BetanetMessage, BetanetError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Send { to: to.into(), body, reply }).await.map_err(|_| BetanetError::Stopped)?;
        answer.await.map_err(|_| BetanetError::Stopped)?
    }

    /// Answers a received message through the SURBs that came with it.
    pub async fn reply(&self, to_message: &str, body: Vec<u8>) -> Result<BetanetMessage, BetanetError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Reply { to_message: to_message.into(), body, reply })
            .await
            .map_err(|_| BetanetError::Stopped)?;
        answer.await.map_err(|_| BetanetError::Stopped)?
    }

    /// Messages sent and received, newest first.
    pub fn inbox(&self, limit: u32) -> Result<Vec<BetanetMessage>, BetanetError> {
        Ok(MixStore(&self.store).list(limit.clamp(1, 1000))?)
    }
}

fn empty_status(identity: &NodeIdentity, config: &BetanetConfig) -> BetanetStatus {
    let params = config.params();
    let epoch = params.epoch_at(wall_ms());
    BetanetStatus {
        peer_id: identity.peer_id(),
        key_mode: key_mode_name(config.mode).into(),
        epoch,
        epoch_secs: config.epoch_secs,
        epoch_ends_ms: params.epoch_start_ms(epoch + 1),
        topology: TopologyView {
            epoch,
            layers: vec![Vec::new(); LAYERS],
            endpoints: 0,
            descriptors: 0,
            usable: false,
            reason: Some("no mixnode descriptors yet".into()),
        },
        mixnode: MixnodeStats {
            deployed: config.mixnode,
            layer: None,
            packets_in_per_s: 0.0,
            packets_out_per_s: 0.0,
            received: 0,
            forwarded: 0,
            delivered: 0,
            drops: DropReason::ALL.iter().map(|r| DropCount { reason: r.as_str().into(), count: 0 }).collect(),
            replay_fill: 0.0,
            replay_memory_bytes: 0,
            queue_depth: 0,
            hop_time_us: Vec::new(),
            key_epochs: Vec::new(),
        },
        client: ClientStats {
            real_per_s: 0.0,
            cover_per_s: 0.0,
            loop_rtt_ms: None,
            real_sent: 0,
            drop_cover_sent: 0,
            loop_cover_sent: 0,
            loops_returned: 0,
            retransmissions: 0,
            messages_sent: 0,
            messages_delivered: 0,
            messages_failed: 0,
            messages_received: 0,
            in_flight: 0,
            send_interval_ms: config.client.send_interval_ms,
            loop_interval_ms: config.client.loop_interval_ms,
            mix_delay_ms: config.client.mix_delay_ms,
        },
    }
}

pub fn key_mode_name(mode: KeyMode) -> &'static str {
    match mode {
        KeyMode::Sphinx => "sphinx",
        KeyMode::Kem => "kem",
    }
}

/// Counters at the last snapshot, for per-second rates.
#[derive(Default)]
struct Rates {
    at: Option<Instant>,
    received: u64,
    forwarded: u64,
    real: u64,
    cover: u64,
    values: (f64, f64, f64, f64),
}

struct Task {
    identity: NodeIdentity,
    peer_id: String,
    me: [u8; ADDRESS_LEN],
    params: NetworkParams,
    config: BetanetConfig,
    files: KeyFiles,
    mixer: Mixer,
    client: Client,
    directory: Directory,
    transport: Arc<dyn Transport>,
    publisher: Arc<dyn Publisher>,
    store: Arc<Store>,
    events: broadcast::Sender<BetanetEvent>,
    status: Arc<Mutex<BetanetStatus>>,
    overflow: Arc<AtomicU64>,
    anchor: Instant,
    hop_histogram: [u64; HOP_BUCKETS_US.len() + 1],
    /// Packets this node sends to itself (it is the next hop or the destination).
    local: Vec<Vec<u8>>,
    /// Outgoing messages: their destination's peer id (None for replies).
    message_targets: HashMap<[u8; 16], Option<String>>,
    rates: Rates,
    next_publish: Instant,
    topology_dirty: bool,
}

impl Task {
    fn now_us(&self) -> u64 {
        self.anchor.elapsed().as_micros() as u64
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>, mut inbound: mpsc::Receiver<Vec<u8>>) {
        let mut batch = Vec::with_capacity(256);
        let mut next_second = Instant::now();
        loop {
            self.rotate();
            if self.topology_dirty {
                self.refresh_topology();
            }
            if Instant::now() >= self.next_publish {
                self.publish();
            }
            self.pump();
            if Instant::now() >= next_second {
                next_second = Instant::now() + Duration::from_secs(1);
                self.directory.expire(&self.params, wall_ms());
                self.topology_dirty = true;
                self.snapshot();
            }
            let wake_us = self
                .mixer
                .next_due_us()
                .unwrap_or(u64::MAX)
                .min(self.client.next_wake_us())
                .min(self.now_us() + 250_000);
            let wake = self.anchor + Duration::from_micros(wake_us);
            let wake = wake.min(next_second).min(self.next_publish);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => return,
                },
                n = inbound.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        return;
                    }
                    for packet in batch.drain(..) {
                        self.receive(packet);
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    fn receive(&mut self, packet: Vec<u8>) {
        let started = Instant::now();
        let now_us = self.now_us();
        let received = self.mixer.receive(packet, now_us);
        let took = started.elapsed().as_micros() as u64;
        let bucket = HOP_BUCKETS_US.iter().position(|b| took <= u64::from(*b)).unwrap_or(HOP_BUCKETS_US.len());
        self.hop_histogram[bucket] += 1;
        if let Received::Delivered { packet, surb_id } = received {
            let events = self.client.deliver(packet, surb_id, now_us, wall_ms());
            self.client_events(events);
        }
    }

    /// Sends what is due: held packets whose delay ran out, and the client's streams. Replay
    /// tags go to disk first, so nothing leaves that a restart would not recognise.
    fn pump(&mut self) {
        for _ in 0..4 {
            let local: Vec<Vec<u8>> = std::mem::take(&mut self.local);
            for packet in local {
                self.receive(packet);
            }
            let tags = self.mixer.take_new_tags();
            if !tags.is_empty() {
                if let Err(e) = self.files.append_tags(&tags) {
                    tracing::warn!("betanet: replay log: {e}");
                }
            }
            let now_us = self.now_us();
            while let Some((next, packet)) = self.mixer.pop_due(now_us) {
                if !self.send(next, packet) {
                    self.mixer.count_no_route();
                }
            }
            let (packets, events) = self.client.tick(now_us);
            for (next, packet) in packets {
                if !self.send(next, packet) {
                    tracing::debug!("betanet: first hop {} unreachable", hex(&next[..4]));
                }
            }
            self.client_events(events);
            if self.local.is_empty() {
                return;
            }
        }
    }

    fn send(&mut self, to: [u8; ADDRESS_LEN], packet: Vec<u8>) -> bool {
        if to == self.me {
            self.local.push(packet);
            return true;
        }
        self.transport.send(&to, packet)
    }

    fn client_events(&mut self, events: Vec<ClientEvent>) {
        let store = MixStore(&self.store);
        for event in events {
            let published = match event {
                ClientEvent::Received { id, body, reply_surbs, in_reply_to } => {
                    let in_reply_to = in_reply_to.map(|r| hex(&r));
                    match store.insert(
                        &hex(&id),
                        MessageState::Received,
                        None,
                        &body,
                        in_reply_to.as_deref(),
                        &reply_surbs,
                        wall_ms(),
                    ) {
                        Ok(message) => Some(BetanetEvent::Received { message }),
                        Err(e) => {
                            tracing::warn!("betanet: storing a received message: {e}");
                            None
                        }
                    }
                }
                ClientEvent::Delivered { id } => {
                    self.message_targets.remove(&id);
                    let _ = store.set_state(&hex(&id), MessageState::Delivered, None);
                    Some(BetanetEvent::Delivered { id: hex(&id) })
                }
                ClientEvent::Failed { id, reason } => {
                    self.message_targets.remove(&id);
                    let _ = store.set_state(&hex(&id), MessageState::Failed, Some(&reason));
                    Some(BetanetEvent::Failed { id: hex(&id), reason })
                }
                ClientEvent::LoopReturned { .. } => None,
            };
            if let Some(event) = published {
                let _ = self.events.send(event);
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Deploy(reply) => {
                let result = MixStore(&self.store).set_setting("deployed", "1").map_err(BetanetError::from);
                if result.is_ok() && !self.mixer.mixing {
                    self.mixer.mixing = true;
                    self.publish();
                    let _ = self.events.send(BetanetEvent::Deployed { epoch: self.params.epoch_at(wall_ms()) });
                }
                self.snapshot();
                let _ = reply.send(result);
            }
            Command::Send { to, body, reply } => {
                let _ = reply.send(self.send_message(&to, body));
            }
            Command::Reply { to_message, body, reply } => {
                let _ = reply.send(self.reply_message(&to_message, body));
            }
            Command::Descriptor { bytes, sender } => {
                match self.directory.ingest(&bytes, sender.as_deref(), &self.params, wall_ms()) {
                    Ok(true) => self.topology_dirty = true,
                    Ok(false) => {}
                    Err(e) => tracing::debug!("betanet: descriptor from {sender:?} ignored: {e}"),
                }
            }
        }
    }

    fn send_message(&mut self, to: &str, body: Vec<u8>) -> Result<BetanetMessage, BetanetError> {
        let identity = self
            .client
            .topology()
            .and_then(|t| t.endpoints.keys().find(|id| peer_id_of(id) == to).copied())
            .ok_or_else(|| ClientError::UnknownDestination(to.to_string()))?;
        let id = self.client.send(Target::Node(identity), &body)?;
        self.message_targets.insert(id, Some(to.to_string()));
        let message =
            MixStore(&self.store).insert(&hex(&id), MessageState::Sending, Some(to), &body, None, &[], wall_ms())?;
        self.pump();
        Ok(message)
    }

    fn reply_message(&mut self, to_message: &str, body: Vec<u8>) -> Result<BetanetMessage, BetanetError> {
        let store = MixStore(&self.store);
        let original = store.get(to_message)?.ok_or_else(|| BetanetError::NotFound(to_message.into()))?;
        if original.state != MessageState::Received {
            return Err(BetanetError::Invalid("only a received message can be answered".into()));
        }
        let surbs = store.take_reply_surbs(to_message)?;
        if surbs.is_empty() {
            return Err(BetanetError::Invalid("that message has no reply SURBs left (each is used once)".into()));
        }
        let id = self.client.send(Target::Surbs(surbs), &body)?;
        self.message_targets.insert(id, None);
        let message = store.insert(&hex(&id), MessageState::Sending, None, &body, Some(to_message), &[], wall_ms())?;
        self.pump();
        Ok(message)
    }

    fn rotate(&mut self) {
        let now_ms = wall_ms();
        let grace_ms = u64::from(self.config.grace_secs) * 1000;
        let wanted = KeyRing::wanted(&self.params, grace_ms, now_ms);
        if wanted == self.mixer.ring.epochs() {
            return;
        }
        let files = &self.files;
        let mut failed = None;
        let rotation = self.mixer.ring.rotate(&self.params, grace_ms, now_ms, |epoch| {
            files.create(epoch).unwrap_or_else(|e| {
                failed = Some(e);
                crate::sphinx::SecretKey::generate()
            })
        });
        if let Some(e) = failed {
            tracing::warn!("betanet: storing an epoch key: {e}");
        }
        for epoch in &rotation.retired {
            self.mixer.retire(*epoch);
            self.files.retire(*epoch);
        }
        if !rotation.added.is_empty() {
            let _ = self.events.send(BetanetEvent::Rotated { epoch: self.params.epoch_at(now_ms) });
            self.publish();
        }
        self.topology_dirty = true;
    }

    fn publish(&mut self) {
        let now_ms = wall_ms();
        let keys = self.mixer.ring.iter().map(|(e, k)| (e, k.public())).collect();
        let descriptor = Descriptor::sign(
            &self.identity,
            self.params.mode,
            self.params.epoch_secs,
            self.mixer.mixing,
            self.config.capacity,
            now_ms,
            keys,
        );
        self.publisher.publish(descriptor.encode());
        let _ = self.directory.insert(descriptor, None, &self.params, now_ms);
        self.topology_dirty = true;
        // Quickly at first, while peers are still finding each other.
        let every = if self.client.topology().is_some_and(Topology::is_usable) {
            u64::from(self.config.publish_every_secs)
        } else {
            u64::from(self.config.publish_every_secs).min(2)
        };
        self.next_publish = Instant::now() + Duration::from_secs(every.max(1));
    }

    fn refresh_topology(&mut self) {
        self.topology_dirty = false;
        let topology = self.directory.topology(self.params.epoch_at(wall_ms()));
        if self.client.topology() != Some(&topology) {
            self.client.set_topology(topology);
        }
    }

    fn snapshot(&mut self) {
        let now_ms = wall_ms();
        let epoch = self.params.epoch_at(now_ms);
        let counters = self.mixer.counters().clone();
        let client = self.client.counters().clone();
        let now = Instant::now();
        let cover = client.drop_cover_sent + client.loop_cover_sent;
        if let Some(at) = self.rates.at {
            let secs = now.duration_since(at).as_secs_f64().max(1e-3);
            let rate = |new: u64, old: u64| new.saturating_sub(old) as f64 / secs;
            self.rates.values = (
                rate(counters.received, self.rates.received),
                rate(counters.forwarded, self.rates.forwarded),
                rate(client.real_sent, self.rates.real),
                rate(cover, self.rates.cover),
            );
        }
        self.rates.at = Some(now);
        self.rates.received = counters.received;
        self.rates.forwarded = counters.forwarded;
        self.rates.real = client.real_sent;
        self.rates.cover = cover;

        let topology = self.client.topology().cloned().unwrap_or_default();
        let layers: Vec<Vec<MixnodeView>> = topology
            .layers
            .iter()
            .map(|layer| {
                layer
                    .iter()
                    .map(|p| {
                        let descriptor = self.directory.get(&p.identity);
                        let age_ms = descriptor.map(|d| now_ms.saturating_sub(d.issued_ms)).unwrap_or_default();
                        MixnodeView {
                            peer_id: peer_id_of(&p.identity),
                            layer: p.layer as u32 + 1,
                            capacity: p.capacity,
                            descriptor_age_s: (age_ms / 1000) as u32,
                            healthy: age_ms <= u64::from(self.config.publish_every_secs) * 2000,
                            key_epochs: descriptor
                                .map(|d| d.keys.iter().map(|(e, _)| *e).collect())
                                .unwrap_or_default(),
                            is_self: p.identity == self.me,
                        }
                    })
                    .collect()
            })
            .collect();
        let layer = layers.iter().flatten().find(|m| m.is_self).map(|m| m.layer);
        let reason = if topology.mixnodes() == 0 {
            Some("no mixnode descriptors yet".to_string())
        } else if !topology.is_usable() {
            Some(format!(
                "{} mixnode(s) for {LAYERS} layers: each layer needs at least one (deploy more mixnodes)",
                topology.mixnodes()
            ))
        } else {
            None
        };
        let overflow = self.overflow.load(Ordering::Relaxed);
        let mut cumulative = 0;
        let hop_time_us = HOP_BUCKETS_US
            .iter()
            .map(Some)
            .chain(std::iter::once(None))
            .zip(self.hop_histogram)
            .map(|(le, count)| {
                cumulative += count;
                HistogramBucket { le_us: le.copied(), count: cumulative }
            })
            .collect();
        let status = BetanetStatus {
            peer_id: self.peer_id.clone(),
            key_mode: key_mode_name(self.params.mode).into(),
            epoch,
            epoch_secs: self.params.epoch_secs,
            epoch_ends_ms: self.params.epoch_start_ms(epoch + 1),
            topology: TopologyView {
                epoch: topology.epoch,
                usable: topology.is_usable(),
                layers,
                endpoints: topology.endpoints.len() as u32,
                descriptors: self.directory.len() as u32,
                reason,
            },
            mixnode: MixnodeStats {
                deployed: self.mixer.mixing,
                layer,
                packets_in_per_s: self.rates.values.0,
                packets_out_per_s: self.rates.values.1,
                received: counters.received + overflow,
                forwarded: counters.forwarded,
                delivered: counters.delivered,
                drops: DropReason::ALL
                    .iter()
                    .map(|r| DropCount {
                        reason: r.as_str().into(),
                        count: counters.dropped(*r) + if *r == DropReason::QueueFull { overflow } else { 0 },
                    })
                    .collect(),
                replay_fill: self.mixer.replay_fill(),
                replay_memory_bytes: self.mixer.replay_memory_bytes() as u64,
                queue_depth: self.mixer.queue_depth() as u32,
                hop_time_us,
                key_epochs: self.mixer.ring.epochs(),
            },
            client: ClientStats {
                real_per_s: self.rates.values.2,
                cover_per_s: self.rates.values.3,
                loop_rtt_ms: self.client.last_loop_rtt_us().map(|us| us as f64 / 1000.0),
                real_sent: client.real_sent,
                drop_cover_sent: client.drop_cover_sent,
                loop_cover_sent: client.loop_cover_sent,
                loops_returned: client.loops_returned,
                retransmissions: client.retransmissions,
                messages_sent: client.messages_sent,
                messages_delivered: client.messages_delivered,
                messages_failed: client.messages_failed,
                messages_received: client.messages_received,
                in_flight: self.client.in_flight() as u32,
                send_interval_ms: self.client.config.send_interval_ms,
                loop_interval_ms: self.client.config.loop_interval_ms,
                mix_delay_ms: self.client.config.mix_delay_ms,
            },
        };
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }
}

/// The mesh peer id of an identity.
pub fn peer_id_of(identity: &[u8; ADDRESS_LEN]) -> String {
    ed25519_dalek::VerifyingKey::from_bytes(identity).map(|k| fog_identity::peer_id(&k)).unwrap_or_default()
}
