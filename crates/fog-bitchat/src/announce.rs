//! The announce payload (outer type 0x01): TLV-8 fields, nickname and both public keys first.
//! Unknown fields are kept and written back, as the Android app does.

pub mod tag {
    pub const NICKNAME: u8 = 0x01;
    pub const NOISE_KEY: u8 = 0x02;
    pub const SIGNING_KEY: u8 = 0x03;
    pub const NEIGHBORS: u8 = 0x04;
    pub const CAPABILITIES: u8 = 0x05;
    pub const BRIDGE_GEOHASH: u8 = 0x06;
}

/// Direct neighbours an announce lists at most.
pub const MAX_NEIGHBORS: usize = 10;
pub const MAX_GEOHASH_BYTES: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub nickname: String,
    /// Curve25519 static public key.
    pub noise_key: [u8; 32],
    /// Ed25519 public key.
    pub signing_key: [u8; 32],
    pub neighbors: Vec<crate::PeerId>,
    /// Little-endian bitfield (bit 8: private media, …); absent when not sent.
    pub capabilities: Option<u64>,
    pub bridge_geohash: Option<String>,
    /// Fields this build does not know, in the order they came.
    pub unknown: Vec<(u8, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    #[error("the announce field {tag:#04x} runs past the end")]
    Truncated { tag: u8 },
    #[error("the announce has no {0}")]
    Missing(&'static str),
    #[error("the announce's {0} is malformed")]
    Malformed(&'static str),
    #[error("the announce's {field} is {len} bytes; at most 255 fit a field")]
    TooLong { field: &'static str, len: usize },
}

/// Reads TLV-8 fields: (tag, value) in order.
pub(crate) fn tlv8(bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, u8> {
    let mut fields = Vec::new();
    let mut rest = bytes;
    while let [tag, len, tail @ ..] = rest {
        let len = *len as usize;
        if tail.len() < len {
            return Err(*tag);
        }
        fields.push((*tag, &tail[..len]));
        rest = &tail[len..];
    }
    match rest {
        [] => Ok(fields),
        [tag] => Err(*tag),
        _ => unreachable!("two or more bytes start a field"),
    }
}

/// A little-endian bitfield of 1 to 8 bytes (capabilities, sync types).
pub(crate) fn le_bits(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |bits, byte| (bits << 8) | u64::from(*byte))
}

/// A bitfield's little-endian bytes, as few as hold it and at least one.
pub(crate) fn minimal_le(bits: u64) -> Vec<u8> {
    let len = (8 - bits.leading_zeros() as usize / 8).max(1);
    bits.to_le_bytes()[..len].to_vec()
}

pub(crate) fn put_tlv8(out: &mut Vec<u8>, tag: u8, value: &[u8], field: &'static str) -> Result<(), AnnounceError> {
    let len = u8::try_from(value.len()).map_err(|_| AnnounceError::TooLong { field, len: value.len() })?;
    out.extend_from_slice(&[tag, len]);
    out.extend_from_slice(value);
    Ok(())
}

impl Announce {
    pub fn decode(bytes: &[u8]) -> Result<Announce, AnnounceError> {
        let fields = tlv8(bytes).map_err(|tag| AnnounceError::Truncated { tag })?;
        let (mut nickname, mut noise_key, mut signing_key) = (None, None, None);
        let mut announce = Announce {
            nickname: String::new(),
            noise_key: [0; 32],
            signing_key: [0; 32],
            neighbors: Vec::new(),
            capabilities: None,
            bridge_geohash: None,
            unknown: Vec::new(),
        };
        for (tag, value) in fields {
            match tag {
                tag::NICKNAME => {
                    nickname =
                        Some(String::from_utf8(value.to_vec()).map_err(|_| AnnounceError::Malformed("nickname"))?)
                }
                tag::NOISE_KEY => {
                    noise_key = Some(value.try_into().map_err(|_| AnnounceError::Malformed("noise key"))?)
                }
                tag::SIGNING_KEY => {
                    signing_key = Some(value.try_into().map_err(|_| AnnounceError::Malformed("signing key"))?)
                }
                tag::NEIGHBORS => {
                    if value.len() % 8 != 0 || value.len() / 8 > MAX_NEIGHBORS {
                        return Err(AnnounceError::Malformed("neighbour list"));
                    }
                    announce.neighbors = value.chunks_exact(8).map(|id| id.try_into().expect("8 bytes")).collect();
                }
                tag::CAPABILITIES => {
                    if value.is_empty() || value.len() > 8 {
                        return Err(AnnounceError::Malformed("capabilities"));
                    }
                    announce.capabilities = Some(le_bits(value));
                }
                tag::BRIDGE_GEOHASH => {
                    if value.len() > MAX_GEOHASH_BYTES {
                        return Err(AnnounceError::Malformed("bridge geohash"));
                    }
                    announce.bridge_geohash = Some(
                        String::from_utf8(value.to_vec()).map_err(|_| AnnounceError::Malformed("bridge geohash"))?,
                    );
                }
                other => announce.unknown.push((other, value.to_vec())),
            }
        }
        announce.nickname = nickname.ok_or(AnnounceError::Missing("nickname"))?;
        announce.noise_key = noise_key.ok_or(AnnounceError::Missing("noise key"))?;
        announce.signing_key = signing_key.ok_or(AnnounceError::Missing("signing key"))?;
        Ok(announce)
    }

    pub fn encode(&self) -> Result<Vec<u8>, AnnounceError> {
        let mut out = Vec::with_capacity(80 + self.nickname.len());
        put_tlv8(&mut out, tag::NICKNAME, self.nickname.as_bytes(), "nickname")?;
        put_tlv8(&mut out, tag::NOISE_KEY, &self.noise_key, "noise key")?;
        put_tlv8(&mut out, tag::SIGNING_KEY, &self.signing_key, "signing key")?;
        if !self.neighbors.is_empty() {
            if self.neighbors.len() > MAX_NEIGHBORS {
                return Err(AnnounceError::Malformed("neighbour list"));
            }
            put_tlv8(&mut out, tag::NEIGHBORS, &self.neighbors.concat(), "neighbour list")?;
        }
        if let Some(bits) = self.capabilities {
            put_tlv8(&mut out, tag::CAPABILITIES, &minimal_le(bits), "capabilities")?;
        }
        if let Some(geohash) = &self.bridge_geohash {
            if geohash.len() > MAX_GEOHASH_BYTES {
                return Err(AnnounceError::Malformed("bridge geohash"));
            }
            put_tlv8(&mut out, tag::BRIDGE_GEOHASH, geohash.as_bytes(), "bridge geohash")?;
        }
        for (tag, value) in &self.unknown {
            put_tlv8(&mut out, *tag, value, "unknown field")?;
        }
        Ok(out)
    }
}
