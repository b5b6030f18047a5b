use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// VECTORS.md C, vector 0: raw Noise XX with a prologue, fixed ephemeral keys and payloads,
/// which checks the Noise core the sessions are built on.
#[test]
fn vector_0_noise_core() {
    let (init_static, init_eph) = (
        unhex("e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"),
        unhex("893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"),
    );
    let (resp_static, resp_eph) = (
        unhex("4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"),
        unhex("bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"),
    );
    let prologue = unhex("4a6f686e2047616c74");
    fn build<'a>(key: &'a [u8], eph: &'a [u8], prologue: &'a [u8]) -> snow::Builder<'a> {
        snow::Builder::new(PROTOCOL.parse().unwrap())
            .local_private_key(key)
            .unwrap()
            .prologue(prologue)
            .unwrap()
            .fixed_ephemeral_key_for_testing_only(eph)
    }
    let mut init = build(&init_static, &init_eph, &prologue).build_initiator().unwrap();
    let mut resp = build(&resp_static, &resp_eph, &prologue).build_responder().unwrap();
    let mut buf = vec![0; 1024];
    let mut out = vec![0; 1024];
    let handshake = [
        ("4c756477696720766f6e204d69736573", "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"),
        ("4d757272617920526f746862617264", "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d162c9326ad"),
        ("462e20412e20486179656b", "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030"),
    ];
    for (i, (payload, expected)) in handshake.iter().enumerate() {
        let (writer, reader) = if i % 2 == 0 { (&mut init, &mut resp) } else { (&mut resp, &mut init) };
        let len = writer.write_message(&unhex(payload), &mut buf).unwrap();
        assert_eq!(buf[..len], unhex(expected)[..], "handshake message {i}");
        let n = reader.read_message(&buf[..len], &mut out).unwrap();
        assert_eq!(out[..n], unhex(payload)[..]);
    }
    let hash = unhex("c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e");
    assert_eq!(init.get_handshake_hash(), hash.as_slice());
    assert_eq!(resp.get_handshake_hash(), hash.as_slice());
    let (init, resp) = (init.into_stateless_transport_mode().unwrap(), resp.into_stateless_transport_mode().unwrap());
    // Transport: responder → initiator, initiator → responder, responder → initiator.
    let transport = [
        (false, 0, "4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"),
        (
            true,
            0,
            "4a65616e2d426170746973746520536179",
            "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
        ),
        (
            false,
            1,
            "457567656e2042f6686d20766f6e2042617765726b",
            "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f",
        ),
    ];
    for (from_initiator, nonce, payload, expected) in transport {
        let (writer, reader) = if from_initiator { (&init, &resp) } else { (&resp, &init) };
        let len = writer.write_message(nonce, &unhex(payload), &mut buf).unwrap();
        assert_eq!(buf[..len], unhex(expected)[..]);
        let n = reader.read_message(nonce, &buf[..len], &mut out).unwrap();
        assert_eq!(out[..n], unhex(payload)[..]);
    }
}

fn keypair() -> ([u8; 32], PeerId) {
    let keys = snow::Builder::new(PROTOCOL.parse().unwrap()).generate_keypair().unwrap();
    let public: [u8; 32] = keys.public.as_slice().try_into().unwrap();
    (keys.private.as_slice().try_into().unwrap(), peer_id(&public))
}

fn sessions() -> (Session, Session) {
    let ((alice_key, alice), (bob_key, bob)) = (keypair(), keypair());
    let mut initiator = Handshake::initiator(&alice_key).unwrap();
    let mut responder = Handshake::responder(&bob_key).unwrap();
    let sizes: Vec<usize> = (0..3)
        .map(|i| {
            let (writer, reader) =
                if i % 2 == 0 { (&mut initiator, &mut responder) } else { (&mut responder, &mut initiator) };
            assert!(writer.our_turn());
            let message = writer.write().unwrap();
            reader.read(&message).unwrap();
            message.len()
        })
        .collect();
    // Empty prologue and payloads, as BitChat sends them. The third message is 64 bytes: the
    // encrypted static key (48) and the empty payload's tag (16), as in the second; PROTOCOL.md
    // says 48, which leaves that tag out (its D3 padding example follows it).
    assert_eq!(sizes, [32, 96, 64]);
    (initiator.finish(bob).unwrap(), responder.finish(alice).unwrap())
}

#[test]
fn dms_arrive_out_of_order_once_each() {
    let (mut alice, mut bob) = sessions();
    assert_eq!(alice.handshake_hash(), bob.handshake_hash());
    let frames: Vec<Vec<u8>> = (0..5).map(|i| alice.encrypt(format!("dm {i}").as_bytes()).unwrap()).collect();
    assert_eq!(frames[3][..4], [0, 0, 0, 3], "the explicit counter, big-endian");
    assert_eq!(frames[3].len(), 4 + 4 + 16);
    for i in [4, 0, 2, 1, 3] {
        assert_eq!(bob.decrypt(&frames[i]).unwrap(), format!("dm {i}").into_bytes());
    }
    assert_eq!(bob.decrypt(&frames[2]), Err(NoiseError::Replayed(2)));
    let mut tampered = frames[0].clone();
    tampered[6] ^= 1;
    assert!(matches!(bob.decrypt(&tampered), Err(NoiseError::Replayed(0))), "already seen wins over the tag");
    let mut forged = alice.encrypt(b"x").unwrap();
    forged[8] ^= 1;
    assert!(matches!(bob.decrypt(&forged), Err(NoiseError::Protocol(_))));
    let reply = bob.encrypt(b"ack").unwrap();
    assert_eq!(alice.decrypt(&reply).unwrap(), b"ack");
    assert!(matches!(bob.decrypt(&[0; 10]), Err(NoiseError::FrameTooShort(10))));
}

#[test]
fn a_session_binds_the_claimed_peer_id() {
    let ((alice_key, _), (bob_key, _)) = (keypair(), keypair());
    let mut initiator = Handshake::initiator(&alice_key).unwrap();
    let mut responder = Handshake::responder(&bob_key).unwrap();
    for i in 0..3 {
        let (writer, reader) =
            if i % 2 == 0 { (&mut initiator, &mut responder) } else { (&mut responder, &mut initiator) };
        let message = writer.write().unwrap();
        reader.read(&message).unwrap();
    }
    assert!(matches!(initiator.finish([9; 8]), Err(NoiseError::WrongPeer { .. })));
    assert!(keeps_initiator_role([1; 8], [2; 8]) && !keeps_initiator_role([2; 8], [1; 8]));
    assert!(matches!(
        Handshake::responder(&bob_key).unwrap().read(&[0; 3000]),
        Err(NoiseError::HandshakeTooLong(3000))
    ));
}

#[test]
fn the_replay_window_slides() {
    let mut w = ReplayWindow::default();
    for c in [0, 5, 3, 1500] {
        assert!(w.is_fresh(c));
        w.mark(c);
        assert!(!w.is_fresh(c));
    }
    assert!(!w.is_fresh(5), "1495 behind: outside the window");
    assert!(w.is_fresh(1499) && w.is_fresh(477) && !w.is_fresh(476));
    w.mark(1499);
    w.mark(1501);
    assert!(!w.is_fresh(1499) && !w.is_fresh(1500) && !w.is_fresh(1501) && w.is_fresh(1498));
    w.mark(1501 + 64 * 3 + 7);
    assert!(!w.is_fresh(1500) && !w.is_fresh(1501) && w.is_fresh(1502));
}
