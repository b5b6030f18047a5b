//! Idle-compute benchmarks: compiling a job module cold and running a cached one, the example
//! kernels inside the sandbox against the same Rust code compiled natively (the ratio is
//! printed at the end; the goal is ≥ 0.5), and harvest-policy decisions.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use fog_idle::examples::example;
use fog_idle::{decide, JobControl, JobLimits, PolicyMemory, RunEnd, Sandbox};

const SIEVE_INPUT: &str = "5000000";
const TILE_INPUT: &str = "256 192 256";

/// The module with a custom section appended: still valid, but a new hash, so not cached.
fn fresh_copy(wasm: &[u8], n: u64) -> Vec<u8> {
    let name = b"fog-bench";
    let payload = n.to_le_bytes();
    let mut bytes = wasm.to_vec();
    bytes.push(0);
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&payload);
    bytes
}

fn modules(c: &mut Criterion) {
    let sandbox = Sandbox::new().unwrap();
    let sieve = example("sieve").unwrap().wasm;
    let mut n = 0;
    c.bench_function("module/compile_cold_sieve", |b| {
        b.iter(|| {
            n += 1;
            sandbox.load(&fresh_copy(sieve, n)).unwrap()
        })
    });
    let empty = sandbox.load(br#"(module (memory (export "memory") 1) (func (export "_start")))"#).unwrap();
    let control = Arc::new(JobControl::default());
    c.bench_function("module/cached_instantiate_and_run_empty", |b| {
        b.iter(|| sandbox.run(&empty, b"", &JobLimits::default(), &control))
    });
}

/// Runs `name` in the sandbox and returns the run's wall time.
fn sandboxed(sandbox: &Sandbox, name: &str, input: &str) -> Duration {
    let module = sandbox.load(example(name).unwrap().wasm).unwrap();
    let report = sandbox.run(&module, input.as_bytes(), &JobLimits::default(), &Arc::default());
    assert_eq!(report.end, RunEnd::Exited { code: 0 });
    report.wall
}

fn kernels(c: &mut Criterion) {
    let sandbox = Sandbox::new().unwrap();
    let tile = fog_jobs::parse_tile_input(TILE_INPUT).unwrap();
    let limit = fog_jobs::parse_sieve_input(SIEVE_INPUT).unwrap();
    let mut group = c.benchmark_group("kernels");
    group.sample_size(20);
    group.bench_function("sieve_native", |b| b.iter(|| fog_jobs::sieve(black_box(limit))));
    group.bench_function("sieve_sandbox", |b| b.iter(|| sandboxed(&sandbox, "sieve", SIEVE_INPUT)));
    group.bench_function("mandelbrot_native", |b| b.iter(|| fog_jobs::mandelbrot(black_box(&tile))));
    group.bench_function("mandelbrot_sandbox", |b| b.iter(|| sandboxed(&sandbox, "mandelbrot", TILE_INPUT)));
    group.finish();

    // Side by side in one run, so machine load affects both alike.
    let median = |mut f: Box<dyn FnMut() -> Duration>| {
        let mut times: Vec<Duration> = (0..15).map(|_| f()).collect();
        times.sort();
        times[times.len() / 2]
    };
    let timed = |f: Box<dyn Fn()>| -> Box<dyn FnMut() -> Duration> {
        Box::new(move || {
            let start = Instant::now();
            f();
            start.elapsed()
        })
    };
    let sieve_native = median(timed(Box::new(move || {
        black_box(fog_jobs::sieve(black_box(limit)));
    })));
    let sieve_sandbox = median(Box::new(|| sandboxed(&sandbox, "sieve", SIEVE_INPUT)));
    let tile_native = median(timed(Box::new(move || {
        black_box(fog_jobs::mandelbrot(black_box(&tile)));
    })));
    let tile_sandbox = median(Box::new(|| sandboxed(&sandbox, "mandelbrot", TILE_INPUT)));
    println!(
        "sandbox/native throughput: sieve({SIEVE_INPUT}) {:.2} ({sieve_native:?} native, {sieve_sandbox:?} sandboxed); \
         mandelbrot({TILE_INPUT}) {:.2} ({tile_native:?} native, {tile_sandbox:?} sandboxed)",
        sieve_native.as_secs_f64() / sieve_sandbox.as_secs_f64(),
        tile_native.as_secs_f64() / tile_sandbox.as_secs_f64(),
    );
}

fn policy(c: &mut Criterion) {
    let (device, settings, now) = fog_idle::bench::policy_case();
    let mut memory = PolicyMemory::default();
    c.bench_function("policy/decide", |b| b.iter(|| decide(black_box(&device), &settings, now, &mut memory)));
}

criterion_group!(benches, modules, kernels, policy);
criterion_main!(benches);
