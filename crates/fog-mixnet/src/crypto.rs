//! The symmetric parts of a hop: key derivation from the shared secret, the header stream
//! cipher and MAC, and the Lioness wide-block cipher over the payload.

use blake2::digest::{FixedOutput, KeyInit, Mac};
use blake2::Blake2bMac;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::ChaCha20;
use curve25519_dalek::Scalar;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::MAC_LEN;

type Blake2bMac128 = Blake2bMac<blake2::digest::consts::U16>;
type Blake2bMac256 = Blake2bMac<blake2::digest::consts::U32>;

/// Everything one hop derives from its shared secret.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct HopKeys {
    /// ChaCha20 key for the routing information.
    pub header: [u8; 32],
    /// BLAKE2b key for the header MAC.
    pub mac: [u8; 32],
    /// Tag the mixnode's replay filter remembers.
    pub replay_tag: [u8; 16],
    /// Blinding factor for the next group element (Sphinx mode only).
    #[zeroize(skip)]
    pub blinding: Scalar,
    /// The four Lioness round keys for the payload.
    pub payload: LionessKeys,
}

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LionessKeys([[u8; 32]; 4]);

const KDF_CONTEXT: &[u8] = b"fog-mixnet sphinx v1 hop keys";

/// Derives a hop's keys from the DH output and the group element it was computed from:
/// one keyed BLAKE2b, then ChaCha20 as the expander (5 blocks).
pub fn derive(shared: &[u8; 32], alpha: &[u8; 32]) -> HopKeys {
    let mut seed_mac = <Blake2bMac256 as KeyInit>::new_from_slice(shared).expect("32-byte key");
    seed_mac.update(KDF_CONTEXT);
    seed_mac.update(alpha);
    let mut seed: [u8; 32] = seed_mac.finalize_fixed().into();
    let mut material = [0u8; 288];
    ChaCha20::new(&seed.into(), &[0u8; 12].into()).apply_keystream(&mut material);
    seed.zeroize();
    let take = |from: usize| -> [u8; 32] { material[from..from + 32].try_into().expect("32 bytes") };
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&material[96..160]);
    let keys = HopKeys {
        header: take(0),
        mac: take(32),
        replay_tag: material[64..80].try_into().expect("16 bytes"),
        blinding: Scalar::from_bytes_mod_order_wide(&wide),
        payload: LionessKeys([take(160), take(192), take(224), take(256)]),
    };
    wide.zeroize();
    material.zeroize();
    keys
}

/// XORs the header keystream of `key` into `data`, starting `offset` bytes into the stream.
pub fn header_stream(key: &[u8; 32], offset: usize, data: &mut [u8]) {
    use chacha20::cipher::StreamCipherSeek;
    let mut cipher = ChaCha20::new(key.into(), &[0u8; 12].into());
    cipher.seek(offset as u64);
    cipher.apply_keystream(data);
}

/// The header MAC over everything the hop reads.
pub fn header_mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut mac = <Blake2bMac128 as KeyInit>::new_from_slice(key).expect("32-byte key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize_fixed().into()
}

/// Lioness over `block` (at least 33 bytes): left part 32 bytes (a ChaCha20 key once XORed
/// with a round key), right part the rest. Changing any bit of the block changes every bit of
/// the output with overwhelming probability, so a tagged payload arrives as noise.
impl LionessKeys {
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut out = [0u8; 128];
        for (chunk, key) in out.chunks_mut(32).zip(&self.0) {
            chunk.copy_from_slice(key);
        }
        out
    }

    /// From 128 bytes (as [`LionessKeys::to_bytes`] wrote them).
    pub fn from_bytes(bytes: &[u8]) -> LionessKeys {
        let mut keys = [[0u8; 32]; 4];
        for (key, chunk) in keys.iter_mut().zip(bytes.chunks(32)) {
            key.copy_from_slice(chunk);
        }
        LionessKeys(keys)
    }

    fn stream(left: &[u8], round_key: &[u8; 32], right: &mut [u8]) {
        let mut key = [0u8; 32];
        for ((k, l), r) in key.iter_mut().zip(left).zip(round_key) {
            *k = l ^ r;
        }
        ChaCha20::new(&key.into(), &[0u8; 12].into()).apply_keystream(right);
        key.zeroize();
    }

    fn hash(round_key: &[u8; 32], right: &[u8], left: &mut [u8]) {
        let mut mac = <Blake2bMac256 as KeyInit>::new_from_slice(round_key).expect("32-byte key");
        mac.update(right);
        let digest: [u8; 32] = mac.finalize_fixed().into();
        left.iter_mut().zip(digest).for_each(|(l, d)| *l ^= d);
    }

    pub fn encrypt(&self, block: &mut [u8]) {
        let (left, right) = block.split_at_mut(32);
        Self::stream(left, &self.0[0], right);
        Self::hash(&self.0[1], right, left);
        Self::stream(left, &self.0[2], right);
        Self::hash(&self.0[3], right, left);
    }

    pub fn decrypt(&self, block: &mut [u8]) {
        let (left, right) = block.split_at_mut(32);
        Self::hash(&self.0[3], right, left);
        Self::stream(left, &self.0[2], right);
        Self::hash(&self.0[1], right, left);
        Self::stream(left, &self.0[0], right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lioness_round_trips_and_one_flipped_bit_garbles_everything() {
        let keys = derive(&[7; 32], &[9; 32]);
        let plain: Vec<u8> = (0..2048u32).map(|i| i as u8).collect();
        let mut block = plain.clone();
        keys.payload.encrypt(&mut block);
        assert_ne!(block, plain);
        let mut tampered = block.clone();
        keys.payload.decrypt(&mut block);
        assert_eq!(block, plain);
        tampered[1000] ^= 1;
        keys.payload.decrypt(&mut tampered);
        let same = tampered.iter().zip(&plain).filter(|(a, b)| a == b).count();
        assert!(same < 40, "{same} bytes survived a flipped bit");
    }

    #[test]
    fn keys_depend_on_both_inputs() {
        let a = derive(&[1; 32], &[2; 32]);
        let b = derive(&[1; 32], &[3; 32]);
        assert_ne!(a.header, b.header);
        assert_ne!(a.replay_tag, b.replay_tag);
        assert_ne!(a.mac, a.header);
    }
}
