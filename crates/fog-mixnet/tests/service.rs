//! Whole Betanet services (SQLite, key files, the task) in one process, joined by an in-memory
//! transport and gossip: 6 mixnodes and a client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fog_identity::NodeIdentity;
use fog_mixnet::client::ClientConfig;
use fog_mixnet::model::MessageState;
use fog_mixnet::service::{Betanet, BetanetConfig, Publisher, Transport};
use fog_mixnet::sphinx::KeyMode;
use fog_store::Store;

/// Running services by identity, with their peer ids.
type Nodes = HashMap<[u8; 32], (String, Betanet)>;

#[derive(Default, Clone)]
struct Hub {
    nodes: Arc<Mutex<Nodes>>,
}

struct Link {
    hub: Hub,
}

impl Transport for Link {
    fn send(&self, to: &[u8; 32], packet: Vec<u8>) -> bool {
        match self.hub.nodes.lock().unwrap().get(to) {
            Some((_, node)) => {
                node.receive(packet);
                true
            }
            None => false,
        }
    }
}

struct Gossip {
    hub: Hub,
    from: String,
}

impl Publisher for Gossip {
    fn publish(&self, descriptor: Vec<u8>) {
        for (peer, node) in self.hub.nodes.lock().unwrap().values() {
            if *peer != self.from {
                node.descriptor(descriptor.clone(), Some(self.from.clone()));
            }
        }
    }
}

struct Node {
    betanet: Betanet,
    identity: NodeIdentity,
    dir: tempfile::TempDir,
}

fn config(dir: &std::path::Path, mixnode: bool) -> BetanetConfig {
    BetanetConfig {
        data_dir: dir.to_path_buf(),
        mode: KeyMode::Kem,
        epoch_secs: 3600,
        grace_secs: 300,
        mixnode,
        capacity: 100,
        max_queue: 10_000,
        publish_every_secs: 2,
        client: ClientConfig { mix_delay_ms: 5.0, ..ClientConfig::default() },
    }
}

fn copy(identity: &NodeIdentity) -> NodeIdentity {
    NodeIdentity::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&identity.ed25519_secret()))
}

fn start(hub: &Hub, identity: NodeIdentity, dir: tempfile::TempDir, mixnode: bool) -> Node {
    let store = Arc::new(Store::open(&dir.path().join("fog.db"), fog_mixnet::store::MIGRATIONS).unwrap());
    let peer = identity.peer_id();
    let betanet = Betanet::start(
        copy(&identity),
        store,
        config(dir.path(), mixnode),
        Arc::new(Link { hub: hub.clone() }),
        Arc::new(Gossip { hub: hub.clone(), from: peer.clone() }),
    )
    .unwrap();
    hub.nodes.lock().unwrap().insert(identity.public_key().to_bytes(), (peer, betanet.clone()));
    Node { betanet, identity, dir }
}

async fn until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_form_a_topology_deliver_a_message_and_its_reply_and_keep_keys_over_a_restart() {
    let hub = Hub::default();
    let mut nodes: Vec<Node> =
        (0..7).map(|i| start(&hub, NodeIdentity::generate(), tempfile::tempdir().unwrap(), i < 5)).collect();
    // The sixth mixnode is deployed at run time.
    nodes[5].betanet.deploy().await.unwrap();
    assert!(nodes[5].betanet.status().mixnode.deployed);
    let usable = || {
        nodes.iter().all(|n| {
            let t = n.betanet.status().topology;
            t.usable && t.layers.iter().all(|l| l.len() == 2) && t.endpoints == 7
        })
    };
    assert!(until(Duration::from_secs(20), usable).await, "{:?}", nodes[6].betanet.status().topology);

    let to = nodes[1].identity.peer_id();
    let sent = nodes[6].betanet.send(&to, b"through three layers".to_vec()).await.unwrap();
    assert_eq!(sent.state, MessageState::Sending);
    let received = || nodes[1].betanet.inbox(10).unwrap().into_iter().find(|m| m.state == MessageState::Received);
    assert!(until(Duration::from_secs(20), || received().is_some()).await, "not received");
    let message = received().unwrap();
    assert_eq!(message.text, "through three layers");
    assert_eq!(message.reply_surbs, 2);
    let delivered =
        || nodes[6].betanet.inbox(10).unwrap().iter().any(|m| m.id == sent.id && m.state == MessageState::Delivered);
    assert!(until(Duration::from_secs(20), delivered).await, "no acknowledgement");

    nodes[1].betanet.reply(&message.id, b"and back".to_vec()).await.unwrap();
    assert!(nodes[1].betanet.reply(&message.id, b"twice".to_vec()).await.is_err(), "SURBs are single-use");
    let replied = || {
        nodes[6].betanet.inbox(10).unwrap().into_iter().any(|m| {
            m.state == MessageState::Received
                && m.text == "and back"
                && m.in_reply_to.as_deref() == Some(sent.id.as_str())
        })
    };
    assert!(until(Duration::from_secs(20), replied).await, "no reply");
    assert!(nodes[1].betanet.send("12D3KooWnotapeer", b"x".to_vec()).await.is_err());

    // Live figures come from the running engines.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let status = nodes[6].betanet.status();
    assert!(status.client.cover_per_s > 10.0, "{:?}", status.client);
    assert!(status.client.loop_rtt_ms.is_some());
    let mix = nodes[0].betanet.status().mixnode;
    assert!(mix.received > 0 && mix.forwarded > 0 && mix.layer.is_some(), "{mix:?}");
    assert_eq!(mix.drops.iter().map(|d| d.count).sum::<u64>(), 0, "{mix:?}");

    // A restart keeps the epoch keys (0600 files) and the message log.
    let keys_before = nodes[0].betanet.status().mixnode.key_epochs;
    let node = nodes.remove(1);
    let (identity, dir) = (node.identity, node.dir);
    drop(node.betanet);
    hub.nodes.lock().unwrap().remove(&identity.public_key().to_bytes());
    let mode = std::fs::metadata(dir.path().join("mix_keys").join(format!("{}.key", keys_before[0]))).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
    let restarted = start(&hub, identity, dir, true);
    assert!(restarted.betanet.inbox(10).unwrap().iter().any(|m| m.text == "through three layers"));
}
