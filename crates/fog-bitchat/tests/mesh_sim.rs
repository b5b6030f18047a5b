//! The relay rules and gossip sync on simulated radios: 30 peers in a line, a grid and a random
//! geometric graph, every link losing 10 % of frames. Frames go through the real codec, each
//! peer decides with the real router, and every 15 s each peer sends its neighbours a
//! REQUEST_SYNC with the Golomb-coded set of what it has; they replay what it lacks. Public
//! messages must reach at least 99 % of the peers within TTL reach, and no peer may relay one
//! message twice.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use fog_bitchat::packet::{kind, Encoding};
use fog_bitchat::router::{decide, message_id, Decision, Neighbourhood, Next, SeenIds};
use fog_bitchat::sync::{packet_id, Gcs, RequestSync, DEFAULT_FILTER_BYTES, DEFAULT_P};
use fog_bitchat::{decode, encode, Packet, PeerId};

const START_MS: u64 = 1_800_000_000_000;
const LOSS: f64 = 0.10;
const SYNC_EVERY_MS: u64 = 15_000;
const MESSAGES: usize = 20;
const RUN_MS: u64 = 120_000;

/// A small seeded generator for the simulation's randomness.
struct Rand(u64);

impl Rand {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, (lo, hi): (u64, u64)) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Receive { to: usize, from: usize, frame: Vec<u8> },
    Sync { peer: usize },
}

struct Peer {
    id: PeerId,
    links: Vec<usize>,
    seen: SeenIds,
    /// Public messages this peer has, as sync needs them: sync id and the packet.
    store: Vec<([u8; 16], Packet)>,
    delivered: HashSet<String>,
    relayed: HashMap<String, u32>,
}

struct Sim {
    peers: Vec<Peer>,
    queue: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
    rand: Rand,
}

impl Sim {
    fn new(links: Vec<Vec<usize>>, seed: u64) -> Sim {
        let peers = links
            .into_iter()
            .enumerate()
            .map(|(i, links)| Peer {
                id: [i as u8 + 1; 8],
                links,
                seen: SeenIds::default(),
                store: Vec::new(),
                delivered: HashSet::new(),
                relayed: HashMap::new(),
            })
            .collect();
        Sim { peers, queue: BinaryHeap::new(), seq: 0, rand: Rand(seed | 1) }
    }

    fn at(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((time, self.seq, event)));
    }

    /// Over one link, losing 10 % of frames, arriving a millisecond later.
    fn send(&mut self, time: u64, from: usize, to: usize, frame: Vec<u8>) {
        if self.rand.unit() >= LOSS {
            self.at(time + 1, Event::Receive { to, from, frame });
        }
    }

    fn index_of(&self, id: PeerId) -> usize {
        self.peers.iter().position(|p| p.id == id).expect("a peer")
    }

    fn originate(&mut self, time: u64, from: usize, text: &str) {
        let packet = Packet::new(kind::MESSAGE, self.peers[from].id, START_MS + time, text.as_bytes().to_vec());
        let peer = &mut self.peers[from];
        peer.seen.first_time(message_id(&packet), START_MS + time);
        peer.store.push((sync_id(&packet), packet.clone()));
        let frame = encode(&packet, Encoding::AIR).unwrap();
        for to in self.peers[from].links.clone() {
            self.send(time, from, to, frame.clone());
        }
    }

    fn receive(&mut self, time: u64, to: usize, from: usize, frame: &[u8]) {
        let packet = decode(frame).expect("frames from the codec decode");
        let (me, links): (PeerId, Vec<PeerId>) =
            (self.peers[to].id, self.peers[to].links.iter().map(|&l| self.peers[l].id).collect());
        if packet.kind == kind::REQUEST_SYNC {
            return self.answer_sync(time, to, from, &packet);
        }
        let at = Neighbourhood { me, links: &links, ingress: Some(self.peers[from].id), now_ms: START_MS + time };
        let Decision::Accept { deliver, relay } = decide(&packet, &mut self.peers[to].seen, &at) else { return };
        let id = message_id(&packet);
        if deliver && packet.kind == kind::MESSAGE {
            let peer = &mut self.peers[to];
            peer.delivered.insert(id.clone());
            let original = Packet { ttl: 0, is_rsr: false, ..packet.clone() };
            peer.store.push((sync_id(&original), original));
        }
        let Some(relay) = relay else { return };
        *self.peers[to].relayed.entry(id).or_default() += 1;
        let frame = encode(&Packet { ttl: relay.ttl, ..packet }, Encoding::AIR).unwrap();
        let when = time + self.rand.between(relay.jitter_ms);
        let targets: Vec<usize> = match relay.next {
            Next::Links(ids) => ids.into_iter().map(|id| self.index_of(id)).collect(),
            Next::Hop(id) => vec![self.index_of(id)],
        };
        for target in targets {
            self.send(when, to, target, frame.clone());
        }
    }

    /// Each neighbour gets a REQUEST_SYNC with the set of what this peer has.
    fn request_sync(&mut self, time: u64, peer: usize) {
        let ids: Vec<[u8; 16]> = self.peers[peer].store.iter().rev().map(|(id, _)| *id).collect();
        let request = RequestSync {
            filter: Gcs::build(&ids, DEFAULT_P, DEFAULT_FILTER_BYTES),
            types: None,
            since_ms: None,
            fragment_ids: None,
        };
        for to in self.peers[peer].links.clone() {
            let mut packet =
                Packet::new(kind::REQUEST_SYNC, self.peers[peer].id, START_MS + time, request.encode().unwrap());
            packet.ttl = 0;
            packet.recipient = Some(self.peers[to].id);
            self.send(time, peer, to, encode(&packet, Encoding::AIR).unwrap());
        }
        self.at(time + SYNC_EVERY_MS, Event::Sync { peer });
    }

    /// Replays, with TTL 0 and as a sync response, what the requester's set lacks.
    fn answer_sync(&mut self, time: u64, me: usize, requester: usize, packet: &Packet) {
        let request = RequestSync::decode(&packet.payload).expect("a sync request decodes");
        let ids: Vec<[u8; 16]> = self.peers[me].store.iter().map(|(id, _)| *id).collect();
        let has = request.filter.membership(&ids);
        let missing: Vec<Packet> =
            self.peers[me].store.iter().zip(has).filter(|(_, has)| !has).map(|((_, p), _)| p.clone()).collect();
        for packet in missing {
            let replay = Packet { ttl: 0, is_rsr: true, ..packet };
            self.send(time, me, requester, encode(&replay, Encoding::AIR).unwrap());
        }
    }

    fn run(&mut self, until: u64) {
        while let Some(Reverse((time, _, event))) = self.queue.pop() {
            if time > until {
                return;
            }
            match event {
                Event::Receive { to, from, frame } => self.receive(time, to, from, &frame),
                Event::Sync { peer } => self.request_sync(time, peer),
            }
        }
    }
}

fn sync_id(packet: &Packet) -> [u8; 16] {
    packet_id(packet.kind, &packet.sender, packet.timestamp_ms, &packet.payload)
}

/// Hops from `from` to every peer.
fn hops(links: &[Vec<usize>], from: usize) -> Vec<Option<usize>> {
    let mut dist = vec![None; links.len()];
    dist[from] = Some(0);
    let mut queue = VecDeque::from([from]);
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

/// Sends `MESSAGES` public messages from peer 0, runs two minutes, and checks delivery within
/// TTL reach (7 hops) and that nobody relayed a message twice.
fn check(name: &str, links: Vec<Vec<usize>>, seed: u64) {
    let reach: Vec<usize> = hops(&links, 0)
        .iter()
        .enumerate()
        .filter(|(i, d)| *i != 0 && d.is_some_and(|d| d <= 7))
        .map(|(i, _)| i)
        .collect();
    let mut sim = Sim::new(links, seed);
    for peer in 0..sim.peers.len() {
        let first = sim.rand.between((1_000, SYNC_EVERY_MS));
        sim.at(first, Event::Sync { peer });
    }
    for m in 0..MESSAGES {
        sim.originate(100 + m as u64 * 2_000, 0, &format!("{name} message {m}"));
    }
    sim.run(RUN_MS);
    let ids: Vec<String> = sim.peers[0].store.iter().map(|(_, p)| message_id(p)).collect();
    let expected = ids.len() * reach.len();
    let got: usize = reach.iter().map(|&p| ids.iter().filter(|id| sim.peers[p].delivered.contains(*id)).count()).sum();
    let ratio = got as f64 / expected as f64;
    assert!(ratio >= 0.99, "{name}: {got} of {expected} deliveries ({:.1} %)", ratio * 100.0);
    for peer in &sim.peers {
        assert!(peer.relayed.values().all(|n| *n == 1), "{name}: a peer relayed a message twice");
    }
}

#[test]
fn a_line_of_30() {
    let links =
        (0..30usize).map(|i| [i.checked_sub(1), (i < 29).then_some(i + 1)].into_iter().flatten().collect()).collect();
    check("line", links, 1);
}

#[test]
fn a_grid_of_5_by_6() {
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
    check("grid", links, 2);
}

#[test]
fn a_random_geometric_graph_of_30() {
    // Peers at random points of the unit square, linked within radio range; the first seed
    // that gives a connected graph.
    let (links, seed) = (3..)
        .map(|seed| {
            let mut rand = Rand(seed);
            let points: Vec<(f64, f64)> = (0..30).map(|_| (rand.unit(), rand.unit())).collect();
            let range = 0.3;
            let links: Vec<Vec<usize>> = (0..30)
                .map(|i| {
                    (0..30)
                        .filter(|&j| j != i && (points[i].0 - points[j].0).hypot(points[i].1 - points[j].1) <= range)
                        .collect()
                })
                .collect();
            (links, seed)
        })
        .find(|(links, _)| hops(links, 0).iter().all(Option::is_some))
        .expect("a connected graph");
    check("random geometric", links, seed);
}
