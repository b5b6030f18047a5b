use super::*;
use crate::examples::example;

const MIB: u64 = 1 << 20;

fn sandbox() -> Sandbox {
    Sandbox::new().unwrap()
}

fn run_example(sandbox: &Sandbox, name: &str, input: &[u8]) -> RunReport {
    let module = sandbox.load(example(name).unwrap().wasm).unwrap();
    sandbox.run(&module, input, &JobLimits::default(), &Arc::default())
}

#[test]
fn example_jobs_give_the_right_output() {
    let sandbox = sandbox();
    let sieve = run_example(&sandbox, "sieve", b"1000000");
    assert_eq!(sieve.end, RunEnd::Exited { code: 0 });
    assert_eq!(String::from_utf8_lossy(&sieve.stdout), "78498 primes up to 1000000; the largest is 999983\n");
    assert!(sieve.fuel_used > 1_000_000, "{}", sieve.fuel_used);

    let tile = run_example(&sandbox, "mandelbrot", b"64 48 100");
    assert_eq!(tile.end, RunEnd::Exited { code: 0 });
    assert_eq!(tile.stdout, fog_jobs::mandelbrot(&fog_jobs::parse_tile_input("64 48 100").unwrap()));

    let wc = run_example(&sandbox, "wordcount", b"the cat\nand The dog\n");
    assert_eq!(String::from_utf8_lossy(&wc.stdout), "lines 2\nwords 5\nbytes 20\ndistinct 4\nmost common the (2)\n");
}

#[test]
fn bad_input_is_the_jobs_own_exit_code_and_message() {
    let report = run_example(&sandbox(), "sieve", b"lots");
    assert_eq!(report.end, RunEnd::Exited { code: 2 });
    assert!(String::from_utf8_lossy(&report.stderr).contains("expected one whole number"));
}

#[test]
fn runs_are_reproducible() {
    let sandbox = sandbox();
    let a = run_example(&sandbox, "wordcount", b"b a b c a b");
    let b = run_example(&sandbox, "wordcount", b"b a b c a b");
    assert_eq!((a.stdout, a.fuel_used), (b.stdout, b.fuel_used));
}

fn wat(sandbox: &Sandbox, source: &str) -> JobModule {
    sandbox.load(source.as_bytes()).unwrap()
}

const INFINITE_LOOP: &str = r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#;

#[test]
fn an_infinite_loop_stops_at_its_deadline() {
    let sandbox = sandbox();
    let module = wat(&sandbox, INFINITE_LOOP);
    let limits = JobLimits { timeout_ms: 200, ..JobLimits::default() };
    let report = sandbox.run(&module, b"", &limits, &Arc::default());
    assert_eq!(report.end, RunEnd::Stopped { reason: StopReason::Deadline });
    let late = report.wall.saturating_sub(Duration::from_millis(200));
    assert!(late < Duration::from_millis(50), "stopped {late:?} after the deadline");
}

#[test]
fn fuel_runs_out() {
    let sandbox = sandbox();
    let module = wat(&sandbox, INFINITE_LOOP);
    let limits = JobLimits { fuel: 1_000_000, ..JobLimits::default() };
    let report = sandbox.run(&module, b"", &limits, &Arc::default());
    assert_eq!(report.end, RunEnd::Stopped { reason: StopReason::FuelExhausted });
    assert_eq!(report.fuel_used, 1_000_000);
}

#[test]
fn a_memory_bomb_is_trapped_at_the_cap() {
    // Grows by 64 KiB pages until growth fails, then traps the way a Rust allocator would.
    let bomb = r#"(module (memory (export "memory") 1)
        (func (export "_start")
          (loop (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable)) (br 0))))"#;
    let sandbox = sandbox();
    let module = wat(&sandbox, bomb);
    let limits = JobLimits { memory_bytes: 32 * MIB, ..JobLimits::default() };
    let report = sandbox.run(&module, b"", &limits, &Arc::default());
    assert_eq!(report.end, RunEnd::Stopped { reason: StopReason::MemoryLimit });
    assert!(report.peak_memory_bytes <= 32 * MIB && report.peak_memory_bytes > 31 * MIB);

    // The same through the real allocator: a sieve far larger than the cap.
    let module = sandbox.load(example("sieve").unwrap().wasm).unwrap();
    let limits = JobLimits { memory_bytes: 4 * MIB, ..JobLimits::default() };
    let report = sandbox.run(&module, b"400000000", &limits, &Arc::default());
    assert_eq!(report.end, RunEnd::Stopped { reason: StopReason::MemoryLimit });
}

#[test]
fn an_output_flood_is_capped() {
    // Writes the same 64 KiB buffer to stdout forever: 1 GiB and beyond if nothing stops it.
    let flood = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 2)
        (func (export "_start")
          (i32.store (i32.const 0) (i32.const 1024))
          (i32.store (i32.const 4) (i32.const 65536))
          (loop (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br 0))))"#;
    let sandbox = sandbox();
    let module = wat(&sandbox, flood);
    let limits = JobLimits { output_bytes: MIB, timeout_ms: 10_000, ..JobLimits::default() };
    let report = sandbox.run(&module, b"", &limits, &Arc::default());
    assert_eq!(report.end, RunEnd::Stopped { reason: StopReason::OutputLimit });
    assert_eq!(report.stdout.len() as u64, MIB);
}

#[test]
fn a_trap_is_reported_with_its_message() {
    let sandbox = sandbox();
    let module = wat(&sandbox, r#"(module (func (export "_start") unreachable))"#);
    let report = sandbox.run(&module, b"", &JobLimits::default(), &Arc::default());
    match report.end {
        RunEnd::Stopped { reason: StopReason::Trap(message) } => assert!(message.contains("unreachable"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn pause_and_cancel_stop_a_running_job() {
    let sandbox = Arc::new(sandbox());
    let module = wat(&sandbox, INFINITE_LOOP);
    for (stop, reason) in
        [(JobControl::pause as fn(&JobControl), StopReason::Paused), (JobControl::cancel, StopReason::Cancelled)]
    {
        let control = Arc::new(JobControl::default());
        let job = {
            let (sandbox, module, control) = (sandbox.clone(), module.clone(), control.clone());
            std::thread::spawn(move || sandbox.run(&module, b"", &JobLimits::default(), &control))
        };
        std::thread::sleep(Duration::from_millis(50));
        let asked = Instant::now();
        stop(&control);
        let report = job.join().unwrap();
        assert_eq!(report.end, RunEnd::Stopped { reason });
        assert!(asked.elapsed() < Duration::from_millis(100));
    }
}

#[test]
fn the_duty_cycle_limits_cpu_time() {
    let sandbox = sandbox();
    let module = wat(&sandbox, INFINITE_LOOP);
    let control = Arc::new(JobControl::default());
    control.set_cpu_pct(30);
    let limits = JobLimits { timeout_ms: 1000, ..JobLimits::default() };
    let report = sandbox.run(&module, b"", &limits, &control);
    let share = report.cpu.as_secs_f64() / report.wall.as_secs_f64();
    assert!((0.15..0.45).contains(&share), "ran {share:.2} of the time");
}

#[test]
fn modules_are_validated_and_cached() {
    let sandbox = sandbox();
    assert!(matches!(sandbox.load(b"not wasm"), Err(ModuleError::Invalid(_))));
    let env_import = r#"(module (import "env" "open" (func)) (func (export "_start")))"#;
    assert_eq!(sandbox.load(env_import.as_bytes()).err(), Some(ModuleError::ForbiddenImport("env::open".into())));
    let no_start = r#"(module (func (export "main")))"#;
    assert_eq!(sandbox.load(no_start.as_bytes()).err(), Some(ModuleError::NotACommand));
    let too_big = vec![0u8; MAX_MODULE_BYTES + 1];
    assert_eq!(sandbox.load(&too_big).err(), Some(ModuleError::TooLarge(MAX_MODULE_BYTES + 1)));

    let wasm = example("sieve").unwrap().wasm;
    let cold = Instant::now();
    let first = sandbox.load(wasm).unwrap();
    let cold = cold.elapsed();
    let warm = Instant::now();
    let second = sandbox.load(wasm).unwrap();
    assert!(warm.elapsed() < cold, "the second load compiles again");
    assert_eq!(first.hash(), second.hash());
}

#[test]
fn arbitrary_bytes_never_panic_the_loader() {
    let sandbox = sandbox();
    let mut seed = 0x9e37_79b9_u64;
    let wasm = example("wordcount").unwrap().wasm;
    for i in 0..60 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        // Flip a few bytes of a real module, or take random bytes after the magic number.
        let mut bytes = if i % 2 == 0 { wasm.to_vec() } else { b"\0asm\x01\0\0\0".to_vec() };
        for k in 0..8 {
            let r = (seed >> (k * 8)) as usize;
            if i % 2 == 0 {
                let at = r.wrapping_mul(2654435761) % bytes.len();
                bytes[at] ^= (r as u8) | 1;
            } else {
                bytes.push(r as u8);
            }
        }
        let _ = sandbox.load(&bytes);
    }
}
