//! Benchmarks of the node's foundations: event-log writes (one event per transaction against
//! group commit), node-key signatures and the API's stats call.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fog_identity::NodeIdentity;
use fog_store::{EventLog, NewEvent, Store};

fn event(n: i64) -> NewEvent {
    NewEvent { ts_ms: n, topic: "bench".into(), kind: "tick".into(), data: serde_json::json!({ "n": n }) }
}

fn event_log(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("fog.db"), EventLog::MIGRATIONS).unwrap();
    let mut group = c.benchmark_group("event_log_append");
    for batch in [1usize, 100, 1000] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("batch_{batch}"), |b| {
            b.iter_batched(
                || (0..batch as i64).map(event).collect::<Vec<_>>(),
                |events| EventLog::append(&store, &events).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn identity(c: &mut Criterion) {
    let id = NodeIdentity::generate();
    let message = [7u8; 256];
    c.bench_function("node_key_sign_256B", |b| b.iter(|| id.sign(&message)));
    c.bench_function("peer_id_encode", |b| b.iter(|| id.peer_id()));
}

fn dashboard_stats(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = fog_node::Config { data_dir: dir.path().to_owned(), ..Default::default() };
    config.api.enabled = false;
    config.mesh.enabled = false;
    let node = runtime.block_on(fog_node::Node::start(config)).unwrap();
    let api = node.api();
    c.bench_function("api_dashboard_stats", |b| b.iter(|| runtime.block_on(api.dashboard_stats()).unwrap()));
    runtime.block_on(node.shutdown());
}

criterion_group!(benches, event_log, identity, dashboard_stats);
criterion_main!(benches);
