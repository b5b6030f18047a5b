//! An in-memory radio: peers attached to one shared medium, links between them each with its
//! own loss, delay and MTU, and a seeded generator so a run repeats. Runs on tokio's clock,
//! so tests can pause time and simulate minutes in milliseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{Transport, TransportEvent, TransportEvents};
use crate::engine::LinkId;
use crate::model::AdapterState;

/// One link's behaviour.
#[derive(Debug, Clone, Copy)]
pub struct LinkSpec {
    /// Share of frames lost, 0 to 1.
    pub loss: f64,
    pub delay_ms: u64,
    /// ATT MTU; frames longer than MTU − 3 are dropped, as a real link would refuse them.
    pub mtu: usize,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec { loss: 0.0, delay_ms: 2, mtu: 517 }
    }
}

#[derive(Default)]
struct Medium {
    peers: HashMap<usize, mpsc::UnboundedSender<TransportEvent>>,
    links: HashMap<(usize, usize), LinkSpec>,
    random: u64,
    dropped_too_big: u64,
    /// Every frame put on the air as (from, to, frame), once recording is on.
    recorded: Option<Vec<(usize, usize, Vec<u8>)>>,
}

impl Medium {
    fn unit(&mut self) -> f64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        (self.random >> 11) as f64 / (1u64 << 53) as f64
    }

    fn link_up(&self, a: usize, b: usize, spec: LinkSpec) {
        for (from, to) in [(a, b), (b, a)] {
            if let (Some(tx), true) = (self.peers.get(&from), self.peers.contains_key(&to)) {
                let _ = tx.send(TransportEvent::LinkUp { link: to as LinkId, mtu: spec.mtu, rssi_dbm: None });
            }
        }
    }

    fn link_down(&self, a: usize, b: usize) {
        for (from, to) in [(a, b), (b, a)] {
            if let Some(tx) = self.peers.get(&from) {
                let _ = tx.send(TransportEvent::LinkDown { link: to as LinkId });
            }
        }
    }
}

/// The shared medium. Clone it to hand it around.
#[derive(Clone)]
pub struct MemoryRadio {
    medium: Arc<Mutex<Medium>>,
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl MemoryRadio {
    pub fn new(seed: u64) -> MemoryRadio {
        MemoryRadio { medium: Arc::new(Mutex::new(Medium { random: seed | 1, ..Default::default() })) }
    }

    fn medium(&self) -> std::sync::MutexGuard<'_, Medium> {
        self.medium.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Peer `node` switches its radio on: it sees its links to peers already on.
    pub fn attach(&self, node: usize) -> (Arc<dyn Transport>, TransportEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(TransportEvent::Adapter(AdapterState::Ready { transport: "in-memory radio".into() }));
        let mut medium = self.medium();
        medium.peers.insert(node, tx);
        let links: Vec<((usize, usize), LinkSpec)> =
            medium.links.iter().filter(|((a, b), _)| *a == node || *b == node).map(|(k, s)| (*k, *s)).collect();
        for ((a, b), spec) in links {
            medium.link_up(a, b, spec);
        }
        (Arc::new(MemoryLink { radio: self.clone(), node }), rx)
    }

    /// Peer `node` switches its radio off (or walks out of range of everyone).
    pub fn detach(&self, node: usize) {
        let mut medium = self.medium();
        if medium.peers.remove(&node).is_none() {
            return;
        }
        let neighbours: Vec<usize> = medium
            .links
            .keys()
            .filter_map(|&(a, b)| {
                if a == node {
                    Some(b)
                } else if b == node {
                    Some(a)
                } else {
                    None
                }
            })
            .collect();
        for other in neighbours {
            medium.link_down(node, other);
        }
    }

    pub fn connect(&self, a: usize, b: usize, spec: LinkSpec) {
        let mut medium = self.medium();
        medium.links.insert(key(a, b), spec);
        medium.link_up(a, b, spec);
    }

    pub fn disconnect(&self, a: usize, b: usize) {
        let mut medium = self.medium();
        if medium.links.remove(&key(a, b)).is_some() {
            medium.link_down(a, b);
        }
    }

    /// Keeps every frame sent from now on, for tests that check what went over the air.
    pub fn record_frames(&self) {
        self.medium().recorded = Some(Vec::new());
    }

    /// The frames sent since [`MemoryRadio::record_frames`], lost ones included.
    pub fn recorded_frames(&self) -> Vec<(usize, usize, Vec<u8>)> {
        self.medium().recorded.clone().unwrap_or_default()
    }

    /// Frames dropped because they did not fit their link.
    pub fn dropped_too_big(&self) -> u64 {
        self.medium().dropped_too_big
    }
}

struct MemoryLink {
    radio: MemoryRadio,
    node: usize,
}

impl Transport for MemoryLink {
    fn simulated(&self) -> bool {
        true
    }

    fn send(&self, link: LinkId, frame: Vec<u8>) {
        let to = link as usize;
        let mut medium = self.radio.medium();
        let (Some(spec), true) =
            (medium.links.get(&key(self.node, to)).copied(), medium.peers.contains_key(&self.node))
        else {
            return;
        };
        if let Some(recorded) = &mut medium.recorded {
            recorded.push((self.node, to, frame.clone()));
        }
        if frame.len() > spec.mtu.saturating_sub(3) {
            medium.dropped_too_big += 1;
            return;
        }
        if medium.unit() < spec.loss {
            return;
        }
        let radio = self.radio.clone();
        let from = self.node;
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(spec.delay_ms)).await;
            let medium = radio.medium();
            // Still linked and both still on when it arrives.
            if medium.links.contains_key(&key(from, to)) && medium.peers.contains_key(&from) {
                if let Some(tx) = medium.peers.get(&to) {
                    let _ = tx.send(TransportEvent::Frame { link: from as LinkId, frame });
                }
            }
        });
    }
}
