//! The harvester service: samples the device every second, asks the policy, and runs donated
//! jobs in the sandbox within what the policy allows. When the policy turns to "pause" (the
//! user is back, the laptop was unplugged), running jobs stop at their next epoch tick and go
//! back to the front of the queue, to start again from the beginning when the policy allows.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fog_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::device::DeviceState;
use crate::examples;
use crate::history;
use crate::jobs::{JobId, JobRecord, JobState, JobView, Totals};
use crate::policy::{decide, Decision, HarvestSettings, LocalTime, Mode, PolicyMemory, Rule, SettingsError};
use crate::probe::Probes;
use crate::sandbox::{JobControl, JobLimits, ModuleError, RunEnd, RunReport, Sandbox, StopReason};

/// Largest job input accepted.
pub const MAX_INPUT_BYTES: usize = 16 << 20;
/// Device history kept in memory for the page (one point per sample).
pub const HISTORY_POINTS: usize = 600;
/// One device sample a minute goes to SQLite.
const PERSIST_SAMPLE_EVERY_MS: i64 = 60_000;
/// Finished jobs listed in the stats.
const RECENT_JOBS: u32 = 20;

#[derive(Debug, Clone)]
pub struct HarvesterConfig {
    pub sample_interval: Duration,
    /// Queued jobs accepted before new ones are refused.
    pub max_queued: usize,
}

impl Default for HarvesterConfig {
    fn default() -> Self {
        HarvesterConfig { sample_interval: Duration::from_secs(1), max_queued: 1000 }
    }
}

/// A job to run here.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub label: String,
    /// "local", or the peer that offered it.
    pub origin: String,
    pub module: Vec<u8>,
    pub input: Vec<u8>,
    pub limits: JobLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Module(#[from] ModuleError),
    #[error("{0}")]
    Limits(String),
    /// The policy or the queue does not allow more work now (offers only).
    #[error("refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("no job {0}")]
    NotFound(u64),
    #[error("job {0} has already finished")]
    Finished(u64),
    #[error("job {0} has not finished; its output comes when it does")]
    NotFinished(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Something the dashboard and the event log should hear about.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IdleEvent {
    DecisionChanged { mode: Mode, rule: Rule, reason: String },
    JobQueued { id: u64, label: String, origin: String },
    JobStarted { id: u64, label: String, attempt: u32 },
    JobPreempted { id: u64, label: String, reason: String },
    JobFinished { job: Box<JobView> },
}

/// One point of the device history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct HistoryPoint {
    #[ts(type = "number")]
    pub at_ms: i64,
    pub cpu_load_pct: Option<f64>,
    pub other_cpu_pct: Option<f64>,
    pub temperature_c: Option<f64>,
    pub battery_pct: Option<f64>,
    pub mode: Mode,
    pub running_jobs: u32,
}

/// What this node offers the mesh right now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Capacity {
    pub mode: Mode,
    pub reason: String,
    /// Cores the policy allows now, and how many of them are free.
    pub cores: u32,
    pub free_cores: u32,
    pub cpu_pct: u32,
    /// Memory the policy allows jobs now, minus what running jobs reserved.
    #[ts(type = "number | null")]
    pub free_memory_bytes: Option<u64>,
    /// Instructions (fuel) per second on one core, from a short calibration run.
    pub speed_fuel_per_sec: Option<f64>,
    pub price_per_gigafuel: f64,
    pub running_jobs: u32,
    pub queued_jobs: u32,
    #[ts(type = "number")]
    pub at_ms: i64,
}

/// Everything the Idle page shows.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct HarvestStats {
    pub device: Option<DeviceState>,
    pub decision: Decision,
    pub running: Vec<JobView>,
    pub queued: Vec<JobView>,
    pub recent: Vec<JobView>,
    pub totals: Totals,
    pub capacity: Capacity,
    pub history: Vec<HistoryPoint>,
}

pub struct Harvester {
    inner: Arc<Inner>,
    sampler: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    sandbox: Sandbox,
    store: Arc<Store>,
    config: HarvesterConfig,
    state: Mutex<State>,
    /// Signalled when a job thread ends, so `stop` can wait for them.
    job_ended: Condvar,
    events: broadcast::Sender<IdleEvent>,
    stopping: AtomicBool,
    wake_sampler: (Mutex<bool>, Condvar),
}

struct State {
    settings: HarvestSettings,
    device: Option<DeviceState>,
    decision: Decision,
    memory: PolicyMemory,
    queue: VecDeque<JobId>,
    active: BTreeMap<JobId, Active>,
    history: VecDeque<HistoryPoint>,
    totals: Totals,
    speed_fuel_per_sec: Option<f64>,
    calibrating: bool,
    last_persisted_sample_ms: i64,
}

struct Active {
    record: JobRecord,
    /// Set while running.
    control: Option<Arc<JobControl>>,
    started: Option<Instant>,
}

fn not_sampled_yet() -> Decision {
    Decision {
        mode: Mode::Pause,
        rule: Rule::Disabled,
        reason: "paused: starting, the device has not been sampled yet".into(),
        in_use: false,
        cores: 0,
        cpu_pct: 0,
        ram_bytes: Some(0),
    }
}

impl Harvester {
    /// Loads settings and unfinished jobs from the store and starts sampling.
    pub fn start(store: Arc<Store>, probes: Probes, config: HarvesterConfig) -> Result<Harvester, String> {
        let sandbox = Sandbox::new()?;
        let settings = history::load_settings(&store).map_err(|e| e.to_string())?.unwrap_or_default();
        let totals = history::totals(&store).map_err(|e| e.to_string())?;
        let mut active = BTreeMap::new();
        let mut queue = VecDeque::new();
        for mut record in history::unfinished_jobs(&store).map_err(|e| e.to_string())? {
            // A job that was running when the node stopped starts again from the beginning.
            if record.state == JobState::Running {
                record.state = JobState::Queued;
                history::update_job(&store, &record).map_err(|e| e.to_string())?;
            }
            queue.push_back(record.id);
            active.insert(record.id, Active { record, control: None, started: None });
        }
        let (events, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            sandbox,
            store,
            config,
            state: Mutex::new(State {
                settings,
                device: None,
                decision: not_sampled_yet(),
                memory: PolicyMemory::default(),
                queue,
                active,
                history: VecDeque::new(),
                totals,
                speed_fuel_per_sec: None,
                calibrating: false,
                last_persisted_sample_ms: 0,
            }),
            job_ended: Condvar::new(),
            events,
            stopping: AtomicBool::new(false),
            wake_sampler: (Mutex::new(false), Condvar::new()),
        });
        let sampler = {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("fog-idle-sampler".into())
                .spawn(move || inner.sample_loop(probes))
                .map_err(|e| format!("cannot start the idle sampler: {e}"))?
        };
        Ok(Harvester { inner, sampler: Mutex::new(Some(sampler)) })
    }

    pub fn events(&self) -> broadcast::Receiver<IdleEvent> {
        self.inner.events.subscribe()
    }

    pub fn settings(&self) -> HarvestSettings {
        self.inner.lock().settings.clone()
    }

    /// Validates, stores and applies new settings at once.
    pub fn set_settings(&self, settings: HarvestSettings) -> Result<HarvestSettings, SettingsUpdateError> {
        settings.validate()?;
        history::save_settings(&self.inner.store, &settings)?;
        {
            let mut state = self.inner.lock();
            state.settings = settings.clone();
        }
        self.inner.wake_sampler();
        Ok(settings)
    }

    /// Queues a job from this machine's user: it waits for the policy if it must.
    pub fn submit(&self, request: JobRequest) -> Result<JobView, SubmitError> {
        self.inner.enqueue(request, false)
    }

    /// A job offered by another node: refused unless the policy allows computing now.
    pub fn offer(&self, request: JobRequest) -> Result<JobView, SubmitError> {
        self.inner.enqueue(request, true)
    }

    /// Whether the sandbox would run this module (compiling it, so a later run starts at once).
    pub fn check_module(&self, module: &[u8]) -> Result<(), ModuleError> {
        self.inner.sandbox.load(module).map(|_| ())
    }

    pub fn job(&self, id: u64) -> Result<JobView, JobError> {
        if let Some(active) = self.inner.lock().active.get(&JobId(id)) {
            return Ok(JobView::from(&active.record));
        }
        history::job(&self.inner.store, JobId(id))?.map(|r| JobView::from(&r)).ok_or(JobError::NotFound(id))
    }

    /// The job's whole stdout (the view only carries short text output).
    pub fn job_output(&self, id: u64) -> Result<Vec<u8>, JobError> {
        if self.inner.lock().active.contains_key(&JobId(id)) {
            return Err(JobError::NotFinished(id));
        }
        history::job(&self.inner.store, JobId(id))?.map(|r| r.stdout).ok_or(JobError::NotFound(id))
    }

    pub fn cancel(&self, id: u64) -> Result<JobView, JobError> {
        let job = JobId(id);
        let mut state = self.inner.lock();
        let Some(active) = state.active.get(&job) else {
            return match history::job(&self.inner.store, job)? {
                Some(_) => Err(JobError::Finished(id)),
                None => Err(JobError::NotFound(id)),
            };
        };
        if let Some(control) = &active.control {
            // The job thread records the end when the sandbox stops it.
            control.cancel();
            return Ok(JobView::from(&active.record));
        }
        state.queue.retain(|queued| *queued != job);
        let mut active = state.active.remove(&job).expect("checked above");
        active.record.state = JobState::Cancelled;
        active.record.finished_ms = Some(fog_store::now_ms());
        history::update_job(&self.inner.store, &active.record)?;
        let view = JobView::from(&active.record);
        drop(state);
        let _ = self.inner.events.send(IdleEvent::JobFinished { job: Box::new(view.clone()) });
        Ok(view)
    }

    pub fn capacity(&self) -> Capacity {
        self.inner.lock().capacity()
    }

    pub fn stats(&self) -> Result<HarvestStats, StoreError> {
        let recent = history::recent_jobs(&self.inner.store, RECENT_JOBS)?;
        let state = self.inner.lock();
        Ok(HarvestStats {
            device: state.device.clone(),
            decision: state.decision.clone(),
            running: state.active.values().filter(|a| a.control.is_some()).map(|a| JobView::from(&a.record)).collect(),
            queued: state
                .queue
                .iter()
                .filter_map(|id| state.active.get(id))
                .map(|a| JobView::from(&a.record))
                .collect(),
            recent: recent.iter().map(JobView::from).collect(),
            totals: state.totals.clone(),
            capacity: state.capacity(),
            history: state.history.iter().cloned().collect(),
        })
    }

    /// Stops sampling and stops running jobs at their next tick; they stay queued in the store
    /// and start again from the beginning at the next start.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.wake_sampler();
        if let Some(sampler) = self.sampler.lock().expect("sampler").take() {
            let _ = sampler.join();
        }
        let mut state = self.inner.lock();
        for active in state.active.values() {
            if let Some(control) = &active.control {
                control.pause();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while state.active.values().any(|a| a.control.is_some()) && Instant::now() < deadline {
            state = self.inner.job_ended.wait_timeout(state, Duration::from_millis(50)).expect("state").0;
        }
    }
}

impl Drop for Harvester {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsUpdateError {
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn validate_limits(limits: &JobLimits, input: &[u8]) -> Result<(), String> {
    const MIB: u64 = 1 << 20;
    if !(MIB..=16 * 1024 * MIB).contains(&limits.memory_bytes) {
        return Err(format!("memory_bytes must be 1 MiB to 16 GiB, got {}", limits.memory_bytes));
    }
    if !(1..=1_000_000_000_000_000).contains(&limits.fuel) {
        return Err(format!("fuel must be 1 to 10^15, got {}", limits.fuel));
    }
    if !(1..=24 * 3600 * 1000).contains(&limits.timeout_ms) {
        return Err(format!("timeout_ms must be 1 ms to 24 h, got {}", limits.timeout_ms));
    }
    if limits.output_bytes > 64 * MIB {
        return Err(format!("output_bytes must be at most 64 MiB, got {}", limits.output_bytes));
    }
    if input.len() > MAX_INPUT_BYTES {
        return Err(format!("the input is {} bytes; the limit is {MAX_INPUT_BYTES}", input.len()));
    }
    Ok(())
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("harvester state")
    }

    fn wake_sampler(&self) {
        let (flag, cvar) = &self.wake_sampler;
        *flag.lock().expect("wake flag") = true;
        cvar.notify_all();
    }

    fn enqueue(self: &Arc<Self>, request: JobRequest, refuse_when_busy: bool) -> Result<JobView, SubmitError> {
        validate_limits(&request.limits, &request.input).map_err(SubmitError::Limits)?;
        if request.label.is_empty() || request.label.len() > 100 {
            return Err(SubmitError::Limits("the label must be 1 to 100 characters".into()));
        }
        let module = self.sandbox.load(&request.module)?;
        {
            let state = self.lock();
            if state.queue.len() >= self.config.max_queued {
                return Err(SubmitError::Refused(format!("{} jobs are already queued", state.queue.len())));
            }
            if refuse_when_busy {
                if state.decision.mode == Mode::Pause {
                    return Err(SubmitError::Refused(state.decision.reason.clone()));
                }
                if let Some(free) = state.capacity().free_memory_bytes {
                    if request.limits.memory_bytes > free {
                        return Err(SubmitError::Refused(format!(
                            "the job needs {} MiB; {} MiB are free for jobs now",
                            request.limits.memory_bytes >> 20,
                            free >> 20
                        )));
                    }
                }
            }
        }
        let now = fog_store::now_ms();
        let id = history::insert_job(&self.store, &request, &module.hash(), now)?;
        let record = JobRecord {
            id,
            label: request.label.clone(),
            origin: request.origin.clone(),
            module_hash: module.hash(),
            input_bytes: request.input.len() as u64,
            limits: request.limits,
            state: JobState::Queued,
            attempts: 0,
            preemptions: 0,
            submitted_ms: now,
            started_ms: None,
            finished_ms: None,
            end: None,
            stdout: Vec::new(),
            output_bytes: 0,
            stderr: Vec::new(),
            fuel_used: 0,
            cpu_ms: 0,
            wall_ms: 0,
            peak_memory_bytes: 0,
        };
        let view = JobView::from(&record);
        {
            let mut state = self.lock();
            state.active.insert(id, Active { record, control: None, started: None });
            state.queue.push_back(id);
        }
        let _ = self.events.send(IdleEvent::JobQueued { id: id.0, label: request.label, origin: request.origin });
        self.dispatch();
        Ok(view)
    }

    fn sample_loop(self: Arc<Self>, mut probes: Probes) {
        while !self.stopping.load(Ordering::SeqCst) {
            let device = probes.sample();
            self.apply_sample(device);
            let (flag, cvar) = &self.wake_sampler;
            let mut woken = flag.lock().expect("wake flag");
            if !*woken {
                woken = cvar.wait_timeout(woken, self.config.sample_interval).expect("wake flag").0;
            }
            *woken = false;
        }
    }

    fn apply_sample(self: &Arc<Self>, device: DeviceState) {
        let persist = {
            let mut state = self.lock();
            let state = &mut *state;
            let decision = decide(&device, &state.settings, local_time(), &mut state.memory);
            let changed = (decision.mode, decision.rule) != (state.decision.mode, state.decision.rule);
            state.decision = decision.clone();
            let running = state.active.values().filter(|a| a.control.is_some()).count() as u32;
            state.history.push_back(HistoryPoint {
                at_ms: device.at_ms,
                cpu_load_pct: device.cpu_load_pct.known(),
                other_cpu_pct: device.other_cpu_pct.known(),
                temperature_c: device.temperature_c.known(),
                battery_pct: device.battery_pct.known(),
                mode: decision.mode,
                running_jobs: running,
            });
            while state.history.len() > HISTORY_POINTS {
                state.history.pop_front();
            }
            let persist = device.at_ms - state.last_persisted_sample_ms >= PERSIST_SAMPLE_EVERY_MS;
            if persist {
                state.last_persisted_sample_ms = device.at_ms;
            }
            state.device = Some(device.clone());
            if changed {
                let _ = self.events.send(IdleEvent::DecisionChanged {
                    mode: decision.mode,
                    rule: decision.rule,
                    reason: decision.reason.clone(),
                });
            }
            enforce(state);
            persist
        };
        if persist {
            if let Err(e) = history::record_sample(&self.store, &device) {
                tracing::warn!("cannot store the device sample: {e}");
            }
        }
        self.dispatch();
    }

    /// Starts queued jobs while the policy leaves room for them.
    fn dispatch(self: &Arc<Self>) {
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut state = self.lock();
        if state.decision.mode == Mode::Pause {
            return;
        }
        if state.speed_fuel_per_sec.is_none() && !state.calibrating {
            state.calibrating = true;
            let inner = self.clone();
            std::thread::Builder::new()
                .name("fog-idle-calibrate".into())
                .spawn(move || inner.calibrate())
                .expect("spawn the calibration thread");
        }
        loop {
            let running: Vec<&Active> = state.active.values().filter(|a| a.control.is_some()).collect();
            if running.len() as u32 >= state.decision.cores {
                return;
            }
            let reserved: u64 = running.iter().map(|a| a.record.limits.memory_bytes).sum();
            let budget = state.decision.ram_bytes;
            // The first job that fits the memory left, in queue order.
            let next = state.queue.iter().position(|id| {
                let need = state.active.get(id).map(|a| a.record.limits.memory_bytes).unwrap_or(0);
                budget.is_none_or(|b| reserved + need <= b)
            });
            let Some(index) = next else { return };
            let id = state.queue.remove(index).expect("position is in range");
            let control = Arc::new(JobControl::default());
            control.set_cpu_pct(state.decision.cpu_pct);
            let active = state.active.get_mut(&id).expect("queued jobs are active");
            active.control = Some(control.clone());
            active.started = Some(Instant::now());
            active.record.state = JobState::Running;
            active.record.attempts += 1;
            active.record.started_ms = Some(fog_store::now_ms());
            let record = active.record.clone();
            if let Err(e) = history::update_job(&self.store, &record) {
                tracing::warn!("cannot store job {}: {e}", id.0);
            }
            let _ = self.events.send(IdleEvent::JobStarted {
                id: id.0,
                label: record.label.clone(),
                attempt: record.attempts,
            });
            let inner = self.clone();
            std::thread::Builder::new()
                .name(format!("fog-job-{}", id.0))
                .spawn(move || inner.run_job(id, control))
                .expect("spawn a job thread");
        }
    }

    fn run_job(self: Arc<Self>, id: JobId, control: Arc<JobControl>) {
        let report = match history::job_code(&self.store, id) {
            Ok(Some(code)) => match self.sandbox.load(&code.module) {
                Ok(module) => {
                    let limits = self.lock().active.get(&id).map(|a| a.record.limits.clone()).unwrap_or_default();
                    self.sandbox.run(&module, &code.input, &limits, &control)
                }
                Err(e) => failed_before_start(e.to_string()),
            },
            Ok(None) => failed_before_start("its module is missing from the store".into()),
            Err(e) => failed_before_start(format!("cannot read it from the store: {e}")),
        };
        self.finish_job(id, report);
        self.dispatch();
    }

    fn finish_job(&self, id: JobId, report: RunReport) {
        let mut state = self.lock();
        let stopping = self.stopping.load(Ordering::SeqCst);
        let Some(mut active) = state.active.remove(&id) else { return };
        active.control = None;
        active.started = None;
        let record = &mut active.record;
        record.fuel_used += report.fuel_used;
        record.cpu_ms += report.cpu.as_millis() as u64;
        record.wall_ms += report.wall.as_millis() as u64;
        record.peak_memory_bytes = record.peak_memory_bytes.max(report.peak_memory_bytes);
        state.totals.fuel += report.fuel_used;
        state.totals.cpu_seconds += report.cpu.as_secs_f64();
        state.totals.since_ms.get_or_insert(record.submitted_ms);
        let event = if report.end == (RunEnd::Stopped { reason: StopReason::Paused }) {
            record.state = JobState::Queued;
            // Stopping the node is not a preemption: the job simply resumes at the next start.
            let reason = if stopping {
                "the node is stopping".to_string()
            } else {
                record.preemptions += 1;
                state.totals.jobs_preempted += 1;
                state.decision.reason.clone()
            };
            state.queue.push_front(id);
            IdleEvent::JobPreempted { id: id.0, label: record.label.clone(), reason }
        } else {
            record.state = match report.end {
                RunEnd::Exited { code: 0 } => JobState::Completed,
                RunEnd::Stopped { reason: StopReason::Cancelled } => JobState::Cancelled,
                _ => JobState::Failed,
            };
            match record.state {
                JobState::Completed => state.totals.jobs_completed += 1,
                JobState::Failed => state.totals.jobs_failed += 1,
                _ => {}
            }
            record.end = Some(report.end);
            record.finished_ms = Some(fog_store::now_ms());
            record.output_bytes = report.stdout.len() as u64;
            record.stdout = report.stdout;
            record.stderr = report.stderr;
            IdleEvent::JobFinished { job: Box::new(JobView::from(&*record)) }
        };
        if let Err(e) = history::update_job(&self.store, &active.record) {
            tracing::warn!("cannot store job {}: {e}", id.0);
        }
        if !active.record.state.is_finished() {
            state.active.insert(id, active);
        }
        self.job_ended.notify_all();
        drop(state);
        let _ = self.events.send(event);
    }

    /// Measures instructions per second on one core with the sieve example.
    fn calibrate(&self) {
        let speed = examples::example("sieve")
            .ok_or_else(|| "the sieve example is missing".to_string())
            .and_then(|sieve| self.sandbox.load(sieve.wasm).map_err(|e| e.to_string()))
            .map(|module| self.sandbox.run(&module, b"20000000", &JobLimits::default(), &Arc::default()))
            .and_then(|report| match report.end {
                RunEnd::Exited { code: 0 } if report.cpu > Duration::ZERO => {
                    Ok(report.fuel_used as f64 / report.cpu.as_secs_f64())
                }
                end => Err(format!("the calibration run ended with {end:?}")),
            });
        let mut state = self.lock();
        match speed {
            Ok(speed) => state.speed_fuel_per_sec = Some(speed),
            Err(e) => tracing::warn!("cannot calibrate the sandbox speed: {e}"),
        }
    }
}

fn failed_before_start(message: String) -> RunReport {
    RunReport {
        end: RunEnd::Stopped { reason: StopReason::Trap(message) },
        stdout: Vec::new(),
        stderr: Vec::new(),
        fuel_used: 0,
        wall: Duration::ZERO,
        cpu: Duration::ZERO,
        peak_memory_bytes: 0,
    }
}

/// Makes the running jobs obey the current decision: all pause when it says pause; the
/// most recently started pause first when there are more than the allowed cores or memory;
/// every job gets the duty cycle.
fn enforce(state: &mut State) {
    let decision = &state.decision;
    let mut running: Vec<&Active> = state.active.values().filter(|a| a.control.is_some()).collect();
    running.sort_by_key(|a| a.started);
    let mut reserved = 0u64;
    for (i, active) in running.iter().enumerate() {
        let control = active.control.as_ref().expect("running");
        reserved += active.record.limits.memory_bytes;
        let over_memory = decision.ram_bytes.is_some_and(|budget| reserved > budget);
        if decision.mode == Mode::Pause || i as u32 >= decision.cores || over_memory {
            control.pause();
        } else {
            control.set_cpu_pct(decision.cpu_pct);
        }
    }
}

impl State {
    fn capacity(&self) -> Capacity {
        let running: Vec<&Active> = self.active.values().filter(|a| a.control.is_some()).collect();
        let reserved: u64 = running.iter().map(|a| a.record.limits.memory_bytes).sum();
        Capacity {
            mode: self.decision.mode,
            reason: self.decision.reason.clone(),
            cores: self.decision.cores,
            free_cores: self.decision.cores.saturating_sub(running.len() as u32),
            cpu_pct: self.decision.cpu_pct,
            free_memory_bytes: self.decision.ram_bytes.map(|b| b.saturating_sub(reserved)),
            speed_fuel_per_sec: self.speed_fuel_per_sec,
            price_per_gigafuel: self.settings.price_per_gigafuel,
            running_jobs: running.len() as u32,
            queued_jobs: self.queue.len() as u32,
            at_ms: self.device.as_ref().map(|d| d.at_ms).unwrap_or_else(fog_store::now_ms),
        }
    }
}

/// This machine's local weekday and minute, for the donation windows.
pub fn local_time() -> LocalTime {
    // SAFETY: time(NULL) only returns the time; localtime_r only writes the struct we pass,
    // which is plain data and valid when zeroed.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = !unsafe { libc::localtime_r(&now, &mut tm) }.is_null();
    if !ok {
        return LocalTime { weekday: 0, minute_of_day: 0 };
    }
    LocalTime { weekday: ((tm.tm_wday + 6) % 7) as u8, minute_of_day: (tm.tm_hour * 60 + tm.tm_min) as u16 }
}

#[cfg(test)]
mod tests;
