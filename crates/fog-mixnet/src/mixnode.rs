//! The mixing engine, with no I/O: the epoch keys, the replay filter, and the delay queue.
//! A packet in is processed once (one key exchange, picked by the epoch in its header),
//! checked against the replay filter, and held for the delay its sender chose; the service
//! sends what falls due. Every refusal is counted by reason.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::directory::NetworkParams;
use crate::replay::{Insert, ReplayFilter};
use crate::sphinx::{self, Processed, SecretKey, SphinxError, ADDRESS_LEN, SURB_ID_LEN};

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    Malformed,
    Mac,
    Replay,
    ExpiredEpoch,
    QueueFull,
    NoRoute,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::Malformed,
        DropReason::Mac,
        DropReason::Replay,
        DropReason::ExpiredEpoch,
        DropReason::QueueFull,
        DropReason::NoRoute,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::Mac => "mac",
            DropReason::Replay => "replay",
            DropReason::ExpiredEpoch => "expired_epoch",
            DropReason::QueueFull => "queue_full",
            DropReason::NoRoute => "no_route",
        }
    }

    fn index(self) -> usize {
        DropReason::ALL.iter().position(|r| *r == self).expect("listed")
    }
}

/// The Sphinx secrets a node holds: the epoch in use, the next one (published ahead), and
/// the previous one until its grace period ends.
#[derive(Default)]
pub struct KeyRing {
    keys: BTreeMap<u32, SecretKey>,
}

/// What a rotation changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub added: Vec<u32>,
    pub retired: Vec<u32>,
}

impl KeyRing {
    pub fn insert(&mut self, epoch: u32, key: SecretKey) {
        self.keys.insert(epoch, key);
    }

    pub fn get(&self, epoch: u32) -> Option<&SecretKey> {
        self.keys.get(&epoch)
    }

    pub fn epochs(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &SecretKey)> {
        self.keys.iter().map(|(e, k)| (*e, k))
    }

    /// The epochs a node should hold at `now_ms`.
    pub fn wanted(params: &NetworkParams, grace_ms: u64, now_ms: u64) -> Vec<u32> {
        let current = params.epoch_at(now_ms);
        let mut wanted = vec![current, current + 1];
        if current > 0 && now_ms < params.epoch_start_ms(current) + grace_ms {
            wanted.insert(0, current - 1);
        }
        wanted
    }

    /// Adds the keys now wanted (from `generate`) and retires the rest.
    pub fn rotate(
        &mut self,
        params: &NetworkParams,
        grace_ms: u64,
        now_ms: u64,
        mut generate: impl FnMut(u32) -> SecretKey,
    ) -> Rotation {
        let wanted = KeyRing::wanted(params, grace_ms, now_ms);
        let retired: Vec<u32> = self.keys.keys().copied().filter(|e| !wanted.contains(e)).collect();
        for epoch in &retired {
            self.keys.remove(epoch);
        }
        let added: Vec<u32> = wanted.iter().copied().filter(|e| !self.keys.contains_key(e)).collect();
        for epoch in &added {
            self.keys.insert(*epoch, generate(*epoch));
        }
        Rotation { added, retired }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MixCounters {
    pub received: u64,
    pub forwarded: u64,
    pub delivered: u64,
    pub dropped: [u64; 6],
}

impl MixCounters {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }
}

/// What became of a packet handed to [`Mixer::receive`].
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Held for its delay; [`Mixer::pop_due`] gives it back.
    Queued {
        delay_us: u32,
    },
    /// For this node: the packet with its payload decrypted.
    Delivered {
        packet: Vec<u8>,
        surb_id: Option<[u8; SURB_ID_LEN]>,
    },
    Dropped(DropReason),
}

struct Queued {
    due_us: u64,
    seq: u64,
    next: [u8; ADDRESS_LEN],
    packet: Vec<u8>,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.due_us, self.seq) == (other.due_us, other.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due_us, self.seq).cmp(&(other.due_us, other.seq))
    }
}

pub struct Mixer {
    pub ring: KeyRing,
    filter: ReplayFilter,
    queue: BinaryHeap<Reverse<Queued>>,
    max_queue: usize,
    /// Forwards packets (a deployed mixnode); else only takes packets addressed to it.
    pub mixing: bool,
    seq: u64,
    counters: MixCounters,
    new_tags: Vec<(u32, [u8; 16])>,
}

impl Mixer {
    pub fn new(ring: KeyRing, replay_capacity: usize, max_queue: usize, mixing: bool) -> Mixer {
        Mixer {
            ring,
            filter: ReplayFilter::with_capacity(replay_capacity),
            queue: BinaryHeap::new(),
            max_queue,
            mixing,
            seq: 0,
            counters: MixCounters::default(),
            new_tags: Vec::new(),
        }
    }

    fn drop(&mut self, reason: DropReason) -> Received {
        self.counters.dropped[reason.index()] += 1;
        Received::Dropped(reason)
    }

    /// Counts a packet the service could not send on (the next hop is unreachable).
    pub fn count_no_route(&mut self) {
        self.counters.dropped[DropReason::NoRoute.index()] += 1;
        self.counters.forwarded = self.counters.forwarded.saturating_sub(1);
    }

    pub fn receive(&mut self, mut packet: Vec<u8>, now_us: u64) -> Received {
        self.counters.received += 1;
        let epoch = match sphinx::peek(&packet) {
            Ok((_, epoch)) => epoch,
            Err(_) => return self.drop(DropReason::Malformed),
        };
        let Some(secret) = self.ring.get(epoch) else {
            return self.drop(DropReason::ExpiredEpoch);
        };
        let processed = match sphinx::process(&mut packet, secret) {
            Ok(processed) => processed,
            Err(SphinxError::Mac) => return self.drop(DropReason::Mac),
            Err(_) => return self.drop(DropReason::Malformed),
        };
        let tag = match &processed {
            Processed::Forward { replay_tag, .. } | Processed::Deliver { replay_tag, .. } => *replay_tag,
        };
        match self.filter.insert(&tag, epoch) {
            Insert::New => self.new_tags.push((epoch, tag)),
            Insert::Replay => return self.drop(DropReason::Replay),
            Insert::Full => return self.drop(DropReason::QueueFull),
        }
        match processed {
            Processed::Forward { next, delay_us, .. } => {
                if !self.mixing {
                    return self.drop(DropReason::NoRoute);
                }
                if self.queue.len() >= self.max_queue {
                    return self.drop(DropReason::QueueFull);
                }
                self.seq += 1;
                let due_us = now_us + u64::from(delay_us);
                self.queue.push(Reverse(Queued { due_us, seq: self.seq, next, packet }));
                Received::Queued { delay_us }
            }
            Processed::Deliver { surb_id, .. } => {
                self.counters.delivered += 1;
                Received::Delivered { packet, surb_id }
            }
        }
    }

    /// When the next held packet is due.
    pub fn next_due_us(&self) -> Option<u64> {
        self.queue.peek().map(|q| q.0.due_us)
    }

    /// A packet whose delay has run out, with the address to send it to.
    pub fn pop_due(&mut self, now_us: u64) -> Option<([u8; ADDRESS_LEN], Vec<u8>)> {
        if self.next_due_us()? > now_us {
            return None;
        }
        let Reverse(queued) = self.queue.pop()?;
        self.counters.forwarded += 1;
        Some((queued.next, queued.packet))
    }

    /// Replay tags remembered since the last call, for the service to make durable before
    /// it sends anything those packets became.
    pub fn take_new_tags(&mut self) -> Vec<(u32, [u8; 16])> {
        std::mem::take(&mut self.new_tags)
    }

    /// A tag from the durable log (after a restart).
    pub fn remember(&mut self, epoch: u32, tag: &[u8; 16]) {
        self.filter.insert(tag, epoch);
    }

    /// Forgets everything of a retired epoch.
    pub fn retire(&mut self, epoch: u32) {
        self.filter.sweep(epoch);
    }

    pub fn counters(&self) -> &MixCounters {
        &self.counters
    }

    pub fn queue_depth(&self) -> usize {
        self.queue.len()
    }

    pub fn replay_fill(&self) -> f64 {
        self.filter.fill()
    }

    pub fn replay_memory_bytes(&self) -> usize {
        self.filter.memory_bytes()
    }

    /// Drops everything queued (a mixnode that stops mixing), returning how many.
    pub fn clear_queue(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sphinx::{build_packet, Hop, KeyMode, PreparedKey};

    const PARAMS: NetworkParams = NetworkParams { mode: KeyMode::Kem, epoch_secs: 60, max_age_ms: 300_000 };

    fn mixer(epoch: u32) -> (Mixer, PreparedKey) {
        let mut ring = KeyRing::default();
        let secret = SecretKey::generate();
        let key = PreparedKey::new(secret.public()).unwrap();
        ring.insert(epoch, secret);
        (Mixer::new(ring, 1000, 2, true), key)
    }

    fn packet(key: &PreparedKey, other: &PreparedKey, epoch: u32, delay_us: u32) -> Vec<u8> {
        let route = [Hop { address: [1; 32], key, delay_us }, Hop { address: [2; 32], key: other, delay_us: 0 }];
        build_packet(KeyMode::Kem, epoch, &route, b"hi").unwrap()
    }

    #[test]
    fn packets_wait_their_delay_and_bad_ones_are_counted_by_reason() {
        let (mut mixer, key) = mixer(5);
        let (_, other) = self::mixer(5);
        let first = packet(&key, &other, 5, 3_000);
        assert_eq!(mixer.receive(first.clone(), 1_000), Received::Queued { delay_us: 3_000 });
        assert_eq!(mixer.receive(packet(&key, &other, 5, 1_000), 1_500), Received::Queued { delay_us: 1_000 });
        assert_eq!(mixer.next_due_us(), Some(2_500));
        assert!(mixer.pop_due(2_000).is_none());
        assert_eq!(mixer.pop_due(2_500).map(|(next, _)| next), Some([2; 32]));
        assert_eq!(mixer.receive(first, 2_600), Received::Dropped(DropReason::Replay));
        let mut tampered = packet(&key, &other, 5, 0);
        tampered[100] ^= 1;
        assert_eq!(mixer.receive(tampered, 0), Received::Dropped(DropReason::Mac));
        assert_eq!(mixer.receive(packet(&key, &other, 4, 0), 0), Received::Dropped(DropReason::ExpiredEpoch));
        assert_eq!(mixer.receive(vec![2, 0, 0], 0), Received::Dropped(DropReason::Malformed));
        assert_eq!(mixer.receive(packet(&key, &other, 5, 0), 0), Received::Queued { delay_us: 0 });
        assert_eq!(mixer.receive(packet(&key, &other, 5, 0), 0), Received::Dropped(DropReason::QueueFull));
        mixer.mixing = false;
        assert_eq!(mixer.receive(packet(&key, &other, 5, 0), 0), Received::Dropped(DropReason::NoRoute));
        let counters = mixer.counters();
        assert_eq!(counters.received, 9);
        assert_eq!(DropReason::ALL.map(|r| counters.dropped(r)), [1, 1, 1, 1, 1, 1]);
        assert_eq!(mixer.take_new_tags().len(), 5);
    }

    #[test]
    fn a_restarted_mixer_remembers_tags_from_its_log() {
        let (mut mixer, key) = mixer(5);
        let (_, other) = self::mixer(5);
        let p = packet(&key, &other, 5, 0);
        mixer.receive(p.clone(), 0);
        let tags = mixer.take_new_tags();
        let mut ring = KeyRing::default();
        for (epoch, secret) in mixer.ring.iter() {
            ring.insert(epoch, secret.clone());
        }
        let mut restarted = Mixer::new(ring, 1000, 10, true);
        for (epoch, tag) in &tags {
            restarted.remember(*epoch, tag);
        }
        assert_eq!(restarted.receive(p, 0), Received::Dropped(DropReason::Replay));
    }

    #[test]
    fn the_ring_keeps_the_next_epoch_and_the_last_one_for_its_grace() {
        let mut ring = KeyRing::default();
        let at = |s: u64| s * 1000;
        let first = ring.rotate(&PARAMS, 10_000, at(125), |_| SecretKey::generate());
        assert_eq!(first.added, vec![1, 2, 3], "epoch 1 is in its grace period");
        let next = ring.rotate(&PARAMS, 10_000, at(181), |_| SecretKey::generate());
        assert_eq!(next, Rotation { added: vec![4], retired: vec![1] });
        assert_eq!(ring.epochs(), vec![2, 3, 4]);
        let later = ring.rotate(&PARAMS, 10_000, at(191), |_| SecretKey::generate());
        assert_eq!(later, Rotation { added: vec![], retired: vec![2] });
        assert_eq!(ring.epochs(), vec![3, 4]);
    }
}
