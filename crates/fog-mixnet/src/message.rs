//! What rides inside a packet's payload: fragments of a message (each with a SURB for its
//! acknowledgement), acknowledgements, loop and drop cover; and the envelope a whole message
//! travels in (its reply SURBs and body).

use std::collections::HashMap;

use crate::sphinx::{Surb, PAYLOAD_CAPACITY};

pub type MessageId = [u8; 16];

/// Fragments a message may have; with ~1,500 bytes each that allows about 380 KB.
pub const MAX_FRAGMENTS: usize = 255;
/// Reply SURBs one message may carry.
pub const MAX_REPLY_SURBS: usize = 16;

const KIND_FRAGMENT: u8 = 1;
const KIND_ACK: u8 = 2;
const KIND_LOOP: u8 = 3;
const KIND_DROP: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("malformed payload: {0}")]
    Malformed(&'static str),
    #[error("message of {0} bytes is too long (at most {1})")]
    TooLong(usize, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Fragment {
        message: MessageId,
        index: u8,
        count: u8,
        ack: Option<Surb>,
        data: Vec<u8>,
    },
    Ack {
        message: MessageId,
        index: u8,
    },
    /// Loop cover: comes back to its sender, who times it.
    Loop {
        nonce: [u8; 16],
    },
    /// Drop cover: its destination discards it.
    Drop,
}

/// Data bytes a fragment carries next to an ack SURB of `surb_len` bytes.
pub const fn fragment_capacity(surb_len: usize) -> usize {
    PAYLOAD_CAPACITY - (1 + 16 + 1 + 1 + 2 + surb_len + 2)
}

impl Payload {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAYLOAD_CAPACITY);
        match self {
            Payload::Fragment { message, index, count, ack, data } => {
                out.push(KIND_FRAGMENT);
                out.extend_from_slice(message);
                out.extend_from_slice(&[*index, *count]);
                let surb = ack.as_ref().map(Surb::to_bytes).unwrap_or_default();
                out.extend_from_slice(&(surb.len() as u16).to_be_bytes());
                out.extend_from_slice(&surb);
                out.extend_from_slice(&(data.len() as u16).to_be_bytes());
                out.extend_from_slice(data);
            }
            Payload::Ack { message, index } => {
                out.push(KIND_ACK);
                out.extend_from_slice(message);
                out.push(*index);
            }
            Payload::Loop { nonce } => {
                out.push(KIND_LOOP);
                out.extend_from_slice(nonce);
            }
            Payload::Drop => out.push(KIND_DROP),
        }
        out
    }

    /// Reads a payload (zero padding after it is ignored).
    pub fn decode(bytes: &[u8]) -> Result<Payload, MessageError> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[u8], MessageError> {
            let part = bytes.get(at..at + n).ok_or(MessageError::Malformed("truncated"))?;
            at += n;
            Ok(part)
        };
        let kind = take(1)?[0];
        match kind {
            KIND_FRAGMENT => {
                let message: MessageId = take(16)?.try_into().expect("16 bytes");
                let (index, count) = {
                    let two = take(2)?;
                    (two[0], two[1])
                };
                if count == 0 || index >= count {
                    return Err(MessageError::Malformed("fragment index"));
                }
                let surb_len = usize::from(u16::from_be_bytes(take(2)?.try_into().expect("2 bytes")));
                let ack = match surb_len {
                    0 => None,
                    n => Some(Surb::from_bytes(take(n)?).map_err(|_| MessageError::Malformed("ack SURB"))?),
                };
                let data_len = usize::from(u16::from_be_bytes(take(2)?.try_into().expect("2 bytes")));
                let data = take(data_len)?.to_vec();
                Ok(Payload::Fragment { message, index, count, ack, data })
            }
            KIND_ACK => {
                let message = take(16)?.try_into().expect("16 bytes");
                Ok(Payload::Ack { message, index: take(1)?[0] })
            }
            KIND_LOOP => Ok(Payload::Loop { nonce: take(16)?.try_into().expect("16 bytes") }),
            KIND_DROP => Ok(Payload::Drop),
            _ => Err(MessageError::Malformed("kind")),
        }
    }
}

/// A whole message: the SURBs its recipient may answer with, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub reply_surbs: Vec<Surb>,
    pub body: Vec<u8>,
}

impl Envelope {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.reply_surbs.len() as u8];
        for surb in &self.reply_surbs {
            let bytes = surb.to_bytes();
            out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        out.extend_from_slice(&self.body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Envelope, MessageError> {
        let count = usize::from(*bytes.first().ok_or(MessageError::Malformed("empty envelope"))?);
        if count > MAX_REPLY_SURBS {
            return Err(MessageError::Malformed("reply SURB count"));
        }
        let mut at = 1;
        let mut reply_surbs = Vec::with_capacity(count);
        for _ in 0..count {
            let len = bytes.get(at..at + 2).ok_or(MessageError::Malformed("truncated"))?;
            let len = usize::from(u16::from_be_bytes(len.try_into().expect("2 bytes")));
            let surb = bytes.get(at + 2..at + 2 + len).ok_or(MessageError::Malformed("truncated"))?;
            reply_surbs.push(Surb::from_bytes(surb).map_err(|_| MessageError::Malformed("reply SURB"))?);
            at += 2 + len;
        }
        Ok(Envelope { reply_surbs, body: bytes[at..].to_vec() })
    }
}

/// Splits an encoded envelope into fragments of at most `capacity` bytes.
pub fn split(bytes: &[u8], capacity: usize) -> Result<Vec<Vec<u8>>, MessageError> {
    let count = bytes.len().div_ceil(capacity).max(1);
    if count > MAX_FRAGMENTS {
        return Err(MessageError::TooLong(bytes.len(), MAX_FRAGMENTS * capacity));
    }
    Ok(if bytes.is_empty() { vec![Vec::new()] } else { bytes.chunks(capacity).map(<[u8]>::to_vec).collect() })
}

/// Messages being put back together, bounded in count and age.
#[derive(Default)]
pub struct Reassembly {
    partial: HashMap<MessageId, Partial>,
}

struct Partial {
    fragments: Vec<Option<Vec<u8>>>,
    started_ms: u64,
}

/// Messages held unfinished at once, and how long one may take.
const MAX_PARTIAL: usize = 1024;
const PARTIAL_TTL_MS: u64 = 10 * 60 * 1000;

impl Reassembly {
    /// Adds a fragment; returns the whole message once every fragment is in. A fragment seen
    /// before (a retransmission whose ack was lost) is ignored.
    pub fn add(&mut self, message: MessageId, index: u8, count: u8, data: Vec<u8>, now_ms: u64) -> Option<Vec<u8>> {
        self.partial.retain(|_, p| now_ms.saturating_sub(p.started_ms) < PARTIAL_TTL_MS);
        if !self.partial.contains_key(&message) && self.partial.len() >= MAX_PARTIAL {
            return None;
        }
        let partial = self
            .partial
            .entry(message)
            .or_insert_with(|| Partial { fragments: vec![None; usize::from(count)], started_ms: now_ms });
        if partial.fragments.len() != usize::from(count) {
            return None;
        }
        *partial.fragments.get_mut(usize::from(index))? = Some(data);
        if partial.fragments.iter().all(Option::is_some) {
            let partial = self.partial.remove(&message)?;
            return Some(partial.fragments.into_iter().flatten().flatten().collect());
        }
        None
    }

    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn payloads_round_trip() {
        let surb = Surb {
            first_hop: [3; 32],
            header: {
                let mut h = vec![2u8; crate::sphinx::KeyMode::Kem.header_len()];
                h[0] = 2;
                h
            },
        };
        for payload in [
            Payload::Fragment { message: [1; 16], index: 2, count: 3, ack: Some(surb.clone()), data: vec![9; 1400] },
            Payload::Fragment { message: [1; 16], index: 0, count: 1, ack: None, data: vec![] },
            Payload::Ack { message: [4; 16], index: 7 },
            Payload::Loop { nonce: [5; 16] },
            Payload::Drop,
        ] {
            let mut bytes = payload.encode();
            assert!(bytes.len() <= PAYLOAD_CAPACITY);
            bytes.resize(PAYLOAD_CAPACITY, 0);
            assert_eq!(Payload::decode(&bytes).unwrap(), payload);
        }
        let envelope = Envelope { reply_surbs: vec![surb.clone(), surb], body: b"hello".to_vec() };
        assert_eq!(Envelope::decode(&envelope.encode()).unwrap(), envelope);
        let full = Payload::Fragment {
            message: [0; 16],
            index: 0,
            count: 1,
            ack: Some(Surb { first_hop: [0; 32], header: vec![2; 478] }),
            data: vec![0; fragment_capacity(510)],
        };
        assert_eq!(full.encode().len(), PAYLOAD_CAPACITY);
    }

    #[test]
    fn fragments_reassemble_in_any_order_once() {
        let message: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let parts = split(&message, 1499).unwrap();
        assert_eq!(parts.len(), 7);
        let mut reassembly = Reassembly::default();
        let mut whole = None;
        for i in [3usize, 0, 6, 3, 1, 2, 5, 4] {
            if let Some(done) = reassembly.add([8; 16], i as u8, 7, parts[i].clone(), 0) {
                whole = Some(done);
            }
        }
        assert_eq!(whole.unwrap(), message);
        assert_eq!(reassembly.pending(), 0);
        assert!(split(&vec![0; 256 * 1499], 1499).is_err());
        assert_eq!(split(&[], 10).unwrap(), vec![Vec::<u8>::new()]);
        // A fragment that disagrees about the count is ignored, and old partials expire.
        assert!(reassembly.add([9; 16], 0, 2, vec![1], 0).is_none());
        assert!(reassembly.add([9; 16], 1, 3, vec![2], 0).is_none());
        assert!(reassembly.add([9; 16], 1, 2, vec![2], PARTIAL_TTL_MS + 1).is_none());
        assert_eq!(reassembly.pending(), 1);
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2100)) {
            let _ = Payload::decode(&bytes);
            let _ = Envelope::decode(&bytes);
        }
    }
}
