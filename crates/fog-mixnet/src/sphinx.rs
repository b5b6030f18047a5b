//! Sphinx packets: building them, processing one hop, and single-use reply blocks (SURBs).
//! The layout and its sizes are described in the crate documentation.

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint};
use curve25519_dalek::Scalar;
use zeroize::Zeroize;

use crate::crypto::{self, HopKeys, LionessKeys};

pub const MAX_HOPS: usize = 5;
pub const PAYLOAD_LEN: usize = 2048;
pub const MAC_LEN: usize = 16;
pub const ADDRESS_LEN: usize = 32;
pub const SURB_ID_LEN: usize = 16;
/// Zero bytes at the head of every plaintext payload, checked on delivery.
pub const PAYLOAD_TAG_LEN: usize = 16;
/// Bytes of data one packet carries.
pub const PAYLOAD_CAPACITY: usize = PAYLOAD_LEN - PAYLOAD_TAG_LEN;

const EPOCH_AT: usize = 1;
const ALPHA_AT: usize = 5;
const BETA_AT: usize = 37;

const FLAG_FORWARD: u8 = 1;
const FLAG_FINAL: u8 = 2;
const FLAG_FINAL_SURB: u8 = 3;

/// How a hop's shared secret is reached (the pluggable public-key step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    /// Classic Sphinx: one group element, re-blinded by every hop (two scalar multiplications
    /// a hop, 32 bytes of header for the whole route).
    Sphinx,
    /// One key exchange a hop (Outfox-style KEM): each hop's routing information carries the
    /// next hop's ephemeral key, so a hop does one scalar multiplication and no blinding, for
    /// 32 more header bytes a hop.
    Kem,
}

impl KeyMode {
    const fn byte(self) -> u8 {
        match self {
            KeyMode::Sphinx => 1,
            KeyMode::Kem => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<KeyMode> {
        match byte {
            1 => Some(KeyMode::Sphinx),
            2 => Some(KeyMode::Kem),
            _ => None,
        }
    }

    /// Routing information for one hop: flag, next address, delay (µs), next MAC, and in KEM
    /// mode the next hop's group element.
    pub const fn slot_len(self) -> usize {
        1 + ADDRESS_LEN
            + 4
            + MAC_LEN
            + match self {
                KeyMode::Sphinx => 0,
                KeyMode::Kem => 32,
            }
    }

    pub const fn beta_len(self) -> usize {
        MAX_HOPS * self.slot_len()
    }

    pub const fn header_len(self) -> usize {
        BETA_AT + self.beta_len() + MAC_LEN
    }

    pub const fn packet_len(self) -> usize {
        self.header_len() + PAYLOAD_LEN
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SphinxError {
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    #[error("header MAC does not match")]
    Mac,
    #[error("payload failed its integrity check")]
    Payload,
    #[error("route: {0}")]
    Route(&'static str),
    #[error("payload of {0} bytes is over the {PAYLOAD_CAPACITY}-byte capacity")]
    TooLong(usize),
}

/// A node's Sphinx secret for one epoch.
#[derive(Clone)]
pub struct SecretKey(Scalar);

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl SecretKey {
    pub fn generate() -> SecretKey {
        SecretKey(random_scalar())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Option<SecretKey> {
        Option::<Scalar>::from(Scalar::from_canonical_bytes(bytes)).filter(|s| *s != Scalar::ZERO).map(SecretKey)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(RistrettoPoint::mul_base(&self.0).compress().to_bytes())
    }
}

/// A Sphinx public key: a ristretto255 element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

/// A public key checked to be a group element, with a precomputed multiple table for senders
/// that use the same mixnodes many times in an epoch: a shared secret then costs a fixed-base
/// multiplication instead of a variable-base one.
pub struct PreparedKey {
    pub key: PublicKey,
    point: RistrettoPoint,
    table: Option<Box<RistrettoBasepointTable>>,
}

impl PreparedKey {
    pub fn new(key: PublicKey) -> Result<PreparedKey, SphinxError> {
        let mut prepared = PreparedKey::unprepared(key)?;
        prepared.table = Some(Box::new(RistrettoBasepointTable::create(&prepared.point)));
        Ok(prepared)
    }

    /// A key used without a table (a variable-base multiplication a hop when building).
    pub fn unprepared(key: PublicKey) -> Result<PreparedKey, SphinxError> {
        let point = CompressedRistretto(key.0)
            .decompress()
            .filter(|p| *p != RistrettoPoint::default())
            .ok_or(SphinxError::Route("a hop's key is not a group element"))?;
        Ok(PreparedKey { key, point, table: None })
    }

    fn shared(&self, scalar: &Scalar) -> [u8; 32] {
        match &self.table {
            Some(table) => (table.as_ref() * scalar).compress().to_bytes(),
            None => (self.point * scalar).compress().to_bytes(),
        }
    }
}

/// One hop of a route as its sender sees it.
pub struct Hop<'a> {
    pub address: [u8; ADDRESS_LEN],
    pub key: &'a PreparedKey,
    /// How long this hop holds the packet (chosen by the sender), in microseconds.
    pub delay_us: u32,
}

/// What processing a packet at a hop gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Processed {
    /// Send the (rewritten) packet to `next` after `delay_us`.
    Forward { next: [u8; ADDRESS_LEN], delay_us: u32, replay_tag: [u8; 16] },
    /// This node is the destination; the payload was decrypted in place. A reply through one
    /// of our SURBs names it (its payload still needs [`SurbKeys::open`]).
    Deliver { surb_id: Option<[u8; SURB_ID_LEN]>, replay_tag: [u8; 16] },
}

fn random_scalar() -> Scalar {
    let mut wide = [0u8; 64];
    getrandom::getrandom(&mut wide).expect("the OS random source");
    let scalar = Scalar::from_bytes_mod_order_wide(&wide);
    wide.zeroize();
    scalar
}

/// The key mode and epoch of a packet, to pick the secret that processes it.
pub fn peek(packet: &[u8]) -> Result<(KeyMode, u32), SphinxError> {
    let mode = packet.first().and_then(|b| KeyMode::from_byte(*b)).ok_or(SphinxError::Malformed("version"))?;
    if packet.len() != mode.packet_len() {
        return Err(SphinxError::Malformed("length"));
    }
    let epoch = u32::from_be_bytes(packet[EPOCH_AT..ALPHA_AT].try_into().expect("4 bytes"));
    Ok((mode, epoch))
}

struct Built {
    header: Vec<u8>,
    keys: Vec<HopKeys>,
}

/// Builds a header for `route` (the last hop is the destination).
fn build_header(
    mode: KeyMode,
    epoch: u32,
    route: &[Hop<'_>],
    surb_id: Option<[u8; SURB_ID_LEN]>,
) -> Result<Built, SphinxError> {
    let n = route.len();
    if n == 0 || n > MAX_HOPS {
        return Err(SphinxError::Route("between 1 and 5 hops"));
    }
    let (slot, beta_len) = (mode.slot_len(), mode.beta_len());

    // Group elements and hop keys.
    let mut alphas = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut blinded = random_scalar();
    for hop in route {
        let scalar = match mode {
            KeyMode::Sphinx => blinded,
            KeyMode::Kem => random_scalar(),
        };
        let alpha = RistrettoPoint::mul_base(&scalar).compress().to_bytes();
        let mut shared = hop.key.shared(&scalar);
        let hop_keys = crypto::derive(&shared, &alpha);
        shared.zeroize();
        if mode == KeyMode::Sphinx {
            blinded *= hop_keys.blinding;
        }
        alphas.push(alpha);
        keys.push(hop_keys);
    }
    blinded.zeroize();

    // Filler: what hops 0..n-2 append to the routing information as they shift it.
    let mut filler = Vec::with_capacity((n - 1) * slot);
    for (i, hop_keys) in keys.iter().enumerate().take(n - 1) {
        filler.resize((i + 1) * slot, 0);
        crypto::header_stream(&hop_keys.header, beta_len - i * slot, &mut filler);
    }

    let prefix = |alpha: &[u8; 32]| {
        let mut prefix = [0u8; BETA_AT];
        prefix[0] = mode.byte();
        prefix[EPOCH_AT..ALPHA_AT].copy_from_slice(&epoch.to_be_bytes());
        prefix[ALPHA_AT..BETA_AT].copy_from_slice(alpha);
        prefix
    };

    // The last hop's routing information, then each earlier hop wrapping the next.
    let last = &route[n - 1];
    let mut beta = vec![0u8; beta_len];
    let open = beta_len - filler.len();
    beta[0] = if surb_id.is_some() { FLAG_FINAL_SURB } else { FLAG_FINAL };
    beta[1..1 + ADDRESS_LEN].copy_from_slice(&last.address);
    if let Some(id) = surb_id {
        beta[1 + ADDRESS_LEN + 4..1 + ADDRESS_LEN + 4 + SURB_ID_LEN].copy_from_slice(&id);
    }
    getrandom::getrandom(&mut beta[slot..open]).expect("the OS random source");
    crypto::header_stream(&keys[n - 1].header, 0, &mut beta[..open]);
    beta[open..].copy_from_slice(&filler);
    let mut gamma = crypto::header_mac(&keys[n - 1].mac, &[&prefix(&alphas[n - 1]), &beta]);

    for i in (0..n - 1).rev() {
        let mut next = vec![0u8; beta_len];
        next[0] = FLAG_FORWARD;
        next[1..1 + ADDRESS_LEN].copy_from_slice(&route[i + 1].address);
        next[1 + ADDRESS_LEN..5 + ADDRESS_LEN].copy_from_slice(&route[i].delay_us.to_be_bytes());
        next[5 + ADDRESS_LEN..5 + ADDRESS_LEN + MAC_LEN].copy_from_slice(&gamma);
        if mode == KeyMode::Kem {
            next[5 + ADDRESS_LEN + MAC_LEN..slot].copy_from_slice(&alphas[i + 1]);
        }
        next[slot..].copy_from_slice(&beta[..beta_len - slot]);
        crypto::header_stream(&keys[i].header, 0, &mut next);
        beta = next;
        gamma = crypto::header_mac(&keys[i].mac, &[&prefix(&alphas[i]), &beta]);
    }

    let mut header = Vec::with_capacity(mode.header_len() + PAYLOAD_LEN);
    header.extend_from_slice(&prefix(&alphas[0]));
    header.extend_from_slice(&beta);
    header.extend_from_slice(&gamma);
    Ok(Built { header, keys })
}

fn plaintext_block(data: &[u8]) -> Result<[u8; PAYLOAD_LEN], SphinxError> {
    if data.len() > PAYLOAD_CAPACITY {
        return Err(SphinxError::TooLong(data.len()));
    }
    let mut block = [0u8; PAYLOAD_LEN];
    block[PAYLOAD_TAG_LEN..PAYLOAD_TAG_LEN + data.len()].copy_from_slice(data);
    Ok(block)
}

/// A packet carrying `data` (at most [`PAYLOAD_CAPACITY`] bytes, zero-padded) along `route`.
/// Send it to `route[0].address`.
pub fn build_packet(mode: KeyMode, epoch: u32, route: &[Hop<'_>], data: &[u8]) -> Result<Vec<u8>, SphinxError> {
    let mut block = plaintext_block(data)?;
    let Built { mut header, keys } = build_header(mode, epoch, route, None)?;
    for hop_keys in keys.iter().rev() {
        hop_keys.payload.encrypt(&mut block);
    }
    header.extend_from_slice(&block);
    Ok(header)
}

/// Processes one hop with this node's secret for the packet's epoch, in place.
pub fn process(packet: &mut [u8], secret: &SecretKey) -> Result<Processed, SphinxError> {
    let (mode, _) = peek(packet)?;
    let (slot, beta_len, header_len) = (mode.slot_len(), mode.beta_len(), mode.header_len());
    let alpha: [u8; 32] = packet[ALPHA_AT..BETA_AT].try_into().expect("32 bytes");
    let point = CompressedRistretto(alpha).decompress().ok_or(SphinxError::Malformed("group element"))?;
    let mut shared = (point * secret.0).compress().to_bytes();
    if shared == [0u8; 32] {
        return Err(SphinxError::Malformed("identity element"));
    }
    let keys = crypto::derive(&shared, &alpha);
    shared.zeroize();
    let (header, payload) = packet.split_at_mut(header_len);
    let gamma = crypto::header_mac(&keys.mac, &[&header[..BETA_AT + beta_len]]);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&gamma[..], &header[BETA_AT + beta_len..])) {
        return Err(SphinxError::Mac);
    }

    let mut shifted = [0u8; MAX_HOPS * KeyMode::Kem.slot_len() + KeyMode::Kem.slot_len()];
    let shifted = &mut shifted[..beta_len + slot];
    shifted[..beta_len].copy_from_slice(&header[BETA_AT..BETA_AT + beta_len]);
    crypto::header_stream(&keys.header, 0, shifted);
    keys.payload.decrypt(payload);

    let address: [u8; ADDRESS_LEN] = shifted[1..1 + ADDRESS_LEN].try_into().expect("32 bytes");
    match shifted[0] {
        FLAG_FORWARD => {
            let delay_us = u32::from_be_bytes(shifted[1 + ADDRESS_LEN..5 + ADDRESS_LEN].try_into().expect("4 bytes"));
            let next_alpha = match mode {
                KeyMode::Sphinx => (point * keys.blinding).compress().to_bytes(),
                KeyMode::Kem => shifted[5 + ADDRESS_LEN + MAC_LEN..slot].try_into().expect("32 bytes"),
            };
            header[ALPHA_AT..BETA_AT].copy_from_slice(&next_alpha);
            header[BETA_AT + beta_len..].copy_from_slice(&shifted[5 + ADDRESS_LEN..5 + ADDRESS_LEN + MAC_LEN]);
            header[BETA_AT..BETA_AT + beta_len].copy_from_slice(&shifted[slot..]);
            Ok(Processed::Forward { next: address, delay_us, replay_tag: keys.replay_tag })
        }
        FLAG_FINAL => {
            if payload[..PAYLOAD_TAG_LEN].iter().any(|b| *b != 0) {
                return Err(SphinxError::Payload);
            }
            Ok(Processed::Deliver { surb_id: None, replay_tag: keys.replay_tag })
        }
        FLAG_FINAL_SURB => {
            let id = shifted[5 + ADDRESS_LEN..5 + ADDRESS_LEN + SURB_ID_LEN].try_into().expect("16 bytes");
            Ok(Processed::Deliver { surb_id: Some(id), replay_tag: keys.replay_tag })
        }
        _ => Err(SphinxError::Malformed("routing flag")),
    }
}

/// The data of a delivered packet: the payload after its zero tag (still zero-padded).
pub fn payload_data(packet: &[u8]) -> &[u8] {
    &packet[packet.len() - PAYLOAD_CAPACITY..]
}

/// A single-use reply block as handed to the party that may answer: where to send the reply,
/// and the header that routes it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Surb {
    pub first_hop: [u8; ADDRESS_LEN],
    pub header: Vec<u8>,
}

/// What the SURB's creator keeps to read the reply.
pub struct SurbKeys {
    pub id: [u8; SURB_ID_LEN],
    keys: Vec<LionessKeys>,
}

impl Surb {
    /// A SURB whose route ends at its creator (`route`'s last hop).
    pub fn create(
        mode: KeyMode,
        epoch: u32,
        route: &[Hop<'_>],
        id: [u8; SURB_ID_LEN],
    ) -> Result<(Surb, SurbKeys), SphinxError> {
        let Built { header, keys } = build_header(mode, epoch, route, Some(id))?;
        let surb = Surb { first_hop: route[0].address, header };
        let keys = keys.iter().map(|k| k.payload.clone()).collect();
        Ok((surb, SurbKeys { id, keys }))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        [&self.first_hop[..], &self.header].concat()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Surb, SphinxError> {
        let mode = bytes.get(ADDRESS_LEN).and_then(|b| KeyMode::from_byte(*b)).ok_or(SphinxError::Malformed("SURB"))?;
        if bytes.len() != ADDRESS_LEN + mode.header_len() {
            return Err(SphinxError::Malformed("SURB length"));
        }
        Ok(Surb {
            first_hop: bytes[..ADDRESS_LEN].try_into().expect("32 bytes"),
            header: bytes[ADDRESS_LEN..].to_vec(),
        })
    }

    /// The encoded length of a SURB in `mode`.
    pub const fn encoded_len(mode: KeyMode) -> usize {
        ADDRESS_LEN + mode.header_len()
    }

    /// The reply packet carrying `data`; send it to `first_hop`.
    pub fn reply(&self, data: &[u8]) -> Result<Vec<u8>, SphinxError> {
        let block = plaintext_block(data)?;
        Ok([&self.header[..], &block].concat())
    }
}

impl SurbKeys {
    /// Recovers the reply's payload (in place, in the delivered packet) and checks it.
    pub fn open(&self, packet: &mut [u8]) -> Result<(), SphinxError> {
        let at = packet.len().checked_sub(PAYLOAD_LEN).ok_or(SphinxError::Malformed("length"))?;
        let payload = &mut packet[at..];
        for keys in self.keys.iter().rev() {
            keys.encrypt(payload);
        }
        if payload[..PAYLOAD_TAG_LEN].iter().any(|b| *b != 0) {
            return Err(SphinxError::Payload);
        }
        Ok(())
    }

    /// Round keys, for storing the SURB's keys (0600, like the node key) across a restart.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.id.to_vec();
        for keys in &self.keys {
            out.extend_from_slice(&keys.to_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<SurbKeys, SphinxError> {
        let rest = bytes.get(SURB_ID_LEN..).ok_or(SphinxError::Malformed("SURB keys"))?;
        if rest.is_empty() || rest.len() % 128 != 0 || rest.len() / 128 > MAX_HOPS {
            return Err(SphinxError::Malformed("SURB keys"));
        }
        Ok(SurbKeys {
            id: bytes[..SURB_ID_LEN].try_into().expect("16 bytes"),
            keys: rest.chunks(128).map(LionessKeys::from_bytes).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct TestNode {
        address: [u8; 32],
        secret: SecretKey,
        prepared: PreparedKey,
    }

    fn nodes(n: usize, prepared: bool) -> Vec<TestNode> {
        (0..n)
            .map(|i| {
                let secret = SecretKey::generate();
                let key = secret.public();
                let prepared = if prepared { PreparedKey::new(key) } else { PreparedKey::unprepared(key) }.unwrap();
                TestNode { address: [i as u8 + 1; 32], secret, prepared }
            })
            .collect()
    }

    fn route(nodes: &[TestNode]) -> Vec<Hop<'_>> {
        nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Hop { address: n.address, key: &n.prepared, delay_us: 1000 * i as u32 + 7 })
            .collect()
    }

    /// Runs `packet` through `nodes`; every hop must forward to the next, with its delay.
    fn travel(nodes: &[TestNode], packet: &mut [u8]) -> Result<Processed, SphinxError> {
        for (i, node) in nodes.iter().enumerate() {
            let processed = process(packet, &node.secret)?;
            match processed {
                Processed::Forward { next, delay_us, .. } => {
                    assert_eq!(next, nodes[i + 1].address);
                    assert_eq!(delay_us, 1000 * i as u32 + 7);
                }
                deliver => {
                    assert_eq!(i, nodes.len() - 1, "delivered early");
                    return Ok(deliver);
                }
            }
        }
        unreachable!("the last hop delivers")
    }

    #[test]
    fn sizes_are_as_documented() {
        assert_eq!(KeyMode::Sphinx.slot_len(), 53);
        assert_eq!(KeyMode::Sphinx.header_len(), 318);
        assert_eq!(KeyMode::Sphinx.packet_len(), 2366);
        assert_eq!(KeyMode::Kem.slot_len(), 85);
        assert_eq!(KeyMode::Kem.header_len(), 478);
        assert_eq!(KeyMode::Kem.packet_len(), 2526);
    }

    #[test]
    fn a_packet_crosses_every_hop_count_in_both_modes() {
        for mode in [KeyMode::Sphinx, KeyMode::Kem] {
            for n in 1..=MAX_HOPS {
                for prepared in [true, false] {
                    let nodes = nodes(n, prepared);
                    let data = format!("{mode:?} across {n} hops").into_bytes();
                    let mut packet = build_packet(mode, 42, &route(&nodes), &data).unwrap();
                    assert_eq!(packet.len(), mode.packet_len());
                    assert_eq!(peek(&packet).unwrap(), (mode, 42));
                    assert!(matches!(travel(&nodes, &mut packet), Ok(Processed::Deliver { surb_id: None, .. })));
                    assert_eq!(&payload_data(&packet)[..data.len()], &data[..]);
                    assert!(payload_data(&packet)[data.len()..].iter().all(|b| *b == 0));
                }
            }
        }
    }

    #[test]
    fn replay_tags_differ_per_hop_and_repeat_for_the_same_packet() {
        let nodes = nodes(3, true);
        let packet = build_packet(KeyMode::Sphinx, 1, &route(&nodes), b"x").unwrap();
        let tag = |p: &mut Vec<u8>| match process(p, &nodes[0].secret).unwrap() {
            Processed::Forward { replay_tag, .. } => replay_tag,
            other => panic!("{other:?}"),
        };
        let (mut a, mut b) = (packet.clone(), packet);
        assert_eq!(tag(&mut a), tag(&mut b));
        let mut second = build_packet(KeyMode::Sphinx, 1, &route(&nodes), b"x").unwrap();
        let first_tag = tag(&mut build_packet(KeyMode::Sphinx, 1, &route(&nodes), b"x").unwrap());
        assert_ne!(tag(&mut second), first_tag);
    }

    #[test]
    fn a_surb_carries_a_reply_back_to_its_creator() {
        for mode in [KeyMode::Sphinx, KeyMode::Kem] {
            let nodes = nodes(4, true);
            let (surb, keys) = Surb::create(mode, 9, &route(&nodes), [5; 16]).unwrap();
            let surb = Surb::from_bytes(&surb.to_bytes()).unwrap();
            assert_eq!(surb.first_hop, nodes[0].address);
            let mut reply = surb.reply(b"the answer").unwrap();
            let delivered = travel(&nodes, &mut reply).unwrap();
            assert!(matches!(delivered, Processed::Deliver { surb_id: Some(id), .. } if id == [5; 16]));
            let keys = SurbKeys::from_bytes(&keys.to_bytes()).unwrap();
            keys.open(&mut reply).unwrap();
            assert_eq!(&payload_data(&reply)[..10], b"the answer");
        }
    }

    #[test]
    fn bad_routes_and_data_are_refused() {
        let nodes = nodes(6, false);
        assert_eq!(
            build_packet(KeyMode::Sphinx, 0, &route(&nodes), b""),
            Err(SphinxError::Route("between 1 and 5 hops"))
        );
        assert_eq!(build_packet(KeyMode::Sphinx, 0, &[], b""), Err(SphinxError::Route("between 1 and 5 hops")));
        let too_long = vec![0u8; PAYLOAD_CAPACITY + 1];
        assert_eq!(build_packet(KeyMode::Kem, 0, &route(&nodes[..3]), &too_long), Err(SphinxError::TooLong(2033)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Tagging resistance: a flipped bit anywhere is caught, by a header MAC or by the
        /// payload check at the end, and never delivers altered data.
        #[test]
        fn any_flipped_bit_is_rejected(kem in any::<bool>(), bit in 0usize..KeyMode::Kem.packet_len() * 8) {
            let mode = if kem { KeyMode::Kem } else { KeyMode::Sphinx };
            let bit = bit % (mode.packet_len() * 8);
            let nodes = nodes(3, true);
            let mut packet = build_packet(mode, 3, &route(&nodes), b"do not tag me").unwrap();
            packet[bit / 8] ^= 1 << (bit % 8);
            let mut outcome = Ok(Processed::Forward { next: [0; 32], delay_us: 0, replay_tag: [0; 16] });
            for node in &nodes {
                outcome = process(&mut packet, &node.secret);
                if !matches!(outcome, Ok(Processed::Forward { .. })) {
                    break;
                }
            }
            prop_assert!(outcome.is_err(), "bit {bit} went through: {outcome:?}");
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2600), mode in 0u8..4) {
            let secret = SecretKey::generate();
            let mut bytes = bytes;
            if let Some(first) = bytes.first_mut() {
                *first = mode;
            }
            let _ = process(&mut bytes, &secret);
            let _ = Surb::from_bytes(&bytes);
            let _ = SurbKeys::from_bytes(&bytes);
        }

        #[test]
        fn packets_of_the_right_length_with_arbitrary_content_never_panic(kem in any::<bool>(), seed in any::<u64>()) {
            let mode = if kem { KeyMode::Kem } else { KeyMode::Sphinx };
            let mut packet = vec![0u8; mode.packet_len()];
            let mut x = seed | 1;
            for b in packet.iter_mut() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                *b = x as u8;
            }
            packet[0] = mode.byte();
            prop_assert!(process(&mut packet, &SecretKey::generate()).is_err());
        }
    }
}
