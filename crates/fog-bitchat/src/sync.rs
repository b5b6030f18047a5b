//! Gossip sync (outer type 0x21, TTL 0, never relayed): a peer sends a Golomb-coded set of the
//! public packets it has seen lately; the other replays what is missing. TLV-16 fields (type 1
//! byte, length u16 big-endian); unknown fields are skipped.

use sha2::{Digest, Sha256};

use crate::announce::{le_bits, minimal_le};
use crate::PeerId;

pub mod tag {
    pub const P: u8 = 0x01;
    pub const M: u8 = 0x02;
    pub const FILTER: u8 = 0x03;
    pub const TYPES: u8 = 0x04;
    pub const SINCE: u8 = 0x05;
    pub const FRAGMENT_IDS: u8 = 0x06;
}

/// Largest filter accepted.
pub const MAX_FILTER_BYTES: usize = 1024;
/// What iOS sends: a 400-byte filter at a 1 % false-positive rate.
pub const DEFAULT_FILTER_BYTES: usize = 400;
pub const DEFAULT_P: u8 = 7;

/// A packet's id for sync: the first 16 bytes of SHA-256(type ‖ sender ‖ timestamp ‖ payload).
pub fn packet_id(kind: u8, sender: &PeerId, timestamp_ms: u64, payload: &[u8]) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update([kind]);
    h.update(sender);
    h.update(timestamp_ms.to_be_bytes());
    h.update(payload);
    h.finalize()[..16].try_into().expect("16 bytes")
}

/// Where an id falls in 1..m: the first 8 bytes of SHA-256(id), top bit cleared, mod m, 0 as 1.
fn slot(id: &[u8; 16], m: u64) -> u64 {
    let digest = Sha256::digest(id);
    let h = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) & (u64::MAX >> 1);
    match h % m {
        0 => 1,
        v => v,
    }
}

/// A Golomb-coded set: the sorted slots' gaps, Rice-coded with parameter p.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gcs {
    pub p: u8,
    pub m: u64,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("the sync field {0:#04x} runs past the end")]
    Truncated(u8),
    #[error("the sync request has no {0}")]
    Missing(&'static str),
    #[error("the sync request's {0} is out of range")]
    Invalid(&'static str),
}

struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn push(&mut self, bit: bool) {
        if self.bits.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if bit {
            *self.bytes.last_mut().expect("a byte") |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }
}

impl Gcs {
    /// A set of the most recent ids (first in `ids`) that fits in `max_bytes`, with m = n·2^p.
    pub fn build(ids: &[[u8; 16]], p: u8, max_bytes: usize) -> Gcs {
        Gcs::build_shifted(ids, p, max_bytes, 0)
    }

    /// As [`Gcs::build`], with m = n·2^p + (shift mod 2^p). The receiver reads m from the
    /// request, so a sender that picks a fresh shift each round gets false positives that do
    /// not repeat: with a fixed m, a missing packet whose hash collides stays missing forever.
    pub fn build_shifted(ids: &[[u8; 16]], p: u8, max_bytes: usize, shift: u64) -> Gcs {
        let mut n = ids.len();
        loop {
            let m = (((n as u64).max(1)) << p) + (shift & ((1 << p) - 1));
            let mut slots: Vec<u64> = ids[..n].iter().map(|id| slot(id, m)).collect();
            slots.sort_unstable();
            slots.dedup();
            let mut w = BitWriter { bytes: Vec::new(), bits: 0 };
            let mut previous = 0;
            for s in slots {
                let delta = s - previous;
                previous = s;
                (0..delta >> p).for_each(|_| w.push(true));
                w.push(false);
                (0..p).rev().for_each(|bit| w.push(delta >> bit & 1 == 1));
            }
            if w.bytes.len() <= max_bytes || n == 0 {
                return Gcs { p, m, data: w.bytes };
            }
            // Too big: keep fewer, in proportion, and try again.
            n = (n * max_bytes / w.bytes.len()).min(n - 1);
        }
    }

    /// The slots in the set. Reading stops at the end of the data; zero padding in the last
    /// byte can only repeat the last slot.
    fn slots(&self) -> Vec<u64> {
        let total = self.data.len() * 8;
        let bit = |i: usize| self.data[i / 8] & (0x80 >> (i % 8)) != 0;
        let mut slots = Vec::new();
        let (mut at, mut previous) = (0, 0u64);
        loop {
            let mut quotient = 0u64;
            while at < total && bit(at) {
                quotient += 1;
                at += 1;
            }
            if at + 1 + usize::from(self.p) > total {
                return slots;
            }
            at += 1;
            let remainder = (0..self.p).fold(0u64, |r, _| {
                let b = bit(at);
                at += 1;
                (r << 1) | u64::from(b)
            });
            previous = previous.saturating_add((quotient << self.p) | remainder);
            slots.push(previous);
        }
    }

    /// For each id, whether it is (probably) in the set; a false positive is as likely as 2^-p.
    pub fn membership(&self, ids: &[[u8; 16]]) -> Vec<bool> {
        let slots = self.slots();
        ids.iter().map(|id| slots.binary_search(&slot(id, self.m)).is_ok()).collect()
    }
}

/// A REQUEST_SYNC payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSync {
    pub filter: Gcs,
    /// Which packet types the request covers (bit 0 announce, 1 message, …), little-endian.
    pub types: Option<u64>,
    pub since_ms: Option<u64>,
    /// Comma-separated hex ids of fragment sets.
    pub fragment_ids: Option<String>,
}

impl RequestSync {
    pub fn decode(bytes: &[u8]) -> Result<RequestSync, SyncError> {
        let (mut p, mut m, mut data) = (None, None, None);
        let mut request = RequestSync {
            filter: Gcs { p: 0, m: 0, data: Vec::new() },
            types: None,
            since_ms: None,
            fragment_ids: None,
        };
        let mut rest = bytes;
        while let [kind, l0, l1, tail @ ..] = rest {
            let len = usize::from(u16::from_be_bytes([*l0, *l1]));
            let value = tail.get(..len).ok_or(SyncError::Truncated(*kind))?;
            match *kind {
                tag::P => p = Some(*value.first().filter(|_| len == 1).ok_or(SyncError::Invalid("p"))?),
                tag::M => m = Some(u32::from_be_bytes(value.try_into().map_err(|_| SyncError::Invalid("m"))?)),
                tag::FILTER => data = Some(value.to_vec()),
                tag::TYPES if (1..=8).contains(&len) => request.types = Some(le_bits(value)),
                tag::TYPES => return Err(SyncError::Invalid("type bitfield")),
                tag::SINCE => {
                    request.since_ms =
                        Some(u64::from_be_bytes(value.try_into().map_err(|_| SyncError::Invalid("since"))?))
                }
                tag::FRAGMENT_IDS => {
                    request.fragment_ids =
                        Some(String::from_utf8(value.to_vec()).map_err(|_| SyncError::Invalid("fragment ids"))?)
                }
                _ => {}
            }
            rest = &tail[len..];
        }
        if !rest.is_empty() {
            return Err(SyncError::Truncated(rest[0]));
        }
        let p = p.ok_or(SyncError::Missing("p"))?;
        let m = m.ok_or(SyncError::Missing("m"))?;
        let data = data.ok_or(SyncError::Missing("filter"))?;
        if !(1..=32).contains(&p) {
            return Err(SyncError::Invalid("p"));
        }
        if m == 0 {
            return Err(SyncError::Invalid("m"));
        }
        if data.len() > MAX_FILTER_BYTES {
            return Err(SyncError::Invalid("filter"));
        }
        request.filter = Gcs { p, m: u64::from(m), data };
        Ok(request)
    }

    pub fn encode(&self) -> Result<Vec<u8>, SyncError> {
        let m = u32::try_from(self.filter.m).map_err(|_| SyncError::Invalid("m"))?;
        let mut out = Vec::with_capacity(self.filter.data.len() + 32);
        let mut put = |kind: u8, value: &[u8]| {
            out.push(kind);
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(value);
        };
        if self.filter.data.len() > MAX_FILTER_BYTES {
            return Err(SyncError::Invalid("filter"));
        }
        put(tag::P, &[self.filter.p]);
        put(tag::M, &m.to_be_bytes());
        put(tag::FILTER, &self.filter.data);
        if let Some(types) = self.types {
            put(tag::TYPES, &minimal_le(types));
        }
        if let Some(since) = self.since_ms {
            put(tag::SINCE, &since.to_be_bytes());
        }
        if let Some(ids) = &self.fragment_ids {
            if ids.len() > usize::from(u16::MAX) {
                return Err(SyncError::Invalid("fragment ids"));
            }
            put(tag::FRAGMENT_IDS, ids.as_bytes());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ids(n: usize, salt: u8) -> Vec<[u8; 16]> {
        (0..n).map(|i| packet_id(2, &[salt; 8], i as u64, b"hello")).collect()
    }

    #[test]
    fn members_are_found_and_most_others_are_not() {
        let seen = ids(300, 1);
        let filter = Gcs::build(&seen, DEFAULT_P, DEFAULT_FILTER_BYTES);
        assert!(filter.data.len() <= DEFAULT_FILTER_BYTES);
        let kept = (filter.m >> DEFAULT_P) as usize;
        assert!(filter.membership(&seen[..kept]).iter().all(|b| *b), "every id kept is found");
        let others = ids(2000, 2);
        let false_positives = filter.membership(&others).iter().filter(|b| **b).count();
        assert!(false_positives < 60, "about 1 % expected, got {false_positives} of 2000");
    }

    #[test]
    fn a_shifted_modulus_gives_false_positives_that_do_not_repeat() {
        let seen = ids(300, 1);
        let others = ids(2000, 2);
        let filters: Vec<Gcs> =
            (0..4).map(|round| Gcs::build_shifted(&seen, DEFAULT_P, DEFAULT_FILTER_BYTES, round * 37 + 5)).collect();
        let kept = (filters[0].m >> DEFAULT_P) as usize;
        for filter in &filters {
            assert_eq!(filter.m >> DEFAULT_P, kept as u64);
            assert!(filter.membership(&seen[..kept]).iter().all(|b| *b));
        }
        let answers: Vec<Vec<bool>> = filters.iter().map(|f| f.membership(&others)).collect();
        let in_every_round = (0..others.len()).filter(|&i| answers.iter().all(|a| a[i])).count();
        let in_first = answers[0].iter().filter(|b| **b).count();
        assert!(in_first > 0 && in_every_round == 0, "{in_first} false positives, {in_every_round} repeated");
    }

    #[test]
    fn a_full_filter_keeps_the_most_recent() {
        let seen = ids(1000, 3);
        let filter = Gcs::build(&seen, DEFAULT_P, 100);
        assert!(filter.data.len() <= 100);
        let kept = (filter.m >> DEFAULT_P) as usize;
        assert!(kept < 1000 && kept > 50, "{kept}");
        assert!(filter.membership(&seen[..kept]).iter().all(|b| *b));
    }

    #[test]
    fn the_request_round_trips_and_bad_ones_are_refused() {
        let request = RequestSync {
            filter: Gcs::build(&ids(20, 4), 7, 400),
            types: Some(0b11),
            since_ms: Some(1_700_000_000_000),
            fragment_ids: Some("00112233aabbccdd".into()),
        };
        let bytes = request.encode().unwrap();
        assert_eq!(RequestSync::decode(&bytes).unwrap(), request);
        // An unknown field is skipped.
        let with_unknown = [bytes.clone(), vec![0x7f, 0x00, 0x02, 0xca, 0xfe]].concat();
        assert_eq!(RequestSync::decode(&with_unknown).unwrap(), request);
        assert!(RequestSync::decode(&bytes[..bytes.len() - 1]).is_err());
        let no_p = RequestSync::decode(&[tag::M, 0, 4, 0, 0, 0, 1, tag::FILTER, 0, 0]);
        assert_eq!(no_p, Err(SyncError::Missing("p")));
        let zero_m = RequestSync::decode(&[tag::P, 0, 1, 7, tag::M, 0, 4, 0, 0, 0, 0, tag::FILTER, 0, 0]);
        assert_eq!(zero_m, Err(SyncError::Invalid("m")));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(request) = RequestSync::decode(&bytes) {
                let _ = request.filter.membership(&ids(3, 5));
            }
        }

        #[test]
        fn every_member_is_found(n in 1usize..200, p in 1u8..12) {
            let seen = ids(n, 6);
            let filter = Gcs::build(&seen, p, MAX_FILTER_BYTES);
            let kept = (filter.m >> p) as usize;
            prop_assert!(filter.membership(&seen[..kept]).iter().all(|b| *b));
        }
    }
}
