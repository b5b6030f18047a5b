//! The directory: mixnode and endpoint descriptors, signed with the node key and spread over
//! gossip, and the stratified topology every node derives from them.
//!
//! Trust limits: any node may publish a descriptor; nothing vouches for it beyond its own
//! signature (no stake, no directory authorities). Layers come from a hash of (epoch, identity),
//! so a node cannot pick its layer per epoch, but an operator with many identities can grind
//! them to hold many positions, and a peer that controls what gossip reaches us can hide
//! mixnodes from us. A descriptor proves only that its key holder published it recently.

use std::collections::HashMap;

use blake2::{Blake2b512, Digest};
use ed25519_dalek::{Signature, VerifyingKey};
use fog_identity::NodeIdentity;

use crate::sphinx::{KeyMode, PublicKey};

/// Stratified layers.
pub const LAYERS: usize = 3;
/// Keys a descriptor may carry (the epoch in use and the next ones).
pub const MAX_KEYS: usize = 4;
const CONTEXT: &[u8] = b"fog-mixnet descriptor v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// The node's ed25519 key: its identity and, as a libp2p peer id, its mesh address.
    pub identity: [u8; 32],
    pub mode: KeyMode,
    pub epoch_secs: u32,
    /// Serves as a mixnode (else only sends and receives).
    pub mixnode: bool,
    /// Packets a second it offers to mix.
    pub capacity: u32,
    pub issued_ms: u64,
    /// Sphinx public keys by epoch.
    pub keys: Vec<(u32, PublicKey)>,
    pub signature: [u8; 64],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("malformed descriptor: {0}")]
    Malformed(&'static str),
    #[error("descriptor signature does not verify")]
    Signature,
    #[error("descriptor is stale or from the future")]
    Stale,
    #[error("descriptor is for another network (key mode or epoch length)")]
    OtherNetwork,
    #[error("descriptor was sent by another peer than its identity")]
    WrongSender,
}

impl Descriptor {
    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CONTEXT.len() + 64 + self.keys.len() * 36);
        out.extend_from_slice(CONTEXT);
        out.extend_from_slice(&self.identity);
        out.push(match self.mode {
            KeyMode::Sphinx => 1,
            KeyMode::Kem => 2,
        });
        out.extend_from_slice(&self.epoch_secs.to_be_bytes());
        out.push(u8::from(self.mixnode));
        out.extend_from_slice(&self.capacity.to_be_bytes());
        out.extend_from_slice(&self.issued_ms.to_be_bytes());
        out.push(self.keys.len() as u8);
        for (epoch, key) in &self.keys {
            out.extend_from_slice(&epoch.to_be_bytes());
            out.extend_from_slice(&key.0);
        }
        out
    }

    /// Signs a descriptor for `identity`.
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        identity: &NodeIdentity,
        mode: KeyMode,
        epoch_secs: u32,
        mixnode: bool,
        capacity: u32,
        issued_ms: u64,
        mut keys: Vec<(u32, PublicKey)>,
    ) -> Descriptor {
        keys.truncate(MAX_KEYS);
        let mut descriptor = Descriptor {
            identity: identity.public_key().to_bytes(),
            mode,
            epoch_secs,
            mixnode,
            capacity,
            issued_ms,
            keys,
            signature: [0; 64],
        };
        descriptor.signature = identity.sign(&descriptor.body()).to_bytes();
        descriptor
    }

    /// The wire form: the signed body without its context string, then the signature.
    pub fn encode(&self) -> Vec<u8> {
        [&self.body()[CONTEXT.len()..], &self.signature[..]].concat()
    }

    /// Parses and verifies a descriptor.
    pub fn decode(bytes: &[u8]) -> Result<Descriptor, DirectoryError> {
        const FIXED: usize = 32 + 1 + 4 + 1 + 4 + 8 + 1;
        if bytes.len() < FIXED + 64 {
            return Err(DirectoryError::Malformed("too short"));
        }
        let count = usize::from(bytes[FIXED - 1]);
        if count == 0 || count > MAX_KEYS || bytes.len() != FIXED + count * 36 + 64 {
            return Err(DirectoryError::Malformed("key count"));
        }
        let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let mode = match bytes[32] {
            1 => KeyMode::Sphinx,
            2 => KeyMode::Kem,
            _ => return Err(DirectoryError::Malformed("key mode")),
        };
        let mixnode = match bytes[37] {
            0 => false,
            1 => true,
            _ => return Err(DirectoryError::Malformed("mixnode flag")),
        };
        let keys = (0..count)
            .map(|i| {
                let at = FIXED + i * 36;
                (u32_at(at), PublicKey(bytes[at + 4..at + 36].try_into().expect("32 bytes")))
            })
            .collect();
        let descriptor = Descriptor {
            identity: bytes[..32].try_into().expect("32 bytes"),
            mode,
            epoch_secs: u32_at(33),
            mixnode,
            capacity: u32_at(38),
            issued_ms: u64::from_be_bytes(bytes[42..50].try_into().expect("8 bytes")),
            keys,
            signature: bytes[bytes.len() - 64..].try_into().expect("64 bytes"),
        };
        let public =
            VerifyingKey::from_bytes(&descriptor.identity).map_err(|_| DirectoryError::Malformed("identity"))?;
        fog_identity::verify(&public, &descriptor.body(), &Signature::from_bytes(&descriptor.signature))
            .map_err(|_| DirectoryError::Signature)?;
        Ok(descriptor)
    }

    pub fn key_for(&self, epoch: u32) -> Option<PublicKey> {
        self.keys.iter().find(|(e, _)| *e == epoch).map(|(_, k)| *k)
    }

    /// The mesh (libp2p) peer id of the node.
    pub fn peer_id(&self) -> String {
        VerifyingKey::from_bytes(&self.identity).map(|k| fog_identity::peer_id(&k)).unwrap_or_default()
    }
}

/// Network parameters every node of one Betanet shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkParams {
    pub mode: KeyMode,
    pub epoch_secs: u32,
    /// A descriptor older than this is ignored (it is republished well within it).
    pub max_age_ms: u64,
}

impl NetworkParams {
    pub fn epoch_at(&self, now_ms: u64) -> u32 {
        (now_ms / (u64::from(self.epoch_secs) * 1000)) as u32
    }

    pub fn epoch_start_ms(&self, epoch: u32) -> u64 {
        u64::from(epoch) * u64::from(self.epoch_secs) * 1000
    }
}

/// A mixnode's place in an epoch's topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub identity: [u8; 32],
    pub key: PublicKey,
    pub layer: usize,
    pub capacity: u32,
}

/// The mixnodes of one epoch by layer, and the endpoints (every node with a key) that can
/// receive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    pub epoch: u32,
    pub layers: [Vec<Position>; LAYERS],
    pub endpoints: HashMap<[u8; 32], PublicKey>,
}

impl Topology {
    /// Every layer has a mixnode.
    pub fn is_usable(&self) -> bool {
        self.layers.iter().all(|layer| !layer.is_empty())
    }

    pub fn mixnodes(&self) -> usize {
        self.layers.iter().map(Vec::len).sum()
    }
}

/// The descriptors we hold, newest per identity.
#[derive(Debug, Default)]
pub struct Directory {
    descriptors: HashMap<[u8; 32], Descriptor>,
}

/// The rank that places a mixnode in an epoch: BLAKE2b of (epoch, identity).
fn rank(epoch: u32, identity: &[u8; 32]) -> [u8; 64] {
    let mut hash = Blake2b512::new();
    hash.update(b"fog-mixnet layer");
    hash.update(epoch.to_be_bytes());
    hash.update(identity);
    hash.finalize().into()
}

impl Directory {
    /// Takes a descriptor from gossip (`sender`: the peer id gossip names as its source).
    /// Returns whether it was news.
    pub fn ingest(
        &mut self,
        bytes: &[u8],
        sender: Option<&str>,
        params: &NetworkParams,
        now_ms: u64,
    ) -> Result<bool, DirectoryError> {
        let descriptor = Descriptor::decode(bytes)?;
        self.insert(descriptor, sender, params, now_ms)
    }

    pub fn insert(
        &mut self,
        descriptor: Descriptor,
        sender: Option<&str>,
        params: &NetworkParams,
        now_ms: u64,
    ) -> Result<bool, DirectoryError> {
        if descriptor.mode != params.mode || descriptor.epoch_secs != params.epoch_secs {
            return Err(DirectoryError::OtherNetwork);
        }
        if descriptor.issued_ms + params.max_age_ms < now_ms || descriptor.issued_ms > now_ms + 60_000 {
            return Err(DirectoryError::Stale);
        }
        if sender.is_some_and(|s| s != descriptor.peer_id()) {
            return Err(DirectoryError::WrongSender);
        }
        if self.descriptors.get(&descriptor.identity).is_some_and(|held| held.issued_ms >= descriptor.issued_ms) {
            return Ok(false);
        }
        self.descriptors.insert(descriptor.identity, descriptor);
        Ok(true)
    }

    /// Forgets descriptors past their age.
    pub fn expire(&mut self, params: &NetworkParams, now_ms: u64) {
        self.descriptors.retain(|_, d| d.issued_ms + params.max_age_ms >= now_ms);
    }

    pub fn get(&self, identity: &[u8; 32]) -> Option<&Descriptor> {
        self.descriptors.get(identity)
    }

    pub fn len(&self) -> usize {
        self.descriptors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.descriptors.is_empty()
    }

    /// The topology of `epoch`: mixnodes with a key for it, ordered by their rank and dealt
    /// to the layers in turn, so layers differ in size by one at most and every node holding
    /// the same descriptors computes the same layers.
    pub fn topology(&self, epoch: u32) -> Topology {
        let mut ranked: Vec<([u8; 64], &Descriptor, PublicKey)> = self
            .descriptors
            .values()
            .filter(|d| d.mixnode)
            .filter_map(|d| d.key_for(epoch).map(|key| (rank(epoch, &d.identity), d, key)))
            .collect();
        ranked.sort_by_key(|a| a.0);
        let mut topology = Topology { epoch, ..Topology::default() };
        for (i, (_, descriptor, key)) in ranked.into_iter().enumerate() {
            topology.layers[i % LAYERS].push(Position {
                identity: descriptor.identity,
                key,
                layer: i % LAYERS,
                capacity: descriptor.capacity,
            });
        }
        topology.endpoints =
            self.descriptors.values().filter_map(|d| d.key_for(epoch).map(|key| (d.identity, key))).collect();
        topology
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sphinx::SecretKey;

    const PARAMS: NetworkParams = NetworkParams { mode: KeyMode::Kem, epoch_secs: 3600, max_age_ms: 300_000 };

    fn descriptor(identity: &NodeIdentity, mixnode: bool, issued_ms: u64, epochs: &[u32]) -> Descriptor {
        let keys = epochs.iter().map(|e| (*e, SecretKey::generate().public())).collect();
        Descriptor::sign(identity, KeyMode::Kem, 3600, mixnode, 500, issued_ms, keys)
    }

    #[test]
    fn descriptors_round_trip_and_tampering_is_caught() {
        let identity = NodeIdentity::generate();
        let signed = descriptor(&identity, true, 1_000, &[7, 8]);
        let bytes = signed.encode();
        assert_eq!(Descriptor::decode(&bytes).unwrap(), signed);
        assert_eq!(signed.peer_id(), identity.peer_id());
        for at in [0, 33, 40, 60, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(Descriptor::decode(&bad).is_err(), "byte {at}");
        }
        assert!(Descriptor::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Descriptor::decode(&[]).is_err());
    }

    #[test]
    fn stale_foreign_and_relayed_lies_are_ignored() {
        let identity = NodeIdentity::generate();
        let mut directory = Directory::default();
        let now = 10_000_000;
        let old = descriptor(&identity, true, now - 400_000, &[2]).encode();
        assert_eq!(directory.ingest(&old, None, &PARAMS, now), Err(DirectoryError::Stale));
        let fresh = descriptor(&identity, true, now - 1_000, &[2]).encode();
        let other = NodeIdentity::generate().peer_id();
        assert_eq!(directory.ingest(&fresh, Some(&other), &PARAMS, now), Err(DirectoryError::WrongSender));
        assert_eq!(directory.ingest(&fresh, Some(&identity.peer_id()), &PARAMS, now), Ok(true));
        assert_eq!(directory.ingest(&fresh, None, &PARAMS, now), Ok(false));
        let sphinx =
            Descriptor::sign(&identity, KeyMode::Sphinx, 3600, true, 1, now, vec![(2, SecretKey::generate().public())]);
        assert_eq!(directory.insert(sphinx, None, &PARAMS, now), Err(DirectoryError::OtherNetwork));
        directory.expire(&PARAMS, now + 400_000);
        assert!(directory.is_empty());
    }

    #[test]
    fn every_node_derives_the_same_balanced_layers_and_they_change_with_the_epoch() {
        // Fixed identities, so the two epochs' deals are fixed too.
        let identities: Vec<NodeIdentity> =
            (0..7u8).map(|i| NodeIdentity::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[i; 32]))).collect();
        let descriptors: Vec<Descriptor> =
            identities.iter().enumerate().map(|(i, id)| descriptor(id, i < 6, 5_000, &[1, 2])).collect();
        let mut a = Directory::default();
        let mut b = Directory::default();
        for d in &descriptors {
            a.insert(d.clone(), None, &PARAMS, 6_000).unwrap();
        }
        for d in descriptors.iter().rev() {
            b.insert(d.clone(), None, &PARAMS, 6_000).unwrap();
        }
        let (one, two) = (a.topology(1), a.topology(2));
        assert_eq!(one, b.topology(1));
        assert!(one.layers.iter().all(|l| l.len() == 2));
        assert_eq!(one.endpoints.len(), 7);
        assert!(one.is_usable() && a.topology(3).mixnodes() == 0);
        let layer_of = |t: &Topology| -> Vec<usize> {
            descriptors[..6]
                .iter()
                .map(|d| t.layers.iter().position(|l| l.iter().any(|p| p.identity == d.identity)).unwrap())
                .collect()
        };
        assert_ne!(layer_of(&one), layer_of(&two));
    }
}
