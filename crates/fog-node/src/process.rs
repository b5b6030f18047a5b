//! Resource use of this process, read from `/proc`. Unknown values stay unknown.

use crate::api::types::ProcessStats;

/// Samples this process's memory, CPU time and threads.
pub fn sample() -> ProcessStats {
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let field = |name: &str| -> Option<u64> {
        status
            .as_deref()?
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    ProcessStats {
        rss_bytes: field("VmRSS:").map(|kib| kib * 1024),
        threads: field("Threads:").map(|n| n as u32),
        cpu_seconds: cpu_seconds(),
    }
}

fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_real_values_on_linux() {
        let s = super::sample();
        assert!(s.rss_bytes.unwrap() > 0);
        assert!(s.threads.unwrap() >= 1);
        assert!(s.cpu_seconds.unwrap() >= 0.0);
    }
}
