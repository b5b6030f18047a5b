use super::*;

const GIB: u64 = 1 << 30;
const WEDNESDAY_NOON: LocalTime = LocalTime { weekday: 2, minute_of_day: 12 * 60 };

/// An idle desktop on mains: every rule passes.
fn idle_mains() -> DeviceState {
    DeviceState {
        at_ms: 0,
        power: Reading::Known(PowerSource::Mains),
        battery_pct: Reading::unknown("no battery"),
        charging: Reading::unknown("no battery"),
        user_idle_secs: Reading::Known(600.0),
        cpu_load_pct: Reading::Known(3.0),
        other_cpu_pct: Reading::Known(3.0),
        temperature_c: Reading::Known(50.0),
        memory_total_bytes: Reading::Known(16 * GIB),
        memory_available_bytes: Reading::Known(12 * GIB),
        cores: 8,
    }
}

fn on_battery(pct: f64) -> DeviceState {
    DeviceState {
        power: Reading::Known(PowerSource::Battery),
        battery_pct: Reading::Known(pct),
        charging: Reading::Known(false),
        ..idle_mains()
    }
}

fn decide_once(device: &DeviceState, settings: &HarvestSettings) -> Decision {
    decide(device, settings, WEDNESDAY_NOON, &mut PolicyMemory::default())
}

#[test]
fn one_sample_rules() {
    let defaults = HarvestSettings::default();
    let batteries_ok = HarvestSettings { run_on_batteries: true, ..defaults.clone() };
    let in_use_ok = HarvestSettings { run_while_in_use: true, ..defaults.clone() };
    let cases: Vec<(&str, DeviceState, HarvestSettings, Mode, Rule)> = vec![
        ("idle on mains runs", idle_mains(), defaults.clone(), Mode::Run, Rule::Idle),
        (
            "switched off",
            idle_mains(),
            HarvestSettings { enabled: false, ..defaults.clone() },
            Mode::Pause,
            Rule::Disabled,
        ),
        ("on battery by default", on_battery(90.0), defaults.clone(), Mode::Pause, Rule::OnBattery),
        ("battery allowed and full", on_battery(90.0), batteries_ok.clone(), Mode::Run, Rule::Idle),
        ("battery allowed but low", on_battery(30.0), batteries_ok.clone(), Mode::Pause, Rule::BatteryLow),
        ("no battery reading on mains", idle_mains(), batteries_ok, Mode::Run, Rule::Idle),
        (
            "too hot",
            DeviceState { temperature_c: Reading::Known(90.0), ..idle_mains() },
            defaults.clone(),
            Mode::Pause,
            Rule::TooHot,
        ),
        (
            "temperature unknown",
            DeviceState { temperature_c: Reading::unknown("no sensor"), ..idle_mains() },
            defaults.clone(),
            Mode::Run,
            Rule::Idle,
        ),
        (
            "user active",
            DeviceState { user_idle_secs: Reading::Known(12.0), ..idle_mains() },
            defaults.clone(),
            Mode::Pause,
            Rule::InUse,
        ),
        (
            "user active, allowed",
            DeviceState { user_idle_secs: Reading::Known(12.0), ..idle_mains() },
            in_use_ok,
            Mode::Throttle,
            Rule::InUseAllowed,
        ),
        (
            "idle exactly the threshold",
            DeviceState { user_idle_secs: Reading::Known(180.0), ..idle_mains() },
            defaults.clone(),
            Mode::Run,
            Rule::Idle,
        ),
        (
            "idle unknown counts as idle",
            DeviceState { user_idle_secs: Reading::unknown("no sessions"), ..idle_mains() },
            defaults.clone(),
            Mode::Run,
            Rule::Idle,
        ),
        (
            "idle unknown, strict",
            DeviceState { user_idle_secs: Reading::unknown("no sessions"), ..idle_mains() },
            HarvestSettings { unknown_idle_is_idle: false, ..defaults.clone() },
            Mode::Pause,
            Rule::InUse,
        ),
        (
            "fewer cores throttles",
            idle_mains(),
            HarvestSettings { max_cores_idle: 2, ..defaults.clone() },
            Mode::Throttle,
            Rule::Idle,
        ),
        (
            "duty cycle throttles",
            idle_mains(),
            HarvestSettings { cpu_pct_idle: 60, ..defaults.clone() },
            Mode::Throttle,
            Rule::Idle,
        ),
        (
            "outside the window",
            idle_mains(),
            HarvestSettings { windows: vec![window(&[], "22:00", "06:00")], ..defaults.clone() },
            Mode::Pause,
            Rule::OutsideWindow,
        ),
        (
            "inside the window",
            idle_mains(),
            HarvestSettings { windows: vec![window(&[2], "09:00", "17:00")], ..defaults },
            Mode::Run,
            Rule::Idle,
        ),
    ];
    for (name, device, settings, mode, rule) in cases {
        settings.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        let d = decide_once(&device, &settings);
        assert_eq!((d.mode, d.rule), (mode, rule), "{name}: {}", d.reason);
    }
}

#[test]
fn reasons_say_why() {
    let d = decide_once(&on_battery(80.0), &HarvestSettings::default());
    assert_eq!(d.reason, "paused: on battery");
    let d =
        decide_once(&DeviceState { user_idle_secs: Reading::Known(12.0), ..idle_mains() }, &HarvestSettings::default());
    assert_eq!(d.reason, "paused: in use (last input 12 s ago); starts after 3 min idle");
    let d = decide_once(&idle_mains(), &HarvestSettings::default());
    assert_eq!(d.reason, "running: idle (last input 10 min ago), 8 of 8 cores at 100 %");
}

#[test]
fn limits_follow_idle_or_in_use() {
    let settings = HarvestSettings {
        run_while_in_use: true,
        max_cores_in_use: 2,
        cpu_pct_in_use: 40,
        ram_pct_in_use: 25,
        ..Default::default()
    };
    let d = decide_once(&idle_mains(), &settings);
    assert_eq!((d.cores, d.cpu_pct, d.ram_bytes, d.in_use), (8, 100, Some(12 * GIB), false));
    let d = decide_once(&DeviceState { user_idle_secs: Reading::Known(1.0), ..idle_mains() }, &settings);
    assert_eq!((d.cores, d.cpu_pct, d.ram_bytes, d.in_use), (2, 40, Some(4 * GIB), true));
    let d = decide_once(&DeviceState { memory_total_bytes: Reading::unknown("no /proc"), ..idle_mains() }, &settings);
    assert_eq!(d.ram_bytes, None);
    let d = decide_once(
        &DeviceState { cores: 4, ..idle_mains() },
        &HarvestSettings { max_cores_idle: 16, ..Default::default() },
    );
    assert_eq!((d.cores, d.mode), (4, Mode::Run));
}

fn window(days: &[u8], start: &str, end: &str) -> TimeWindow {
    TimeWindow { days: days.to_vec(), start: start.into(), end: end.into() }
}

fn at(weekday: u8, hhmm: &str) -> LocalTime {
    LocalTime { weekday, minute_of_day: parse_hhmm(hhmm).unwrap() }
}

#[test]
fn windows_across_midnight_belong_to_their_start_day() {
    let friday_night = window(&[4], "22:00", "06:00");
    let cases = [
        (at(4, "21:59"), false),
        (at(4, "22:00"), true),
        (at(4, "23:59"), true),
        (at(5, "00:00"), true),
        (at(5, "05:59"), true),
        (at(5, "06:00"), false),
        (at(5, "22:30"), false),
        (at(3, "23:00"), false),
        (at(4, "03:00"), false),
    ];
    for (t, inside) in cases {
        assert_eq!(friday_night.contains(t), inside, "{t:?}");
    }
    let sunday_to_monday = window(&[6], "23:00", "01:00");
    assert!(sunday_to_monday.contains(at(0, "00:30")));
    let every_day = window(&[], "09:00", "17:00");
    assert!(every_day.contains(at(6, "09:00")) && !every_day.contains(at(6, "17:00")));
    let whole_day = window(&[1], "00:00", "24:00");
    assert!(whole_day.contains(at(1, "23:59")) && !whole_day.contains(at(2, "00:00")));
}

#[test]
fn battery_floor_has_hysteresis() {
    let settings = HarvestSettings { run_on_batteries: true, ..Default::default() };
    let mut memory = PolicyMemory::default();
    let modes: Vec<Mode> = [60.0, 45.0, 39.0, 45.0, 50.0, 51.0]
        .iter()
        .map(|pct| decide(&on_battery(*pct), &settings, WEDNESDAY_NOON, &mut memory).mode)
        .collect();
    assert_eq!(modes, [Mode::Run, Mode::Run, Mode::Pause, Mode::Pause, Mode::Pause, Mode::Run]);
    // Plugging in clears the floor.
    decide(&on_battery(30.0), &settings, WEDNESDAY_NOON, &mut memory);
    assert_eq!(decide(&idle_mains(), &settings, WEDNESDAY_NOON, &mut memory).mode, Mode::Run);
}

#[test]
fn temperature_has_hysteresis() {
    let mut memory = PolicyMemory::default();
    let settings = HarvestSettings::default();
    let hot = |t: f64| DeviceState { temperature_c: Reading::Known(t), ..idle_mains() };
    let modes: Vec<Mode> = [80.0, 85.0, 80.0, 76.0, 75.0]
        .iter()
        .map(|t| decide(&hot(*t), &settings, WEDNESDAY_NOON, &mut memory).mode)
        .collect();
    assert_eq!(modes, [Mode::Run, Mode::Pause, Mode::Pause, Mode::Pause, Mode::Run]);
}

fn busy(at_secs: i64, other: f64) -> DeviceState {
    DeviceState {
        at_ms: at_secs * 1000,
        other_cpu_pct: Reading::Known(other),
        cpu_load_pct: Reading::Known(other),
        ..idle_mains()
    }
}

#[test]
fn other_cpu_load_needs_the_grace_period() {
    let settings = HarvestSettings::default();
    let mut memory = PolicyMemory::default();
    let mut mode_at = |secs: i64, load: f64| decide(&busy(secs, load), &settings, WEDNESDAY_NOON, &mut memory).mode;
    // A 9-second burst is tolerated.
    assert_eq!(mode_at(0, 80.0), Mode::Run);
    assert_eq!(mode_at(9, 80.0), Mode::Run);
    assert_eq!(mode_at(10, 5.0), Mode::Run);
    // Ten seconds above the threshold suspends.
    assert_eq!(mode_at(20, 30.0), Mode::Run);
    assert_eq!(mode_at(29, 30.0), Mode::Run);
    assert_eq!(mode_at(30, 30.0), Mode::Pause);
    // It resumes only after 30 s clearly below the threshold.
    assert_eq!(mode_at(31, 22.0), Mode::Pause);
    assert_eq!(mode_at(40, 10.0), Mode::Pause);
    assert_eq!(mode_at(69, 10.0), Mode::Pause);
    assert_eq!(mode_at(70, 10.0), Mode::Run);
}

/// ±1 % jitter around each threshold, sampled every second for ten minutes, never makes the
/// decision change more than once a minute.
#[test]
fn jitter_around_thresholds_changes_state_at_most_once_a_minute() {
    let jitter = |i: i64| {
        if (i * 7919) % 3 == 0 {
            1.0
        } else if i % 2 == 0 {
            -1.0
        } else {
            0.5
        }
    };
    type Scenario = (&'static str, HarvestSettings, Box<dyn Fn(i64) -> DeviceState>);
    let scenarios: Vec<Scenario> = vec![
        (
            "battery floor",
            HarvestSettings { run_on_batteries: true, ..Default::default() },
            Box::new(move |i| DeviceState { at_ms: i * 1000, ..on_battery(40.0 + jitter(i)) }),
        ),
        (
            "battery resume",
            HarvestSettings { run_on_batteries: true, ..Default::default() },
            Box::new(move |i| DeviceState {
                at_ms: i * 1000,
                ..on_battery(if i == 0 { 30.0 } else { 50.0 + jitter(i) })
            }),
        ),
        (
            "temperature",
            HarvestSettings::default(),
            Box::new(move |i| DeviceState {
                at_ms: i * 1000,
                temperature_c: Reading::Known(85.0 + jitter(i)),
                ..idle_mains()
            }),
        ),
        ("other cpu", HarvestSettings::default(), Box::new(move |i| busy(i, 25.0 + jitter(i)))),
        (
            "other cpu, resume edge",
            HarvestSettings::default(),
            Box::new(move |i| busy(i, if i < 15 { 90.0 } else { 20.0 + jitter(i) })),
        ),
    ];
    for (name, settings, device_at) in scenarios {
        let mut memory = PolicyMemory::default();
        let mut last = None;
        let mut changes = Vec::new();
        for i in 0..600 {
            let mode = decide(&device_at(i), &settings, WEDNESDAY_NOON, &mut memory).mode;
            if last.is_some_and(|m| m != mode) {
                changes.push(i);
            }
            last = Some(mode);
        }
        for pair in changes.windows(2) {
            assert!(pair[1] - pair[0] >= 60, "{name}: changes at {changes:?}");
        }
        assert!(changes.len() <= 10, "{name}: {changes:?}");
    }
}

#[test]
fn invalid_settings_name_the_field() {
    let bad = [
        (
            HarvestSettings { battery_stop_below_pct: 60.0, battery_resume_above_pct: 50.0, ..Default::default() },
            "battery_resume_above_pct",
        ),
        (HarvestSettings { cpu_pct_idle: 0, ..Default::default() }, "cpu_pct_idle"),
        (HarvestSettings { ram_pct_in_use: 101, ..Default::default() }, "ram_pct_in_use"),
        (HarvestSettings { temperature_resume_c: 90.0, ..Default::default() }, "temperature_resume_c"),
        (HarvestSettings { idle_minutes: -1.0, ..Default::default() }, "idle_minutes"),
        (HarvestSettings { idle_minutes: f64::NAN, ..Default::default() }, "idle_minutes"),
        (HarvestSettings { windows: vec![window(&[], "9:00", "17:00")], ..Default::default() }, "windows[0]"),
        (HarvestSettings { windows: vec![window(&[7], "09:00", "17:00")], ..Default::default() }, "windows[0]"),
        (HarvestSettings { windows: vec![window(&[], "09:00", "24:30")], ..Default::default() }, "windows[0]"),
    ];
    for (settings, field) in bad {
        assert_eq!(settings.validate().unwrap_err().field, field);
    }
    assert!(HarvestSettings::default().validate().is_ok());
    let unknown_field = serde_json::from_str::<HarvestSettings>(r#"{"enabled": true, "max_cpus": 3}"#);
    assert!(unknown_field.unwrap_err().to_string().contains("max_cpus"));
    let partial: HarvestSettings = serde_json::from_str(r#"{"run_on_batteries": true}"#).unwrap();
    assert!(partial.run_on_batteries && partial.enabled);
}
