//! The sandbox benchmark the dashboard and `fog bench sandbox` run: compiling a job module cold
//! and running a cached one, the example kernels sandboxed against the same Rust code compiled
//! into this binary, and harvest-policy decisions. A short, in-process version of
//! `benches/idle.rs` (which has criterion's statistics).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::device::{DeviceState, PowerSource, Reading};
use crate::examples::example;
use crate::policy::{decide, HarvestSettings, LocalTime, PolicyMemory};
use crate::sandbox::{JobLimits, RunEnd, Sandbox};

/// One measured figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// What it is measured against, when there is a goal.
    pub goal: Option<String>,
}

fn figure(name: &str, value: f64, unit: &str, goal: Option<&str>) -> Figure {
    Figure { name: name.into(), value, unit: unit.into(), goal: goal.map(str::to_string) }
}

const SIEVE_INPUT: &str = "5000000";
const TILE_INPUT: &str = "256 192 256";
const ROUNDS: usize = 5;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn timed(mut f: impl FnMut()) -> Duration {
    median(
        (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

pub fn sandbox() -> Result<Vec<Figure>, String> {
    let sandbox = Sandbox::new()?;
    let sieve = example("sieve").ok_or("the sieve example is missing")?.wasm;
    // A custom section changes the module's hash, so each load compiles afresh.
    let mut n = 0u8;
    let cold = timed(|| {
        n += 1;
        let mut bytes = sieve.to_vec();
        bytes.extend_from_slice(&[0, 3, 1, b'x', n]);
        black_box(sandbox.load(&bytes).expect("the sieve example loads"));
    });
    let empty = sandbox
        .load(br#"(module (memory (export "memory") 1) (func (export "_start")))"#)
        .map_err(|e| e.to_string())?;
    let control = Arc::default();
    let instantiate = median(
        (0..200)
            .map(|_| {
                let start = Instant::now();
                black_box(sandbox.run(&empty, b"", &JobLimits::default(), &control));
                start.elapsed()
            })
            .collect(),
    );
    let run = |name: &str, input: &str| -> Result<Duration, String> {
        let module = sandbox.load(example(name).ok_or("missing example")?.wasm).map_err(|e| e.to_string())?;
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let report = sandbox.run(&module, input.as_bytes(), &JobLimits::default(), &Arc::default());
            if report.end != (RunEnd::Exited { code: 0 }) {
                return Err(format!("{name} ended with {:?}", report.end));
            }
            times.push(report.wall);
        }
        Ok(median(times))
    };
    let limit = fog_jobs::parse_sieve_input(SIEVE_INPUT).map_err(|e| e.0)?;
    let tile = fog_jobs::parse_tile_input(TILE_INPUT).map_err(|e| e.0)?;
    let sieve_native = timed(|| {
        black_box(fog_jobs::sieve(black_box(limit)));
    });
    let sieve_sandboxed = run("sieve", SIEVE_INPUT)?;
    let tile_native = timed(|| {
        black_box(fog_jobs::mandelbrot(black_box(&tile)));
    });
    let tile_sandboxed = run("mandelbrot", TILE_INPUT)?;
    let decisions = policy_decisions_per_second();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(vec![
        figure("compile the sieve module (cold)", ms(cold), "ms", None),
        figure("instantiate and run a cached empty module", instantiate.as_secs_f64() * 1e6, "µs", None),
        figure("sieve(5000000) native", ms(sieve_native), "ms", None),
        figure("sieve(5000000) sandboxed", ms(sieve_sandboxed), "ms", None),
        figure(
            "sieve: sandbox / native throughput",
            sieve_native.as_secs_f64() / sieve_sandboxed.as_secs_f64(),
            "×",
            Some("≥ 0.5"),
        ),
        figure("mandelbrot 256×192 native", ms(tile_native), "ms", None),
        figure("mandelbrot 256×192 sandboxed", ms(tile_sandboxed), "ms", None),
        figure(
            "mandelbrot: sandbox / native throughput",
            tile_native.as_secs_f64() / tile_sandboxed.as_secs_f64(),
            "×",
            Some("≥ 0.5"),
        ),
        figure("harvest-policy decisions", decisions, "per s", None),
    ])
}

/// A laptop on battery, idle for a while, that the policy lets run: the case benchmarks time.
pub fn policy_case() -> (DeviceState, HarvestSettings, LocalTime) {
    let device = DeviceState {
        at_ms: 0,
        power: Reading::Known(PowerSource::Battery),
        battery_pct: Reading::Known(70.0),
        charging: Reading::Known(false),
        user_idle_secs: Reading::Known(400.0),
        cpu_load_pct: Reading::Known(12.0),
        other_cpu_pct: Reading::Known(10.0),
        temperature_c: Reading::Known(60.0),
        memory_total_bytes: Reading::Known(16 << 30),
        memory_available_bytes: Reading::Known(8 << 30),
        cores: 8,
    };
    let settings = HarvestSettings { run_on_batteries: true, ..Default::default() };
    (device, settings, LocalTime { weekday: 2, minute_of_day: 600 })
}

fn policy_decisions_per_second() -> f64 {
    let (device, settings, now) = policy_case();
    let mut memory = PolicyMemory::default();
    let n = 100_000;
    let start = Instant::now();
    for _ in 0..n {
        black_box(decide(black_box(&device), &settings, now, &mut memory));
    }
    n as f64 / start.elapsed().as_secs_f64()
}
