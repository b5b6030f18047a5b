//! Device probes. Each kind sits behind its own trait so tests can inject values; the Linux
//! implementations read sysfs, procfs, terminal devices and logind, and report "unknown" with
//! the reason whenever the machine cannot tell.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::device::{DeviceState, PowerSource, Reading};

#[derive(Debug, Clone, PartialEq)]
pub struct PowerReading {
    pub power: Reading<PowerSource>,
    pub battery_pct: Reading<f64>,
    pub charging: Reading<bool>,
}

pub trait PowerProbe: Send {
    fn read(&mut self) -> PowerReading;
}

pub trait IdleProbe: Send {
    /// Seconds since the user last touched the machine.
    fn user_idle_secs(&mut self) -> Reading<f64>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct CpuReading {
    pub load_pct: Reading<f64>,
    /// Load of everything but this process (which runs the jobs).
    pub other_pct: Reading<f64>,
}

pub trait CpuProbe: Send {
    /// Load since the previous call; the first call has nothing to compare with.
    fn read(&mut self) -> CpuReading;
}

pub trait ThermalProbe: Send {
    fn hottest_c(&mut self) -> Reading<f64>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemoryReading {
    pub total_bytes: Reading<u64>,
    pub available_bytes: Reading<u64>,
}

pub trait MemoryProbe: Send {
    fn read(&mut self) -> MemoryReading;
}

/// One probe of each kind.
pub struct Probes {
    pub power: Box<dyn PowerProbe>,
    pub idle: Box<dyn IdleProbe>,
    pub cpu: Box<dyn CpuProbe>,
    pub thermal: Box<dyn ThermalProbe>,
    pub memory: Box<dyn MemoryProbe>,
    pub cores: u32,
}

impl Probes {
    /// The real probes of this Linux machine.
    pub fn linux() -> Probes {
        Probes {
            power: Box::new(SysfsPower::new("/sys/class/power_supply")),
            idle: Box::new(UserIdle::new()),
            cpu: Box::new(ProcCpu::new("/proc")),
            thermal: Box::new(SysfsThermal::new("/sys/class")),
            memory: Box::new(ProcMemory::new("/proc/meminfo")),
            cores: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
        }
    }

    pub fn sample(&mut self) -> DeviceState {
        let power = self.power.read();
        let cpu = self.cpu.read();
        let memory = self.memory.read();
        DeviceState {
            at_ms: unix_ms(SystemTime::now()),
            power: power.power,
            battery_pct: power.battery_pct,
            charging: power.charging,
            user_idle_secs: self.idle.user_idle_secs(),
            cpu_load_pct: cpu.load_pct,
            other_cpu_pct: cpu.other_pct,
            temperature_c: self.thermal.hottest_c(),
            memory_total_bytes: memory.total_bytes,
            memory_available_bytes: memory.available_bytes,
            cores: self.cores,
        }
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// `/sys/class/power_supply`: mains adapters and system batteries (peripheral batteries, whose
/// `scope` is `Device`, are ignored).
pub struct SysfsPower {
    root: PathBuf,
}

impl SysfsPower {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SysfsPower { root: root.into() }
    }
}

impl PowerProbe for SysfsPower {
    fn read(&mut self) -> PowerReading {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) => {
                let why = format!("cannot read {}: {e}", self.root.display());
                return PowerReading {
                    power: Reading::unknown(&why),
                    battery_pct: Reading::unknown(&why),
                    charging: Reading::unknown(why),
                };
            }
        };
        let mut mains_online = Vec::new();
        // (capacity %, energy_full weight, status)
        let mut batteries: Vec<(Option<f64>, f64, String)> = Vec::new();
        let mut supplies: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        supplies.sort();
        for dir in supplies {
            let kind = read_trimmed(&dir.join("type")).unwrap_or_default();
            match kind.as_str() {
                "Mains" | "USB" | "USB_C" | "USB_PD" => {
                    if let Some(online) = read_trimmed(&dir.join("online")) {
                        mains_online.push(online == "1");
                    }
                }
                "Battery" if read_trimmed(&dir.join("scope")).as_deref() != Some("Device") => {
                    let number = |name: &str| read_trimmed(&dir.join(name)).and_then(|s| s.parse::<f64>().ok());
                    let capacity = number("capacity").or_else(|| {
                        let (now, full) = (
                            number("energy_now").or(number("charge_now"))?,
                            number("energy_full").or(number("charge_full"))?,
                        );
                        (full > 0.0).then(|| (now / full * 100.0).min(100.0))
                    });
                    let weight = number("energy_full").or(number("charge_full")).filter(|w| *w > 0.0).unwrap_or(1.0);
                    let status = read_trimmed(&dir.join("status")).unwrap_or_default();
                    batteries.push((capacity, weight, status));
                }
                _ => {}
            }
        }
        if batteries.is_empty() {
            return PowerReading {
                // With no battery the machine can only be running on external power.
                power: Reading::Known(PowerSource::Mains),
                battery_pct: Reading::unknown("no battery"),
                charging: Reading::unknown("no battery"),
            };
        }
        let discharging = batteries.iter().any(|b| b.2 == "Discharging");
        let power = if mains_online.iter().any(|on| *on) {
            PowerSource::Mains
        } else if !mains_online.is_empty() || discharging {
            PowerSource::Battery
        } else {
            PowerSource::Mains
        };
        let known: Vec<(f64, f64)> = batteries.iter().filter_map(|b| b.0.map(|c| (c, b.1))).collect();
        let battery_pct = if known.is_empty() {
            Reading::unknown("the battery reports no charge level")
        } else {
            let total: f64 = known.iter().map(|k| k.1).sum();
            Reading::Known(known.iter().map(|(c, w)| c * w).sum::<f64>() / total)
        };
        let charging = if batteries.iter().all(|b| b.2.is_empty() || b.2 == "Unknown") {
            Reading::unknown("the battery reports no charging status")
        } else {
            Reading::Known(batteries.iter().any(|b| b.2 == "Charging"))
        };
        PowerReading { power: Reading::Known(power), battery_pct, charging }
    }
}

/// Whole-machine load from `/proc/stat`, this process's from `/proc/self/stat`.
pub struct ProcCpu {
    proc_root: PathBuf,
    previous: Option<(CpuTimes, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct CpuTimes {
    busy: u64,
    total: u64,
}

impl ProcCpu {
    pub fn new(proc_root: impl Into<PathBuf>) -> Self {
        ProcCpu { proc_root: proc_root.into(), previous: None }
    }

    fn machine(&self) -> Result<CpuTimes, String> {
        let path = self.proc_root.join("stat");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        parse_proc_stat(&text).ok_or_else(|| format!("{} has no cpu line", path.display()))
    }

    /// This process's user + system time, in clock ticks like `/proc/stat`.
    fn own_ticks(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.proc_root.join("self/stat")).ok()?;
        // Fields after the command name, which is in parentheses and may contain spaces.
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }
}

/// Busy and total jiffies from the aggregate `cpu` line (iowait counts as idle).
fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    if v.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is already inside user).
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    let total: u64 = v.iter().take(8).sum();
    Some(CpuTimes { busy: total - idle, total })
}

impl CpuProbe for ProcCpu {
    fn read(&mut self) -> CpuReading {
        let machine = match self.machine() {
            Ok(m) => m,
            Err(why) => return CpuReading { load_pct: Reading::unknown(&why), other_pct: Reading::unknown(why) },
        };
        let own = self.own_ticks();
        let previous = self.previous.replace((machine, own.unwrap_or(0)));
        let Some((before, own_before)) = previous else {
            let why = "measuring (needs two samples)";
            return CpuReading { load_pct: Reading::unknown(why), other_pct: Reading::unknown(why) };
        };
        let total = machine.total.saturating_sub(before.total);
        if total == 0 {
            let why = "no CPU time passed since the last sample";
            return CpuReading { load_pct: Reading::unknown(why), other_pct: Reading::unknown(why) };
        }
        let busy = machine.busy.saturating_sub(before.busy);
        let load = busy as f64 / total as f64 * 100.0;
        let other_pct = match own {
            Some(own) => {
                let mine = own.saturating_sub(own_before).min(busy);
                Reading::Known((busy - mine) as f64 / total as f64 * 100.0)
            }
            None => Reading::unknown("cannot read /proc/self/stat"),
        };
        CpuReading { load_pct: Reading::Known(load), other_pct }
    }
}

/// Thermal zones and hwmon sensors under `/sys/class`; the hottest plausible reading wins.
pub struct SysfsThermal {
    class_root: PathBuf,
}

impl SysfsThermal {
    pub fn new(class_root: impl Into<PathBuf>) -> Self {
        SysfsThermal { class_root: class_root.into() }
    }

    fn sensor_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let list = |dir: PathBuf| -> Vec<PathBuf> {
            std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default()
        };
        for zone in list(self.class_root.join("thermal")) {
            if zone.file_name().is_some_and(|n| n.to_string_lossy().starts_with("thermal_zone")) {
                files.push(zone.join("temp"));
            }
        }
        for hwmon in list(self.class_root.join("hwmon")) {
            for file in list(hwmon) {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if name.starts_with("temp") && name.ends_with("_input") {
                    files.push(file);
                }
            }
        }
        files
    }
}

impl ThermalProbe for SysfsThermal {
    fn hottest_c(&mut self) -> Reading<f64> {
        let readings: Vec<f64> = self
            .sensor_files()
            .iter()
            .filter_map(|f| read_trimmed(f)?.parse::<f64>().ok())
            .map(|milli| milli / 1000.0)
            // Disconnected sensors report values like -273 or 255.
            .filter(|c| (-40.0..=150.0).contains(c))
            .collect();
        match readings.into_iter().reduce(f64::max) {
            Some(c) => Reading::Known(c),
            None => Reading::unknown(format!(
                "no temperature sensors in {} or {}",
                self.class_root.join("thermal").display(),
                self.class_root.join("hwmon").display()
            )),
        }
    }
}

/// `/proc/meminfo`: MemTotal and MemAvailable.
pub struct ProcMemory {
    path: PathBuf,
}

impl ProcMemory {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ProcMemory { path: path.into() }
    }
}

impl MemoryProbe for ProcMemory {
    fn read(&mut self) -> MemoryReading {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) => {
                let why = format!("cannot read {}: {e}", self.path.display());
                return MemoryReading { total_bytes: Reading::unknown(&why), available_bytes: Reading::unknown(why) };
            }
        };
        let field = |name: &str| -> Reading<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
                .map(|kib| Reading::Known(kib * 1024))
                .unwrap_or_else(|| Reading::unknown(format!("no {name} in {}", self.path.display())))
        };
        MemoryReading { total_bytes: field("MemTotal"), available_bytes: field("MemAvailable") }
    }
}

/// The user's idle time, from the sources a Linux machine has:
///
/// * the X server's screensaver extension, on an X11 display: milliseconds since the last
///   keyboard or mouse input (not under Wayland, where XWayland sees only X clients' input);
/// * logind's `IdleHint`/`IdleSinceHint` (the desktop marks the session idle after its own
///   idle delay, so a graphical user shows as active until then);
/// * the terminals of logged-in users (from utmp, like `w`): the kernel updates a terminal's
///   access time on input, which is how `w` shows idle time for console and SSH users.
///
/// Input on any of them means the user is there, so the shortest idle time wins. With a display
/// but neither of the first two, terminal activity says nothing about the person at the screen,
/// so the reading is unknown rather than misleadingly idle.
pub struct UserIdle {
    utmp: PathBuf,
    dev_root: PathBuf,
    logind: Box<dyn FnMut() -> Result<Option<f64>, String> + Send>,
    /// The X display's idle time, when the node runs on an X11 display.
    x11: Option<IdleSource>,
    graphical: bool,
}

type IdleSource = Box<dyn FnMut() -> Result<f64, String> + Send>;

impl UserIdle {
    pub fn new() -> Self {
        let graphical = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
        let mut logind = Logind::default();
        let x11: Option<IdleSource> = match (std::env::var_os("DISPLAY"), std::env::var_os("WAYLAND_DISPLAY")) {
            (Some(_), None) => {
                let mut display = X11Idle::default();
                Some(Box::new(move || display.idle_secs()))
            }
            _ => None,
        };
        UserIdle {
            utmp: PathBuf::from("/run/utmp"),
            dev_root: PathBuf::from("/dev"),
            logind: Box::new(move || logind.idle_secs()),
            x11,
            graphical,
        }
    }

    /// For tests: another utmp file and `/dev`, a stand-in for logind, and whether a display
    /// is present.
    pub fn with_sources(
        utmp: impl Into<PathBuf>,
        dev_root: impl Into<PathBuf>,
        logind: impl FnMut() -> Result<Option<f64>, String> + Send + 'static,
        graphical: bool,
    ) -> Self {
        UserIdle { utmp: utmp.into(), dev_root: dev_root.into(), logind: Box::new(logind), x11: None, graphical }
    }

    /// For tests: an X display's idle time as another source.
    pub fn with_x11(mut self, x11: impl FnMut() -> Result<f64, String> + Send + 'static) -> Self {
        self.x11 = Some(Box::new(x11));
        self
    }

    /// Seconds since the most recent input on a logged-in user's terminal, if anyone is
    /// logged in on one.
    fn terminal_idle_secs(&self) -> Option<f64> {
        let utmp = std::fs::read(&self.utmp).ok()?;
        let now = SystemTime::now();
        user_terminals(&utmp)
            .iter()
            .filter_map(|line| std::fs::metadata(self.dev_root.join(line)).ok()?.accessed().ok())
            .map(|atime| now.duration_since(atime).unwrap_or_default().as_secs_f64())
            .reduce(f64::min)
    }
}

/// Size of one glibc `struct utmpx` on Linux (x86_64 and aarch64 alike).
const UTMP_RECORD: usize = 384;
const UTMP_USER_PROCESS: i16 = 7;

/// The terminals (`pts/3`, `tty2`) of logged-in users in a utmp file's bytes.
fn user_terminals(utmp: &[u8]) -> Vec<String> {
    utmp.chunks_exact(UTMP_RECORD)
        .filter(|r| i16::from_ne_bytes([r[0], r[1]]) == UTMP_USER_PROCESS)
        .filter_map(|r| {
            let line = &r[8..40];
            let line = &line[..line.iter().position(|b| *b == 0).unwrap_or(line.len())];
            let line = std::str::from_utf8(line).ok()?;
            // Only plain device names under /dev, never a path that climbs out of it.
            let safe = !line.is_empty() && !line.contains("..") && !line.starts_with('/') && !line.contains(':');
            safe.then(|| line.to_string())
        })
        .collect()
}

impl Default for UserIdle {
    fn default() -> Self {
        Self::new()
    }
}

impl IdleProbe for UserIdle {
    fn user_idle_secs(&mut self) -> Reading<f64> {
        let terminal = self.terminal_idle_secs();
        let mut desktop = Vec::new();
        let mut why = Vec::new();
        match self.x11.as_mut().map(|x11| x11()) {
            Some(Ok(secs)) => desktop.push(secs),
            Some(Err(e)) => why.push(e),
            None => {}
        }
        let no_sessions = match (self.logind)() {
            Ok(Some(secs)) => {
                desktop.push(secs);
                false
            }
            Ok(None) => true,
            Err(e) => {
                why.push(e);
                false
            }
        };
        let mut known = desktop.clone();
        if !desktop.is_empty() || !self.graphical {
            known.extend(terminal);
        }
        if let Some(secs) = known.into_iter().reduce(f64::min) {
            return Reading::Known(secs);
        }
        if self.graphical {
            return Reading::unknown(format!(
                "a display is in use but its idle time cannot be read: {}",
                why.join("; ")
            ));
        }
        if no_sessions && why.is_empty() {
            return Reading::unknown("no user sessions");
        }
        Reading::unknown(format!("no terminal logins, and {}", why.join("; ")))
    }
}

/// A connection to the X display, kept between samples, for its screensaver idle time.
#[derive(Default)]
struct X11Idle {
    conn: Option<(x11rb::rust_connection::RustConnection, u32)>,
    failed: Option<(std::time::Instant, String)>,
}

impl X11Idle {
    fn idle_secs(&mut self) -> Result<f64, String> {
        use x11rb::connection::Connection;
        use x11rb::protocol::screensaver::ConnectionExt;
        if let Some((at, why)) = &self.failed {
            if at.elapsed() < SOURCE_RETRY {
                return Err(why.clone());
            }
        }
        if self.conn.is_none() {
            match x11rb::connect(None) {
                Ok((conn, screen)) => {
                    let root = conn.setup().roots.get(screen).map(|s| s.root).unwrap_or_default();
                    self.conn = Some((conn, root));
                }
                Err(e) => return self.fail(format!("cannot open the X display ({e})")),
            }
        }
        let (conn, root) = self.conn.as_ref().expect("connected above");
        let reply = conn
            .screensaver_query_info(*root)
            .map_err(|e| e.to_string())
            .and_then(|c| c.reply().map_err(|e| e.to_string()));
        match reply {
            Ok(info) => {
                self.failed = None;
                Ok(f64::from(info.ms_since_user_input) / 1000.0)
            }
            Err(e) => {
                self.conn = None;
                self.fail(format!("the X server gives no screensaver idle time ({e})"))
            }
        }
    }

    fn fail(&mut self, why: String) -> Result<f64, String> {
        self.failed = Some((std::time::Instant::now(), why.clone()));
        Err(why)
    }
}

/// A system-bus connection to logind, kept between samples. After a failure it is retried
/// once a minute, not at every sample.
#[derive(Default)]
struct Logind {
    conn: Option<dbus::blocking::Connection>,
    failed: Option<(std::time::Instant, String)>,
}

/// How long a source that failed (logind, the X display) is left alone before it is tried again.
const SOURCE_RETRY: Duration = Duration::from_secs(60);

impl Logind {
    /// `Ok(None)` when logind has no sessions to judge by.
    fn idle_secs(&mut self) -> Result<Option<f64>, String> {
        use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
        if let Some((at, why)) = &self.failed {
            if at.elapsed() < SOURCE_RETRY {
                return Err(why.clone());
            }
        }
        if self.conn.is_none() {
            match dbus::blocking::Connection::new_system() {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => {
                    tracing::debug!("D-Bus system bus: {e}");
                    return self.fail("the D-Bus system bus is not reachable".into());
                }
            }
        }
        let conn = self.conn.as_ref().expect("connected above");
        let proxy = conn.with_proxy("org.freedesktop.login1", "/org/freedesktop/login1", Duration::from_millis(500));
        let manager = "org.freedesktop.login1.Manager";
        let answer = proxy
            .get::<bool>(manager, "IdleHint")
            .and_then(|idle| Ok((idle, proxy.get::<u64>(manager, "IdleSinceHint")?)));
        let (idle, since_us) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.conn = None;
                tracing::debug!("logind: {e}");
                return self.fail("logind did not answer".into());
            }
        };
        self.failed = None;
        if since_us == 0 {
            return Ok(None);
        }
        if !idle {
            return Ok(Some(0.0));
        }
        let since = UNIX_EPOCH + Duration::from_micros(since_us);
        Ok(Some(SystemTime::now().duration_since(since).unwrap_or_default().as_secs_f64()))
    }

    fn fail(&mut self, why: String) -> Result<Option<f64>, String> {
        self.failed = Some((std::time::Instant::now(), why.clone()));
        Err(why)
    }
}

#[cfg(test)]
mod tests;
