//! Betanet in the node: packets between nodes travel on fog-mesh streams (`/fog/mix/1`, one
//! long-lived stream per next hop, each packet framed by a 2-byte length), descriptors on the
//! gossip topic `fog/betanet/descriptors/1`, and the service's events go on the bus.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fog_identity::NodeIdentity;
use fog_mesh::{GossipMessage, Mesh, MeshStream, Verdict};
use fog_mixnet::directory::Descriptor;
use fog_mixnet::model::BetanetEvent;
use fog_mixnet::service::{peer_id_of, Betanet, BetanetConfig, Publisher, Transport};
use fog_store::Store;
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::api::types::ServiceState;
use crate::config::BetanetSection;
use crate::node::NodeState;

pub const PROTOCOL: &str = "/fog/mix/1";
pub const TOPIC: &str = "fog/betanet/descriptors/1";
/// Packets waiting for one next hop's stream.
const LINK_QUEUE: usize = 4096;
/// A next hop whose stream could not be opened is not tried again for this long; packets for
/// it meanwhile are counted as "no route".
const LINK_RETRY: Duration = Duration::from_secs(2);
const MAX_FRAME: usize = 4096;

/// Whether Betanet runs, or why it was left off.
pub enum Started {
    Running(Betanet),
    Off(&'static str),
}

/// Starts Betanet over the mesh, or says why it did not start.
pub fn start(
    section: &BetanetSection,
    data_dir: &Path,
    identity: &NodeIdentity,
    store: Arc<Store>,
    mesh: Option<&Mesh>,
) -> Result<Started, String> {
    if !section.enabled {
        return Ok(Started::Off("disabled in the configuration"));
    }
    let Some(mesh) = mesh else {
        return Ok(Started::Off("the mesh is off, and Betanet's packets and descriptors travel over it"));
    };
    let config = BetanetConfig {
        data_dir: data_dir.to_path_buf(),
        mode: section.key_mode,
        epoch_secs: section.epoch_secs,
        grace_secs: section.grace_secs,
        mixnode: section.mixnode,
        capacity: section.capacity,
        max_queue: section.max_queue,
        publish_every_secs: section.publish_every_secs,
        client: fog_mixnet::client::ClientConfig {
            send_interval_ms: section.send_interval_ms,
            loop_interval_ms: section.loop_interval_ms,
            mix_delay_ms: section.mix_delay_ms,
            ..Default::default()
        },
    };
    let identity = NodeIdentity::from_signing_key(ed25519_dalek_key(identity));
    let transport = Arc::new(MeshTransport::new(mesh.clone()));
    let publisher = Arc::new(MeshPublisher { mesh: mesh.clone() });
    let betanet = Betanet::start(identity, store, config, transport, publisher).map_err(|e| e.to_string())?;
    tokio::spawn(accept_packets(mesh.clone(), betanet.clone()));
    tokio::spawn(take_descriptors(mesh.clone(), betanet.clone()));
    Ok(Started::Running(betanet))
}

fn ed25519_dalek_key(identity: &NodeIdentity) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&identity.ed25519_secret())
}

struct Link {
    queue: mpsc::Sender<Vec<u8>>,
    down_until: Arc<Mutex<Option<Instant>>>,
}

pub(crate) struct MeshTransport {
    mesh: Mesh,
    links: Mutex<HashMap<[u8; 32], Link>>,
}

impl MeshTransport {
    pub(crate) fn new(mesh: Mesh) -> MeshTransport {
        MeshTransport { mesh, links: Mutex::new(HashMap::new()) }
    }
}

impl Transport for MeshTransport {
    fn send(&self, to: &[u8; 32], packet: Vec<u8>) -> bool {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let link = links.entry(*to).or_insert_with(|| {
            let (queue, packets) = mpsc::channel(LINK_QUEUE);
            let down_until = Arc::new(Mutex::new(None));
            tokio::spawn(write_link(self.mesh.clone(), peer_id_of(to), packets, down_until.clone()));
            Link { queue, down_until }
        });
        let down = link.down_until.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| Instant::now() < t);
        !down && link.queue.try_send(packet).is_ok()
    }
}

/// Keeps one stream open to a next hop and writes its packets in order.
async fn write_link(
    mesh: Mesh,
    peer: String,
    mut packets: mpsc::Receiver<Vec<u8>>,
    down_until: Arc<Mutex<Option<Instant>>>,
) {
    let mut stream: Option<MeshStream> = None;
    while let Some(packet) = packets.recv().await {
        if stream.is_none() {
            match tokio::time::timeout(Duration::from_secs(5), mesh.open_stream(&peer, PROTOCOL)).await {
                Ok(Ok(opened)) => stream = Some(opened),
                failed => {
                    let reason = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".into(),
                    };
                    tracing::debug!("betanet: no stream to {peer}: {reason}");
                    *down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + LINK_RETRY);
                    while packets.try_recv().is_ok() {}
                    continue;
                }
            }
        }
        let Some(open) = stream.as_mut() else { continue };
        let mut frame = Vec::with_capacity(2 + packet.len());
        frame.extend_from_slice(&(packet.len() as u16).to_be_bytes());
        frame.extend_from_slice(&packet);
        let mut written = open.write_all(&frame).await;
        if written.is_ok() && packets.is_empty() {
            written = open.flush().await;
        }
        if let Err(e) = written {
            tracing::debug!("betanet: stream to {peer} broke: {e}");
            stream = None;
        }
    }
}

/// Reads packets from every stream peers open to us.
pub(crate) async fn accept_packets(mesh: Mesh, betanet: Betanet) {
    let mut incoming = match mesh.accept_streams(PROTOCOL) {
        Ok(incoming) => incoming,
        Err(e) => {
            tracing::warn!("betanet: cannot accept packets: {e}");
            return;
        }
    };
    while let Some((peer, mut stream)) = incoming.recv().await {
        let betanet = betanet.clone();
        tokio::spawn(async move {
            let mut length = [0u8; 2];
            loop {
                if stream.read_exact(&mut length).await.is_err() {
                    return;
                }
                let len = usize::from(u16::from_be_bytes(length));
                if len > MAX_FRAME {
                    tracing::debug!("betanet: {peer} sent a {len}-byte frame; stream closed");
                    return;
                }
                let mut packet = vec![0u8; len];
                if stream.read_exact(&mut packet).await.is_err() {
                    return;
                }
                betanet.receive(packet);
            }
        });
    }
}

struct MeshPublisher {
    mesh: Mesh,
}

impl Publisher for MeshPublisher {
    fn publish(&self, descriptor: Vec<u8>) {
        let mesh = self.mesh.clone();
        tokio::spawn(async move {
            // Fails while no peer has subscribed yet; the next republish tries again.
            if let Err(e) = mesh.publish(TOPIC, descriptor).await {
                tracing::debug!("betanet: descriptor not published: {e}");
            }
        });
    }
}

/// Descriptors from gossip: forged or malformed ones are rejected before they spread.
async fn take_descriptors(mesh: Mesh, betanet: Betanet) {
    let validator = Arc::new(|message: &GossipMessage| match Descriptor::decode(&message.data) {
        Ok(d) if message.source.as_deref().is_none_or(|s| s == d.peer_id()) => Verdict::Accept,
        _ => Verdict::Reject,
    });
    let mut descriptors = match mesh.subscribe(TOPIC, validator).await {
        Ok(rx) => rx,
        Err(e) => {
            tracing::warn!("betanet: cannot subscribe to descriptors: {e}");
            return;
        }
    };
    while let Some(message) = descriptors.recv().await {
        betanet.descriptor(message.data, message.source);
    }
}

/// Puts Betanet's events on the bus (topic `betanet`) and keeps the services list current.
pub async fn forward_events(betanet: Betanet, state: Arc<NodeState>) {
    let mut events = betanet.events();
    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    let kind = match &event {
                        BetanetEvent::Received { .. } => "received",
                        BetanetEvent::Delivered { .. } => "delivered",
                        BetanetEvent::Failed { .. } => "failed",
                        BetanetEvent::Deployed { .. } => "deployed",
                        BetanetEvent::Rotated { .. } => "rotated",
                    };
                    state.bus.publish("betanet", kind, &event);
                }
                Err(RecvError::Lagged(missed)) => tracing::warn!("{missed} Betanet events were not recorded"),
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {}
        }
        let status = betanet.status();
        let detail = match (&status.topology.reason, status.mixnode.deployed, status.mixnode.layer) {
            (Some(reason), _, _) => format!("{reason}; {} descriptors heard", status.topology.descriptors),
            (None, true, Some(layer)) => format!("mixing in layer {layer} of epoch {}", status.epoch),
            (None, true, None) => "deployed; waiting for this node's descriptor in the topology".into(),
            (None, false, _) => format!(
                "client of {} mixnodes; deploy to mix",
                status.topology.layers.iter().map(Vec::len).sum::<usize>()
            ),
        };
        if last.as_ref() != Some(&detail) {
            state.services.set("betanet", "Betanet", ServiceState::Running, detail.clone());
            last = Some(detail);
        }
    }
}
