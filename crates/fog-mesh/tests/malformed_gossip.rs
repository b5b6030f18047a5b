//! Malformed gossip is rejected and counted, and the node keeps working: an unsigned message
//! with a forged author (from a hand-built libp2p peer), an oversized message and an
//! undecodable one (from a real node), then a good message that still arrives.

use std::sync::Arc;
use std::time::Duration;

use fog_identity::NodeIdentity;
use fog_mesh::{Mesh, MeshConfig, PeerEvent, Verdict};
use futures_util::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identity, noise, tcp, yamux};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(30);
const TOPIC: &str = "fog/test/strict";

fn invalid_count(mesh: &Mesh) -> u64 {
    let mut text = String::new();
    mesh.encode_metrics(&mut text).unwrap();
    text.lines()
        .find(|l| l.starts_with("fog_mesh_gossipsub_invalid_messages_per_topic") && l.contains(TOPIC))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

async fn wait_subscribed(events: &mut tokio::sync::broadcast::Receiver<PeerEvent>, peer: &str) {
    timeout(WAIT, async {
        loop {
            if let PeerEvent::Subscribed { peer: p, topic } = events.recv().await.unwrap() {
                if p == peer && topic == TOPIC {
                    return;
                }
            }
        }
    })
    .await
    .expect("subscription seen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_gossip_is_rejected_and_counted() {
    let node = Mesh::start(*NodeIdentity::generate().ed25519_secret(), MeshConfig::default()).await.unwrap();
    let addr = node.listen_addrs().await.unwrap()[0].clone();
    let json_only = Arc::new(|m: &fog_mesh::GossipMessage| {
        if serde_json::from_slice::<serde_json::Value>(&m.data).is_ok() {
            Verdict::Accept
        } else {
            Verdict::Reject
        }
    });
    let mut messages = node.subscribe(TOPIC, json_only).await.unwrap();

    // A peer that signs nothing and claims another author.
    let rogue_key = identity::Keypair::ed25519_from_bytes(*NodeIdentity::generate().ed25519_secret()).unwrap();
    let forged_author = identity::Keypair::ed25519_from_bytes(*NodeIdentity::generate().ed25519_secret())
        .unwrap()
        .public()
        .to_peer_id();
    let config = gossipsub::ConfigBuilder::default().validation_mode(gossipsub::ValidationMode::None).build().unwrap();
    let rogue_gossip: gossipsub::Behaviour =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Author(forged_author), config).unwrap();
    let mut rogue = libp2p::SwarmBuilder::with_existing_identity(rogue_key)
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|_| rogue_gossip)
        .unwrap()
        .build();
    let topic = gossipsub::IdentTopic::new(TOPIC);
    rogue.behaviour_mut().subscribe(&topic).unwrap();
    rogue.dial(addr.parse::<libp2p::Multiaddr>().unwrap()).unwrap();
    timeout(WAIT, async {
        loop {
            if let SwarmEvent::Behaviour(gossipsub::Event::Subscribed { .. }) = rogue.select_next_some().await {
                return;
            }
        }
    })
    .await
    .expect("the rogue sees the node's subscription");
    rogue.behaviour_mut().publish(topic, b"{\"forged\":true}".to_vec()).unwrap();
    let rogue_task = tokio::spawn(async move {
        loop {
            rogue.select_next_some().await;
        }
    });
    timeout(WAIT, async {
        while invalid_count(&node) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        let mut text = String::new();
        node.encode_metrics(&mut text).unwrap();
        panic!("the unsigned message is not counted as invalid: {:?}\n{text}", node.traffic())
    });
    rogue_task.abort();

    // A real node with a larger size limit sends an oversized message, then an undecodable one.
    let sender_config = MeshConfig { max_message_size: 256 * 1024, ..MeshConfig::default() };
    let sender = Mesh::start(*NodeIdentity::generate().ed25519_secret(), sender_config).await.unwrap();
    let mut sender_events = sender.peer_events();
    sender.subscribe(TOPIC, fog_mesh::accept_all()).await.unwrap();
    sender.dial(&addr).await.unwrap();
    wait_subscribed(&mut sender_events, &node.local_peer_id()).await;
    sender.publish(TOPIC, vec![b'1'; 100 * 1024]).await.unwrap();
    sender.publish(TOPIC, b"{not json".to_vec()).await.unwrap();
    sender.publish(TOPIC, b"{\"good\":true}".to_vec()).await.unwrap();

    let delivered = timeout(WAIT, messages.recv()).await.unwrap().unwrap();
    assert_eq!(delivered.data, b"{\"good\":true}", "only the good message is delivered");
    assert_eq!(delivered.source, Some(sender.local_peer_id()));
    let traffic = node.traffic().topics.into_iter().find(|t| t.topic == TOPIC).unwrap();
    assert_eq!((traffic.rejected, traffic.messages_in), (2, 1), "oversized and undecodable are rejected");
    assert!(messages.try_recv().is_err(), "nothing else was delivered");
    assert_eq!(node.peers().await.unwrap().len(), 1, "the node still serves its honest peer");
    node.stop().await;
    sender.stop().await;
}
