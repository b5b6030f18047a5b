//! Who a peer is: its peer id is the first 8 bytes of SHA-256 of its Noise static public key,
//! its fingerprint the whole hash (both shown as lowercase hex). Both apps refuse a peer whose
//! claimed id does not match.

use sha2::{Digest, Sha256};

use crate::PeerId;

pub fn fingerprint(noise_public_key: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(noise_public_key).into()
}

pub fn peer_id(noise_public_key: &[u8; 32]) -> PeerId {
    fingerprint(noise_public_key)[..8].try_into().expect("8 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d1_peer_ids() {
        assert_eq!(hex::encode(peer_id(&[0x11; 32])), "02d449a31fbb267c");
        assert_eq!(hex::encode(peer_id(&[0xcd; 32])), "7969ec0fcb8b648d");
        // The Noise vector's static keys (VECTORS.md C and D1).
        for (private, public, fingerprint_hex) in [
            (
                "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
                "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a",
                "b7a661f6ee2faf98207bb4dbde59a9d8981a2ee74ad0775fdf6762a88c878619",
            ),
            (
                "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
                "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
                "9c5643f1fd1a1cad0767bbc42575b2080ff9027c989156198b98ec78ab956038",
            ),
        ] {
            let derived = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(
                <[u8; 32]>::try_from(hex::decode(private).unwrap()).unwrap(),
            ));
            assert_eq!(hex::encode(derived.as_bytes()), public);
            assert_eq!(hex::encode(fingerprint(derived.as_bytes())), fingerprint_hex);
            assert_eq!(hex::encode(peer_id(derived.as_bytes())), fingerprint_hex[..16]);
        }
    }
}
