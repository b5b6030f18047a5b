//! The outer BitChat packet, versions 1 and 2 (generation C), byte for byte as the iOS and
//! Android apps write it. Big-endian throughout:
//!
//! ```text
//! version 1 | type 1 | ttl 1 | timestamp 8 | flags 1 | payloadLength 2 (v1) / 4 (v2) | sender 8
//! [recipient 8]  [route: count 1, count × 8 (v2 only)]  payload  [signature 64]  [padding]
//! ```
//!
//! A compressed payload is its original size (u16 in v1, u32 in v2) then raw DEFLATE. Only the
//! Noise frames are padded on the air; the signing preimage is always padded. Decoding never
//! panics and never allocates more than the input, or the decompression limit, allows.

use crate::compression;
use crate::padding;

/// An 8-byte peer id: the first 8 bytes of SHA-256 of the peer's Noise static key.
pub type PeerId = [u8; 8];

/// The recipient Android writes on public messages; no recipient at all means the same.
pub const BROADCAST: PeerId = [0xff; 8];

/// Hop budget an originator gives a packet.
pub const ORIGIN_TTL: u8 = 7;

pub mod flag {
    pub const HAS_RECIPIENT: u8 = 0x01;
    pub const HAS_SIGNATURE: u8 = 0x02;
    pub const IS_COMPRESSED: u8 = 0x04;
    /// Honoured only in version 2.
    pub const HAS_ROUTE: u8 = 0x08;
    /// Sent in answer to a REQUEST_SYNC.
    pub const IS_RSR: u8 = 0x10;
}

/// The outer `type` byte. Unknown values are carried as they are: a client must skip them,
/// not fail.
pub mod kind {
    pub const ANNOUNCE: u8 = 0x01;
    pub const MESSAGE: u8 = 0x02;
    pub const LEAVE: u8 = 0x03;
    pub const COURIER_ENVELOPE: u8 = 0x04;
    pub const NOISE_HANDSHAKE: u8 = 0x10;
    pub const NOISE_ENCRYPTED: u8 = 0x11;
    pub const FRAGMENT: u8 = 0x20;
    pub const REQUEST_SYNC: u8 = 0x21;
    pub const FILE_TRANSFER: u8 = 0x22;
    pub const VOICE_FRAME: u8 = 0x29;

    /// Only Noise frames are padded on the air.
    pub fn padded_on_air(kind: u8) -> bool {
        matches!(kind, NOISE_HANDSHAKE | NOISE_ENCRYPTED)
    }
}

pub const SIGNATURE_BYTES: usize = 64;
/// Intermediate hops a route may name (its count is one byte).
pub const MAX_ROUTE_HOPS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// 1 or 2.
    pub version: u8,
    pub kind: u8,
    pub ttl: u8,
    pub timestamp_ms: u64,
    pub sender: PeerId,
    pub recipient: Option<PeerId>,
    /// Intermediate hops (version 2 only).
    pub route: Option<Vec<PeerId>>,
    /// The payload, decompressed.
    pub payload: Vec<u8>,
    pub signature: Option<[u8; SIGNATURE_BYTES]>,
    pub is_rsr: bool,
    /// The compressed bytes as they arrived. DEFLATE output is not canonical, so a signature
    /// is checked against these, and a relay sends them on unchanged.
    pub compressed: Option<Vec<u8>>,
}

impl Packet {
    /// The same packet as `other`, whatever TTL each carries now (a relayed copy).
    pub fn same_as(&self, other: &Packet) -> bool {
        self.kind == other.kind
            && self.timestamp_ms == other.timestamp_ms
            && self.sender == other.sender
            && self.recipient == other.recipient
            && self.payload == other.payload
    }

    /// A version-1 packet from `sender` with `payload`, TTL 7, no recipient, unsigned.
    pub fn new(kind: u8, sender: PeerId, timestamp_ms: u64, payload: Vec<u8>) -> Packet {
        Packet {
            version: 1,
            kind,
            ttl: ORIGIN_TTL,
            timestamp_ms,
            sender,
            recipient: None,
            route: None,
            payload,
            signature: None,
            is_rsr: false,
            compressed: None,
        }
    }

    /// No recipient, or the all-ones one.
    pub fn is_broadcast(&self) -> bool {
        self.recipient.is_none_or(|r| r == BROADCAST)
    }
}

/// How to write a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// Compress a payload that qualifies (reusing the received compressed bytes when there are).
    pub compress: bool,
    /// Pad to the next block (PKCS#7); `None`: as the air wants it (only Noise frames).
    pub pad: Option<bool>,
}

impl Encoding {
    /// As a frame goes on the air.
    pub const AIR: Encoding = Encoding { compress: true, pad: None };
    /// Neither compressed nor padded, as the reference apps' golden vectors are.
    pub const PLAIN: Encoding = Encoding { compress: false, pad: Some(false) };
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("version {0} does not exist; BitChat packets are version 1 or 2")]
    Version(u8),
    #[error("a {len}-byte payload does not fit a version-{version} length field")]
    PayloadTooLong { version: u8, len: usize },
    #[error("a route has at most {MAX_ROUTE_HOPS} hops, not {0}")]
    RouteTooLong(usize),
    #[error("a route needs version 2")]
    RouteNeedsVersion2,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} bytes is shorter than the smallest packet")]
    TooShort(usize),
    #[error("version {0} is not a BitChat packet version (1 or 2)")]
    Version(u8),
    #[error("the {field} runs past the end of the frame")]
    Truncated { field: &'static str },
    #[error(transparent)]
    Compression(#[from] compression::DecompressError),
}

fn header_len(version: u8) -> usize {
    if version == 2 {
        16
    } else {
        14
    }
}

/// Writes `packet` as a frame.
pub fn encode(packet: &Packet, how: Encoding) -> Result<Vec<u8>, EncodeError> {
    let version = packet.version;
    if version != 1 && version != 2 {
        return Err(EncodeError::Version(version));
    }
    let route = match &packet.route {
        Some(_) if version != 2 => return Err(EncodeError::RouteNeedsVersion2),
        Some(hops) if hops.len() > MAX_ROUTE_HOPS => return Err(EncodeError::RouteTooLong(hops.len())),
        route => route.as_deref(),
    };
    let compressed: Option<std::borrow::Cow<[u8]>> = match (&packet.compressed, how.compress) {
        (_, false) => None,
        (Some(received), true) => Some(received.as_slice().into()),
        (None, true) => compression::compress_if_worth(&packet.payload).map(Into::into),
    };
    let size_prefix = if version == 2 { 4 } else { 2 };
    let payload_len = match &compressed {
        Some(c) => size_prefix + c.len(),
        None => packet.payload.len(),
    };
    let fits = if version == 2 { u32::try_from(payload_len).is_ok() } else { u16::try_from(payload_len).is_ok() };
    // The original size must fit its prefix too.
    let original = packet.payload.len();
    let original_fits =
        compressed.is_none() || if version == 2 { u32::try_from(original).is_ok() } else { original <= 0xffff };
    if !fits || !original_fits {
        return Err(EncodeError::PayloadTooLong { version, len: payload_len });
    }
    let mut flags = 0;
    if packet.recipient.is_some() {
        flags |= flag::HAS_RECIPIENT;
    }
    if packet.signature.is_some() {
        flags |= flag::HAS_SIGNATURE;
    }
    if compressed.is_some() {
        flags |= flag::IS_COMPRESSED;
    }
    if route.is_some() {
        flags |= flag::HAS_ROUTE;
    }
    if packet.is_rsr {
        flags |= flag::IS_RSR;
    }
    let mut out = Vec::with_capacity(header_len(version) + 16 + payload_len + SIGNATURE_BYTES);
    out.extend_from_slice(&[version, packet.kind, packet.ttl]);
    out.extend_from_slice(&packet.timestamp_ms.to_be_bytes());
    out.push(flags);
    if version == 2 {
        out.extend_from_slice(&(payload_len as u32).to_be_bytes());
    } else {
        out.extend_from_slice(&(payload_len as u16).to_be_bytes());
    }
    out.extend_from_slice(&packet.sender);
    if let Some(recipient) = &packet.recipient {
        out.extend_from_slice(recipient);
    }
    if let Some(hops) = route {
        out.push(hops.len() as u8);
        hops.iter().for_each(|hop| out.extend_from_slice(hop));
    }
    match &compressed {
        Some(c) => {
            if version == 2 {
                out.extend_from_slice(&(packet.payload.len() as u32).to_be_bytes());
            } else {
                out.extend_from_slice(&(packet.payload.len() as u16).to_be_bytes());
            }
            out.extend_from_slice(c);
        }
        None => out.extend_from_slice(&packet.payload),
    }
    if let Some(signature) = &packet.signature {
        out.extend_from_slice(signature);
    }
    if how.pad.unwrap_or_else(|| kind::padded_on_air(packet.kind)) {
        padding::pad(&mut out);
    }
    Ok(out)
}

/// The bytes a signature covers: the packet with TTL 0, no signature, not marked as a sync
/// response, padded, and with the payload compressed as it was received (or as it would be sent).
pub fn signing_preimage(packet: &Packet) -> Result<Vec<u8>, EncodeError> {
    let unsigned = Packet { ttl: 0, signature: None, is_rsr: false, ..packet.clone() };
    encode(&unsigned, Encoding { compress: true, pad: Some(true) })
}

/// Reads a frame: as it is, and if that fails, once more without PKCS#7 padding. Bytes after
/// the signature are ignored, as the reference apps ignore them.
pub fn decode(frame: &[u8]) -> Result<Packet, DecodeError> {
    match decode_exact(frame) {
        Ok(packet) => Ok(packet),
        Err(first) => match padding::unpad(frame) {
            Some(unpadded) if unpadded.len() < frame.len() => decode_exact(unpadded).map_err(|_| first),
            _ => Err(first),
        },
    }
}

/// A cursor over untrusted bytes: every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let end =
            self.at.checked_add(n).filter(|&end| end <= self.bytes.len()).ok_or(DecodeError::Truncated { field })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn id(&mut self, field: &'static str) -> Result<PeerId, DecodeError> {
        Ok(self.take(8, field)?.try_into().expect("8 bytes"))
    }
}

fn decode_exact(frame: &[u8]) -> Result<Packet, DecodeError> {
    let version = *frame.first().ok_or(DecodeError::TooShort(0))?;
    if version != 1 && version != 2 {
        return Err(DecodeError::Version(version));
    }
    if frame.len() < header_len(version) + 8 {
        return Err(DecodeError::TooShort(frame.len()));
    }
    let mut r = Reader { bytes: frame, at: 1 };
    let head = r.take(2, "header")?;
    let (kind, ttl) = (head[0], head[1]);
    let timestamp_ms = u64::from_be_bytes(r.take(8, "timestamp")?.try_into().expect("8 bytes"));
    let flags = r.take(1, "flags")?[0];
    let payload_len = if version == 2 {
        u32::from_be_bytes(r.take(4, "payload length")?.try_into().expect("4 bytes")) as usize
    } else {
        u16::from_be_bytes(r.take(2, "payload length")?.try_into().expect("2 bytes")) as usize
    };
    let sender = r.id("sender id")?;
    let recipient = (flags & flag::HAS_RECIPIENT != 0).then(|| r.id("recipient id")).transpose()?;
    let route = if version == 2 && flags & flag::HAS_ROUTE != 0 {
        let count = r.take(1, "route length")?[0] as usize;
        let hops = r.take(count * 8, "route")?;
        Some(hops.chunks_exact(8).map(|hop| hop.try_into().expect("8 bytes")).collect())
    } else {
        None
    };
    let section = r.take(payload_len, "payload")?;
    let (payload, compressed) = if flags & flag::IS_COMPRESSED != 0 {
        let prefix = if version == 2 { 4 } else { 2 };
        if section.len() < prefix {
            return Err(DecodeError::Truncated { field: "original size" });
        }
        let original = if version == 2 {
            u32::from_be_bytes(section[..4].try_into().expect("4 bytes")) as usize
        } else {
            u16::from_be_bytes(section[..2].try_into().expect("2 bytes")) as usize
        };
        let deflated = &section[prefix..];
        (compression::decompress(deflated, original)?, Some(deflated.to_vec()))
    } else {
        (section.to_vec(), None)
    };
    let signature = (flags & flag::HAS_SIGNATURE != 0)
        .then(|| r.take(SIGNATURE_BYTES, "signature").map(|s| s.try_into().expect("64 bytes")))
        .transpose()?;
    Ok(Packet {
        version,
        kind,
        ttl,
        timestamp_ms,
        sender,
        recipient,
        route,
        payload,
        signature,
        is_rsr: flags & flag::IS_RSR != 0,
        compressed,
    })
}
