//! The libp2p mesh between Fog Compute nodes.
//!
//! One swarm task owns libp2p: TCP with Noise and Yamux, Identify, Ping, Kademlia (peer routing)
//! and Gossipsub (signed messages, strict validation). Other crates never see libp2p types: they
//! hold a [`Mesh`] handle and speak in strings and bytes — dial an address, publish or subscribe
//! on a named topic, list peers, watch [`PeerEvent`]s. The mesh's peer id is derived from the
//! node's ed25519 key, so it is the node's peer id and stays the same across restarts.
//!
//! Nothing here reaches beyond the addresses it is given: no mDNS (LAN discovery is a later,
//! opt-in setting), no UPnP, no relays, no public bootstrap peers.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{gossipsub, identify, identity, kad, noise, ping, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Protocol version announced through Identify.
pub const PROTOCOL_VERSION: &str = "/fog/1.0.0";
const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/fog/kad/1.0.0");
/// How often the DHT looks for peers again.
const KAD_REFRESH: Duration = Duration::from_secs(30);
/// Longest topic name accepted.
const TOPIC_MAX_LEN: usize = 128;
/// How long start-up waits for the listeners to be bound.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
const PEER_EVENTS_BUFFER: usize = 256;
const SUBSCRIPTION_BUFFER: usize = 256;

/// What can go wrong in the mesh.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("the node key cannot be used for the mesh: {0}")]
    Key(String),
    #[error("{addr:?} is not a valid multiaddr such as /ip4/127.0.0.1/tcp/7421: {reason}")]
    BadAddress { addr: String, reason: String },
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("cannot dial {addr}: {reason}")]
    Dial { addr: String, reason: String },
    #[error("invalid topic name {0:?}: use 1–128 characters of letters, digits, '.', '-', '_' and '/'")]
    BadTopic(String),
    #[error("cannot publish on {topic}: {reason}")]
    Publish { topic: String, reason: String },
    #[error("cannot subscribe to {topic}: {reason}")]
    Subscribe { topic: String, reason: String },
    #[error("{0:?} is not a peer id such as 12D3KooW…")]
    BadPeer(String),
    #[error("not connected to {0}")]
    NotConnected(String),
    #[error("cannot set up the transport: {0}")]
    Transport(String),
    #[error("the mesh has stopped")]
    Stopped,
}

/// How the mesh starts.
#[derive(Clone, Debug)]
pub struct MeshConfig {
    /// Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`.
    pub listen: Vec<String>,
    /// How long a connection without open streams is kept.
    pub idle_timeout: Duration,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self { listen: vec!["/ip4/127.0.0.1/tcp/0".into()], idle_timeout: Duration::from_secs(300) }
    }
}

/// A change in the set of peers, or a measurement of one.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerEvent {
    Connected {
        peer: String,
        address: String,
        outbound: bool,
    },
    Disconnected {
        peer: String,
    },
    Latency {
        peer: String,
        rtt: Duration,
    },
    /// A peer joined a gossip topic this node knows of.
    Subscribed {
        peer: String,
        topic: String,
    },
    /// An outgoing connection could not be made.
    DialFailed {
        peer: Option<String>,
        reason: String,
    },
}

/// A message received on a gossip topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipMessage {
    pub topic: String,
    /// Peer id of the author (messages are signed).
    pub source: Option<String>,
    pub data: Vec<u8>,
}

/// A connected peer.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerInfo {
    pub peer: String,
    pub address: String,
    pub outbound: bool,
    /// Unix milliseconds.
    pub connected_since_ms: i64,
    pub latency: Option<Duration>,
    /// Protocols the peer announced through Identify.
    pub protocols: Vec<String>,
}

type Reply<T> = oneshot::Sender<Result<T, MeshError>>;

enum Command {
    Dial(Multiaddr, Reply<()>),
    Disconnect(PeerId, Reply<()>),
    Subscribe(gossipsub::IdentTopic, mpsc::Sender<GossipMessage>, Reply<()>),
    Publish(gossipsub::IdentTopic, Vec<u8>, Reply<()>),
    ListenAddrs(oneshot::Sender<Vec<String>>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Stop(oneshot::Sender<()>),
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossipsub: gossipsub::Behaviour,
}

/// Handle to the running mesh; cheap to clone.
#[derive(Clone)]
pub struct Mesh {
    local_peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    peer_events: broadcast::Sender<PeerEvent>,
}

impl Mesh {
    /// Starts the swarm with the node's ed25519 secret; returns once every listener is bound.
    /// It dials nobody: subscribe to [`Mesh::peer_events`] first, then [`Mesh::dial`] bootstrap peers,
    /// so no connection or failure goes unseen.
    pub async fn start(ed25519_secret: [u8; 32], config: MeshConfig) -> Result<Self, MeshError> {
        let listen = config.listen.iter().map(|a| parse_addr(a)).collect::<Result<Vec<_>, _>>()?;
        let mut secret = ed25519_secret;
        let keypair = identity::Keypair::ed25519_from_bytes(&mut secret).map_err(|e| MeshError::Key(e.to_string()))?;
        for addr in &listen {
            ensure_port_free(addr)?;
        }
        let mut swarm = build_swarm(keypair, config.idle_timeout)?;
        for addr in &listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| MeshError::Listen { addr: addr.to_string(), reason: e.to_string() })?;
        }
        wait_for_listeners(&mut swarm, listen.len()).await?;
        let local_peer_id = *swarm.local_peer_id();
        let (commands, rx) = mpsc::channel(64);
        let (peer_events, _) = broadcast::channel(PEER_EVENTS_BUFFER);
        tokio::spawn(SwarmTask::new(swarm, peer_events.clone()).run(rx));
        Ok(Self { local_peer_id, commands, peer_events })
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> String {
        self.local_peer_id.to_base58()
    }

    /// Addresses the swarm listens on, each ending in `/p2p/<peer id>`.
    pub async fn listen_addrs(&self) -> Result<Vec<String>, MeshError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::ListenAddrs(tx)).await?;
        rx.await.map_err(|_| MeshError::Stopped)
    }

    /// Dials a peer by multiaddr; resolves when the dial has started (see [`PeerEvent`]s).
    pub async fn dial(&self, addr: &str) -> Result<(), MeshError> {
        let addr = parse_addr(addr)?;
        self.request(|tx| Command::Dial(addr, tx)).await
    }

    /// Closes every connection to a peer.
    pub async fn disconnect(&self, peer: &str) -> Result<(), MeshError> {
        let peer_id: PeerId = peer.parse().map_err(|_| MeshError::BadPeer(peer.into()))?;
        self.request(|tx| Command::Disconnect(peer_id, tx)).await
    }

    /// Subscribes to a topic; messages from other nodes arrive on the returned receiver.
    pub async fn subscribe(&self, topic: &str) -> Result<mpsc::Receiver<GossipMessage>, MeshError> {
        let topic = parse_topic(topic)?;
        let (sender, receiver) = mpsc::channel(SUBSCRIPTION_BUFFER);
        self.request(|tx| Command::Subscribe(topic, sender, tx)).await?;
        Ok(receiver)
    }

    /// Publishes on a topic; fails when no peer is subscribed to it yet.
    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<(), MeshError> {
        let topic = parse_topic(topic)?;
        self.request(|tx| Command::Publish(topic, data, tx)).await
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, MeshError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Peers(tx)).await?;
        rx.await.map_err(|_| MeshError::Stopped)
    }

    /// Peer up/down, latency and subscription events from now on.
    pub fn peer_events(&self) -> broadcast::Receiver<PeerEvent> {
        self.peer_events.subscribe()
    }

    /// Stops the swarm, closing every connection.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.send(Command::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    async fn send(&self, command: Command) -> Result<(), MeshError> {
        self.commands.send(command).await.map_err(|_| MeshError::Stopped)
    }

    async fn request<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, MeshError> {
        let (tx, rx) = oneshot::channel();
        self.send(command(tx)).await?;
        rx.await.map_err(|_| MeshError::Stopped)?
    }
}

/// Parses a multiaddr, with an error that says what is expected.
pub fn parse_addr(addr: &str) -> Result<Multiaddr, MeshError> {
    let bad = |reason: String| MeshError::BadAddress { addr: addr.into(), reason };
    let parsed: Multiaddr = addr.parse().map_err(|e: libp2p::multiaddr::Error| bad(e.to_string()))?;
    if parsed.is_empty() {
        return Err(bad("it is empty".into()));
    }
    Ok(parsed)
}

/// libp2p's TCP listeners set SO_REUSEPORT, so a second node on the same port would bind without
/// error and silently share inbound connections with the first. A plain bind first fails then.
fn ensure_port_free(addr: &Multiaddr) -> Result<(), MeshError> {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    let ip: std::net::IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    match parts.next() {
        Some(Protocol::Tcp(port)) if port != 0 => std::net::TcpListener::bind((ip, port))
            .map(drop)
            .map_err(|e| MeshError::Listen { addr: addr.to_string(), reason: e.to_string() }),
        _ => Ok(()),
    }
}

fn parse_topic(topic: &str) -> Result<gossipsub::IdentTopic, MeshError> {
    let valid = !topic.is_empty()
        && topic.len() <= TOPIC_MAX_LEN
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
    if valid {
        Ok(gossipsub::IdentTopic::new(topic))
    } else {
        Err(MeshError::BadTopic(topic.into()))
    }
}

fn build_swarm(keypair: identity::Keypair, idle_timeout: Duration) -> Result<Swarm<Behaviour>, MeshError> {
    let transport_err = |e: &dyn std::fmt::Display| MeshError::Transport(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| transport_err(&e))?
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let gossip_config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .heartbeat_interval(Duration::from_millis(500))
                .build()?;
            let gossipsub =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gossip_config)?;
            let mut kad_config = kad::Config::new(KAD_PROTOCOL);
            // A peer that joined after our last lookup is found at the next one; the default
            // (5 minutes) leaves a small mesh split for too long.
            kad_config.set_periodic_bootstrap_interval(Some(KAD_REFRESH));
            let mut kad = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
            // Nodes on loopback or a LAN have no confirmed external address; serve the DHT anyway.
            kad.set_mode(Some(kad::Mode::Server));
            Ok(Behaviour {
                identify: identify::Behaviour::new(identify::Config::new(PROTOCOL_VERSION.into(), key.public())),
                ping: ping::Behaviour::new(ping::Config::new()),
                kad,
                gossipsub,
            })
        })
        .map_err(|e| transport_err(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle_timeout))
        .build();
    Ok(swarm)
}

async fn wait_for_listeners(swarm: &mut Swarm<Behaviour>, count: usize) -> Result<(), MeshError> {
    let mut bound = 0;
    let wait = async {
        while bound < count {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { .. } => bound += 1,
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(MeshError::Listen { addr: "listener".into(), reason: error.to_string() })
                }
                SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                    let addr = addresses.first().map(|a| a.to_string()).unwrap_or_default();
                    let reason = reason.err().map(|e| e.to_string()).unwrap_or_else(|| "closed".into());
                    return Err(MeshError::Listen { addr, reason });
                }
                _ => {}
            }
        }
        Ok(())
    };
    tokio::time::timeout(LISTEN_TIMEOUT, wait)
        .await
        .map_err(|_| MeshError::Listen { addr: "listener".into(), reason: "not bound in time".into() })?
}

struct SwarmTask {
    swarm: Swarm<Behaviour>,
    peer_events: broadcast::Sender<PeerEvent>,
    peers: HashMap<PeerId, PeerInfo>,
    subscriptions: HashMap<gossipsub::TopicHash, Vec<mpsc::Sender<GossipMessage>>>,
}

impl SwarmTask {
    fn new(swarm: Swarm<Behaviour>, peer_events: broadcast::Sender<PeerEvent>) -> Self {
        Self { swarm, peer_events, peers: HashMap::new(), subscriptions: HashMap::new() }
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Stop(done)) => {
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.handle_command(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => self.handle_event(event),
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Dial(addr, reply) => {
                let result = self
                    .swarm
                    .dial(addr.clone())
                    .map_err(|e| MeshError::Dial { addr: addr.to_string(), reason: e.to_string() });
                let _ = reply.send(result);
            }
            Command::Disconnect(peer, reply) => {
                let result = self.swarm.disconnect_peer_id(peer).map_err(|_| MeshError::NotConnected(peer.to_base58()));
                let _ = reply.send(result);
            }
            Command::Subscribe(topic, sender, reply) => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .subscribe(&topic)
                    .map(|_| self.subscriptions.entry(topic.hash()).or_default().push(sender))
                    .map_err(|e| MeshError::Subscribe { topic: topic.to_string(), reason: e.to_string() });
                let _ = reply.send(result);
            }
            Command::Publish(topic, data, reply) => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic.clone(), data)
                    .map(|_| ())
                    .map_err(|e| MeshError::Publish { topic: topic.to_string(), reason: e.to_string() });
                let _ = reply.send(result);
            }
            Command::ListenAddrs(reply) => {
                let me = *self.swarm.local_peer_id();
                let addrs = self.swarm.listeners().map(|a| format!("{a}/p2p/{me}")).collect();
                let _ = reply.send(addrs);
            }
            Command::Peers(reply) => {
                let mut peers: Vec<PeerInfo> = self.peers.values().cloned().collect();
                peers.sort_by(|a, b| a.peer.cmp(&b.peer));
                let _ = reply.send(peers);
            }
            Command::Stop(_) => unreachable!("handled by the loop"),
        }
    }

    fn handle_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. } => {
                let address = endpoint.get_remote_address().to_string();
                let outbound = endpoint.is_dialer();
                if num_established.get() == 1 {
                    self.peers.insert(
                        peer_id,
                        PeerInfo {
                            peer: peer_id.to_base58(),
                            address: address.clone(),
                            outbound,
                            connected_since_ms: now_ms(),
                            latency: None,
                            protocols: vec![],
                        },
                    );
                    let _ =
                        self.peer_events.send(PeerEvent::Connected { peer: peer_id.to_base58(), address, outbound });
                }
                if outbound {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, endpoint.get_remote_address().clone());
                    // Learn the rest of the mesh from the peer just reached.
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.peers.remove(&peer_id);
                let _ = self.peer_events.send(PeerEvent::Disconnected { peer: peer_id.to_base58() });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
                if let Some(peer) = self.peers.get_mut(&peer_id) {
                    peer.protocols = info.protocols.iter().map(|p| p.to_string()).collect();
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), .. })) => {
                if let Some(info) = self.peers.get_mut(&peer) {
                    info.latency = Some(rtt);
                }
                let _ = self.peer_events.send(PeerEvent::Latency { peer: peer.to_base58(), rtt });
            }
            // Small meshes stay fully connected: dial every peer the DHT reveals.
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated { peer, .. }))
                if !self.swarm.is_connected(&peer) =>
            {
                if let Err(e) = self.swarm.dial(peer) {
                    tracing::debug!("cannot dial {peer} found through the DHT: {e}");
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { peer_id, topic })) => {
                let _ = self
                    .peer_events
                    .send(PeerEvent::Subscribed { peer: peer_id.to_base58(), topic: topic.to_string() });
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                if let Some(senders) = self.subscriptions.get_mut(&message.topic) {
                    let delivered = GossipMessage {
                        topic: message.topic.to_string(),
                        source: message.source.map(|p| p.to_base58()),
                        data: message.data,
                    };
                    // A full or dropped receiver loses this message, never stalls the swarm.
                    senders.retain(|s| !s.is_closed());
                    for sender in senders.iter() {
                        if sender.try_send(delivered.clone()).is_err() {
                            tracing::warn!(topic = %delivered.topic, "gossip subscriber is full; message dropped");
                        }
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, "dial failed: {error}");
                let peer = peer_id.map(|p| p.to_base58());
                let _ = self.peer_events.send(PeerEvent::DialFailed { peer, reason: error.to_string() });
            }
            _ => {}
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_topics_are_validated() {
        assert!(parse_addr("/ip4/127.0.0.1/tcp/7421").is_ok());
        for bad in ["", "127.0.0.1:7421", "/ip4/999.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/notaport"] {
            assert!(matches!(parse_addr(bad), Err(MeshError::BadAddress { .. })), "{bad}");
        }
        assert!(parse_topic("fog/capacity-1.0").is_ok());
        for bad in ["", "with space", "ünïcode", &"x".repeat(129)] {
            assert!(matches!(parse_topic(bad), Err(MeshError::BadTopic(_))), "{bad}");
        }
    }
}
