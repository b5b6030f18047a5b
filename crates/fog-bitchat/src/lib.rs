//! BitChat on the laptop, byte-compatible with the iOS and Android apps (protocol generation C,
//! see `shared/bitchat/PROTOCOL.md`). So far the pure parts: the wire codec (packets of
//! versions 1 and 2 with compression, padding and signing preimage; the announce, fragment,
//! file and inner Noise payloads), fragmentation and bounded reassembly, peer ids and
//! fingerprints, Noise XX sessions with BitChat's explicit-counter transport framing, the
//! REQUEST_SYNC Golomb-coded set, the relay rules, and Ed25519 signing with announce checks. Decoders take untrusted bytes: they return
//! errors, never panic, and allocate no more than the input or the stated limits allow.

pub mod announce;
pub mod compression;
pub mod engine;
pub mod fragment;
pub mod identity;
pub mod inspect;
pub mod keys;
pub mod limits;
pub mod model;
pub mod noise;
pub mod packet;
pub mod padding;
pub mod payload;
pub mod router;
pub mod service;
pub mod signing;
pub mod store;
pub mod sync;
pub mod transport;

pub use packet::{decode, encode, signing_preimage, DecodeError, EncodeError, Encoding, Packet, PeerId};

#[cfg(test)]
mod vectors;
