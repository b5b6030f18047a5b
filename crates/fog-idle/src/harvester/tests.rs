use super::*;
use crate::device::{PowerSource, Reading};
use crate::probe::{
    CpuProbe, CpuReading, IdleProbe, MemoryProbe, MemoryReading, PowerProbe, PowerReading, ThermalProbe,
};

const GIB: u64 = 1 << 30;

/// A device whose readings the test sets; every probe reads from it.
#[derive(Clone)]
struct FakeDevice(Arc<Mutex<DeviceState>>);

impl FakeDevice {
    fn new(cores: u32) -> FakeDevice {
        FakeDevice(Arc::new(Mutex::new(DeviceState {
            at_ms: 0,
            power: Reading::Known(PowerSource::Mains),
            battery_pct: Reading::Known(90.0),
            charging: Reading::Known(true),
            user_idle_secs: Reading::Known(3600.0),
            cpu_load_pct: Reading::Known(1.0),
            other_cpu_pct: Reading::Known(1.0),
            temperature_c: Reading::unknown("no sensor"),
            memory_total_bytes: Reading::Known(16 * GIB),
            memory_available_bytes: Reading::Known(12 * GIB),
            cores,
        })))
    }

    fn unplug(&self) {
        let mut d = self.0.lock().unwrap();
        d.power = Reading::Known(PowerSource::Battery);
        d.charging = Reading::Known(false);
    }

    fn plug_in(&self) {
        let mut d = self.0.lock().unwrap();
        d.power = Reading::Known(PowerSource::Mains);
        d.charging = Reading::Known(true);
    }

    fn probes(&self) -> Probes {
        let cores = self.0.lock().unwrap().cores;
        Probes {
            power: Box::new(self.clone()),
            idle: Box::new(self.clone()),
            cpu: Box::new(self.clone()),
            thermal: Box::new(self.clone()),
            memory: Box::new(self.clone()),
            cores,
        }
    }
}

impl PowerProbe for FakeDevice {
    fn read(&mut self) -> PowerReading {
        let d = self.0.lock().unwrap();
        PowerReading { power: d.power.clone(), battery_pct: d.battery_pct.clone(), charging: d.charging.clone() }
    }
}
impl IdleProbe for FakeDevice {
    fn user_idle_secs(&mut self) -> Reading<f64> {
        self.0.lock().unwrap().user_idle_secs.clone()
    }
}
impl CpuProbe for FakeDevice {
    fn read(&mut self) -> CpuReading {
        let d = self.0.lock().unwrap();
        CpuReading { load_pct: d.cpu_load_pct.clone(), other_pct: d.other_cpu_pct.clone() }
    }
}
impl ThermalProbe for FakeDevice {
    fn hottest_c(&mut self) -> Reading<f64> {
        self.0.lock().unwrap().temperature_c.clone()
    }
}
impl MemoryProbe for FakeDevice {
    fn read(&mut self) -> MemoryReading {
        let d = self.0.lock().unwrap();
        MemoryReading { total_bytes: d.memory_total_bytes.clone(), available_bytes: d.memory_available_bytes.clone() }
    }
}

fn store(dir: &tempfile::TempDir) -> Arc<Store> {
    Arc::new(Store::open(&dir.path().join("fog.db"), history::MIGRATIONS).unwrap())
}

fn start(store: Arc<Store>, device: &FakeDevice) -> Harvester {
    Harvester::start(
        store,
        device.probes(),
        HarvesterConfig { sample_interval: Duration::from_millis(100), max_queued: 100 },
    )
    .unwrap()
}

/// Counts down from `n` and prints "done": about a second per 10⁹ on a laptop core.
fn spin(n: u64) -> Vec<u8> {
    format!(
        r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "done\n")
        (func (export "_start") (local $i i64)
          (local.set $i (i64.const {n}))
          (loop (local.set $i (i64.sub (local.get $i) (i64.const 1))) (br_if 0 (i64.ne (local.get $i) (i64.const 0))))
          (i32.store (i32.const 0) (i32.const 16))
          (i32.store (i32.const 4) (i32.const 5))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#
    )
    .into_bytes()
}

fn request(label: &str, module: Vec<u8>, input: &[u8]) -> JobRequest {
    JobRequest {
        label: label.into(),
        origin: "local".into(),
        module,
        input: input.to_vec(),
        limits: JobLimits { memory_bytes: 64 << 20, ..JobLimits::default() },
    }
}

fn wait_for<T>(
    events: &mut broadcast::Receiver<IdleEvent>,
    within: Duration,
    mut pick: impl FnMut(&IdleEvent) -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match events.try_recv() {
            Ok(event) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
            Err(broadcast::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "no such event within {within:?}");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn an_example_job_runs_and_its_result_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let device = FakeDevice::new(2);
    let harvester = start(store(&dir), &device);
    let mut events = harvester.events();
    let sieve = examples::example("sieve").unwrap();
    let queued = harvester.submit(request("sieve", sieve.wasm.to_vec(), b"100000")).unwrap();
    assert_eq!(queued.state, JobState::Queued);
    let done = wait_for(&mut events, Duration::from_secs(30), |e| match e {
        IdleEvent::JobFinished { job } => Some(job.clone()),
        _ => None,
    });
    assert_eq!(done.state, JobState::Completed, "{done:?}");
    assert_eq!(done.output_text.as_deref(), Some("9592 primes up to 100000; the largest is 99991\n"));
    let stored = harvester.job(queued.id).unwrap();
    assert_eq!((stored.state, stored.attempts), (JobState::Completed, 1));
    assert_eq!(harvester.job_output(queued.id).unwrap(), done.output_text.unwrap().into_bytes());
    let stats = harvester.stats().unwrap();
    assert_eq!(stats.totals.jobs_completed, 1);
    assert_eq!(stats.recent[0].id, queued.id);
    assert_eq!(stats.recent[0].output_text.as_deref(), Some("9592 primes up to 100000; the largest is 99991\n"));
    assert!(stats.totals.fuel > 0);
}

#[test]
fn bad_submissions_are_refused_with_a_reason_and_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let harvester = start(store(&dir), &FakeDevice::new(2));
    let wasm = examples::example("sieve").unwrap().wasm.to_vec();
    let bad_module = harvester.submit(request("x", b"\0asm garbage".to_vec(), b""));
    assert!(matches!(bad_module, Err(SubmitError::Module(ModuleError::Invalid(_)))));
    let mut zero_memory = request("x", wasm.clone(), b"");
    zero_memory.limits.memory_bytes = 0;
    assert!(matches!(harvester.submit(zero_memory), Err(SubmitError::Limits(m)) if m.contains("memory_bytes")));
    let mut absurd = request("x", wasm.clone(), b"");
    absurd.limits.timeout_ms = 365 * 24 * 3600 * 1000;
    assert!(matches!(harvester.submit(absurd), Err(SubmitError::Limits(m)) if m.contains("timeout_ms")));
    assert!(matches!(harvester.submit(request("", wasm, b"")), Err(SubmitError::Limits(_))));
    let stats = harvester.stats().unwrap();
    assert!(stats.queued.is_empty() && stats.recent.is_empty() && stats.running.is_empty());
}

#[test]
fn unplugging_pauses_a_running_job_within_two_seconds_and_it_completes_after_resume() {
    let dir = tempfile::tempdir().unwrap();
    let device = FakeDevice::new(2);
    let store = store(&dir);
    let harvester = Harvester::start(
        store,
        device.probes(),
        HarvesterConfig { sample_interval: Duration::from_secs(1), max_queued: 10 },
    )
    .unwrap();
    let mut events = harvester.events();
    let job = harvester.submit(request("spin", spin(3_000_000_000), b"")).unwrap();
    wait_for(&mut events, Duration::from_secs(10), |e| {
        matches!(e, IdleEvent::JobStarted { id, .. } if *id == job.id).then_some(())
    });
    std::thread::sleep(Duration::from_millis(200));
    let unplugged = Instant::now();
    device.unplug();
    let reason = wait_for(&mut events, Duration::from_secs(3), |e| match e {
        IdleEvent::JobPreempted { id, reason, .. } if *id == job.id => Some(reason.clone()),
        _ => None,
    });
    let paused_after = unplugged.elapsed();
    assert!(paused_after < Duration::from_secs(2), "paused {paused_after:?} after the unplug");
    assert_eq!(reason, "paused: on battery");
    let view = harvester.job(job.id).unwrap();
    assert_eq!((view.state, view.preemptions), (JobState::Queued, 1));
    assert_eq!(harvester.stats().unwrap().decision.reason, "paused: on battery");
    // An offer from the mesh is refused while paused; a local submission waits.
    let offered = harvester.offer(JobRequest { origin: "12D3KooWpeer".into(), ..request("offer", spin(1), b"") });
    assert!(matches!(offered, Err(SubmitError::Refused(r)) if r == "paused: on battery"));

    device.plug_in();
    let done = wait_for(&mut events, Duration::from_secs(60), |e| match e {
        IdleEvent::JobFinished { job: done } if done.id == job.id => Some(done.clone()),
        _ => None,
    });
    assert_eq!((done.state, done.attempts, done.output_text.as_deref()), (JobState::Completed, 2, Some("done\n")));
    assert_eq!(harvester.stats().unwrap().totals.jobs_preempted, 1);
}

#[test]
fn twenty_jobs_never_use_more_than_the_allowed_cores() {
    let dir = tempfile::tempdir().unwrap();
    let device = FakeDevice::new(8);
    let harvester = start(store(&dir), &device);
    harvester.set_settings(HarvestSettings { max_cores_idle: 2, ..Default::default() }).unwrap();
    let mut events = harvester.events();
    for i in 0..20 {
        harvester.submit(request(&format!("spin {i}"), spin(20_000_000), b"")).unwrap();
    }
    let (mut running, mut most, mut finished) = (0i32, 0i32, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    while finished < 20 {
        assert!(Instant::now() < deadline, "only {finished} finished");
        match events.try_recv() {
            Ok(IdleEvent::JobStarted { .. }) => {
                running += 1;
                most = most.max(running);
            }
            Ok(IdleEvent::JobFinished { job }) => {
                assert_eq!(job.state, JobState::Completed);
                running -= 1;
                finished += 1;
            }
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    assert_eq!(most, 2);
    assert_eq!(harvester.stats().unwrap().totals.jobs_completed, 20);
}

#[test]
fn a_restart_resumes_the_queue_and_keeps_settings_and_totals() {
    let dir = tempfile::tempdir().unwrap();
    let device = FakeDevice::new(2);
    device.unplug();
    let store = store(&dir);
    let queued = {
        let harvester = start(store.clone(), &device);
        harvester.set_settings(HarvestSettings { idle_minutes: 7.0, ..Default::default() }).unwrap();
        harvester.submit(request("later", spin(1000), b"")).unwrap()
    };
    device.plug_in();
    let harvester = start(store, &device);
    assert_eq!(harvester.settings().idle_minutes, 7.0);
    let mut events = harvester.events();
    if harvester.job(queued.id).unwrap().state != JobState::Completed {
        wait_for(&mut events, Duration::from_secs(30), |e| matches!(e, IdleEvent::JobFinished { .. }).then_some(()));
    }
    assert_eq!(harvester.job(queued.id).unwrap().state, JobState::Completed);
    assert_eq!(harvester.stats().unwrap().totals.jobs_completed, 1);
}

#[test]
fn cancel_stops_queued_and_running_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let device = FakeDevice::new(1);
    let harvester = start(store(&dir), &device);
    let mut events = harvester.events();
    let running = harvester.submit(request("long", spin(100_000_000_000), b"")).unwrap();
    let waiting = harvester.submit(request("waiting", spin(1), b"")).unwrap();
    wait_for(&mut events, Duration::from_secs(10), |e| {
        matches!(e, IdleEvent::JobStarted { id, .. } if *id == running.id).then_some(())
    });
    assert!(matches!(harvester.job_output(running.id), Err(JobError::NotFinished(_))));
    assert_eq!(harvester.cancel(waiting.id).unwrap().state, JobState::Cancelled);
    harvester.cancel(running.id).unwrap();
    let done = wait_for(&mut events, Duration::from_secs(5), |e| match e {
        IdleEvent::JobFinished { job } if job.id == running.id => Some(job.clone()),
        _ => None,
    });
    assert_eq!(done.state, JobState::Cancelled);
    assert!(matches!(harvester.cancel(running.id), Err(JobError::Finished(_))));
    assert!(matches!(harvester.cancel(999), Err(JobError::NotFound(999))));
}

#[test]
fn invalid_settings_are_refused_and_the_old_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let harvester = start(store(&dir), &FakeDevice::new(2));
    let bad = HarvestSettings { cpu_pct_idle: 0, ..Default::default() };
    assert!(matches!(harvester.set_settings(bad), Err(SettingsUpdateError::Invalid(e)) if e.field == "cpu_pct_idle"));
    assert_eq!(harvester.settings(), HarvestSettings::default());
}

#[test]
fn capacity_reports_the_policy_and_a_calibrated_speed() {
    let dir = tempfile::tempdir().unwrap();
    let device = FakeDevice::new(4);
    let harvester = start(store(&dir), &device);
    let deadline = Instant::now() + Duration::from_secs(30);
    while harvester.capacity().speed_fuel_per_sec.is_none() {
        assert!(Instant::now() < deadline, "no calibration");
        std::thread::sleep(Duration::from_millis(20));
    }
    let capacity = harvester.capacity();
    assert_eq!((capacity.mode, capacity.cores, capacity.free_cores), (Mode::Run, 4, 4));
    assert_eq!(capacity.free_memory_bytes, Some(12 * GIB));
    assert!(capacity.speed_fuel_per_sec.unwrap() > 1e6);
}
