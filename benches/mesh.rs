//! Mesh benchmarks on 127.0.0.1: time for five fresh nodes to reach full connectivity, gossip
//! delivery of 1 KiB messages to four peers (criterion's median, plus p50/p99 of every message
//! printed at the end), and a request-response round trip between two connected nodes.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use fog_identity::NodeIdentity;
use fog_mesh::{accept_all, GossipMessage, Mesh, MeshConfig, PeerEvent};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::Receiver;

const NODES: usize = 5;
const TOPIC: &str = "fog/bench";

async fn start() -> Mesh {
    Mesh::start(*NodeIdentity::generate().ed25519_secret(), MeshConfig::default()).await.unwrap()
}

/// Five nodes that all dialled the first; returns once each sees the other four.
async fn five_connected() -> Vec<Mesh> {
    let first = start().await;
    let bootstrap = first.listen_addrs().await.unwrap()[0].clone();
    let mut nodes = vec![first];
    for _ in 1..NODES {
        let node = start().await;
        node.dial(&bootstrap).await.unwrap();
        nodes.push(node);
    }
    loop {
        let mut full = true;
        for node in &nodes {
            full &= node.peers().await.unwrap().len() == NODES - 1;
        }
        if full {
            return nodes;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn stop(nodes: &[Mesh]) {
    for node in nodes {
        node.stop().await;
    }
}

fn connectivity(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let mut group = c.benchmark_group("mesh");
    group.sample_size(10);
    group.bench_function("five_nodes_full_connectivity", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let nodes = five_connected().await;
                total += started.elapsed();
                stop(&nodes).await;
            }
            total
        })
    });
    group.finish();
}

async fn gossip_ready() -> (Vec<Mesh>, Vec<Receiver<GossipMessage>>) {
    let nodes = five_connected().await;
    let mut events = nodes[0].peer_events();
    let mut receivers = Vec::new();
    for node in &nodes[1..] {
        receivers.push(node.subscribe(TOPIC, accept_all()).await.unwrap());
    }
    nodes[0].subscribe(TOPIC, accept_all()).await.unwrap();
    let mut subscribed = 0;
    while subscribed < NODES - 1 {
        if let Ok(PeerEvent::Subscribed { topic, .. }) = events.recv().await {
            subscribed += usize::from(topic == TOPIC);
        }
    }
    // Let the heartbeat graft the gossip mesh before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    (nodes, receivers)
}

fn gossip(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let (nodes, receivers) = rt.block_on(gossip_ready());
    let receivers = std::sync::Arc::new(tokio::sync::Mutex::new(receivers));
    let samples = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut group = c.benchmark_group("mesh");
    group.bench_function("gossip_1KiB_to_4_peers", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let publisher = nodes[0].clone();
            let receivers = receivers.clone();
            let samples = samples.clone();
            async move {
                let mut receivers = receivers.lock().await;
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // Message ids are the author and a sequence number, so equal payloads are distinct messages.
                    let started = Instant::now();
                    publisher.publish(TOPIC, vec![0xA5; 1024]).await.unwrap();
                    for receiver in receivers.iter_mut() {
                        receiver.recv().await.unwrap();
                    }
                    let took = started.elapsed();
                    samples.lock().unwrap().push(took);
                    total += took;
                }
                total
            }
        })
    });
    group.finish();
    let mut all = samples.lock().unwrap().clone();
    all.sort();
    if !all.is_empty() {
        let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
        eprintln!("gossip 1 KiB to 4 peers over {} messages: p50 {:?}, p99 {:?}", all.len(), at(0.50), at(0.99));
    }
    rt.block_on(stop(&nodes));
}

fn request_response(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let (client, server) = rt.block_on(async {
        let server = start().await;
        let mut inbound = server.serve::<u64, u64>("/fog/bench/echo").await.unwrap();
        tokio::spawn(async move {
            while let Some(request) = inbound.recv().await {
                let n = request.request;
                request.respond(&n);
            }
        });
        let client = start().await;
        client.dial(&server.listen_addrs().await.unwrap()[0]).await.unwrap();
        while client.peers().await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (client, server)
    });
    let server_id = server.local_peer_id();
    let mut group = c.benchmark_group("mesh");
    group.bench_function("request_response_round_trip", |b| {
        b.to_async(&rt).iter(|| async {
            let answer: u64 =
                client.request(&server_id, "/fog/bench/echo", &7u64, Duration::from_secs(10)).await.unwrap();
            assert_eq!(answer, 7);
        })
    });
    group.finish();
    rt.block_on(stop(&[client, server]));
}

criterion_group!(benches, connectivity, gossip, request_response);
criterion_main!(benches);
