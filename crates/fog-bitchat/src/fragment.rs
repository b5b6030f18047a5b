//! Packets too big for a link travel as fragments (outer type 0x20): slices of the whole
//! encoded packet, each an unsigned packet of its own carrying the original's addressing.
//! Reassembly keeps what arrives per (sender, fragment id) within firm limits, and gives back
//! the original packet, with TTL 0 so it is not flooded again (its fragments were relayed).

use std::collections::{BTreeMap, HashMap};

use crate::packet::{self, kind, Packet, PeerId};
use crate::payload::Fragment;

/// Slice size when the link does not say.
pub const DEFAULT_CHUNK_BYTES: usize = 469;
/// The smallest slice worth sending.
pub const MIN_CHUNK_BYTES: usize = 64;

/// What reassembly holds at most. The counts follow iOS, which sends the most fragments
/// (Android stops at 256); the byte limits follow both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_fragments: u16,
    pub max_assemblies: usize,
    pub max_assembly_bytes: usize,
    pub max_total_bytes: usize,
    pub timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_fragments: 10_000,
            max_assemblies: 128,
            max_assembly_bytes: 1 << 20,
            max_total_bytes: 4 << 20,
            timeout_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    #[error("a {0}-byte slice is below the {MIN_CHUNK_BYTES}-byte minimum")]
    ChunkTooSmall(usize),
    #[error("{0} fragments are more than the {1} allowed")]
    TooMany(usize, u16),
    #[error("fragment {index} of {total} is out of range")]
    OutOfRange { index: u16, total: u16 },
    #[error("a fragment disagrees with the earlier ones of its packet")]
    Inconsistent,
    #[error("reassembly is full ({0}); the fragment was dropped")]
    Full(&'static str),
    #[error("the reassembled packet does not decode: {0}")]
    Decode(#[from] packet::DecodeError),
}

/// The fragment packets of `original`, whose encoded frame is `frame`.
pub fn split(original: &Packet, frame: &[u8], chunk: usize, id: [u8; 8]) -> Result<Vec<Packet>, FragmentError> {
    if chunk < MIN_CHUNK_BYTES {
        return Err(FragmentError::ChunkTooSmall(chunk));
    }
    let total = frame.len().div_ceil(chunk);
    let total = u16::try_from(total).map_err(|_| FragmentError::TooMany(total, u16::MAX))?;
    Ok(frame
        .chunks(chunk)
        .enumerate()
        .map(|(index, data)| Packet {
            kind: kind::FRAGMENT,
            payload: Fragment { id, index: index as u16, total, original_kind: original.kind, data: data.to_vec() }
                .encode(),
            signature: None,
            is_rsr: false,
            compressed: None,
            ..original.clone()
        })
        .collect())
}

struct Assembly {
    total: u16,
    original_kind: u8,
    parts: BTreeMap<u16, Vec<u8>>,
    bytes: usize,
    started_ms: u64,
}

/// Fragments waiting for the rest of their packet.
pub struct Reassembler {
    limits: Limits,
    assemblies: HashMap<(PeerId, [u8; 8]), Assembly>,
    bytes: usize,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Reassembler {
        Reassembler { limits, assemblies: HashMap::new(), bytes: 0 }
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    pub fn assemblies(&self) -> usize {
        self.assemblies.len()
    }

    /// Takes one fragment from `sender`; the whole packet once its last fragment is in.
    pub fn add(&mut self, sender: PeerId, fragment: Fragment, now_ms: u64) -> Result<Option<Packet>, FragmentError> {
        self.expire(now_ms);
        let Fragment { id, index, total, original_kind, data } = fragment;
        if total == 0 || index >= total {
            return Err(FragmentError::OutOfRange { index, total });
        }
        if total > self.limits.max_fragments {
            return Err(FragmentError::TooMany(total.into(), self.limits.max_fragments));
        }
        let key = (sender, id);
        if !self.assemblies.contains_key(&key) && self.assemblies.len() >= self.limits.max_assemblies {
            return Err(FragmentError::Full("too many packets being reassembled"));
        }
        let assembly = self.assemblies.entry(key).or_insert_with(|| Assembly {
            total,
            original_kind,
            parts: BTreeMap::new(),
            bytes: 0,
            started_ms: now_ms,
        });
        if assembly.total != total || assembly.original_kind != original_kind {
            return Err(FragmentError::Inconsistent);
        }
        if assembly.parts.contains_key(&index) {
            return Ok(None);
        }
        if assembly.bytes + data.len() > self.limits.max_assembly_bytes {
            self.drop_assembly(&key);
            return Err(FragmentError::Full("the packet is over the size limit"));
        }
        if self.bytes + data.len() > self.limits.max_total_bytes {
            return Err(FragmentError::Full("too many bytes waiting"));
        }
        assembly.bytes += data.len();
        self.bytes += data.len();
        assembly.parts.insert(index, data);
        if assembly.parts.len() < usize::from(assembly.total) {
            return Ok(None);
        }
        let assembly = self.assemblies.remove(&key).expect("present");
        self.bytes -= assembly.bytes;
        let frame: Vec<u8> = assembly.parts.into_values().flatten().collect();
        let mut packet = packet::decode(&frame)?;
        packet.ttl = 0;
        Ok(Some(packet))
    }

    fn drop_assembly(&mut self, key: &(PeerId, [u8; 8])) {
        if let Some(assembly) = self.assemblies.remove(key) {
            self.bytes -= assembly.bytes;
        }
    }

    /// Drops packets whose fragments stopped coming.
    pub fn expire(&mut self, now_ms: u64) {
        let timeout = self.limits.timeout_ms;
        let mut freed = 0;
        self.assemblies.retain(|_, a| {
            let keep = now_ms.saturating_sub(a.started_ms) < timeout;
            if !keep {
                freed += a.bytes;
            }
            keep
        });
        self.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::packet::Encoding;
    use crate::payload::FRAGMENT_HEADER_BYTES;

    fn big_packet(len: usize) -> (Packet, Vec<u8>) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut p = Packet::new(kind::FILE_TRANSFER, [1; 8], 42, payload);
        p.recipient = Some([2; 8]);
        p.signature = Some([3; 64]);
        let frame = packet::encode(&p, Encoding::PLAIN).unwrap();
        (p, frame)
    }

    #[test]
    fn fragments_carry_the_original_addressing_and_come_back_whole() {
        let (p, frame) = big_packet(2000);
        let parts = split(&p, &frame, DEFAULT_CHUNK_BYTES, [9; 8]).unwrap();
        assert_eq!(parts.len(), frame.len().div_ceil(DEFAULT_CHUNK_BYTES));
        for part in &parts {
            assert_eq!(
                (part.kind, part.sender, part.recipient, part.timestamp_ms),
                (kind::FRAGMENT, [1; 8], Some([2; 8]), 42)
            );
            assert!(part.signature.is_none(), "fragments are unsigned");
            assert!(part.payload.len() <= FRAGMENT_HEADER_BYTES + DEFAULT_CHUNK_BYTES);
        }
        let mut r = Reassembler::new(Limits::default());
        let mut whole = None;
        for part in parts.iter().rev() {
            let fragment = Fragment::decode(&part.payload).unwrap();
            assert!(whole.is_none());
            whole = r.add(part.sender, fragment.clone(), 1000).unwrap();
            // A duplicate changes nothing.
            if whole.is_none() {
                assert_eq!(r.add(part.sender, fragment, 1000).unwrap(), None);
            }
        }
        assert_eq!(whole.unwrap(), Packet { ttl: 0, ..p });
        assert_eq!((r.assemblies(), r.held_bytes()), (0, 0));
    }

    #[test]
    fn limits_hold() {
        let limits = Limits { max_assemblies: 2, max_assembly_bytes: 100, max_total_bytes: 150, ..Limits::default() };
        let mut r = Reassembler::new(limits);
        let f = |id: u8, index: u16, total: u16, len: usize| Fragment {
            id: [id; 8],
            index,
            total,
            original_kind: 2,
            data: vec![0; len],
        };
        assert!(matches!(r.add([1; 8], f(1, 3, 3, 1), 0), Err(FragmentError::OutOfRange { .. })));
        assert!(matches!(r.add([1; 8], f(1, 0, 20_000, 1), 0), Err(FragmentError::TooMany(..))));
        r.add([1; 8], f(1, 0, 3, 60), 0).unwrap();
        assert!(matches!(r.add([1; 8], f(1, 1, 4, 1), 0), Err(FragmentError::Inconsistent)));
        assert!(matches!(r.add([1; 8], f(1, 1, 3, 60), 0), Err(FragmentError::Full(_))), "one packet over 100 bytes");
        assert_eq!(r.held_bytes(), 0, "the oversized packet was dropped");
        r.add([1; 8], f(2, 0, 3, 80), 0).unwrap();
        r.add([1; 8], f(3, 0, 3, 60), 0).unwrap();
        assert!(matches!(r.add([1; 8], f(4, 0, 3, 1), 0), Err(FragmentError::Full(_))), "two assemblies at most");
        assert!(matches!(r.add([1; 8], f(3, 1, 3, 20), 0), Err(FragmentError::Full(_))), "150 bytes in all");
        r.expire(30_000);
        assert_eq!((r.assemblies(), r.held_bytes()), (0, 0), "stale assemblies go after 30 s");
        assert!(matches!(
            split(&Packet::new(2, [0; 8], 0, vec![]), &[0; 10], 10, [0; 8]),
            Err(FragmentError::ChunkTooSmall(10))
        ));
    }

    proptest! {
        #[test]
        fn any_slicing_and_order_reassembles(len in 1usize..3000, chunk in 64usize..600, seed in any::<u64>()) {
            let (p, frame) = big_packet(len);
            let mut parts = split(&p, &frame, chunk, [7; 8]).unwrap();
            // A seeded shuffle.
            let mut state = seed | 1;
            for i in (1..parts.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                parts.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut r = Reassembler::new(Limits::default());
            let results: Vec<Option<Packet>> = parts
                .iter()
                .map(|part| r.add(part.sender, Fragment::decode(&part.payload).unwrap(), 5).unwrap())
                .collect();
            prop_assert_eq!(results.iter().filter(|r| r.is_some()).count(), 1);
            prop_assert_eq!(results.last().unwrap().clone().unwrap(), Packet { ttl: 0, ..p });
        }
    }
}
