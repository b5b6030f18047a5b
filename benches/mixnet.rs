//! Betanet: Sphinx creation and per-hop processing, ours against Nym's `sphinx-packet` in the
//! same process, same hop count and a 2 KiB payload.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use fog_mixnet::replay::ReplayFilter;
use fog_mixnet::sphinx::{self, Hop, KeyMode, PreparedKey, SecretKey, PAYLOAD_LEN};
use sphinx_packet::header::delays;
use sphinx_packet::route::{Destination, DestinationAddressBytes, Node, NodeAddressBytes};
use sphinx_packet::{SphinxPacket, SphinxPacketBuilder};
use x25519_dalek_nym::{PublicKey as NymPublic, StaticSecret as NymSecret};

const MESSAGE: &[u8] = &[13u8; 1024];

struct Ours {
    secrets: Vec<SecretKey>,
    prepared: Vec<PreparedKey>,
    cold: Vec<PreparedKey>,
}

fn ours(hops: usize) -> Ours {
    let secrets: Vec<SecretKey> = (0..hops).map(|_| SecretKey::generate()).collect();
    let prepared = secrets.iter().map(|s| PreparedKey::new(s.public()).unwrap()).collect();
    let cold = secrets.iter().map(|s| PreparedKey::unprepared(s.public()).unwrap()).collect();
    Ours { secrets, prepared, cold }
}

fn route(keys: &[PreparedKey]) -> Vec<Hop<'_>> {
    keys.iter().enumerate().map(|(i, key)| Hop { address: [i as u8; 32], key, delay_us: 10_000 }).collect()
}

struct Nym {
    first_secret: NymSecret,
    route: Vec<Node>,
    destination: Destination,
    delays: Vec<sphinx_packet::header::delays::Delay>,
}

fn nym(hops: usize) -> Nym {
    let secrets: Vec<NymSecret> = (0..hops).map(|_| NymSecret::random()).collect();
    let route = secrets
        .iter()
        .enumerate()
        .map(|(i, s)| Node::new(NodeAddressBytes::from_bytes([i as u8; 32]), NymPublic::from(s)))
        .collect();
    let destination = Destination::new(DestinationAddressBytes::from_bytes([9u8; 32]), [4u8; 16]);
    let delays = delays::generate_from_average_duration(hops, Duration::from_millis(10));
    Nym { first_secret: secrets.into_iter().next().expect("a hop"), route, destination, delays }
}

fn nym_packet(n: &Nym) -> SphinxPacket {
    SphinxPacketBuilder::new()
        .with_payload_size(PAYLOAD_LEN)
        .build_packet(MESSAGE, &n.route, &n.destination, &n.delays)
        .unwrap()
}

fn creation(c: &mut Criterion) {
    let mut group = c.benchmark_group("sphinx creation");
    for hops in [3usize, 5] {
        let n = nym(hops);
        group.bench_function(BenchmarkId::new("nym", hops), |b| b.iter(|| nym_packet(black_box(&n))));
        let o = ours(hops);
        for mode in [KeyMode::Sphinx, KeyMode::Kem] {
            let prepared = route(&o.prepared);
            group.bench_function(BenchmarkId::new(format!("fog {mode:?}"), hops), |b| {
                b.iter(|| sphinx::build_packet(mode, 1, black_box(&prepared), MESSAGE).unwrap())
            });
            let cold = route(&o.cold);
            group.bench_function(BenchmarkId::new(format!("fog {mode:?} unprepared keys"), hops), |b| {
                b.iter(|| sphinx::build_packet(mode, 1, black_box(&cold), MESSAGE).unwrap())
            });
        }
    }
    group.finish();
}

fn per_hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("sphinx per hop (3 hops)");
    let n = nym(3);
    let packet = nym_packet(&n).to_bytes();
    group.bench_function("nym", |b| {
        b.iter(|| SphinxPacket::from_bytes(black_box(&packet)).unwrap().process(&n.first_secret).unwrap())
    });
    let o = ours(3);
    for mode in [KeyMode::Sphinx, KeyMode::Kem] {
        let packet = sphinx::build_packet(mode, 1, &route(&o.prepared), MESSAGE).unwrap();
        group.bench_function(format!("fog {mode:?}"), |b| {
            b.iter(|| {
                let mut copy = black_box(&packet).clone();
                sphinx::process(&mut copy, &o.secrets[0]).unwrap();
                copy
            })
        });
    }
    group.finish();
}

/// The replay filter at design load: 2,000 packets/s for a 1 h epoch and 5 min of grace on
/// each side held at once (8.4 M tags), timed near full.
fn replay(c: &mut Criterion) {
    let capacity = 2_000 * (3_600 + 2 * 300);
    let mut filter = ReplayFilter::with_capacity(capacity);
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut next_tag = move || {
        let mut tag = [0u8; 16];
        for chunk in tag.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        tag
    };
    for _ in 0..capacity - 200_000 {
        filter.insert(&next_tag(), 0);
    }
    eprintln!(
        "replay filter for {capacity} tags: {:.1} MB, {:.1} % full",
        filter.memory_bytes() as f64 / 1e6,
        filter.fill() * 100.0
    );
    c.bench_function("replay check+insert at 8.2M of 8.4M", |b| b.iter(|| filter.insert(black_box(&next_tag()), 1)));
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = creation, per_hop, replay
}
criterion_main!(benches);
