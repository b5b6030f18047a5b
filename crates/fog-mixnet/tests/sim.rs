//! Whole mixnets of engines (mixer + client per node) in a discrete-event simulation:
//! exact times, no sockets, repeatable from fixed seeds. Nodes 0–5 are mixnodes (three layers
//! of two), node 6 a client only; every node can receive.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use fog_identity::NodeIdentity;
use fog_mixnet::client::{Client, ClientConfig, ClientEvent, Target};
use fog_mixnet::directory::{Descriptor, Directory, NetworkParams};
use fog_mixnet::mixnode::{DropReason, KeyRing, Mixer, Received};
use fog_mixnet::sphinx::{KeyMode, SecretKey};

const GRACE_MS: u64 = 2_000;

struct Node {
    identity: NodeIdentity,
    address: [u8; 32],
    mixer: Mixer,
    client: Client,
    alive: bool,
    events: Vec<ClientEvent>,
}

type Arrival = (u64, u64, usize, Vec<u8>);

struct Sim {
    nodes: Vec<Node>,
    params: NetworkParams,
    /// (arrival time, sequence, node, packet).
    arrivals: BinaryHeap<Reverse<Arrival>>,
    seq: u64,
    now_us: u64,
    link_us: u64,
    /// Every packet put on a link: (time, to, packet).
    sent: Vec<(u64, usize, Vec<u8>)>,
    record: bool,
    lost_to_dead: u64,
    /// Send times of this node's client.
    watch: Option<usize>,
    watched: Vec<u64>,
}

impl Sim {
    fn new(nodes: usize, mixnodes: usize, epoch_secs: u32, config: ClientConfig, link_us: u64) -> Sim {
        let params = NetworkParams { mode: KeyMode::Kem, epoch_secs, max_age_ms: u64::from(epoch_secs) * 3000 };
        let nodes = (0..nodes)
            .map(|i| {
                let identity =
                    NodeIdentity::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[i as u8 + 1; 32]));
                let address = identity.public_key().to_bytes();
                let mixer = Mixer::new(KeyRing::default(), 200_000, 10_000, i < mixnodes);
                let client = Client::new(address, params, config.clone(), 1000 + i as u64, 0);
                Node { identity, address, mixer, client, alive: true, events: Vec::new() }
            })
            .collect();
        let mut sim = Sim {
            nodes,
            params,
            arrivals: BinaryHeap::new(),
            seq: 0,
            now_us: 0,
            link_us,
            sent: Vec::new(),
            record: false,
            lost_to_dead: 0,
            watch: None,
            watched: Vec::new(),
        };
        sim.rotate(mixnodes);
        sim
    }

    /// Only `node`'s client keeps its streams (after at most one packet each), to keep long
    /// runs short.
    fn quiet_all_but(&mut self, node: usize) {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if i != node {
                n.client.config.send_interval_ms = 1e12;
                n.client.config.loop_interval_ms = 1e12;
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.now_us / 1000
    }

    /// Key rotation and republished descriptors; every client takes the new topology.
    fn rotate(&mut self, mixnodes: usize) {
        let now_ms = self.now_ms();
        let mut directory = Directory::default();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let rotation = node.mixer.ring.rotate(&self.params, GRACE_MS, now_ms, |_| SecretKey::generate());
            for epoch in rotation.retired {
                node.mixer.retire(epoch);
            }
            let keys = node.mixer.ring.iter().map(|(e, k)| (e, k.public())).collect();
            let descriptor = Descriptor::sign(
                &node.identity,
                self.params.mode,
                self.params.epoch_secs,
                i < mixnodes,
                1000,
                now_ms,
                keys,
            );
            directory.insert(descriptor, None, &self.params, now_ms).unwrap();
        }
        let topology = directory.topology(self.params.epoch_at(now_ms));
        for node in &mut self.nodes {
            node.client.set_topology(topology.clone());
        }
    }

    fn index_of(&self, address: &[u8; 32]) -> Option<usize> {
        self.nodes.iter().position(|n| &n.address == address)
    }

    fn transmit(&mut self, to: usize, packet: Vec<u8>) {
        self.seq += 1;
        if self.record {
            self.sent.push((self.now_us, to, packet.clone()));
        }
        self.arrivals.push(Reverse((self.now_us + self.link_us, self.seq, to, packet)));
    }

    /// Runs until `until_us`, rotating keys at every epoch boundary if `mixnodes` is set.
    fn run(&mut self, until_us: u64, mixnodes: usize) {
        let mut next_epoch_ms = self.params.epoch_start_ms(self.params.epoch_at(self.now_ms()) + 1);
        let mut next_grace_ms = self.params.epoch_start_ms(self.params.epoch_at(self.now_ms())) + GRACE_MS;
        loop {
            let mut t = self.arrivals.peek().map(|a| a.0 .0).unwrap_or(u64::MAX);
            for node in self.nodes.iter().filter(|n| n.alive) {
                t = t.min(node.mixer.next_due_us().unwrap_or(u64::MAX)).min(node.client.next_wake_us());
            }
            t = t.min(next_epoch_ms * 1000).min(next_grace_ms * 1000);
            if t > until_us {
                self.now_us = until_us;
                return;
            }
            self.now_us = t;
            if self.now_ms() >= next_epoch_ms || self.now_ms() >= next_grace_ms {
                self.rotate(mixnodes);
                next_epoch_ms = self.params.epoch_start_ms(self.params.epoch_at(self.now_ms()) + 1);
                next_grace_ms = self.params.epoch_start_ms(self.params.epoch_at(self.now_ms()) + 1) + GRACE_MS;
                if self.now_ms() < self.params.epoch_start_ms(self.params.epoch_at(self.now_ms())) + GRACE_MS {
                    next_grace_ms = self.params.epoch_start_ms(self.params.epoch_at(self.now_ms())) + GRACE_MS;
                }
            }
            while self.arrivals.peek().is_some_and(|a| a.0 .0 <= self.now_us) {
                let Reverse((_, _, to, packet)) = self.arrivals.pop().unwrap();
                if !self.nodes[to].alive {
                    self.lost_to_dead += 1;
                    continue;
                }
                let (now_us, now_ms) = (self.now_us, self.now_ms());
                let node = &mut self.nodes[to];
                if let Received::Delivered { packet, surb_id } = node.mixer.receive(packet, now_us) {
                    let events = node.client.deliver(packet, surb_id, now_us, now_ms);
                    node.events.extend(events);
                }
            }
            for i in 0..self.nodes.len() {
                if !self.nodes[i].alive {
                    continue;
                }
                let mut out = Vec::new();
                while let Some(due) = self.nodes[i].mixer.pop_due(self.now_us) {
                    out.push(due);
                }
                let (packets, events) = self.nodes[i].client.tick(self.now_us);
                self.nodes[i].events.extend(events);
                if self.watch == Some(i) {
                    self.watched.extend(packets.iter().map(|_| self.now_us));
                }
                out.extend(packets);
                for (next, packet) in out {
                    match self.index_of(&next) {
                        Some(to) => self.transmit(to, packet),
                        None => self.nodes[i].mixer.count_no_route(),
                    }
                }
            }
        }
    }

    fn received(&self, node: usize) -> Vec<(Vec<u8>, usize, Option<[u8; 16]>)> {
        self.nodes[node]
            .events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Received { body, reply_surbs, in_reply_to, .. } => {
                    Some((body.clone(), reply_surbs.len(), *in_reply_to))
                }
                _ => None,
            })
            .collect()
    }

    fn delivered(&self, node: usize, id: [u8; 16]) -> bool {
        self.nodes[node].events.contains(&ClientEvent::Delivered { id })
    }
}

const SECOND: u64 = 1_000_000;

#[test]
fn a_message_and_its_reply_cross_the_mixnet_and_both_are_acknowledged() {
    let mut sim = Sim::new(7, 6, 3600, ClientConfig::default(), 500);
    let body: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    let to = sim.nodes[2].address;
    let id = sim.nodes[6].client.send(Target::Node(to), &body).unwrap();
    sim.run(10 * SECOND, 6);
    let got = sim.received(2);
    assert_eq!(got.len(), 1, "exactly once");
    assert_eq!(got[0].0, body);
    assert_eq!(got[0].1, 2, "two reply SURBs");
    assert!(sim.delivered(6, id), "every fragment acknowledged");

    let surbs = match sim.nodes[2].events.iter().find_map(|e| match e {
        ClientEvent::Received { reply_surbs, .. } => Some(reply_surbs.clone()),
        _ => None,
    }) {
        Some(s) => s,
        None => unreachable!(),
    };
    let reply = sim.nodes[2].client.send(Target::Surbs(surbs), b"got it").unwrap();
    sim.run(20 * SECOND, 6);
    let replies = sim.received(6);
    assert_eq!(replies, vec![(b"got it".to_vec(), 0, Some(id))]);
    assert!(sim.delivered(2, reply));
    let counters = sim.nodes[6].client.counters();
    assert!(counters.drop_cover_sent > 300 && counters.loops_returned > 50, "{counters:?}");
    assert_eq!(counters.bad_deliveries, 0);
    for node in &sim.nodes {
        let c = node.mixer.counters();
        assert_eq!(DropReason::ALL.map(|r| c.dropped(r)), [0; 6], "{c:?}");
    }
}

#[test]
fn a_replayed_packet_is_dropped_and_counted() {
    let mut sim = Sim::new(7, 6, 3600, ClientConfig::default(), 500);
    sim.record = true;
    sim.run(SECOND, 6);
    let (_, to, packet) = sim.sent[10].clone();
    let before = sim.nodes[to].mixer.counters().dropped(DropReason::Replay);
    sim.transmit(to, packet);
    sim.run(2 * SECOND, 6);
    assert_eq!(sim.nodes[to].mixer.counters().dropped(DropReason::Replay), before + 1);
}

#[test]
fn a_node_killed_mid_run_loses_only_its_queue_and_retransmission_recovers() {
    let mut sim = Sim::new(7, 6, 3600, ClientConfig::default(), 500);
    let to = sim.nodes[0].address;
    let body = vec![7u8; 20_000];
    let id = sim.nodes[6].client.send(Target::Node(to), &body).unwrap();
    sim.run(60_000, 6);
    let victim = (1..6).max_by_key(|i| sim.nodes[*i].mixer.queue_depth()).unwrap();
    assert!(sim.nodes[victim].mixer.queue_depth() > 0, "nothing was queued when the node was killed");
    sim.nodes[victim].alive = false;
    sim.run(60 * SECOND, 6);
    assert!(sim.lost_to_dead > 0);
    assert_eq!(sim.received(0).first().map(|r| r.0.clone()), Some(body));
    assert!(sim.delivered(6, id));
    assert!(sim.nodes[6].client.counters().retransmissions > 0);
}

#[test]
fn ten_key_rotations_at_a_steady_load_lose_no_packet() {
    // 2 s epochs with a 2 s grace: ten rotations in 21 s, with messages sent all along.
    let mut sim = Sim::new(7, 6, 2, ClientConfig::default(), 500);
    let mut sent = Vec::new();
    for second in 0..21 {
        let to = sim.nodes[second % 6].address;
        sent.push(sim.nodes[6].client.send(Target::Node(to), format!("message {second}").as_bytes()).unwrap());
        sim.run((second as u64 + 1) * SECOND, 6);
    }
    sim.run(30 * SECOND, 6);
    let counters = sim.nodes[6].client.counters().clone();
    assert_eq!(counters.retransmissions, 0, "a packet was lost: {counters:?}");
    assert!(sent.iter().all(|id| sim.delivered(6, *id)));
    assert_eq!(counters.loops_returned + 5, counters.loop_cover_sent.max(counters.loops_returned + 5), "{counters:?}");
    for node in &sim.nodes {
        assert_eq!(node.mixer.counters().dropped(DropReason::ExpiredEpoch), 0);
    }
}

/// Kolmogorov–Smirnov statistic of `samples` against `cdf`.
fn ks(samples: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len() as f64;
    samples
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let f = cdf(*x);
            (f - i as f64 / n).abs().max(((i + 1) as f64 / n - f).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn latency_through_three_layers_is_erlang_and_the_cover_stream_is_poisson() {
    let config =
        ClientConfig { send_interval_ms: 20.0, loop_interval_ms: 10.0, mix_delay_ms: 50.0, ..Default::default() };
    let mut sim = Sim::new(7, 6, 3600, config, 0);
    sim.quiet_all_but(6);
    sim.run(40 * SECOND, 6);
    let mut rtts: Vec<f64> = sim.nodes[6]
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::LoopReturned { rtt_us } => Some(*rtt_us as f64 / 1000.0),
            _ => None,
        })
        .collect();
    assert!(rtts.len() > 3000, "{}", rtts.len());
    // Three mixnodes, each an exponential delay of mean μ = 50 ms: Erlang(3, 1/μ).
    let rate = 1.0 / 50.0;
    let erlang = |x: f64| 1.0 - (-rate * x).exp() * (1.0 + rate * x + (rate * x).powi(2) / 2.0);
    let d = ks(&mut rtts, erlang);
    let critical = 1.63 / (rtts.len() as f64).sqrt(); // α = 1 %
    assert!(d < critical, "KS D = {d:.4} against Erlang(3, 50 ms), critical {critical:.4}");
}

#[test]
fn an_idle_clients_stream_is_poisson_at_the_configured_rate() {
    // 400 s at a mean gap of 20 ms: about 20,000 packets, so ±3 % is four standard errors.
    let config =
        ClientConfig { send_interval_ms: 20.0, loop_interval_ms: 1000.0, mix_delay_ms: 5.0, ..Default::default() };
    let mut sim = Sim::new(7, 6, 3600, config, 0);
    sim.quiet_all_but(6);
    sim.watch = Some(6);
    sim.run(400 * SECOND, 6);
    let counters = sim.nodes[6].client.counters();
    let main = (counters.real_sent + counters.drop_cover_sent) as f64 / 400.0;
    assert!((main - 50.0).abs() <= 1.5, "{main} packets/s against 50 (±3 %)");
    let loops = counters.loop_cover_sent as f64 / 400.0;
    assert!((loops - 1.0).abs() <= 0.15, "{loops} loops/s against 1");
    // Both streams are Poisson, so together they are Poisson at 51/s: exponential gaps.
    let mut gaps: Vec<f64> = sim.watched.windows(2).map(|w| (w[1] - w[0]) as f64 / 1000.0).collect();
    let rate = 51.0 / 1000.0;
    let d = ks(&mut gaps, |x| 1.0 - (-rate * x).exp());
    let critical = 1.63 / (gaps.len() as f64).sqrt();
    assert!(d < critical, "KS D = {d:.4} against exponential gaps of 1/51 s, critical {critical:.4}");
}
