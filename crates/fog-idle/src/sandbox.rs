//! The WebAssembly sandbox donated jobs run in (wasmtime).
//!
//! A job is a WASI preview 1 command: it gets its input on stdin and writes its result to
//! stdout. It gets nothing else: no files, no network, no environment, one argument (its name),
//! clocks frozen at the Unix epoch and deterministic random bytes derived from the module and
//! its input, so a run can be repeated and checked. Every run is bounded four ways:
//!
//! * **memory**: linear memory may not grow past the job's cap (a store limiter);
//! * **fuel**: wasmtime counts executed instructions; fuel is also the unit of work that is
//!   accounted and advertised, because it is the same on every machine;
//! * **time**: an epoch ticker interrupts the job every [`TICK`]; at each tick the job is
//!   stopped when its deadline has passed or it was asked to pause or cancel, and put to sleep
//!   for the rest of the period when it is over its CPU duty cycle;
//! * **output**: stdout and stderr are memory pipes with a capacity.
//!
//! Modules are validated (imports only from `wasi_snapshot_preview1`, a `_start` export) and
//! compiled once per SHA-256.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;
use utoipa::ToSchema;
use wasmtime::{Config, Engine, ExternType, Linker, Module, ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::p2::{OutputStream, StreamError};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, I32Exit, WasiCtxBuilder};

/// How often running jobs are interrupted to check their deadline, pause and duty cycle.
pub const TICK: Duration = Duration::from_millis(5);
/// Period of the CPU duty cycle: at 50 % a job runs 50 ms and sleeps 50 ms of every 100 ms.
pub const DUTY_PERIOD: Duration = Duration::from_millis(100);
/// Largest module accepted.
pub const MAX_MODULE_BYTES: usize = 32 << 20;
/// stderr is kept for diagnostics only.
pub const STDERR_BYTES: usize = 64 << 10;
/// Compiled modules kept in memory.
pub const MODULE_CACHE_SIZE: usize = 64;
const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// What one run may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct JobLimits {
    #[ts(type = "number")]
    pub memory_bytes: u64,
    /// Instructions (wasmtime fuel units).
    #[ts(type = "number")]
    pub fuel: u64,
    #[ts(type = "number")]
    pub timeout_ms: u64,
    #[ts(type = "number")]
    pub output_bytes: u64,
}

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits { memory_bytes: 256 << 20, fuel: 200_000_000_000, timeout_ms: 60_000, output_bytes: 16 << 20 }
    }
}

/// Why a run ended before the job exited by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum StopReason {
    /// Its wall-clock deadline passed.
    Deadline,
    FuelExhausted,
    /// It tried to grow its memory past the cap.
    MemoryLimit,
    /// It wrote more than the output cap.
    OutputLimit,
    /// The policy paused it; it starts again from the beginning later.
    Paused,
    Cancelled,
    /// A WebAssembly trap (the job's own bug), with wasmtime's message.
    Trap(String),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Deadline => f.write_str("stopped at its deadline"),
            StopReason::FuelExhausted => f.write_str("ran out of fuel (instruction budget)"),
            StopReason::MemoryLimit => f.write_str("stopped at its memory cap"),
            StopReason::OutputLimit => f.write_str("stopped at its output cap"),
            StopReason::Paused => f.write_str("paused by the harvest policy"),
            StopReason::Cancelled => f.write_str("cancelled"),
            StopReason::Trap(message) => write!(f, "trapped: {message}"),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunEnd {
    /// The job exited; 0 is success.
    Exited {
        code: i32,
    },
    Stopped {
        reason: StopReason,
    },
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunEnd::Exited { code } => write!(f, "exit {code}"),
            RunEnd::Stopped { reason } => reason.fmt(f),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub end: RunEnd,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub fuel_used: u64,
    pub wall: Duration,
    /// CPU time of the thread that ran the job, sleeping not included.
    pub cpu: Duration,
    pub peak_memory_bytes: u64,
}

/// A module that cannot run here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    #[error("the module is {0} bytes; the limit is {MAX_MODULE_BYTES}")]
    TooLarge(usize),
    #[error("not a valid WebAssembly module: {0}")]
    Invalid(String),
    #[error("the module imports {0}, which the sandbox does not provide (only {WASI_MODULE} functions)")]
    ForbiddenImport(String),
    #[error("the module is not a WASI command: it has no `_start` function")]
    NotACommand,
}

/// Shared with whoever supervises a running job: flags are checked at every tick.
#[derive(Debug)]
pub struct JobControl {
    pause: AtomicBool,
    cancel: AtomicBool,
    cpu_pct: AtomicU32,
}

impl Default for JobControl {
    fn default() -> Self {
        JobControl { pause: AtomicBool::new(false), cancel: AtomicBool::new(false), cpu_pct: AtomicU32::new(100) }
    }
}

impl JobControl {
    pub fn pause(&self) {
        self.pause.store(true, Ordering::Relaxed);
    }
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
    /// CPU duty cycle, 1–100 %.
    pub fn set_cpu_pct(&self, pct: u32) {
        self.cpu_pct.store(pct.clamp(1, 100), Ordering::Relaxed);
    }
}

/// A validated, compiled module.
#[derive(Clone)]
pub struct JobModule {
    module: Module,
    hash: [u8; 32],
}

impl JobModule {
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct Sandbox {
    engine: Engine,
    linker: Linker<JobState>,
    modules: Mutex<ModuleCache>,
    ticker: Arc<Ticker>,
}

#[derive(Default)]
struct ModuleCache {
    by_hash: HashMap<[u8; 32], Module>,
    order: VecDeque<[u8; 32]>,
}

/// Drives the engine's epoch while at least one job runs, and sleeps otherwise.
struct Ticker {
    running: AtomicUsize,
    wake: (Mutex<()>, Condvar),
}

impl Sandbox {
    pub fn new() -> Result<Sandbox, String> {
        let mut config = Config::new();
        // Built without wasmtime's "threads" feature: a job cannot start threads that would escape
        // the per-thread accounting.
        config.consume_fuel(true).epoch_interruption(true).max_wasm_stack(1 << 20);
        let engine = Engine::new(&config).map_err(|e| format!("cannot start the WebAssembly engine: {e}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut JobState| &mut state.wasi)
            .map_err(|e| format!("cannot link WASI: {e}"))?;
        let ticker = Arc::new(Ticker { running: AtomicUsize::new(0), wake: (Mutex::new(()), Condvar::new()) });
        spawn_ticker(engine.weak(), Arc::downgrade(&ticker));
        Ok(Sandbox { engine, linker, modules: Mutex::default(), ticker })
    }

    /// Validates and compiles `bytes`, or returns the cached compilation.
    pub fn load(&self, bytes: &[u8]) -> Result<JobModule, ModuleError> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(ModuleError::TooLarge(bytes.len()));
        }
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(module) = self.modules.lock().expect("module cache").by_hash.get(&hash) {
            return Ok(JobModule { module: module.clone(), hash });
        }
        let module = Module::new(&self.engine, bytes).map_err(|e| ModuleError::Invalid(first_line(&e)))?;
        for import in module.imports() {
            if import.module() != WASI_MODULE || !matches!(import.ty(), ExternType::Func(_)) {
                return Err(ModuleError::ForbiddenImport(format!("{}::{}", import.module(), import.name())));
            }
        }
        if !matches!(module.get_export("_start"), Some(ExternType::Func(_))) {
            return Err(ModuleError::NotACommand);
        }
        let mut cache = self.modules.lock().expect("module cache");
        if cache.order.len() >= MODULE_CACHE_SIZE {
            if let Some(oldest) = cache.order.pop_front() {
                cache.by_hash.remove(&oldest);
            }
        }
        cache.order.push_back(hash);
        cache.by_hash.insert(hash, module.clone());
        Ok(JobModule { module, hash })
    }

    /// Runs a job to its end on the calling thread.
    pub fn run(&self, job: &JobModule, input: &[u8], limits: &JobLimits, control: &Arc<JobControl>) -> RunReport {
        let started = Instant::now();
        let cpu_start = thread_cpu_time();
        let stdout = MemoryOutputPipe::new(usize::try_from(limits.output_bytes).unwrap_or(usize::MAX));
        let stderr = MemoryOutputPipe::new(STDERR_BYTES);
        let mut seed = Sha256::new();
        seed.update(job.hash);
        seed.update(input);
        let seed: [u8; 32] = seed.finalize().into();
        let wasi = WasiCtxBuilder::new()
            .stdin(MemoryInputPipe::new(input.to_vec()))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .arg("job")
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()))
            .insecure_random_seed(u128::from_le_bytes(seed[..16].try_into().expect("16 bytes")))
            .build_p1();
        let state = JobState {
            wasi,
            limiter: JobLimiter { memory_cap: limits.memory_bytes, hit_cap: false, peak: 0 },
            control: control.clone(),
            stdout: stdout.clone(),
            deadline: started + Duration::from_millis(limits.timeout_ms),
            duty_window_start: Instant::now(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_fuel(limits.fuel).expect("fuel is enabled");
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| ctx.data_mut().on_tick());

        let _running = self.ticker.start();
        let result = self
            .linker
            .instantiate(&mut store, &job.module)
            .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"))
            .and_then(|start| start.call(&mut store, ()));
        let fuel_left = store.get_fuel().unwrap_or(0);
        let state = store.data();
        let stdout = stdout.contents().to_vec();
        let end = match result {
            Ok(()) => RunEnd::Exited { code: 0 },
            Err(e) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    RunEnd::Exited { code: exit.0 }
                } else {
                    let reason = if let Some(stop) = e.downcast_ref::<Stop>() {
                        stop.0.clone()
                    } else if state.limiter.hit_cap {
                        StopReason::MemoryLimit
                    } else if stdout.len() as u64 >= limits.output_bytes {
                        StopReason::OutputLimit
                    } else if e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
                        StopReason::FuelExhausted
                    } else if let Some(trap) = e.downcast_ref::<Trap>() {
                        StopReason::Trap(trap.to_string())
                    } else {
                        StopReason::Trap(first_line(&e.root_cause()))
                    };
                    RunEnd::Stopped { reason }
                }
            }
        };
        RunReport {
            end,
            stdout,
            stderr: stderr.contents().to_vec(),
            fuel_used: limits.fuel.saturating_sub(fuel_left),
            wall: started.elapsed(),
            cpu: thread_cpu_time().saturating_sub(cpu_start),
            peak_memory_bytes: state.limiter.peak,
        }
    }
}

fn first_line(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines().next().unwrap_or_default().to_string()
}

impl Ticker {
    fn start(self: &Arc<Self>) -> TickerGuard {
        self.running.fetch_add(1, Ordering::SeqCst);
        let _lock = self.wake.0.lock().expect("ticker");
        self.wake.1.notify_all();
        TickerGuard(self.clone())
    }
}

struct TickerGuard(Arc<Ticker>);

impl Drop for TickerGuard {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

fn spawn_ticker(engine: wasmtime::EngineWeak, ticker: Weak<Ticker>) {
    std::thread::Builder::new()
        .name("fog-idle-epoch".into())
        .spawn(move || loop {
            let Some(ticker) = ticker.upgrade() else { return };
            if ticker.running.load(Ordering::SeqCst) == 0 {
                let guard = ticker.wake.0.lock().expect("ticker");
                // Re-checked under the lock so a start cannot slip between the check and the wait.
                if ticker.running.load(Ordering::SeqCst) == 0 {
                    let _ = ticker.wake.1.wait_timeout(guard, Duration::from_secs(1));
                }
                continue;
            }
            drop(ticker);
            std::thread::sleep(TICK);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })
        .expect("spawn the epoch ticker");
}

struct JobState {
    wasi: WasiP1Ctx,
    limiter: JobLimiter,
    control: Arc<JobControl>,
    stdout: MemoryOutputPipe,
    deadline: Instant,
    duty_window_start: Instant,
}

/// Carries a [`StopReason`] out of the epoch callback through wasmtime's error.
#[derive(Debug)]
struct Stop(StopReason);

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Stop {}

impl JobState {
    fn on_tick(&mut self) -> wasmtime::Result<UpdateDeadline> {
        self.check()?;
        let pct = self.control.cpu_pct.load(Ordering::Relaxed);
        if pct < 100 {
            let elapsed = self.duty_window_start.elapsed();
            if elapsed >= DUTY_PERIOD * pct / 100 {
                let rest = DUTY_PERIOD.saturating_sub(elapsed);
                // Sleep in ticks so a pause or the deadline is still seen promptly.
                let wake = Instant::now() + rest;
                while Instant::now() < wake {
                    std::thread::sleep(TICK.min(wake.saturating_duration_since(Instant::now())));
                    self.check()?;
                }
                self.duty_window_start = Instant::now();
            }
        } else {
            self.duty_window_start = Instant::now();
        }
        Ok(UpdateDeadline::Continue(1))
    }

    fn check(&mut self) -> wasmtime::Result<()> {
        let stop = if self.control.cancel.load(Ordering::Relaxed) {
            Some(StopReason::Cancelled)
        } else if self.control.pause.load(Ordering::Relaxed) {
            Some(StopReason::Paused)
        } else if Instant::now() >= self.deadline {
            Some(StopReason::Deadline)
        } else if matches!(self.stdout.check_write(), Err(StreamError::Closed)) {
            // A full pipe refuses writes; a job that ignores the error would spin to its deadline.
            Some(StopReason::OutputLimit)
        } else {
            None
        };
        match stop {
            Some(reason) => Err(wasmtime::Error::new(Stop(reason))),
            None => Ok(()),
        }
    }
}

struct JobLimiter {
    memory_cap: u64,
    hit_cap: bool,
    peak: u64,
}

impl ResourceLimiter for JobLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_cap {
            self.hit_cap = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired as u64);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }

    fn instances(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }
}

/// Both WASI clocks read the Unix epoch and never move.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests;
