//! Five real meshes on 127.0.0.1: full connectivity from one bootstrap address, gossip that
//! reaches every node exactly once, request-response between every pair, and a raw stream.

use std::time::Duration;

use fog_identity::NodeIdentity;
use fog_mesh::{accept_all, Mesh, MeshConfig, MeshError, PeerEvent};
use futures_util::io::{AsyncReadExt, AsyncWriteExt};
use serde::{Deserialize, Serialize};
use tokio::time::{timeout, Instant};

/// The bound for five nodes to see each other.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// Generous bound for everything else: debug builds of libp2p are slow.
const WAIT: Duration = Duration::from_secs(30);
const NODES: usize = 5;

#[derive(Serialize, Deserialize)]
struct Echo {
    text: String,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Answer {
    text: String,
    by: String,
}

async fn start() -> Mesh {
    Mesh::start(*NodeIdentity::generate().ed25519_secret(), MeshConfig::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_connect_gossip_once_and_answer_requests() {
    let started = Instant::now();
    let first = start().await;
    let bootstrap = first.listen_addrs().await.unwrap()[0].clone();
    let mut nodes = vec![first];
    for _ in 1..NODES {
        let node = start().await;
        node.dial(&bootstrap).await.unwrap();
        nodes.push(node);
    }
    timeout(CONNECT_WITHIN.saturating_sub(started.elapsed()), async {
        loop {
            let mut full = true;
            for node in &nodes {
                full &= node.peers().await.unwrap().len() == NODES - 1;
            }
            if full {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("every node sees the other four");

    // Each node sees the whole mesh: five nodes, ten connections.
    let topology = nodes[2].topology(WAIT).await.unwrap();
    assert_eq!((topology.nodes.len(), topology.edges.len()), (NODES, NODES * (NODES - 1) / 2), "{topology:?}");
    assert_eq!(topology.nodes[0], nodes[2].local_peer_id());
    assert!(topology.unanswered.is_empty());

    // Gossip: node 0 publishes once; each other node receives it exactly once.
    let mut first_events = nodes[0].peer_events();
    let mut receivers = Vec::new();
    for node in &nodes[1..] {
        receivers.push(node.subscribe("fog/test/five", accept_all()).await.unwrap());
    }
    nodes[0].subscribe("fog/test/five", accept_all()).await.unwrap();
    let mut subscribed = std::collections::HashSet::new();
    timeout(WAIT, async {
        while subscribed.len() < NODES - 1 {
            if let PeerEvent::Subscribed { peer, topic } = first_events.recv().await.unwrap() {
                if topic == "fog/test/five" {
                    subscribed.insert(peer);
                }
            }
        }
    })
    .await
    .expect("node 0 sees every subscription");
    nodes[0].publish("fog/test/five", vec![0xAB; 1024]).await.unwrap();
    for receiver in &mut receivers {
        let message = timeout(WAIT, receiver.recv()).await.unwrap().unwrap();
        assert_eq!(message.data, vec![0xAB; 1024]);
        assert_eq!(message.source, Some(nodes[0].local_peer_id()));
    }
    // Duplicates would arrive through the other three nodes within a few heartbeats.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for receiver in &mut receivers {
        assert!(receiver.try_recv().is_err(), "a message arrived twice");
    }
    let out = nodes[0].traffic().topics.into_iter().find(|t| t.topic == "fog/test/five").unwrap();
    assert_eq!((out.messages_out, out.bytes_out), (1, 1024));
    let received = nodes[1].traffic().topics.into_iter().find(|t| t.topic == "fog/test/five").unwrap();
    assert_eq!((received.messages_in, received.bytes_in, received.rejected), (1, 1024, 0));

    // Request-response between every ordered pair.
    for node in &nodes {
        let mut inbound = node.serve::<Echo, Answer>("/fog/test/echo").await.unwrap();
        let me = node.local_peer_id();
        tokio::spawn(async move {
            while let Some(request) = inbound.recv().await {
                let answer = Answer { text: request.request.text.clone(), by: me.clone() };
                request.respond(&answer);
            }
        });
    }
    for from in &nodes {
        for to in nodes.iter().filter(|n| n.local_peer_id() != from.local_peer_id()) {
            let text = format!("{} to {}", from.local_peer_id(), to.local_peer_id());
            let answer: Answer =
                from.request(&to.local_peer_id(), "/fog/test/echo", &Echo { text: text.clone() }, WAIT).await.unwrap();
            assert_eq!(answer, Answer { text, by: to.local_peer_id() });
        }
    }
    assert_eq!(nodes[0].traffic().requests_sent, (NODES - 1) as u64);

    // A protocol nobody serves is an error, not a hang; so is an undecodable request.
    let to = nodes[1].local_peer_id();
    let unserved = nodes[0].request::<_, Answer>(&to, "/fog/test/nobody", &Echo { text: "x".into() }, WAIT).await;
    assert!(
        matches!(&unserved, Err(MeshError::Refused { reason, .. }) if reason.contains("not served")),
        "{unserved:?}"
    );
    let malformed = nodes[0].request::<_, Answer>(&to, "/fog/test/echo", &42, WAIT).await;
    assert!(
        matches!(&malformed, Err(MeshError::Refused { reason, .. }) if reason.contains("malformed")),
        "{malformed:?}"
    );
    assert!(matches!(nodes[0].serve::<Echo, Answer>("/fog/test/echo").await, Err(MeshError::AlreadyServed { .. })));

    // A raw stream: node 1 echoes what node 0 writes.
    let mut incoming = nodes[1].accept_streams("/fog/test/stream").unwrap();
    tokio::spawn(async move {
        while let Some((_, mut stream)) = incoming.recv().await {
            let mut buf = vec![0; 5];
            stream.read_exact(&mut buf).await.unwrap();
            stream.write_all(&buf).await.unwrap();
            stream.close().await.unwrap();
        }
    });
    let mut stream = nodes[0].open_stream(&to, "/fog/test/stream").await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut echoed = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut echoed)).await.unwrap().unwrap();
    assert_eq!(echoed, b"hello");
    assert!(matches!(nodes[0].open_stream(&to, "/fog/test/closed").await, Err(MeshError::Stream { .. })));

    for node in &nodes {
        node.stop().await;
    }
}
