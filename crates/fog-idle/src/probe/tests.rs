use super::*;
use std::fs;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn power(setup: &[(&str, &str)]) -> PowerReading {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path()).unwrap();
    for (rel, text) in setup {
        write(dir.path(), rel, text);
    }
    SysfsPower::new(dir.path()).read()
}

#[test]
fn power_without_a_battery_is_mains_and_says_so() {
    let r = power(&[]);
    assert_eq!(r.power, Reading::Known(PowerSource::Mains));
    assert_eq!(r.battery_pct, Reading::unknown("no battery"));
    let missing = SysfsPower::new("/nonexistent/power_supply").read();
    assert!(matches!(missing.power, Reading::Unknown(why) if why.contains("/nonexistent/power_supply")));
}

#[test]
fn laptop_on_battery_and_plugged_in() {
    let unplugged = [
        ("AC/type", "Mains\n"),
        ("AC/online", "0\n"),
        ("BAT0/type", "Battery\n"),
        ("BAT0/capacity", "57\n"),
        ("BAT0/status", "Discharging\n"),
        // A wireless mouse's battery is not the laptop's.
        ("hidpp_battery_0/type", "Battery\n"),
        ("hidpp_battery_0/scope", "Device\n"),
        ("hidpp_battery_0/capacity", "5\n"),
    ];
    let r = power(&unplugged);
    assert_eq!(
        (r.power, r.battery_pct, r.charging),
        (Reading::Known(PowerSource::Battery), Reading::Known(57.0), Reading::Known(false))
    );
    let mut plugged = unplugged.to_vec();
    plugged[1] = ("AC/online", "1\n");
    plugged[4] = ("BAT0/status", "Charging\n");
    let r = power(&plugged);
    assert_eq!((r.power, r.charging), (Reading::Known(PowerSource::Mains), Reading::Known(true)));
}

#[test]
fn two_batteries_are_weighted_by_capacity_and_energy_is_used_without_a_percentage() {
    let r = power(&[
        ("BAT0/type", "Battery"),
        ("BAT0/energy_now", "10000000"),
        ("BAT0/energy_full", "40000000"),
        ("BAT0/status", "Discharging"),
        ("BAT1/type", "Battery"),
        ("BAT1/capacity", "100"),
        ("BAT1/energy_full", "20000000"),
        ("BAT1/status", "Full"),
    ]);
    assert_eq!(r.power, Reading::Known(PowerSource::Battery));
    assert_eq!(r.battery_pct, Reading::Known(50.0));
}

#[test]
fn cpu_load_needs_two_samples_and_subtracts_this_process() {
    let dir = tempfile::tempdir().unwrap();
    let stat = |busy: u64, idle: u64| format!("cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 1 2 3 4\n");
    // pid (name with spaces) state ppid ... utime=14th stime=15th field.
    let own = |ticks: u64| format!("42 (fog node) S 1 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0\n");
    write(dir.path(), "stat", &stat(100, 900));
    write(dir.path(), "self/stat", &own(10));
    let mut cpu = ProcCpu::new(dir.path());
    assert!(matches!(cpu.read().load_pct, Reading::Unknown(_)));
    write(dir.path(), "stat", &stat(400, 1600)); // 300 busy of 1000
    write(dir.path(), "self/stat", &own(110)); // 100 of them ours
    let r = cpu.read();
    assert_eq!((r.load_pct, r.other_pct), (Reading::Known(30.0), Reading::Known(20.0)));
}

#[test]
fn thermal_takes_the_hottest_plausible_sensor() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "thermal/thermal_zone0/temp", "48000\n");
    write(dir.path(), "thermal/thermal_zone1/temp", "-273000\n");
    write(dir.path(), "thermal/cooling_device0/temp", "99000\n");
    write(dir.path(), "hwmon/hwmon1/temp1_input", "61500\n");
    write(dir.path(), "hwmon/hwmon1/temp1_crit", "100000\n");
    assert_eq!(SysfsThermal::new(dir.path()).hottest_c(), Reading::Known(61.5));
    let empty = tempfile::tempdir().unwrap();
    assert!(
        matches!(SysfsThermal::new(empty.path()).hottest_c(), Reading::Unknown(why) if why.starts_with("no temperature sensors"))
    );
}

#[test]
fn memory_from_meminfo() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "meminfo", "MemTotal:       16000 kB\nMemFree:  100 kB\nMemAvailable:    8000 kB\n");
    let r = ProcMemory::new(dir.path().join("meminfo")).read();
    assert_eq!((r.total_bytes, r.available_bytes), (Reading::Known(16000 * 1024), Reading::Known(8000 * 1024)));
    write(dir.path(), "meminfo", "MemTotal:       16000 kB\n");
    assert!(matches!(ProcMemory::new(dir.path().join("meminfo")).read().available_bytes, Reading::Unknown(_)));
}

/// One utmp record: type and terminal.
fn utmp_record(kind: i16, line: &str) -> Vec<u8> {
    let mut record = vec![0u8; UTMP_RECORD];
    record[..2].copy_from_slice(&kind.to_ne_bytes());
    record[8..8 + line.len()].copy_from_slice(line.as_bytes());
    record
}

#[test]
fn user_idle_combines_logind_and_logged_in_terminals() {
    let dir = tempfile::tempdir().unwrap();
    let (utmp, dev) = (dir.path().join("utmp"), dir.path().join("dev"));
    fs::create_dir_all(dev.join("pts")).unwrap();
    let no_logind = || Err::<Option<f64>, _>("the D-Bus system bus is not reachable".to_string());
    let mut probe = UserIdle::with_sources(&utmp, &dev, no_logind, false);
    assert_eq!(
        probe.user_idle_secs(),
        Reading::unknown("no terminal logins, and the D-Bus system bus is not reachable")
    );
    let mut probe = UserIdle::with_sources(&utmp, &dev, || Ok(None), false);
    assert_eq!(probe.user_idle_secs(), Reading::unknown("no user sessions"));

    // An SSH user on pts/3 typed 120 s ago. A console nobody is logged in on, a dead
    // process's record and a line that tries to leave /dev are ignored.
    let touch = |rel: &str, ago: u64| {
        let path = dev.join(rel);
        fs::write(&path, "").unwrap();
        let at = SystemTime::now() - Duration::from_secs(ago);
        fs::File::options().write(true).open(&path).unwrap().set_times(fs::FileTimes::new().set_accessed(at)).unwrap();
    };
    touch("pts/3", 120);
    touch("tty1", 5);
    touch("tty2", 1);
    let records = [utmp_record(7, "pts/3"), utmp_record(8, "tty2"), utmp_record(7, "../dev/tty2"), utmp_record(2, "~")];
    fs::write(&utmp, records.concat()).unwrap();
    let idle = UserIdle::with_sources(&utmp, &dev, no_logind, false).user_idle_secs_once().known().unwrap();
    assert!((119.0..125.0).contains(&idle), "{idle}");
    // logind says the desktop is active: that wins.
    assert_eq!(UserIdle::with_sources(&utmp, &dev, || Ok(Some(0.0)), true).user_idle_secs(), Reading::Known(0.0));
    // A display without logind: terminal quiet says nothing about the person at the screen.
    assert!(matches!(UserIdle::with_sources(&utmp, &dev, no_logind, true).user_idle_secs(), Reading::Unknown(_)));
    // …unless the X server says how long since its last input.
    let x11 = UserIdle::with_sources(&utmp, &dev, no_logind, true).with_x11(|| Ok(30.0));
    assert_eq!(x11.user_idle_secs_once(), Reading::Known(30.0));
    let typing_in_ssh = UserIdle::with_sources(&utmp, &dev, no_logind, true).with_x11(|| Ok(600.0));
    assert!(typing_in_ssh.user_idle_secs_once().known().unwrap() < 125.0);
}

/// The real X server of an Xvfb started for the test: no input since it started, so its idle
/// time grows from zero. Skipped where Xvfb is not installed.
#[test]
fn x11_idle_time_from_a_real_x_server() {
    let display = ":57";
    let Ok(mut xvfb) = std::process::Command::new("Xvfb")
        .args([display, "-nolisten", "tcp"])
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        eprintln!("Xvfb is not installed; skipped");
        return;
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut x11 = X11Idle::default();
    let first = loop {
        match x11rb::connect(Some(display)) {
            Ok((conn, screen)) => {
                let root = x11rb::connection::Connection::setup(&conn).roots[screen].root;
                x11.conn = Some((conn, root));
                break x11.idle_secs();
            }
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("Xvfb did not start: {e}"),
        }
    };
    std::thread::sleep(Duration::from_millis(1200));
    let second = x11.idle_secs();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(second >= first + 1.0, "{first} then {second}");
}

#[test]
fn this_machine_reads_without_inventing() {
    let state = Probes::linux().sample();
    assert!(state.cores >= 1);
    assert!(matches!(state.memory_total_bytes, Reading::Known(n) if n > 0));
    if let Reading::Known(pct) = state.battery_pct {
        assert!((0.0..=100.0).contains(&pct));
    }
}

impl UserIdle {
    fn user_idle_secs_once(mut self) -> Reading<f64> {
        self.user_idle_secs()
    }
}
