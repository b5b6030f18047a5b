//! BitChat codec benchmarks: encode and decode of a signed 200-byte public message, fragment
//! and reassemble, Noise transport encrypt and decrypt, and relay decisions.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fog_bitchat::fragment::{split, Limits, Reassembler, DEFAULT_CHUNK_BYTES};
use fog_bitchat::noise::{Handshake, PROTOCOL};
use fog_bitchat::packet::{kind, Encoding};
use fog_bitchat::payload::Fragment;
use fog_bitchat::router::{decide, Neighbourhood, SeenIds};
use fog_bitchat::{decode, encode, identity, Packet};

const NOW: u64 = 1_800_000_000_000;

fn public_message() -> Packet {
    // A chat line of 200 varied bytes: too varied to be worth compressing, like most chat.
    let text: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
    let mut p = Packet::new(kind::MESSAGE, [4; 8], NOW, text);
    p.signature = Some([9; 64]);
    p
}

fn codec(c: &mut Criterion) {
    let p = public_message();
    let frame = encode(&p, Encoding::AIR).unwrap();
    let mut group = c.benchmark_group("packet");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_signed_200_byte_message", |b| b.iter(|| encode(black_box(&p), Encoding::AIR)));
    group.bench_function("decode_signed_200_byte_message", |b| b.iter(|| decode(black_box(&frame))));
    group.finish();

    // A 256 KiB file: version 2, whose length field holds it.
    let big = Packet {
        version: 2,
        ..Packet::new(kind::FILE_TRANSFER, [4; 8], NOW, (0..256 * 1024u32).map(|i| (i * 7 % 251) as u8).collect())
    };
    let big_frame = encode(&big, Encoding::PLAIN).unwrap();
    let mut group = c.benchmark_group("fragment");
    group.throughput(Throughput::Bytes(big_frame.len() as u64));
    group.bench_function("split_and_reassemble_256_KiB", |b| {
        b.iter(|| {
            let parts = split(&big, &big_frame, DEFAULT_CHUNK_BYTES, [1; 8]).unwrap();
            let mut r = Reassembler::new(Limits::default());
            let mut whole = None;
            for part in parts {
                whole = r.add(part.sender, Fragment::decode(&part.payload).unwrap(), 0).unwrap();
            }
            whole.expect("reassembled")
        })
    });
    group.finish();
}

fn noise(c: &mut Criterion) {
    let keys = |_| {
        let k = snow::Builder::new(PROTOCOL.parse().unwrap()).generate_keypair().unwrap();
        let public: [u8; 32] = k.public.as_slice().try_into().unwrap();
        (<[u8; 32]>::try_from(k.private.as_slice()).unwrap(), identity::peer_id(&public))
    };
    let ((a_key, a), (b_key, b)) = (keys(0), keys(1));
    let (mut init, mut resp) = (Handshake::initiator(&a_key).unwrap(), Handshake::responder(&b_key).unwrap());
    for i in 0..3 {
        let (w, r) = if i % 2 == 0 { (&mut init, &mut resp) } else { (&mut resp, &mut init) };
        let m = w.write().unwrap();
        r.read(&m).unwrap();
    }
    let (mut alice, mut bob) = (init.finish(b).unwrap(), resp.finish(a).unwrap());
    let plaintext = vec![7u8; 1024];
    let mut group = c.benchmark_group("noise");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.bench_function("encrypt_and_decrypt_1_KiB", |bench| {
        bench.iter(|| bob.decrypt(&alice.encrypt(black_box(&plaintext)).unwrap()).unwrap())
    });
    group.finish();
}

fn router(c: &mut Criterion) {
    let links: Vec<[u8; 8]> = (10..18).map(|i| [i; 8]).collect();
    let mut seen = SeenIds::default();
    let mut p = public_message();
    let mut n = 0u64;
    let mut group = c.benchmark_group("router");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decide_a_new_broadcast", |b| {
        b.iter(|| {
            // A new message each time (a new timestamp within the accepted skew), so every
            // decision takes the full path: hash, duplicate check, caps and fanout.
            n += 1;
            p.timestamp_ms = NOW - 100_000 + n % 200_000;
            let at = Neighbourhood { me: [1; 8], links: &links, ingress: Some([10; 8]), now_ms: NOW };
            decide(black_box(&p), &mut seen, &at)
        })
    });
    group.finish();
}

criterion_group!(benches, codec, noise, router);
criterion_main!(benches);
