//! The swarm task: the only code that holds libp2p's swarm. Commands come in on a channel,
//! events go out on the peer-event broadcast, subscriber channels and request replies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use libp2p::metrics::{Metrics as Libp2pMetrics, Recorder};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    gossipsub, identify, identity, kad, mdns, noise, ping, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use prometheus_client::registry::Registry;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::rpc::{RawInbound, RequestFailure, WireRequest, WireResponse, RPC_PROTOCOL};
use crate::traffic::{Count, Counters};
use crate::{
    Command, GossipMessage, Mesh, MeshConfig, MeshError, PeerEvent, PeerInfo, Validator, Verdict, PEERS_PROTOCOL,
    PEER_EVENTS_BUFFER, PROTOCOL_VERSION,
};

const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/fog/kad/1.0.0");
/// How often the DHT looks for peers again.
const KAD_REFRESH: Duration = Duration::from_secs(30);
/// How long start-up waits for the listeners to be bound.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on a request the swarm itself keeps open; callers set their own, shorter one.
const RPC_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a peer the user disconnected is kept away unless dialled again by address.
const DISCONNECT_HOLD: Duration = Duration::from_secs(60);
/// Below this many peers, every Identify triggers a DHT lookup.
const SMALL_MESH: usize = 32;
/// Gossip frames above this never decode. Smaller messages above the configured
/// `max_message_size` decode, and are then rejected and counted.
const GOSSIP_FRAME_LIMIT: usize = 1024 * 1024;

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    gossipsub: gossipsub::Behaviour,
    rpc: request_response::json::Behaviour<WireRequest, WireResponse>,
    streams: libp2p_stream::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
}

pub(crate) async fn start(ed25519_secret: [u8; 32], config: MeshConfig) -> Result<Mesh, MeshError> {
    let listen = config.listen.iter().map(|a| crate::parse_addr(a)).collect::<Result<Vec<_>, _>>()?;
    let mut secret = ed25519_secret;
    let keypair = identity::Keypair::ed25519_from_bytes(&mut secret).map_err(|e| MeshError::Key(e.to_string()))?;
    for addr in &listen {
        ensure_port_free(addr)?;
    }
    let mut registry = Registry::with_prefix("fog_mesh");
    let mut swarm = build_swarm(keypair, &config, &mut registry)?;
    let libp2p_metrics = Libp2pMetrics::new(&mut registry);
    for addr in &listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| MeshError::Listen { addr: addr.to_string(), reason: e.to_string() })?;
    }
    wait_for_listeners(&mut swarm, listen.len()).await?;
    let local_peer_id = *swarm.local_peer_id();
    let streams = swarm.behaviour().streams.new_control();
    let (commands, rx) = mpsc::channel(64);
    let (peer_events, _) = broadcast::channel(PEER_EVENTS_BUFFER);
    let traffic = Arc::new(Counters::default());
    let task = SwarmTask {
        swarm,
        peer_events: peer_events.clone(),
        peers: HashMap::new(),
        subscriptions: HashMap::new(),
        served: HashMap::new(),
        pending_requests: HashMap::new(),
        traffic: traffic.clone(),
        max_message_size: config.max_message_size,
        metrics: libp2p_metrics,
        held_off: HashMap::new(),
    };
    tokio::spawn(task.run(rx));
    Ok(Mesh { local_peer_id, commands, peer_events, streams, traffic, metrics: Arc::new(Mutex::new(registry)) })
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

fn build_swarm(
    keypair: identity::Keypair,
    config: &MeshConfig,
    registry: &mut Registry,
) -> Result<Swarm<Behaviour>, MeshError> {
    let transport_err = |e: &dyn std::fmt::Display| MeshError::Transport(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| transport_err(&e))?
        .with_bandwidth_metrics(registry)
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let gossip_config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                // Every message waits for the topic's validator before it is delivered or forwarded.
                .validate_messages()
                .max_transmit_size(GOSSIP_FRAME_LIMIT)
                .heartbeat_interval(Duration::from_millis(500))
                .build()?;
            let mut gossipsub =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gossip_config)?
                    .with_metrics(registry.sub_registry_with_prefix("gossipsub"), Default::default());
            // Peer scoring is what counts invalid messages (bad signature, forged author). Peers
            // sharing an IP are not penalised: a local testnet runs every node on 127.0.0.1.
            let score = gossipsub::PeerScoreParams { ip_colocation_factor_weight: 0.0, ..Default::default() };
            gossipsub.with_peer_score(score, gossipsub::PeerScoreThresholds::default())?;
            let mut kad_config = kad::Config::new(KAD_PROTOCOL);
            // A peer that joined after our last lookup is found at the next one; the default
            // (5 minutes) leaves a small mesh split for too long.
            kad_config.set_periodic_bootstrap_interval(Some(KAD_REFRESH));
            let mut kad = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
            // Nodes on loopback or a LAN have no confirmed external address; serve the DHT anyway.
            kad.set_mode(Some(kad::Mode::Server));
            let rpc = request_response::json::Behaviour::new(
                [(RPC_PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(RPC_TIMEOUT),
            );
            let mdns = if config.lan_discovery {
                Some(mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)?)
            } else {
                None
            };
            Ok(Behaviour {
                identify: identify::Behaviour::new(identify::Config::new(PROTOCOL_VERSION.into(), key.public())),
                ping: ping::Behaviour::new(ping::Config::new()),
                kad,
                gossipsub,
                rpc,
                streams: libp2p_stream::Behaviour::new(),
                mdns: Toggle::from(mdns),
            })
        })
        .map_err(|e| transport_err(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
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

struct Subscriber {
    sender: mpsc::Sender<GossipMessage>,
    validator: Validator,
}

struct SwarmTask {
    swarm: Swarm<Behaviour>,
    peer_events: broadcast::Sender<PeerEvent>,
    peers: HashMap<PeerId, PeerInfo>,
    subscriptions: HashMap<gossipsub::TopicHash, Vec<Subscriber>>,
    served: HashMap<String, mpsc::Sender<RawInbound>>,
    pending_requests: HashMap<OutboundRequestId, oneshot::Sender<Result<serde_json::Value, RequestFailure>>>,
    traffic: Arc<Counters>,
    max_message_size: usize,
    metrics: Libp2pMetrics,
    /// Peers the user disconnected, refused until the instant given.
    held_off: HashMap<PeerId, Instant>,
}

impl SwarmTask {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let (answers_tx, mut answers) = mpsc::channel(crate::INBOUND_BUFFER);
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
                Some((channel, response)) = answers.recv() => {
                    if self.swarm.behaviour_mut().rpc.send_response(channel, response).is_err() {
                        tracing::debug!("a request's connection closed before its answer was sent");
                    }
                }
                event = self.swarm.select_next_some() => self.handle_event(event, &answers_tx),
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Dial(addr, reply) => {
                // Dialling a peer by its address ends a hold-off from an earlier disconnect.
                if let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() {
                    self.held_off.remove(&peer);
                }
                let result = self
                    .swarm
                    .dial(addr.clone())
                    .map_err(|e| MeshError::Dial { addr: addr.to_string(), reason: e.to_string() });
                let _ = reply.send(result);
            }
            Command::Disconnect(peer, reply) => {
                let result = self.swarm.disconnect_peer_id(peer).map_err(|_| MeshError::NotConnected(peer.to_base58()));
                if result.is_ok() {
                    self.held_off.insert(peer, Instant::now() + DISCONNECT_HOLD);
                }
                let _ = reply.send(result);
            }
            Command::Subscribe(topic, sender, validator, reply) => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .subscribe(&topic)
                    .map(|_| self.subscriptions.entry(topic.hash()).or_default().push(Subscriber { sender, validator }))
                    .map_err(|e| MeshError::Subscribe { topic: topic.to_string(), reason: e.to_string() });
                let _ = reply.send(result);
            }
            Command::Publish(topic, data, reply) => {
                let size = data.len();
                let result = if size > self.max_message_size {
                    Err(MeshError::Publish {
                        topic: topic.to_string(),
                        reason: format!("{size} bytes is over the {} byte limit", self.max_message_size),
                    })
                } else {
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(topic.clone(), data)
                        .map(|_| self.traffic.count(Count::Out(&topic.to_string(), size)))
                        .map_err(|e| MeshError::Publish { topic: topic.to_string(), reason: e.to_string() })
                };
                let _ = reply.send(result);
            }
            Command::Request(peer, request, reply) => {
                let id = self.swarm.behaviour_mut().rpc.send_request(&peer, request);
                self.traffic.count(Count::RequestSent);
                self.pending_requests.insert(id, reply);
            }
            Command::Serve(protocol, sender, reply) => {
                let result = if self.served.get(&protocol).is_some_and(|s| !s.is_closed()) {
                    Err(MeshError::AlreadyServed { protocol })
                } else {
                    self.served.insert(protocol, sender);
                    Ok(())
                };
                let _ = reply.send(result);
            }
            Command::SetLanDiscovery(on, reply) => {
                let result = if on == self.swarm.behaviour().mdns.is_enabled() {
                    Ok(())
                } else if on {
                    let me = *self.swarm.local_peer_id();
                    mdns::tokio::Behaviour::new(mdns::Config::default(), me)
                        .map(|mdns| self.swarm.behaviour_mut().mdns = Toggle::from(Some(mdns)))
                        .map_err(|e| MeshError::LanDiscovery(e.to_string()))
                } else {
                    // Dropping the behaviour closes its sockets; mDNS has no per-connection state.
                    self.swarm.behaviour_mut().mdns = Toggle::from(None);
                    Ok(())
                };
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

    fn emit(&self, event: PeerEvent) {
        let _ = self.peer_events.send(event);
    }

    fn handle_event(
        &mut self,
        event: SwarmEvent<BehaviourEvent>,
        answers: &mpsc::Sender<(request_response::ResponseChannel<WireResponse>, WireResponse)>,
    ) {
        self.metrics.record(&event);
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, num_established, .. } => {
                self.held_off.retain(|_, until| *until > Instant::now());
                if self.held_off.contains_key(&peer_id) {
                    // The user disconnected this peer; Kademlia or the peer must not undo that at once.
                    self.swarm.close_connection(connection_id);
                    return;
                }
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
                    self.emit(PeerEvent::Connected { peer: peer_id.to_base58(), address, outbound });
                }
                if outbound {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, endpoint.get_remote_address().clone());
                    // Learn the rest of the mesh from the peer just reached.
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                }
            }
            // A connection closed at once because its peer is held off was never announced.
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if self.peers.contains_key(&peer_id) => {
                self.peers.remove(&peer_id);
                self.emit(PeerEvent::Disconnected { peer: peer_id.to_base58() });
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, "dial failed: {error}");
                self.emit(PeerEvent::DialFailed { peer: peer_id.map(|p| p.to_base58()), reason: error.to_string() });
            }
            SwarmEvent::Behaviour(event) => self.handle_behaviour_event(event, answers),
            _ => {}
        }
    }

    fn handle_behaviour_event(
        &mut self,
        event: BehaviourEvent,
        answers: &mpsc::Sender<(request_response::ResponseChannel<WireResponse>, WireResponse)>,
    ) {
        match event {
            BehaviourEvent::Identify(event) => {
                self.metrics.record(&event);
                if let identify::Event::Received { peer_id, info, .. } = event {
                    for addr in &info.listen_addrs {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr.clone());
                    }
                    let protocols: Vec<String> = info.protocols.iter().map(|p| p.to_string()).collect();
                    if let Some(peer) = self.peers.get_mut(&peer_id) {
                        peer.protocols = protocols.clone();
                    }
                    // The DHT now has this peer's addresses; in a small mesh, ask again at once so a
                    // node that joined at the same time as another is not left waiting for the refresh.
                    if self.peers.len() < SMALL_MESH {
                        let _ = self.swarm.behaviour_mut().kad.bootstrap();
                    }
                    let listen_addrs = info.listen_addrs.iter().map(|a| a.to_string()).collect();
                    self.emit(PeerEvent::Identified { peer: peer_id.to_base58(), listen_addrs, protocols });
                }
            }
            BehaviourEvent::Ping(event) => {
                self.metrics.record(&event);
                if let ping::Event { peer, result: Ok(rtt), .. } = event {
                    if let Some(info) = self.peers.get_mut(&peer) {
                        info.latency = Some(rtt);
                    }
                    self.emit(PeerEvent::Latency { peer: peer.to_base58(), rtt });
                }
            }
            BehaviourEvent::Kad(event) => {
                self.metrics.record(&event);
                // Small meshes stay fully connected: dial every peer the DHT reveals.
                if let kad::Event::RoutingUpdated { peer, .. } = event {
                    if !self.swarm.is_connected(&peer) {
                        if let Err(e) = self.swarm.dial(peer) {
                            tracing::debug!("cannot dial {peer} found through the DHT: {e}");
                        }
                    }
                }
            }
            BehaviourEvent::Gossipsub(event) => {
                self.metrics.record(&event);
                match event {
                    gossipsub::Event::Subscribed { peer_id, topic } => {
                        self.emit(PeerEvent::Subscribed { peer: peer_id.to_base58(), topic: topic.to_string() });
                    }
                    gossipsub::Event::Message { propagation_source, message_id, message } => {
                        let verdict = self.validate_and_deliver(message);
                        let acceptance = match verdict {
                            Verdict::Accept => gossipsub::MessageAcceptance::Accept,
                            Verdict::Reject => gossipsub::MessageAcceptance::Reject,
                            Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
                        };
                        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            acceptance,
                        );
                    }
                    _ => {}
                }
            }
            BehaviourEvent::Rpc(event) => self.handle_rpc_event(event, answers),
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    self.swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
                    self.emit(PeerEvent::Discovered { peer: peer.to_base58(), address: addr.to_string() });
                    if !self.swarm.is_connected(&peer) {
                        if let Err(e) = self.swarm.dial(addr.clone()) {
                            tracing::debug!("cannot dial {addr} found on the LAN: {e}");
                        }
                    }
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Expired(_)) | BehaviourEvent::Streams(()) => {}
        }
    }

    /// Runs the size limit and every subscriber's validator; delivers what all accept.
    fn validate_and_deliver(&mut self, message: gossipsub::Message) -> Verdict {
        let topic = message.topic.to_string();
        if message.data.len() > self.max_message_size {
            tracing::debug!(%topic, size = message.data.len(), "oversized gossip message rejected");
            self.traffic.count(Count::Rejected(&topic));
            return Verdict::Reject;
        }
        let Some(subscribers) = self.subscriptions.get_mut(&message.topic) else {
            return Verdict::Ignore;
        };
        subscribers.retain(|s| !s.sender.is_closed());
        let delivered =
            GossipMessage { topic: topic.clone(), source: message.source.map(|p| p.to_base58()), data: message.data };
        let verdicts: Vec<Verdict> = subscribers.iter().map(|s| (s.validator)(&delivered)).collect();
        if verdicts.contains(&Verdict::Reject) {
            self.traffic.count(Count::Rejected(&topic));
            return Verdict::Reject;
        }
        if verdicts.contains(&Verdict::Ignore) || subscribers.is_empty() {
            return Verdict::Ignore;
        }
        self.traffic.count(Count::In(&topic, delivered.data.len()));
        // A full receiver loses this message, never stalls the swarm.
        for subscriber in subscribers.iter() {
            if subscriber.sender.try_send(delivered.clone()).is_err() {
                tracing::warn!(%topic, "gossip subscriber is full; message dropped");
            }
        }
        Verdict::Accept
    }

    fn handle_rpc_event(
        &mut self,
        event: request_response::Event<WireRequest, WireResponse>,
        answers: &mpsc::Sender<(request_response::ResponseChannel<WireResponse>, WireResponse)>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.traffic.count(Count::RequestReceived);
                    if request.protocol == PEERS_PROTOCOL {
                        let mut peers: Vec<String> = self.peers.values().map(|p| p.peer.clone()).collect();
                        peers.sort();
                        let _ = self.swarm.behaviour_mut().rpc.send_response(channel, WireResponse::Ok(peers.into()));
                        return;
                    }
                    let handler = self.served.get(&request.protocol).filter(|s| !s.is_closed()).cloned();
                    let Some(handler) = handler else {
                        let refusal = WireResponse::Err(format!("{} is not served by this node", request.protocol));
                        let _ = self.swarm.behaviour_mut().rpc.send_response(channel, refusal);
                        return;
                    };
                    // The service answers on its own time; the answer comes back through `answers`.
                    let (reply, answer) = oneshot::channel();
                    let inbound = RawInbound { peer: peer.to_base58(), body: request.body, reply };
                    if handler.try_send(inbound).is_err() {
                        let busy = WireResponse::Err(format!("{} is busy", request.protocol));
                        let _ = self.swarm.behaviour_mut().rpc.send_response(channel, busy);
                        return;
                    }
                    let answers = answers.clone();
                    tokio::spawn(async move {
                        let response = answer
                            .await
                            .unwrap_or_else(|_| WireResponse::Err("the service dropped the request".into()));
                        let _ = answers.send((channel, response)).await;
                    });
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending_requests.remove(&request_id) {
                        let result = match response {
                            WireResponse::Ok(value) => Ok(value),
                            WireResponse::Err(reason) => {
                                self.traffic.count(Count::RequestFailed);
                                Err(RequestFailure::Refused(reason))
                            }
                        };
                        let _ = reply.send(result);
                    }
                }
            },
            request_response::Event::OutboundFailure { request_id, error, .. } => {
                self.traffic.count(Count::RequestFailed);
                if let Some(reply) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(RequestFailure::Failed(error.to_string())));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, "inbound request failed: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
