//! Ed25519 signatures over the signing preimage (TTL 0, no signature, not a sync response,
//! padded). A received signature is checked against the compressed bytes as they arrived and,
//! failing that, against the payload compressed again, since DEFLATE output differs between
//! the apps' encoders.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::announce::{Announce, AnnounceError};
use crate::identity::peer_id;
use crate::packet::{signing_preimage, EncodeError, Packet};

/// Signs `packet` in place.
pub fn sign(packet: &mut Packet, key: &SigningKey) -> Result<(), EncodeError> {
    packet.signature = None;
    let preimage = signing_preimage(packet)?;
    packet.signature = Some(key.sign(&preimage).to_bytes());
    Ok(())
}

/// Whether `packet` carries a valid signature by `key`.
pub fn verify(packet: &Packet, key: &VerifyingKey) -> bool {
    let Some(signature) = packet.signature.map(|s| Signature::from_bytes(&s)) else { return false };
    let checks = |p: &Packet| signing_preimage(p).is_ok_and(|preimage| key.verify(&preimage, &signature).is_ok());
    checks(packet) || (packet.compressed.is_some() && checks(&Packet { compressed: None, ..packet.clone() }))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceRejection {
    #[error(transparent)]
    Malformed(#[from] AnnounceError),
    #[error("sender {claimed} is not the peer id of its Noise key ({derived})")]
    WrongSender { claimed: String, derived: String },
    #[error("the signing key in the announce is not a valid Ed25519 key")]
    BadKey,
    #[error("the announce is not signed by the key it carries")]
    BadSignature,
}

/// An announce both apps would accept: its sender is the peer id of the Noise key it carries,
/// and it is signed by the signing key it carries. (Trust on first use, refusing a later
/// announce with other keys for the same peer, is the caller's: it needs what was seen before.)
pub fn verify_announce(packet: &Packet) -> Result<Announce, AnnounceRejection> {
    let announce = Announce::decode(&packet.payload)?;
    let derived = peer_id(&announce.noise_key);
    if derived != packet.sender {
        return Err(AnnounceRejection::WrongSender {
            claimed: hex::encode(packet.sender),
            derived: hex::encode(derived),
        });
    }
    let key = VerifyingKey::from_bytes(&announce.signing_key).map_err(|_| AnnounceRejection::BadKey)?;
    if !verify(packet, &key) {
        return Err(AnnounceRejection::BadSignature);
    }
    Ok(announce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{self, kind, Encoding};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_signed_message_verifies_after_the_air_and_a_relay() {
        let text = "a public line long enough to be compressed on the air, said twice; ".repeat(3);
        let mut p = Packet::new(kind::MESSAGE, [1; 8], 1_800_000_000_000, text.into_bytes());
        sign(&mut p, &key(7)).unwrap();
        let received = packet::decode(&packet::encode(&p, Encoding::AIR).unwrap()).unwrap();
        assert!(received.compressed.is_some(), "it travelled compressed");
        assert!(verify(&received, &key(7).verifying_key()));
        let relayed = Packet { ttl: 3, ..received.clone() };
        assert!(verify(&relayed, &key(7).verifying_key()), "TTL is not signed");
        assert!(!verify(&received, &key(8).verifying_key()));
        let mut tampered = received;
        tampered.payload[0] ^= 1;
        tampered.compressed = None;
        assert!(!verify(&tampered, &key(7).verifying_key()));
        assert!(!verify(&Packet::new(kind::MESSAGE, [1; 8], 0, vec![]), &key(7).verifying_key()), "unsigned");
    }

    #[test]
    fn a_signature_over_our_compression_holds_when_the_bytes_came_compressed_otherwise() {
        use std::io::Write;
        let text = "words words words, the same words again and again on the mesh; ".repeat(4).into_bytes();
        let mut p = Packet::new(kind::MESSAGE, [1; 8], 9, text.clone());
        sign(&mut p, &key(7)).unwrap();
        // Another encoder (level 1 here) gives other bytes for the same payload.
        let mut other = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(1));
        other.write_all(&text).unwrap();
        let received = Packet { compressed: Some(other.finish().unwrap()), ..p };
        assert_ne!(received.compressed, crate::compression::compress_if_worth(&text), "the bytes differ");
        assert!(verify(&received, &key(7).verifying_key()), "checked again with the payload compressed here");
    }

    #[test]
    fn announces_bind_sender_noise_key_and_signing_key() {
        let noise_key = [0x11; 32];
        let signer = key(9);
        let announce = Announce {
            nickname: "laptop".into(),
            noise_key,
            signing_key: signer.verifying_key().to_bytes(),
            neighbors: vec![],
            capabilities: Some(1),
            bridge_geohash: None,
            unknown: vec![],
        };
        let mut p = Packet::new(kind::ANNOUNCE, peer_id(&noise_key), 5, announce.encode().unwrap());
        sign(&mut p, &signer).unwrap();
        let received = packet::decode(&packet::encode(&p, Encoding::AIR).unwrap()).unwrap();
        assert_eq!(verify_announce(&received).unwrap().nickname, "laptop");
        let impostor = Packet { sender: [2; 8], ..received.clone() };
        assert!(matches!(verify_announce(&impostor), Err(AnnounceRejection::WrongSender { .. })));
        let mut resigned = received;
        sign(&mut resigned, &key(10)).unwrap();
        assert_eq!(verify_announce(&resigned), Err(AnnounceRejection::BadSignature));
    }
}
