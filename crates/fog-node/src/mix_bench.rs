//! `fog bench mixnode` and the dashboard's `mixnode` suite: real Betanet mixnodes (the service,
//! its replay filter and delay queue, packets on mesh streams) on 127.0.0.1 in this process,
//! fed by a source that sends prepared Sphinx packets at a fixed rate to a sink that times them.
//!
//! Two runs: one mixnode forwarding as fast as it is fed (throughput and loss), then three
//! mixnodes in a row with zero mixing delay at a moderate rate (latency across three hops).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fog_identity::NodeIdentity;
use fog_idle::bench::Figure;
use fog_mesh::{Mesh, MeshConfig, MeshStream};
use fog_mixnet::directory::Descriptor;
use fog_mixnet::service::{Betanet, BetanetConfig, Publisher};
use fog_mixnet::sphinx::{build_packet, payload_data, process, Hop, KeyMode, PreparedKey, Processed, SecretKey};
use fog_store::Store;
use futures_util::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

use crate::betanet::{accept_packets, MeshTransport, PROTOCOL};

/// What a run is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct MixBenchPlan {
    /// Packets a second the source sends in the throughput run.
    pub rate: u32,
    /// Packets a second in the three-hop latency run.
    pub latency_rate: u32,
    /// Length of each run.
    pub secs: f64,
}

impl Default for MixBenchPlan {
    fn default() -> Self {
        Self { rate: 10_000, latency_rate: 1_000, secs: 3.0 }
    }
}

/// Largest rate and length accepted, so a run stays within seconds and memory.
const MAX_PACKETS: f64 = 200_000.0;
/// How long the sink waits for stragglers after the last packet is sent.
const DRAIN: Duration = Duration::from_secs(2);

pub fn run(plan: MixBenchPlan) -> Result<Vec<Figure>, String> {
    if plan.rate == 0 || plan.latency_rate == 0 || !plan.secs.is_finite() || plan.secs <= 0.0 {
        return Err("rates and length must be positive".into());
    }
    if f64::from(plan.rate.max(plan.latency_rate)) * plan.secs > MAX_PACKETS {
        return Err(format!("rate × seconds is at most {MAX_PACKETS} packets"));
    }
    let dir = std::env::temp_dir().join(format!("fog-mix-bench-{}-{}", std::process::id(), now_ms()));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let result = runtime.block_on(async {
        let throughput = forward(&dir.join("one"), 1, plan.rate, plan.secs).await?;
        let latency = forward(&dir.join("three"), 3, plan.latency_rate, plan.secs).await?;
        Ok::<_, String>((throughput, latency))
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&dir);
    let (one, three) = result?;
    let figure = |name: &str, value: f64, unit: &str, goal: Option<&str>| Figure {
        name: name.into(),
        value,
        unit: unit.into(),
        goal: goal.map(str::to_string),
    };
    Ok(vec![
        figure("one mixnode: packets sent", one.sent as f64, "", None),
        figure("one mixnode: forwarded per second", one.arrival_rate(), "packets/s", Some("≥ 10000")),
        figure("one mixnode: lost", one.loss_pct(), "%", Some("< 0.1")),
        figure("three hops, zero delay: packets sent", three.sent as f64, "", None),
        figure("three hops: latency p50", three.percentile_ms(0.50), "ms", Some("≤ 1")),
        figure("three hops: latency p99", three.percentile_ms(0.99), "ms", Some("≤ 3")),
        figure("three hops: lost", three.loss_pct(), "%", None),
    ])
}

struct Outcome {
    sent: usize,
    /// Arrival time and latency of each packet that arrived, in arrival order.
    arrivals: Vec<(Instant, Duration)>,
}

impl Outcome {
    fn arrival_rate(&self) -> f64 {
        match (self.arrivals.first(), self.arrivals.last()) {
            (Some(first), Some(last)) if self.arrivals.len() > 1 => {
                (self.arrivals.len() - 1) as f64 / (last.0 - first.0).as_secs_f64().max(1e-9)
            }
            _ => 0.0,
        }
    }

    fn loss_pct(&self) -> f64 {
        100.0 * (self.sent - self.arrivals.len().min(self.sent)) as f64 / self.sent.max(1) as f64
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        let mut latencies: Vec<Duration> = self.arrivals.iter().map(|a| a.1).collect();
        latencies.sort_unstable();
        let Some(last) = latencies.len().checked_sub(1) else { return f64::NAN };
        latencies[((last as f64) * q).round() as usize].as_secs_f64() * 1e3
    }
}

/// Packets as they reached the sink, with the time each did.
type Arrivals = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

/// Descriptors go to the bench, not to gossip.
struct Captured(mpsc::UnboundedSender<Vec<u8>>);

impl Publisher for Captured {
    fn publish(&self, descriptor: Vec<u8>) {
        let _ = self.0.send(descriptor);
    }
}

async fn mesh_for(identity: &NodeIdentity) -> Result<Mesh, String> {
    Mesh::start(*identity.ed25519_secret(), MeshConfig::default()).await.map_err(|e| e.to_string())
}

async fn listen_addr(mesh: &Mesh) -> Result<String, String> {
    let addrs = mesh.listen_addrs().await.map_err(|e| e.to_string())?;
    addrs.into_iter().next().ok_or_else(|| "the mesh listens nowhere".into())
}

/// A mixnode as the node runs it, with its mesh, service and current Sphinx key.
async fn start_mixnode(dir: &Path) -> Result<(Mesh, Betanet, Descriptor), String> {
    let identity = NodeIdentity::generate();
    let mesh = mesh_for(&identity).await?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let store = Arc::new(Store::open(&dir.join("fog.db"), fog_mixnet::store::MIGRATIONS).map_err(|e| e.to_string())?);
    let config = BetanetConfig {
        data_dir: dir.to_path_buf(),
        mode: KeyMode::Kem,
        epoch_secs: 3600,
        grace_secs: 300,
        mixnode: true,
        capacity: 20_000,
        max_queue: 100_000,
        publish_every_secs: 30,
        client: Default::default(),
    };
    let (descriptors, mut published) = mpsc::unbounded_channel();
    let transport = Arc::new(MeshTransport::new(mesh.clone()));
    let copy = NodeIdentity::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&identity.ed25519_secret()));
    let betanet =
        Betanet::start(copy, store, config, transport, Arc::new(Captured(descriptors))).map_err(|e| e.to_string())?;
    tokio::spawn(accept_packets(mesh.clone(), betanet.clone()));
    let bytes = tokio::time::timeout(Duration::from_secs(10), published.recv())
        .await
        .ok()
        .flatten()
        .ok_or("the mixnode published no descriptor")?;
    let descriptor = Descriptor::decode(&bytes).map_err(|e| e.to_string())?;
    Ok((mesh, betanet, descriptor))
}

/// Sends `rate` packets a second for `secs` through `hops` mixnodes to a sink and times them.
async fn forward(dir: &Path, hops: usize, rate: u32, secs: f64) -> Result<Outcome, String> {
    let mut mixnodes = Vec::new();
    for i in 0..hops {
        mixnodes.push(start_mixnode(&dir.join(format!("mix-{i}"))).await?);
    }
    let sink_identity = NodeIdentity::generate();
    let sink = mesh_for(&sink_identity).await?;
    let sink_key = SecretKey::generate();
    let source = mesh_for(&NodeIdentity::generate()).await?;

    // source → mix 1 → … → mix n → sink, each dialling the next.
    let mut chain: Vec<&Mesh> = vec![&source];
    chain.extend(mixnodes.iter().map(|m| &m.0));
    chain.push(&sink);
    for pair in chain.windows(2) {
        pair[0].dial(&listen_addr(pair[1]).await?).await.map_err(|e| e.to_string())?;
    }

    let epoch = *mixnodes[0].2.keys.iter().map(|(e, _)| e).max().ok_or("a descriptor without keys")?;
    let prepared: Vec<PreparedKey> = mixnodes
        .iter()
        .map(|m| m.2.key_for(epoch).ok_or("a mixnode without the epoch's key").map(PreparedKey::new))
        .collect::<Result<Result<_, _>, _>>()?
        .map_err(|e| e.to_string())?;
    let sink_prepared = PreparedKey::new(sink_key.public()).map_err(|e| e.to_string())?;
    let sink_address = sink_identity.public_key().to_bytes();
    let count = (f64::from(rate) * secs).round() as usize;
    let packets = build_packets(count, epoch, &mixnodes, &prepared, &sink_prepared, sink_address)?;

    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let mut incoming = sink.accept_streams(PROTOCOL).map_err(|e| e.to_string())?;
    let collected = arrivals.clone();
    tokio::spawn(async move {
        while let Some((_, stream)) = incoming.recv().await {
            tokio::spawn(read_frames(stream, collected.clone()));
        }
    });

    let first_hop = mixnodes[0].0.local_peer_id();
    let mut stream = source.open_stream(&first_hop, PROTOCOL).await.map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut sent_at = Vec::with_capacity(count);
    let mut batch = Vec::new();
    let mut next = 0;
    while next < count {
        let due = ((start.elapsed().as_secs_f64() * f64::from(rate)) as usize + 1).min(count);
        if due <= next {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        batch.clear();
        for packet in &packets[next..due] {
            batch.extend_from_slice(&(packet.len() as u16).to_be_bytes());
            batch.extend_from_slice(packet);
        }
        let now = Instant::now();
        sent_at.resize(due, now);
        stream.write_all(&batch).await.map_err(|e| e.to_string())?;
        stream.flush().await.map_err(|e| e.to_string())?;
        next = due;
    }
    tokio::time::sleep(DRAIN).await;
    // Stopping the meshes ends the services' streams, so nothing of this run loads the next.
    for mesh in chain {
        mesh.stop().await;
    }

    let received: Vec<(Instant, Vec<u8>)> = std::mem::take(&mut *arrivals.lock().unwrap_or_else(|p| p.into_inner()));
    let mut timed = Vec::with_capacity(received.len());
    for (at, mut packet) in received {
        if let Ok(Processed::Deliver { .. }) = process(&mut packet, &sink_key) {
            let index = u64::from_be_bytes(payload_data(&packet)[..8].try_into().expect("8 bytes")) as usize;
            if let Some(sent) = sent_at.get(index) {
                timed.push((at, at.saturating_duration_since(*sent)));
            }
        }
    }
    Ok(Outcome { sent: count, arrivals: timed })
}

/// Prepared ahead, on every core, so the source's sending is not bounded by packet creation.
fn build_packets(
    count: usize,
    epoch: u32,
    mixnodes: &[(Mesh, Betanet, Descriptor)],
    prepared: &[PreparedKey],
    sink: &PreparedKey,
    sink_address: [u8; 32],
) -> Result<Vec<Vec<u8>>, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    let indices: Vec<usize> = (0..count).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = indices
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&i| {
                            let mut route: Vec<Hop<'_>> = mixnodes
                                .iter()
                                .zip(prepared)
                                .map(|(m, key)| Hop { address: m.2.identity, key, delay_us: 0 })
                                .collect();
                            route.push(Hop { address: sink_address, key: sink, delay_us: 0 });
                            build_packet(KeyMode::Kem, epoch, &route, &(i as u64).to_be_bytes())
                                .map_err(|e| e.to_string())
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut packets = Vec::with_capacity(count);
        for worker in workers {
            packets.extend(worker.join().map_err(|_| "a packet builder panicked")??);
        }
        Ok(packets)
    })
}

async fn read_frames(mut stream: MeshStream, arrivals: Arrivals) {
    let mut length = [0u8; 2];
    loop {
        if stream.read_exact(&mut length).await.is_err() {
            return;
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(length))];
        if stream.read_exact(&mut packet).await.is_err() {
            return;
        }
        arrivals.lock().unwrap_or_else(|p| p.into_inner()).push((Instant::now(), packet));
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}
