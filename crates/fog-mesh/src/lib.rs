//! The libp2p mesh between Fog Compute nodes.
//!
//! One swarm task owns libp2p: TCP with Noise and Yamux, Identify, Ping, Kademlia (peer routing),
//! Gossipsub (signed messages, strict validation), request-response with a JSON codec, raw
//! streams, and mDNS when LAN discovery is on. Other crates never see libp2p types: they hold a
//! [`Mesh`] handle and speak in strings, bytes and serde types — dial an address, publish or
//! subscribe on a named topic with a validator, send a request on a named protocol and await the
//! answer, open a stream, watch [`PeerEvent`]s. The mesh's peer id is derived from the node's
//! ed25519 key, so it is the node's peer id and stays the same across restarts.
//!
//! Nothing here reaches beyond the addresses it is given unless LAN discovery is switched on: no
//! UPnP, no relays, no public bootstrap peers. The [`peer_book`] remembers peers in SQLite and
//! redials them on start.

pub mod peer_book;
mod rpc;
mod stream;
mod swarm;
mod traffic;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::{gossipsub, Multiaddr, PeerId, StreamProtocol};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

pub use rpc::InboundRequest;
pub use stream::MeshStream;
pub use traffic::{TopicTraffic, Traffic};

/// Built-in named protocol: a peer answers with the peer ids it is connected to.
pub const PEERS_PROTOCOL: &str = "/fog/mesh/peers/1";
/// Protocol version announced through Identify.
pub const PROTOCOL_VERSION: &str = "/fog/1.0.0";
/// Longest topic or protocol name accepted.
const NAME_MAX_LEN: usize = 128;
const PEER_EVENTS_BUFFER: usize = 256;
const SUBSCRIPTION_BUFFER: usize = 256;
const INBOUND_BUFFER: usize = 64;

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
    #[error("invalid protocol name {0:?}: use '/' then up to 127 letters, digits, '.', '-', '_' and '/'")]
    BadProtocol(String),
    #[error("cannot publish on {topic}: {reason}")]
    Publish { topic: String, reason: String },
    #[error("cannot subscribe to {topic}: {reason}")]
    Subscribe { topic: String, reason: String },
    #[error("{0:?} is not a peer id such as 12D3KooW…")]
    BadPeer(String),
    #[error("not connected to {0}")]
    NotConnected(String),
    #[error("{protocol} is already served on this node")]
    AlreadyServed { protocol: String },
    #[error("request on {protocol} to {peer} failed: {reason}")]
    Request { protocol: String, peer: String, reason: String },
    /// The peer answered with a refusal (its reason), e.g. a protocol it does not serve.
    #[error("{peer} refused the request on {protocol}: {reason}")]
    Refused { protocol: String, peer: String, reason: String },
    #[error("{peer} did not answer on {protocol} within {timeout:?}")]
    Timeout { protocol: String, peer: String, timeout: Duration },
    #[error("cannot open a {protocol} stream to {peer}: {reason}")]
    Stream { protocol: String, peer: String, reason: String },
    #[error("cannot start LAN discovery: {0}")]
    LanDiscovery(String),
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
    /// Find peers on the local network with mDNS (multicast). Off unless the user asks.
    pub lan_discovery: bool,
    /// Largest gossip message accepted; bigger ones are rejected and counted.
    pub max_message_size: usize,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
            idle_timeout: Duration::from_secs(300),
            lan_discovery: false,
            max_message_size: 64 * 1024,
        }
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
    /// The peer told us its listen addresses and protocols (Identify).
    Identified {
        peer: String,
        listen_addrs: Vec<String>,
        protocols: Vec<String>,
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
    /// mDNS found a peer on the local network.
    Discovered {
        peer: String,
        address: String,
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

/// What a topic's validator decides about a received message before it is delivered or
/// forwarded to other peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver and forward.
    Accept,
    /// Drop, count, and penalise the peer that sent it (malformed or forged).
    Reject,
    /// Drop without penalty (valid but unwanted, e.g. stale).
    Ignore,
}

/// Decides on each message of a topic. Runs on the swarm task, so it must be quick.
pub type Validator = Arc<dyn Fn(&GossipMessage) -> Verdict + Send + Sync>;

/// A validator that accepts every well-formed (signed, not oversized) message.
pub fn accept_all() -> Validator {
    Arc::new(|_| Verdict::Accept)
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

/// The mesh as far as this node can see: itself, its peers, and their peers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Every peer id seen, this node first.
    pub nodes: Vec<String>,
    /// This node's direct peers.
    pub connected: Vec<String>,
    /// Connections, each pair sorted and listed once.
    pub edges: Vec<(String, String)>,
    /// Connected peers that did not say who they are connected to.
    pub unanswered: Vec<String>,
}

type Reply<T> = oneshot::Sender<Result<T, MeshError>>;

enum Command {
    Dial(Multiaddr, Reply<()>),
    Disconnect(PeerId, Reply<()>),
    Subscribe(gossipsub::IdentTopic, mpsc::Sender<GossipMessage>, Validator, Reply<()>),
    Publish(gossipsub::IdentTopic, Vec<u8>, Reply<()>),
    Request(PeerId, rpc::WireRequest, oneshot::Sender<Result<serde_json::Value, rpc::RequestFailure>>),
    Serve(String, mpsc::Sender<rpc::RawInbound>, Reply<()>),
    SetLanDiscovery(bool, Reply<()>),
    ListenAddrs(oneshot::Sender<Vec<String>>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Stop(oneshot::Sender<()>),
}

/// Handle to the running mesh; cheap to clone.
#[derive(Clone)]
pub struct Mesh {
    local_peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    peer_events: broadcast::Sender<PeerEvent>,
    streams: libp2p_stream::Control,
    traffic: Arc<traffic::Counters>,
    metrics: Arc<Mutex<prometheus_client::registry::Registry>>,
}

impl Mesh {
    /// Starts the swarm with the node's ed25519 secret; returns once every listener is bound.
    /// It dials nobody: subscribe to [`Mesh::peer_events`] first, then [`Mesh::dial`] bootstrap peers,
    /// so no connection or failure goes unseen.
    pub async fn start(ed25519_secret: [u8; 32], config: MeshConfig) -> Result<Self, MeshError> {
        swarm::start(ed25519_secret, config).await
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
        self.request_command(|tx| Command::Dial(addr, tx)).await
    }

    /// Closes every connection to a peer.
    pub async fn disconnect(&self, peer: &str) -> Result<(), MeshError> {
        let peer_id = parse_peer(peer)?;
        self.request_command(|tx| Command::Disconnect(peer_id, tx)).await
    }

    /// Subscribes to a topic. Each message from another node passes the size limit and the
    /// validator before it is delivered on the returned receiver and forwarded to other peers.
    pub async fn subscribe(
        &self,
        topic: &str,
        validator: Validator,
    ) -> Result<mpsc::Receiver<GossipMessage>, MeshError> {
        let topic = parse_topic(topic)?;
        let (sender, receiver) = mpsc::channel(SUBSCRIPTION_BUFFER);
        self.request_command(|tx| Command::Subscribe(topic, sender, validator, tx)).await?;
        Ok(receiver)
    }

    /// Publishes on a topic; fails when no peer is subscribed to it yet.
    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<(), MeshError> {
        let topic = parse_topic(topic)?;
        self.request_command(|tx| Command::Publish(topic, data, tx)).await
    }

    /// Sends a request on a named protocol to a peer and awaits its answer. The peer must serve
    /// the protocol ([`Mesh::serve`]); it is dialled if known but not connected.
    pub async fn request<Q: Serialize, A: DeserializeOwned>(
        &self,
        peer: &str,
        protocol: &str,
        request: &Q,
        timeout: Duration,
    ) -> Result<A, MeshError> {
        let peer_id = parse_peer(peer)?;
        parse_protocol(protocol)?;
        let failed = |reason: String| MeshError::Request { protocol: protocol.into(), peer: peer.into(), reason };
        let body = serde_json::to_value(request).map_err(|e| failed(format!("cannot encode the request: {e}")))?;
        let (tx, rx) = oneshot::channel();
        self.send(Command::Request(peer_id, rpc::WireRequest { protocol: protocol.into(), body }, tx)).await?;
        let answer = tokio::time::timeout(timeout, rx)
            .await
            .map_err(|_| MeshError::Timeout { protocol: protocol.into(), peer: peer.into(), timeout })?
            .map_err(|_| MeshError::Stopped)?
            .map_err(|failure| match failure {
                rpc::RequestFailure::Refused(reason) => {
                    MeshError::Refused { protocol: protocol.into(), peer: peer.into(), reason }
                }
                rpc::RequestFailure::Failed(reason) => failed(reason),
            })?;
        serde_json::from_value(answer).map_err(|e| failed(format!("the answer does not decode: {e}")))
    }

    /// Serves a named protocol: requests from peers arrive on the returned receiver, already
    /// decoded; a request that does not decode is answered with an error and never delivered.
    pub async fn serve<Q, A>(&self, protocol: &str) -> Result<mpsc::Receiver<InboundRequest<Q, A>>, MeshError>
    where
        Q: DeserializeOwned + Send + 'static,
        A: Serialize + Send + 'static,
    {
        parse_protocol(protocol)?;
        let (raw_tx, raw_rx) = mpsc::channel(INBOUND_BUFFER);
        self.request_command(|tx| Command::Serve(protocol.into(), raw_tx, tx)).await?;
        Ok(rpc::typed(raw_rx))
    }

    /// Opens a bidirectional byte stream on a named protocol to a peer that accepts it.
    pub async fn open_stream(&self, peer: &str, protocol: &str) -> Result<MeshStream, MeshError> {
        let peer_id = parse_peer(peer)?;
        let name = parse_protocol(protocol)?;
        let stream = self.streams.clone().open_stream(peer_id, name).await.map_err(|e| MeshError::Stream {
            protocol: protocol.into(),
            peer: peer.into(),
            reason: e.to_string(),
        })?;
        Ok(MeshStream::new(stream))
    }

    /// Accepts streams that peers open on a named protocol, with the opening peer's id.
    pub fn accept_streams(&self, protocol: &str) -> Result<mpsc::Receiver<(String, MeshStream)>, MeshError> {
        let name = parse_protocol(protocol)?;
        let incoming =
            self.streams.clone().accept(name).map_err(|_| MeshError::AlreadyServed { protocol: protocol.into() })?;
        Ok(stream::forward(incoming))
    }

    /// Switches mDNS discovery on the local network on or off while running.
    pub async fn set_lan_discovery(&self, on: bool) -> Result<(), MeshError> {
        self.request_command(|tx| Command::SetLanDiscovery(on, tx)).await
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, MeshError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Peers(tx)).await?;
        rx.await.map_err(|_| MeshError::Stopped)
    }

    /// Asks every connected peer for its peers ([`PEERS_PROTOCOL`]), all at once.
    pub async fn topology(&self, timeout: Duration) -> Result<Topology, MeshError> {
        let me = self.local_peer_id();
        let peers = self.peers().await?;
        let answers = futures_util::future::join_all(
            peers.iter().map(|p| self.request::<_, Vec<String>>(&p.peer, PEERS_PROTOCOL, &(), timeout)),
        )
        .await;
        let mut nodes = vec![me.clone()];
        let mut edges = std::collections::BTreeSet::new();
        let mut unanswered = Vec::new();
        let mut add_edge = |a: &str, b: &str| {
            let pair = if a < b { (a.to_owned(), b.to_owned()) } else { (b.to_owned(), a.to_owned()) };
            edges.insert(pair);
        };
        for (peer, answer) in peers.iter().zip(answers) {
            nodes.push(peer.peer.clone());
            add_edge(&me, &peer.peer);
            match answer {
                Ok(theirs) => theirs.iter().filter(|p| validate_peer(p).is_ok()).for_each(|p| add_edge(&peer.peer, p)),
                Err(_) => unanswered.push(peer.peer.clone()),
            }
        }
        for (a, b) in &edges {
            for p in [a, b] {
                if !nodes.contains(p) {
                    nodes.push(p.clone());
                }
            }
        }
        let connected = peers.into_iter().map(|p| p.peer).collect();
        Ok(Topology { nodes, connected, edges: edges.into_iter().collect(), unanswered })
    }

    /// Gossip and request counts since start.
    pub fn traffic(&self) -> Traffic {
        self.traffic.snapshot()
    }

    /// libp2p's own metrics (connections, bandwidth, gossipsub per topic, Identify, Kademlia,
    /// Ping) in the OpenMetrics text format, without the final `# EOF`.
    pub fn encode_metrics(&self, out: &mut String) -> std::fmt::Result {
        let registry = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        prometheus_client::encoding::text::encode_registry(out, &registry)
    }

    /// Peer up/down, identity, latency and subscription events from now on.
    pub fn peer_events(&self) -> broadcast::Receiver<PeerEvent> {
        self.peer_events.subscribe()
    }

    /// Resolves once the swarm has stopped.
    pub async fn stopped(&self) {
        self.commands.closed().await
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

    async fn request_command<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, MeshError> {
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

/// Checks that a string is a peer id.
pub fn validate_peer(peer: &str) -> Result<(), MeshError> {
    parse_peer(peer).map(drop)
}

fn parse_peer(peer: &str) -> Result<PeerId, MeshError> {
    peer.parse().map_err(|_| MeshError::BadPeer(peer.into()))
}

fn valid_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/')
}

fn parse_topic(topic: &str) -> Result<gossipsub::IdentTopic, MeshError> {
    if !topic.is_empty() && topic.len() <= NAME_MAX_LEN && topic.bytes().all(valid_name_byte) {
        Ok(gossipsub::IdentTopic::new(topic))
    } else {
        Err(MeshError::BadTopic(topic.into()))
    }
}

fn parse_protocol(protocol: &str) -> Result<StreamProtocol, MeshError> {
    let valid = protocol.len() > 1
        && protocol.len() <= NAME_MAX_LEN
        && protocol.starts_with('/')
        && protocol.bytes().all(valid_name_byte);
    if !valid {
        return Err(MeshError::BadProtocol(protocol.into()));
    }
    StreamProtocol::try_from_owned(protocol.to_owned()).map_err(|_| MeshError::BadProtocol(protocol.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_topics_protocols_and_peers_are_validated() {
        assert!(parse_addr("/ip4/127.0.0.1/tcp/7421").is_ok());
        for bad in ["", "127.0.0.1:7421", "/ip4/999.0.0.1/tcp/1", "/ip4/127.0.0.1/tcp/notaport"] {
            assert!(matches!(parse_addr(bad), Err(MeshError::BadAddress { .. })), "{bad}");
        }
        assert!(parse_topic("fog/capacity-1.0").is_ok());
        for bad in ["", "with space", "ünïcode", &"x".repeat(129)] {
            assert!(matches!(parse_topic(bad), Err(MeshError::BadTopic(_))), "{bad}");
        }
        assert!(parse_protocol("/fog/peers/1").is_ok());
        for bad in ["", "/", "fog/peers", "/with space", &format!("/{}", "x".repeat(128))] {
            assert!(matches!(parse_protocol(bad), Err(MeshError::BadProtocol(_))), "{bad}");
        }
        let key = libp2p::identity::Keypair::ed25519_from_bytes([7u8; 32]).expect("a valid secret");
        assert!(validate_peer(&key.public().to_peer_id().to_base58()).is_ok());
        assert!(matches!(validate_peer("nobody"), Err(MeshError::BadPeer(_))));
    }
}
