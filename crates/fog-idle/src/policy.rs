//! The harvest policy: a pure function from the device state, the contributor's settings and a
//! little memory of the past to "run", "throttle" or "pause", with the reason.
//!
//! It follows BOINC's computing preferences where they make sense on a laptop. Pausing is
//! immediate; resuming waits behind hysteresis (battery and temperature bands, a quiet period
//! after heavy non-Fog CPU use) so a reading that jitters around a threshold does not make jobs
//! start and stop.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::device::{DeviceState, PowerSource, Reading};

/// After a suspension for non-Fog CPU use, that use must stay this many points under the
/// threshold for [`OTHER_CPU_RESUME_SECS`] before jobs resume.
pub const OTHER_CPU_RESUME_MARGIN_PCT: f64 = 5.0;
pub const OTHER_CPU_RESUME_SECS: u32 = 30;

/// When and how much of this machine the contributor donates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct HarvestSettings {
    /// Donate at all.
    pub enabled: bool,
    /// Run while on battery power (BOINC default: no).
    pub run_on_batteries: bool,
    /// On battery: stop below this charge…
    pub battery_stop_below_pct: f64,
    /// …and start again only above this one.
    pub battery_resume_above_pct: f64,
    /// Minutes without user input before the machine counts as idle.
    pub idle_minutes: f64,
    /// Keep running (with the in-use limits) while the user is at the machine.
    pub run_while_in_use: bool,
    /// Where the user's idle time cannot be read (a headless server with no sessions), count
    /// the machine as idle.
    pub unknown_idle_is_idle: bool,
    /// Suspend when non-Fog CPU use is above this % for [`Self::other_cpu_grace_secs`]; 0 = never.
    pub other_cpu_suspend_pct: f64,
    pub other_cpu_grace_secs: u32,
    /// Cores for jobs when idle / in use; 0 = all.
    pub max_cores_idle: u32,
    pub max_cores_in_use: u32,
    /// CPU time per core for jobs when idle / in use (duty cycle), 1–100 %.
    pub cpu_pct_idle: u32,
    pub cpu_pct_in_use: u32,
    /// Stop at or above this temperature and restart at or below the resume one.
    pub temperature_stop_c: f64,
    pub temperature_resume_c: f64,
    /// Donate only inside these windows; none = any time.
    pub windows: Vec<TimeWindow>,
    /// Memory for jobs when idle / in use, % of the machine's RAM.
    pub ram_pct_idle: u32,
    pub ram_pct_in_use: u32,
    /// Tokens asked per 10⁹ instructions (fuel) of donated work; 0 donates for free.
    pub price_per_gigafuel: f64,
}

impl Default for HarvestSettings {
    fn default() -> Self {
        HarvestSettings {
            enabled: true,
            run_on_batteries: false,
            battery_stop_below_pct: 40.0,
            battery_resume_above_pct: 50.0,
            idle_minutes: 3.0,
            run_while_in_use: false,
            unknown_idle_is_idle: true,
            other_cpu_suspend_pct: 25.0,
            other_cpu_grace_secs: 10,
            max_cores_idle: 0,
            max_cores_in_use: 1,
            cpu_pct_idle: 100,
            cpu_pct_in_use: 50,
            temperature_stop_c: 85.0,
            temperature_resume_c: 75.0,
            windows: Vec::new(),
            ram_pct_idle: 75,
            ram_pct_in_use: 25,
            price_per_gigafuel: 0.0,
        }
    }
}

/// A daily donation window, local time. `end` before `start` runs across midnight, counted as
/// belonging to the day it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Days it starts on, 0 = Monday … 6 = Sunday; empty = every day.
    #[serde(default)]
    pub days: Vec<u8>,
    /// "HH:MM"
    pub start: String,
    /// "HH:MM"
    pub end: String,
}

/// A setting that cannot be used, named so the page can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> SettingsError {
    SettingsError { field: field.to_string(), message: message.into() }
}

impl HarvestSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let pct = |field: &str, v: f64| {
            if (0.0..=100.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(field, format!("must be 0 to 100, got {v}")))
            }
        };
        pct("battery_stop_below_pct", self.battery_stop_below_pct)?;
        pct("battery_resume_above_pct", self.battery_resume_above_pct)?;
        if self.battery_resume_above_pct < self.battery_stop_below_pct {
            return Err(invalid("battery_resume_above_pct", "must be at least battery_stop_below_pct"));
        }
        if !(0.0..=24.0 * 60.0).contains(&self.idle_minutes) {
            return Err(invalid("idle_minutes", format!("must be 0 to 1440, got {}", self.idle_minutes)));
        }
        pct("other_cpu_suspend_pct", self.other_cpu_suspend_pct)?;
        if self.other_cpu_grace_secs > 3600 {
            return Err(invalid("other_cpu_grace_secs", "must be at most 3600"));
        }
        for (field, cores) in [("max_cores_idle", self.max_cores_idle), ("max_cores_in_use", self.max_cores_in_use)] {
            if cores > 4096 {
                return Err(invalid(field, format!("must be at most 4096 (0 = all), got {cores}")));
            }
        }
        for (field, v) in [
            ("cpu_pct_idle", self.cpu_pct_idle),
            ("cpu_pct_in_use", self.cpu_pct_in_use),
            ("ram_pct_idle", self.ram_pct_idle),
            ("ram_pct_in_use", self.ram_pct_in_use),
        ] {
            if !(1..=100).contains(&v) {
                return Err(invalid(field, format!("must be 1 to 100, got {v}")));
            }
        }
        for (field, v) in
            [("temperature_stop_c", self.temperature_stop_c), ("temperature_resume_c", self.temperature_resume_c)]
        {
            if !(20.0..=120.0).contains(&v) {
                return Err(invalid(field, format!("must be 20 to 120 °C, got {v}")));
            }
        }
        if self.temperature_resume_c > self.temperature_stop_c {
            return Err(invalid("temperature_resume_c", "must be at most temperature_stop_c"));
        }
        if !(0.0..=1e9).contains(&self.price_per_gigafuel) {
            return Err(invalid("price_per_gigafuel", format!("must be 0 to 10^9, got {}", self.price_per_gigafuel)));
        }
        if self.windows.len() > 32 {
            return Err(invalid("windows", "at most 32 windows"));
        }
        for (i, w) in self.windows.iter().enumerate() {
            let field = format!("windows[{i}]");
            parse_hhmm(&w.start).ok_or_else(|| invalid(&field, format!("start {:?} is not HH:MM", w.start)))?;
            parse_hhmm(&w.end).ok_or_else(|| invalid(&field, format!("end {:?} is not HH:MM", w.end)))?;
            if let Some(d) = w.days.iter().find(|d| **d > 6) {
                return Err(invalid(&field, format!("day {d} is not 0 (Monday) to 6 (Sunday)")));
            }
        }
        Ok(())
    }
}

/// Minutes since midnight for "HH:MM" (24:00 allowed as the end of the day).
pub fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// Local wall-clock time, as the windows need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    pub minute_of_day: u16,
}

impl TimeWindow {
    pub fn contains(&self, t: LocalTime) -> bool {
        let (Some(start), Some(end)) = (parse_hhmm(&self.start), parse_hhmm(&self.end)) else {
            return false;
        };
        let on = |day: u8| self.days.is_empty() || self.days.contains(&day);
        let yesterday = (t.weekday + 6) % 7;
        if start <= end {
            on(t.weekday) && (start..end).contains(&t.minute_of_day)
        } else {
            (on(t.weekday) && t.minute_of_day >= start) || (on(yesterday) && t.minute_of_day < end)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Run,
    /// Running under limits: fewer cores or a duty cycle below 100 %.
    Throttle,
    Pause,
}

/// The rule that decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Disabled,
    OutsideWindow,
    OnBattery,
    BatteryLow,
    TooHot,
    OtherCpuLoad,
    InUse,
    Idle,
    InUseAllowed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Decision {
    pub mode: Mode,
    pub rule: Rule,
    /// For people: "paused: on battery".
    pub reason: String,
    /// Whether the user counts as being at the machine.
    pub in_use: bool,
    /// Cores jobs may use (0 when paused).
    pub cores: u32,
    /// CPU duty cycle per core, %.
    pub cpu_pct: u32,
    /// Memory all jobs together may use; unknown when the machine's RAM is.
    #[ts(type = "number | null")]
    pub ram_bytes: Option<u64>,
}

/// What the policy remembers between samples, for hysteresis and grace periods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyMemory {
    battery_low: bool,
    too_hot: bool,
    other_cpu_high_since_ms: Option<i64>,
    other_cpu_quiet_since_ms: Option<i64>,
    other_cpu_suspended: bool,
}

/// Decides for one sample. Pause rules are checked first, in the order a person would ask.
pub fn decide(device: &DeviceState, settings: &HarvestSettings, now: LocalTime, memory: &mut PolicyMemory) -> Decision {
    track_hysteresis(device, settings, memory);
    let pause = |rule, reason: String| Decision {
        mode: Mode::Pause,
        rule,
        reason: format!("paused: {reason}"),
        in_use: false,
        cores: 0,
        cpu_pct: 0,
        ram_bytes: Some(0),
    };
    if !settings.enabled {
        return pause(Rule::Disabled, "donation is switched off".into());
    }
    if !settings.windows.is_empty() && !settings.windows.iter().any(|w| w.contains(now)) {
        return pause(Rule::OutsideWindow, "outside the donation hours".into());
    }
    if device.power == Reading::Known(PowerSource::Battery) {
        if !settings.run_on_batteries {
            return pause(Rule::OnBattery, "on battery".into());
        }
        if memory.battery_low {
            let charge = device.battery_pct.known().map(|p| format!(" at {p:.0} %")).unwrap_or_default();
            return pause(
                Rule::BatteryLow,
                format!(
                    "battery{charge}, below {:.0} %; resumes above {:.0} %",
                    settings.battery_stop_below_pct, settings.battery_resume_above_pct
                ),
            );
        }
    }
    if memory.too_hot {
        let temp = device.temperature_c.known().map(|t| format!(" at {t:.0} °C")).unwrap_or_default();
        return pause(Rule::TooHot, format!("CPU{temp}; resumes at or below {:.0} °C", settings.temperature_resume_c));
    }
    if memory.other_cpu_suspended {
        let load = device.other_cpu_pct.known().map(|p| format!(" ({p:.0} %)")).unwrap_or_default();
        return pause(
            Rule::OtherCpuLoad,
            format!("other programs are busy{load}, above {:.0} %", settings.other_cpu_suspend_pct),
        );
    }
    let idle_needed = settings.idle_minutes * 60.0;
    let (in_use, idle_text) = match &device.user_idle_secs {
        Reading::Known(secs) => (*secs < idle_needed, format!("last input {} ago", human_secs(*secs))),
        Reading::Unknown(why) => (!settings.unknown_idle_is_idle, format!("user idle time unknown: {why}")),
    };
    if in_use && !settings.run_while_in_use {
        return pause(Rule::InUse, format!("in use ({idle_text}); starts after {} idle", human_secs(idle_needed)));
    }
    let (max_cores, cpu_pct, ram_pct) = if in_use {
        (settings.max_cores_in_use, settings.cpu_pct_in_use, settings.ram_pct_in_use)
    } else {
        (settings.max_cores_idle, settings.cpu_pct_idle, settings.ram_pct_idle)
    };
    let cores = if max_cores == 0 { device.cores } else { max_cores.min(device.cores) }.max(1);
    let ram_bytes =
        device.memory_total_bytes.known().map(|total| (u128::from(total) * u128::from(ram_pct) / 100) as u64);
    let mode = if cpu_pct < 100 || cores < device.cores { Mode::Throttle } else { Mode::Run };
    let verb = if mode == Mode::Run { "running" } else { "throttled" };
    let limits = format!("{cores} of {} cores at {cpu_pct} %", device.cores);
    let (rule, reason) = if in_use {
        (Rule::InUseAllowed, format!("{verb}: in use ({idle_text}), {limits}"))
    } else {
        (Rule::Idle, format!("{verb}: idle ({idle_text}), {limits}"))
    };
    Decision { mode, rule, reason, in_use, cores, cpu_pct, ram_bytes }
}

fn track_hysteresis(device: &DeviceState, settings: &HarvestSettings, memory: &mut PolicyMemory) {
    match (device.power.known(), device.battery_pct.known()) {
        (Some(PowerSource::Battery), Some(pct)) => {
            if pct < settings.battery_stop_below_pct {
                memory.battery_low = true;
            } else if pct > settings.battery_resume_above_pct {
                memory.battery_low = false;
            }
        }
        // Charging again clears the floor: running no longer drains the battery.
        (Some(PowerSource::Mains), _) => memory.battery_low = false,
        _ => {}
    }
    if let Some(t) = device.temperature_c.known() {
        if t >= settings.temperature_stop_c {
            memory.too_hot = true;
        } else if t <= settings.temperature_resume_c {
            memory.too_hot = false;
        }
    }
    let threshold = settings.other_cpu_suspend_pct;
    match device.other_cpu_pct.known() {
        Some(load) if threshold > 0.0 => {
            let now = device.at_ms;
            if load > threshold {
                let since = *memory.other_cpu_high_since_ms.get_or_insert(now);
                if now - since >= i64::from(settings.other_cpu_grace_secs) * 1000 {
                    memory.other_cpu_suspended = true;
                }
            } else {
                memory.other_cpu_high_since_ms = None;
            }
            if load < threshold - OTHER_CPU_RESUME_MARGIN_PCT {
                let since = *memory.other_cpu_quiet_since_ms.get_or_insert(now);
                if now - since >= i64::from(OTHER_CPU_RESUME_SECS) * 1000 {
                    memory.other_cpu_suspended = false;
                }
            } else {
                memory.other_cpu_quiet_since_ms = None;
            }
        }
        _ => {
            memory.other_cpu_suspended = false;
            memory.other_cpu_high_since_ms = None;
            memory.other_cpu_quiet_since_ms = None;
        }
    }
}

fn human_secs(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests;
