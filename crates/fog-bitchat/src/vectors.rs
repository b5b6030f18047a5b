//! The vectors of `shared/bitchat/VECTORS.md`, both directions, and properties of the codec.

use proptest::prelude::*;

use crate::announce::Announce;
use crate::packet::{self, flag, kind, Encoding, Packet};
use crate::payload::{File, Fragment, NoisePayload};

/// The bytes of a vector as VECTORS.md writes it, with `|` and spaces between fields.
fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(['|', ' '], "")).unwrap()
}

#[test]
fn a1_v1_public_message_unsigned() {
    let bytes = hex("01 | 02 | 07 | 0102030405060708 | 00 | 0003 | 1011121314151617 | aabbcc");
    assert_eq!(bytes.len(), 25);
    let p = packet::decode(&bytes).unwrap();
    assert_eq!((p.version, p.kind, p.ttl, p.timestamp_ms), (1, kind::MESSAGE, 7, 0x0102030405060708));
    assert_eq!(
        (p.sender, p.recipient, p.payload.clone()),
        (hex("1011121314151617").try_into().unwrap(), None, hex("aabbcc"))
    );
    assert!(p.is_broadcast() && p.signature.is_none());
    assert_eq!(packet::encode(&p, Encoding::PLAIN).unwrap(), bytes);
}

#[test]
fn a3_private_message_and_its_noise_envelope() {
    let message = NoisePayload::PrivateMessage { id: "m1".into(), content: "hi".into() };
    assert_eq!(message.encode().unwrap(), hex("01 | 00026d31 | 01026869"));
    assert_eq!(NoisePayload::decode(&hex("0100026d3101026869")).unwrap(), message);
    let alias = NoisePayload::decode(&hex("09cafe")).unwrap();
    assert_eq!(alias.encode().unwrap(), hex("20cafe"), "0x09 reads as a private file and is written as 0x20");
    assert!(NoisePayload::decode(&hex("0100026d31")).is_err(), "content missing");
    assert!(NoisePayload::decode(&hex("0100026d3101036869")).is_err(), "length overruns");
    let long = NoisePayload::PrivateMessage { id: "m".into(), content: "x".repeat(256) };
    assert!(long.encode().is_err(), "the TLV holds at most 255 bytes of content");
}

#[test]
fn a4_fragment_header() {
    let bytes = hex("0001020304050607 | 0001 | 0003 | 02 | aabb");
    let f = Fragment::decode(&bytes).unwrap();
    assert_eq!(
        (f.id, f.index, f.total, f.original_kind, f.data.clone()),
        ([0, 1, 2, 3, 4, 5, 6, 7], 1, 3, 2, hex("aabb"))
    );
    assert_eq!(f.encode(), bytes);
    assert!(Fragment::decode(&bytes[..12]).is_err());
}

#[test]
fn a6_announce_with_capabilities_and_an_unknown_field() {
    let bytes = hex(&format!("0103626f62 | 0220{} | 0320{} | 05020001 | 7f02cafe", "11".repeat(32), "22".repeat(32)));
    let a = Announce::decode(&bytes).unwrap();
    assert_eq!(a.nickname, "bob");
    assert_eq!((a.noise_key, a.signing_key), ([0x11; 32], [0x22; 32]));
    assert_eq!(a.capabilities, Some(1 << 8), "little-endian: bit 8 is private media");
    assert_eq!(a.unknown, vec![(0x7f, hex("cafe"))]);
    assert_eq!(a.encode().unwrap(), bytes, "the unknown field is written back");
    assert!(Announce::decode(&hex("0103626f62022011")).is_err(), "truncated key");
}

#[test]
fn a7_and_b_file_tlv() {
    let bytes = hex("01 0001 61 | 02 0004 00000002 | 03 0001 6d | 04 00000002 dead");
    let f = File::decode(&bytes).unwrap();
    assert_eq!(f, File { name: Some("a".into()), size: Some(2), mime_type: Some("m".into()), content: hex("dead") });
    assert_eq!(f.encode().unwrap(), bytes);
    assert!(File::decode(&hex("010001610400000002de")).is_err());
    let ios = hex("20 | 01 0005 612e747874 | 02 0004 00000003 | 03 000a 746578742f706c61696e | 04 00000003 010203");
    let payload = NoisePayload::decode(&ios).unwrap();
    let NoisePayload::PrivateFile(file) = &payload else { panic!("{payload:?}") };
    assert_eq!(
        (file.name.as_deref(), file.size, file.mime_type.as_deref()),
        (Some("a.txt"), Some(3), Some("text/plain"))
    );
    assert_eq!(file.content, vec![1, 2, 3]);
    assert_eq!(payload.encode().unwrap(), ios);
}

#[test]
fn d3_noise_handshake_frames_are_padded_on_the_air() {
    // VECTORS.md D3 takes the third handshake message as 48 bytes; with its payload tag it is
    // 64 (see noise::tests), whose frame pads the same way.
    for (noise, fill) in [(32, 0xc2), (96, 0x82), (48, 0xb2), (64, 0xa2)] {
        let mut p = Packet::new(kind::NOISE_HANDSHAKE, [1; 8], 5, vec![9; noise]);
        p.recipient = Some([2; 8]);
        let frame = packet::encode(&p, Encoding::AIR).unwrap();
        assert_eq!(frame.len(), 256);
        assert!(frame[30 + noise..].iter().all(|b| *b == fill));
        assert_eq!(packet::decode(&frame).unwrap(), p);
    }
    // Other types go out at their natural length.
    let message = Packet::new(kind::MESSAGE, [1; 8], 5, b"hello".to_vec());
    assert_eq!(packet::encode(&message, Encoding::AIR).unwrap().len(), 22 + 5);
}

#[test]
fn v2_routed_signed_compressed_round_trip_and_the_signing_preimage() {
    let text = "a long enough public line, said again and again on the mesh; ".repeat(4).into_bytes();
    let mut p = Packet::new(kind::MESSAGE, [3; 8], 1_700_000_000_000, text.clone());
    p.version = 2;
    p.recipient = Some([4; 8]);
    p.route = Some(vec![[5; 8], [6; 8]]);
    p.signature = Some([7; 64]);
    p.is_rsr = true;
    let frame = packet::encode(&p, Encoding::AIR).unwrap();
    let flags = frame[11];
    assert_eq!(flags, flag::HAS_RECIPIENT | flag::HAS_SIGNATURE | flag::IS_COMPRESSED | flag::HAS_ROUTE | flag::IS_RSR);
    assert!(frame.len() < 16 + 8 + 8 + 17 + text.len() + 64, "compressed");
    let back = packet::decode(&frame).unwrap();
    assert_eq!(back.payload, text);
    assert_eq!(back.route, p.route);
    assert!(back.compressed.is_some());
    // Relayed as received: the same bytes.
    assert_eq!(packet::encode(&back, Encoding::AIR).unwrap(), frame);
    // The preimage: TTL 0, no signature, no RSR flag, padded, compressed bytes as received.
    let preimage = packet::signing_preimage(&back).unwrap();
    assert_eq!(preimage[2], 0);
    assert_eq!(preimage[11], flag::HAS_RECIPIENT | flag::IS_COMPRESSED | flag::HAS_ROUTE);
    assert!([256, 512, 1024, 2048].contains(&preimage.len()));
    let relayed = Packet { ttl: 3, ..back.clone() };
    assert_eq!(packet::signing_preimage(&relayed).unwrap(), preimage, "relays do not change what was signed");
}

#[test]
fn version_1_ignores_the_route_flag_and_bad_frames_are_refused() {
    let mut bytes = hex("01020701020304050607080000031011121314151617aabbcc");
    bytes[11] |= flag::HAS_ROUTE;
    assert_eq!(packet::decode(&bytes).unwrap().route, None);
    assert!(matches!(packet::decode(&hex("0302")), Err(packet::DecodeError::Version(3))));
    assert!(matches!(packet::decode(&bytes[..21]), Err(packet::DecodeError::TooShort(21))));
    let mut long = bytes.clone();
    long[13] = 9;
    assert!(matches!(packet::decode(&long), Err(packet::DecodeError::Truncated { field: "payload" })));
    let mut routed = Packet::new(kind::MESSAGE, [1; 8], 0, vec![]);
    routed.route = Some(vec![[2; 8]]);
    assert!(packet::encode(&routed, Encoding::AIR).is_err(), "a route needs version 2");
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    (
        1u8..=2,
        any::<u8>(),
        any::<u8>(),
        any::<u64>(),
        any::<[u8; 8]>(),
        proptest::option::of(any::<[u8; 8]>()),
        proptest::option::of(proptest::collection::vec(any::<[u8; 8]>(), 0..4)),
        proptest::collection::vec(0u8..4, 0..400),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 64)),
        any::<bool>(),
    )
        .prop_map(|(version, kind, ttl, timestamp_ms, sender, recipient, route, payload, signature, is_rsr)| {
            Packet {
                version,
                kind,
                ttl,
                timestamp_ms,
                sender,
                recipient,
                route: route.filter(|_| version == 2),
                payload,
                signature: signature.map(|s| s.try_into().unwrap()),
                is_rsr,
                compressed: None,
            }
        })
}

proptest! {
    #[test]
    fn decode_inverts_encode(p in arb_packet(), compress in any::<bool>(), pad in any::<bool>()) {
        let frame = packet::encode(&p, Encoding { compress, pad: Some(pad) }).unwrap();
        let back = packet::decode(&frame).unwrap();
        prop_assert_eq!(Packet { compressed: None, ..back.clone() }, p);
        if back.compressed.is_some() {
            prop_assert_eq!(packet::encode(&back, Encoding { compress: true, pad: Some(pad) }).unwrap(), frame);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = packet::decode(&bytes);
        let _ = Announce::decode(&bytes);
        let _ = File::decode(&bytes);
        let _ = NoisePayload::decode(&bytes);
        let _ = Fragment::decode(&bytes);
    }

    #[test]
    fn mangled_frames_never_panic(p in arb_packet(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut frame = packet::encode(&p, Encoding::AIR).unwrap();
        let i = at.index(frame.len());
        frame[i] = byte;
        let _ = packet::decode(&frame);
        frame.truncate(i);
        let _ = packet::decode(&frame);
    }

    #[test]
    fn announces_round_trip(nickname in "\\PC{0,30}", noise in any::<[u8; 32]>(), signing in any::<[u8; 32]>(),
                            neighbors in proptest::collection::vec(any::<[u8; 8]>(), 0..=10),
                            capabilities in proptest::option::of(any::<u64>())) {
        let a = Announce { nickname, noise_key: noise, signing_key: signing, neighbors, capabilities,
                           bridge_geohash: None, unknown: vec![(0x7f, vec![1, 2])] };
        prop_assert_eq!(Announce::decode(&a.encode().unwrap()).unwrap(), a);
    }
}
