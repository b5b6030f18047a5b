//! Whole BitChat services (engine, SQLite, transport) on the in-memory radio, on tokio's
//! paused clock: minutes of mesh life run in a moment and repeat from their seeds.

use std::sync::Arc;
use std::time::Duration;

use fog_bitchat::keys::ChatKeys;
use fog_bitchat::model::{ChatMessage, DeliveryState};
use fog_bitchat::service::Bitchat;
use fog_bitchat::transport::memory::{LinkSpec, MemoryRadio};
use fog_store::Store;

struct Node {
    chat: Bitchat,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
}

fn keys_in(dir: &std::path::Path) -> ChatKeys {
    ChatKeys::load_or_create(dir).unwrap().0
}

fn start(radio: &MemoryRadio, index: usize) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("fog.db"), fog_bitchat::store::MIGRATIONS).unwrap());
    let chat =
        Bitchat::start(store.clone(), keys_in(dir.path()), Some(&format!("node{index}")), radio.attach(index)).unwrap();
    Node { chat, store, _dir: dir }
}

/// The same node (data directory, keys, database) started again.
fn restart(radio: &MemoryRadio, index: usize, node: Node) -> Node {
    let Node { chat, store, _dir } = node;
    drop(chat);
    drop(store);
    radio.detach(index);
    let store = Arc::new(Store::open(&_dir.path().join("fog.db"), fog_bitchat::store::MIGRATIONS).unwrap());
    let chat = Bitchat::start(store.clone(), keys_in(_dir.path()), None, radio.attach(index)).unwrap();
    Node { chat, store, _dir }
}

fn line(radio: &MemoryRadio, n: usize, loss: f64) -> Vec<Node> {
    let nodes: Vec<Node> = (0..n).map(|i| start(radio, i)).collect();
    for i in 1..n {
        radio.connect(i - 1, i, LinkSpec { loss, ..LinkSpec::default() });
    }
    nodes
}

/// Waits (on the paused clock) until `check` holds, at most `limit`.
async fn until<F: FnMut() -> bool>(limit: Duration, mut check: F) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}

async fn knows(node: &Node, peer: &str) -> bool {
    node.chat.peers().await.unwrap().iter().any(|p| p.peer_id == peer && p.reachable)
}

fn message(node: &Node, channel: &str, id: &str) -> Option<ChatMessage> {
    node.chat.messages(Some(channel), 1000).unwrap().into_iter().find(|m| m.id == id)
}

async fn wait_known(nodes: &[&Node], peer: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for node in nodes {
        while !knows(node, peer).await {
            assert!(tokio::time::Instant::now() < deadline, "{peer} was never heard");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_private_message_crosses_five_relays_with_delivery_and_read_receipts() {
    // 3 % loss a link: a message and its receipt cross 12 links, so one try in three fails
    // and the outbox's retries carry it.
    let radio = MemoryRadio::new(7);
    let nodes = line(&radio, 7, 0.03);
    let (first, last) = (&nodes[0], &nodes[6]);
    let (a, b) = (first.chat.status().peer_id, last.chat.status().peer_id);
    wait_known(&[first], &b).await;
    wait_known(&[last], &a).await;

    let sent = first.chat.send(Some(&b), "hello across the mesh").await.unwrap();
    assert_eq!(sent.delivery, Some(DeliveryState::Queued));
    assert!(until(Duration::from_secs(120), || message(last, &a, &sent.id).is_some()).await, "not received");
    let received = message(last, &a, &sent.id).unwrap();
    assert_eq!(received.text, "hello across the mesh");
    assert!(!received.outgoing && received.private && !received.read);
    let delivered = || message(first, &b, &sent.id).and_then(|m| m.delivery) == Some(DeliveryState::Delivered);
    assert!(until(Duration::from_secs(120), delivered).await, "no delivery receipt");

    assert_eq!(last.chat.mark_read(&a).unwrap(), 1);
    let read = || message(first, &b, &sent.id).and_then(|m| m.delivery) == Some(DeliveryState::Read);
    assert!(until(Duration::from_secs(60), read).await, "no read receipt");
    // Only the end points can read it: every relay saw ciphertext only.
    for relay in &nodes[1..6] {
        assert!(relay.chat.messages(None, 1000).unwrap().iter().all(|m| !m.private));
    }
    assert_eq!(first.chat.status().outbox, 0);
}

#[tokio::test(start_paused = true)]
async fn an_offline_peer_gets_its_message_when_it_returns_even_after_the_sender_restarts() {
    let radio = MemoryRadio::new(11);
    let mut nodes = line(&radio, 3, 0.0);
    let (a, c) = (nodes[0].chat.status().peer_id, nodes[2].chat.status().peer_id);
    wait_known(&[&nodes[0]], &c).await;

    radio.detach(2);
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert!(!knows(&nodes[0], &c).await, "still counted in reach a minute after it left");
    let sent = nodes[0].chat.send(Some(&c), "are you there?").await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(message(&nodes[0], &c, &sent.id).unwrap().delivery, Some(DeliveryState::Queued));

    // The sender restarts while the message waits: the outbox is in its database.
    let sender = nodes.remove(0);
    nodes.insert(0, restart(&radio, 0, sender));
    assert_eq!(nodes[0].chat.status().outbox, 1);
    tokio::time::sleep(Duration::from_secs(300)).await;

    // The recipient comes back (same keys, same database).
    let returning = nodes.remove(2);
    nodes.push(restart(&radio, 2, returning));
    let got = || message(&nodes[2], &a, &sent.id).is_some();
    assert!(until(Duration::from_secs(60), got).await, "the returning peer never got its message");
    let delivered = || message(&nodes[0], &c, &sent.id).and_then(|m| m.delivery) == Some(DeliveryState::Delivered);
    assert!(until(Duration::from_secs(60), delivered).await);
    assert_eq!(nodes[0].chat.status().outbox, 0);
}

/// Hops from peer 0 to every peer.
fn hops(links: &[Vec<usize>]) -> Vec<Option<usize>> {
    let mut dist = vec![None; links.len()];
    dist[0] = Some(0);
    let mut queue = std::collections::VecDeque::from([0]);
    while let Some(p) = queue.pop_front() {
        for &q in &links[p] {
            if dist[q].is_none() {
                dist[q] = Some(dist[p].unwrap() + 1);
                queue.push_back(q);
            }
        }
    }
    dist
}

/// 30 services on the radio with `links` (10 % loss on each): 20 public messages from peer 0
/// reach at least 99 % of the peers within TTL reach (7 hops), and no peer relays one twice
/// over a link (sync replays aside).
async fn public_messages_reach(name: &str, links: Vec<Vec<usize>>, seed: u64) {
    let radio = MemoryRadio::new(seed);
    radio.record_frames();
    let nodes: Vec<Node> = (0..links.len()).map(|i| start(&radio, i)).collect();
    for (a, neighbours) in links.iter().enumerate() {
        for &b in neighbours.iter().filter(|b| **b > a) {
            radio.connect(a, b, LinkSpec { loss: 0.10, ..LinkSpec::default() });
        }
    }
    let ids_of: Vec<String> = nodes.iter().map(|n| n.chat.status().peer_id).collect();
    let origin = ids_of[0].clone();
    let reach: Vec<&Node> = hops(&links)
        .iter()
        .enumerate()
        .filter(|(i, d)| *i > 0 && d.is_some_and(|d| d <= 7))
        .map(|(i, _)| &nodes[i])
        .collect();
    wait_known(&reach, &origin).await;
    let mut ids = Vec::new();
    for m in 0..20 {
        ids.push(nodes[0].chat.send(None, &format!("{name} message {m}")).await.unwrap().id);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    tokio::time::sleep(Duration::from_secs(120)).await;
    let mut got = 0;
    for node in &reach {
        let have = node.chat.messages(Some("#mesh"), 1000).unwrap();
        got += ids.iter().filter(|id| have.iter().any(|m| &m.id == *id && m.sender == origin)).count();
    }
    let expected = ids.len() * reach.len();
    if got * 100 < expected * 99 {
        for node in &reach {
            let have = node.chat.messages(Some("#mesh"), 1000).unwrap().len();
            eprintln!("{} {have} {:?}", node.chat.status().nickname, node.chat.status().counters);
        }
    }
    assert!(got * 100 >= expected * 99, "{name}: {got} of {expected} deliveries");
    assert_eq!(radio.dropped_too_big(), 0, "{name}: a frame did not fit its link");
    let mut relayed = std::collections::HashSet::new();
    for (from, to, frame) in radio.recorded_frames() {
        let packet = fog_bitchat::decode(&frame).expect("frames on the air decode");
        let relay = hex::encode(packet.sender) != ids_of[from] && !packet.is_rsr;
        if relay && packet.kind == fog_bitchat::packet::kind::MESSAGE {
            let id = fog_bitchat::router::message_id(&packet);
            assert!(relayed.insert((from, to, id)), "{name}: peer {from} relayed a message twice to {to}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn public_messages_reach_a_lossy_line() {
    let links = (0..30usize).map(|i| [i.checked_sub(1), (i < 29).then_some(i + 1)].into_iter().flatten().collect());
    public_messages_reach("line", links.collect(), 1).await;
}

#[tokio::test(start_paused = true)]
async fn public_messages_reach_a_lossy_grid() {
    let (w, h) = (5usize, 6usize);
    let links = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            let mut n = Vec::new();
            if x > 0 {
                n.push(i - 1);
            }
            if x + 1 < w {
                n.push(i + 1);
            }
            if y > 0 {
                n.push(i - w);
            }
            if y + 1 < h {
                n.push(i + w);
            }
            n
        })
        .collect();
    public_messages_reach("grid", links, 3).await;
}

#[tokio::test(start_paused = true)]
async fn public_messages_reach_a_lossy_random_geometric_graph() {
    // Peers at seeded random points of the unit square, linked within radio range 0.3; the
    // first seed that gives a connected graph.
    let links = (3u64..)
        .map(|seed| {
            let mut x = seed;
            let mut unit = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64
            };
            let points: Vec<(f64, f64)> = (0..30).map(|_| (unit(), unit())).collect();
            (0..30)
                .map(|i| {
                    (0..30)
                        .filter(|&j| j != i && (points[i].0 - points[j].0).hypot(points[i].1 - points[j].1) <= 0.3)
                        .collect::<Vec<usize>>()
                })
                .collect::<Vec<_>>()
        })
        .find(|links| hops(links).iter().all(Option::is_some))
        .expect("a connected graph");
    public_messages_reach("random geometric", links, 5).await;
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_refused_with_a_reason() {
    let radio = MemoryRadio::new(5);
    let node = start(&radio, 0);
    let err = node.chat.send(None, "   ").await.unwrap_err();
    assert_eq!(err.to_string(), "the message is empty");
    let err = node.chat.send(Some("zz"), "hi").await.unwrap_err();
    assert!(err.to_string().contains("not a peer id"), "{err}");
    let err = node.chat.send(Some("0011223344556677"), "hi").await.unwrap_err();
    assert!(err.to_string().contains("no peer 0011223344556677"), "{err}");
    let long = "é".repeat(200);
    let err = node.chat.send(Some("0011223344556677"), &long).await.unwrap_err();
    assert!(err.to_string().contains("too long"), "{err}");
    assert!(node.chat.set_nickname("").await.is_err());
    node.chat.set_nickname("laptop").await.unwrap();
    assert_eq!(node.chat.status().nickname, "laptop");
}
