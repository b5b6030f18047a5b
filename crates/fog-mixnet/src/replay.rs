//! The mixnode's replay filter: a cuckoo filter of 3-byte slots (23-bit fingerprint and the
//! epoch's parity), buckets of four, holding the tags of the epoch in use and the one before
//! it. When the old epoch's grace period ends its entries are swept out in one pass.
//!
//! False positives: a lookup compares at most 8 slots (and the victim stash), each holding at
//! worst a stranger of the same parity whose fingerprint matches with probability 2⁻²³, so the
//! rate is below 9·2⁻²³ ≈ 1.1·10⁻⁶ at any load.
//! Memory: 3 bytes a slot; at 95 % load that is 3.16 bytes a packet remembered.

/// Bytes for one slot.
const SLOT: usize = 3;
const BUCKET: usize = 4;
const FINGERPRINT_MASK: u32 = (1 << 23) - 1;
const PARITY_BIT: u32 = 1 << 23;
/// Relocations tried before an insert gives up.
const MAX_KICKS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// First time seen: remembered.
    New,
    /// Seen before in this epoch (or a fingerprint collision, at the rate above).
    Replay,
    /// No room left: the filter is at capacity and cannot promise to catch a replay.
    Full,
}

pub struct ReplayFilter {
    slots: Vec<u8>,
    buckets: u64,
    len: usize,
    /// An entry that lost its place in an insert that gave up; checked like any other.
    victim: Option<(u64, u32)>,
}

fn fingerprint(tag: &[u8; 16], parity: u32) -> u32 {
    let fp = u32::from_le_bytes([tag[8], tag[9], tag[10], 0]) & FINGERPRINT_MASK;
    fp.max(1) | (parity & 1) << 23
}

fn mix(fp: u32) -> u64 {
    // A fixed odd multiplier spreads fingerprints over the buckets (alternate index only).
    u64::from(fp & FINGERPRINT_MASK).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11
}

impl ReplayFilter {
    /// A filter for `capacity` tags (load ≤ 95 % at capacity).
    pub fn with_capacity(capacity: usize) -> ReplayFilter {
        let buckets = ((capacity as f64 / 0.95 / BUCKET as f64).ceil() as u64).max(2);
        ReplayFilter { slots: vec![0; buckets as usize * BUCKET * SLOT], buckets, len: 0, victim: None }
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.len + usize::from(self.victim.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Share of the slots in use.
    pub fn fill(&self) -> f64 {
        self.len() as f64 / (self.buckets as f64 * BUCKET as f64)
    }

    fn get(&self, bucket: u64, i: usize) -> u32 {
        let at = (bucket as usize * BUCKET + i) * SLOT;
        u32::from_le_bytes([self.slots[at], self.slots[at + 1], self.slots[at + 2], 0])
    }

    fn set(&mut self, bucket: u64, i: usize, value: u32) {
        let at = (bucket as usize * BUCKET + i) * SLOT;
        self.slots[at..at + SLOT].copy_from_slice(&value.to_le_bytes()[..SLOT]);
    }

    fn alternate(&self, bucket: u64, fp: u32) -> u64 {
        // Symmetric: alternate(alternate(b)) = b, for any bucket count.
        let h = mix(fp) % self.buckets;
        (h + self.buckets - bucket) % self.buckets
    }

    fn in_bucket(&self, bucket: u64, fp: u32) -> bool {
        (0..BUCKET).any(|i| self.get(bucket, i) == fp)
    }

    fn place(&mut self, bucket: u64, fp: u32) -> bool {
        match (0..BUCKET).find(|i| self.get(bucket, *i) == 0) {
            Some(i) => {
                self.set(bucket, i, fp);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Checks `tag` (from a packet processed with the key of an epoch of `parity`) and
    /// remembers it.
    pub fn insert(&mut self, tag: &[u8; 16], parity: u32) -> Insert {
        let fp = fingerprint(tag, parity);
        let first = u64::from_le_bytes(tag[..8].try_into().expect("8 bytes")) % self.buckets;
        let second = self.alternate(first, fp);
        if self.in_bucket(first, fp)
            || self.in_bucket(second, fp)
            || self.victim.is_some_and(|(b, v)| v == fp && (b == first || b == second))
        {
            return Insert::Replay;
        }
        if self.victim.is_some() {
            return Insert::Full;
        }
        if self.place(first, fp) || self.place(second, fp) {
            return Insert::New;
        }
        // Relocate: evict a resident (chosen by the kick count) to its other bucket.
        let (mut bucket, mut fp) = (if tag[11] & 1 == 0 { first } else { second }, fp);
        for kick in 0..MAX_KICKS {
            let i = (kick + usize::from(tag[12])) % BUCKET;
            let evicted = self.get(bucket, i);
            self.set(bucket, i, fp);
            fp = evicted;
            bucket = self.alternate(bucket, fp);
            if self.place(bucket, fp) {
                return Insert::New;
            }
        }
        self.victim = Some((bucket, fp));
        Insert::New
    }

    /// Drops every entry of the epoch parity `parity` (when that epoch's keys are retired).
    pub fn sweep(&mut self, parity: u32) {
        let parity = (parity & 1) << 23;
        let mut removed = 0;
        for slot in self.slots.chunks_mut(SLOT) {
            let value = u32::from_le_bytes([slot[0], slot[1], slot[2], 0]);
            if value != 0 && value & PARITY_BIT == parity {
                slot.fill(0);
                removed += 1;
            }
        }
        self.len -= removed;
        if let Some((bucket, fp)) = self.victim {
            self.victim = None;
            if fp & PARITY_BIT != parity && !self.place(bucket, fp) {
                let other = self.alternate(bucket, fp);
                if !self.place(other, fp) {
                    self.victim = Some((bucket, fp));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(i: u64, salt: u64) -> [u8; 16] {
        let mut x = i.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ salt;
        let mut out = [0u8; 16];
        for chunk in out.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        out
    }

    #[test]
    fn replays_are_caught_up_to_capacity_and_strangers_pass() {
        let capacity = 100_000;
        let mut filter = ReplayFilter::with_capacity(capacity);
        for i in 0..capacity as u64 {
            assert_eq!(filter.insert(&tag(i, 1), 0), Insert::New, "insert {i}");
        }
        assert!(filter.fill() > 0.94, "{}", filter.fill());
        for i in (0..capacity as u64).step_by(7) {
            assert_eq!(filter.insert(&tag(i, 1), 0), Insert::Replay);
        }
        // The same tags under the other epoch are other packets.
        let strangers = (0..20_000u64).filter(|i| filter.insert(&tag(*i, 2), 1) == Insert::Replay).count();
        assert!(strangers <= 1, "{strangers} false positives in 20,000");
    }

    #[test]
    fn a_sweep_frees_the_old_epoch_only() {
        let mut filter = ReplayFilter::with_capacity(10_000);
        for i in 0..5_000 {
            filter.insert(&tag(i, 3), 0);
            filter.insert(&tag(i, 4), 1);
        }
        filter.sweep(0);
        assert_eq!(filter.len(), 5_000);
        assert!((0..5_000).all(|i| filter.insert(&tag(i, 4), 1) == Insert::Replay));
        assert!((0..5_000).all(|i| filter.insert(&tag(i, 3), 0) == Insert::New));
    }

    #[test]
    fn an_overfull_filter_says_so() {
        let mut filter = ReplayFilter::with_capacity(1_000);
        let outcomes: Vec<Insert> = (0..2_000).map(|i| filter.insert(&tag(i, 5), 0)).collect();
        assert!(outcomes.contains(&Insert::Full));
        // Nothing it said was new is forgotten.
        for (i, outcome) in outcomes.iter().enumerate() {
            if *outcome == Insert::New {
                assert_eq!(filter.insert(&tag(i as u64, 5), 0), Insert::Replay, "{i}");
            }
        }
    }
}
