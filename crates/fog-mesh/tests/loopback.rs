//! Three real meshes on 127.0.0.1: the peer id is the node's, a node that only knows the
//! first finds the second, gossip crosses the mesh, and peers see each other leave.

use std::time::Duration;

use fog_identity::NodeIdentity;
use fog_mesh::{accept_all, Mesh, MeshConfig, MeshError, PeerEvent};
use tokio::time::timeout;

/// Generous bound: debug builds of libp2p are slow.
const WAIT: Duration = Duration::from_secs(30);

async fn start(bootstrap: Vec<String>) -> (Mesh, NodeIdentity) {
    let identity = NodeIdentity::generate();
    let mesh = Mesh::start(*identity.ed25519_secret(), MeshConfig::default()).await.unwrap();
    for addr in bootstrap {
        mesh.dial(&addr).await.unwrap();
    }
    (mesh, identity)
}

async fn wait_for(events: &mut tokio::sync::broadcast::Receiver<PeerEvent>, want: impl Fn(&PeerEvent) -> bool) {
    timeout(WAIT, async {
        loop {
            if want(&events.recv().await.unwrap()) {
                return;
            }
        }
    })
    .await
    .expect("event within the time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_find_each_other_and_gossip() {
    let (a, a_id) = start(vec![]).await;
    assert_eq!(a.local_peer_id(), a_id.peer_id());
    let a_addr = a.listen_addrs().await.unwrap()[0].clone();
    assert!(a_addr.starts_with("/ip4/127.0.0.1/tcp/"), "{a_addr}");

    let mut a_events = a.peer_events();
    let mut a_topic = a.subscribe("fog/test", accept_all()).await.unwrap();
    let (b, _) = start(vec![a_addr.clone()]).await;
    wait_for(&mut a_events, |e| matches!(e, PeerEvent::Connected { peer, .. } if *peer == b.local_peer_id())).await;
    // Until a has b's Identify (listen addresses), it cannot tell c about b.
    timeout(WAIT, async {
        while !a.peers().await.unwrap().iter().any(|p| p.peer == b.local_peer_id() && !p.protocols.is_empty()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a identifies b");

    // c only knows a, and finds b through the DHT. It listens to its events before dialling,
    // so a's gossip subscription (sent as soon as they connect) cannot slip by unseen.
    let (c, _) = start(vec![]).await;
    let mut c_events = c.peer_events();
    c.dial(&a_addr).await.unwrap();
    let b_id = b.local_peer_id();
    let c_peers = timeout(WAIT, async {
        loop {
            let peers = c.peers().await.unwrap();
            if peers.iter().any(|p| p.peer == b_id) {
                return peers;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("c connects to b");
    assert_eq!(c_peers.len(), 2);

    c.subscribe("fog/test", accept_all()).await.unwrap();
    wait_for(&mut c_events, |e| matches!(e, PeerEvent::Subscribed { topic, .. } if topic == "fog/test")).await;
    c.publish("fog/test", b"hello mesh".to_vec()).await.unwrap();
    let message = timeout(WAIT, a_topic.recv()).await.unwrap().unwrap();
    assert_eq!(message.data, b"hello mesh");
    assert_eq!(message.source, Some(c.local_peer_id()));

    let c_id = c.local_peer_id();
    c.stop().await;
    wait_for(&mut a_events, |e| matches!(e, PeerEvent::Disconnected { peer } if *peer == c_id)).await;

    a.disconnect(&b_id).await.unwrap();
    wait_for(&mut a_events, |e| matches!(e, PeerEvent::Disconnected { peer } if *peer == b_id)).await;
    assert!(matches!(a.disconnect(&b_id).await, Err(MeshError::NotConnected(_))));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_typed_error() {
    let (a, _) = start(vec![]).await;
    assert!(matches!(a.dial("not-an-address").await, Err(MeshError::BadAddress { .. })));
    assert!(matches!(a.subscribe("bad topic", accept_all()).await, Err(MeshError::BadTopic(_))));
    assert!(matches!(a.disconnect("nobody").await, Err(MeshError::BadPeer(_))));
    let mut events = a.peer_events();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    a.dial(&format!("/ip4/127.0.0.1/tcp/{closed_port}")).await.unwrap();
    wait_for(&mut events, |e| matches!(e, PeerEvent::DialFailed { .. })).await;
    assert!(matches!(a.publish("fog/nobody", b"x".to_vec()).await, Err(MeshError::Publish { .. })));
    let bad_listen = MeshConfig { listen: vec!["/ip4/127.0.0.1/udp/0".into()], ..MeshConfig::default() };
    assert!(Mesh::start([7; 32], bad_listen).await.is_err());
    a.stop().await;
    assert!(matches!(a.peers().await, Err(MeshError::Stopped)));
}

#[tokio::test]
async fn a_port_in_use_is_refused_not_shared() {
    let (first, _) = start(vec![]).await;
    let taken = first.listen_addrs().await.unwrap()[0].split("/p2p/").next().unwrap().to_owned();
    let config = MeshConfig { listen: vec![taken.clone()], ..MeshConfig::default() };
    let err = Mesh::start(*NodeIdentity::generate().ed25519_secret(), config).await.err();
    assert!(matches!(err, Some(MeshError::Listen { .. })), "second mesh on {taken} must fail, got {err:?}");
    first.stop().await;
}
