//! Logging: tracing to stderr and to a daily rotating file in `<data dir>/logs`, with a filter
//! that can change while the node runs. The subscriber is process-wide, so the reload handle is
//! too; a node embedded without [`init`] reports its log filter as not editable.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Log file name prefix; the appender adds `.YYYY-MM-DD`.
pub const LOG_FILE_PREFIX: &str = "fog.log";
/// Days of log files kept.
const LOG_FILES_KEPT: usize = 7;

struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    current: Mutex<String>,
    dir: PathBuf,
}

static CONTROL: OnceLock<LogControl> = OnceLock::new();

/// Keeps the background log writer alive; drop it last.
pub struct LogGuard {
    _writer: tracing_appender::non_blocking::WorkerGuard,
}

/// Directory of the log files for a data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// Parses a filter in tracing's syntax.
pub fn parse_filter(filter: &str) -> Result<EnvFilter, String> {
    if filter.trim().is_empty() {
        return Err("the log filter is empty".into());
    }
    EnvFilter::builder().parse(filter).map_err(|e| e.to_string())
}

/// Installs the process-wide subscriber. Call once, before starting a node.
pub fn init(filter: &str, data_dir: &Path) -> anyhow::Result<LogGuard> {
    let dir = log_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create log directory {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(LOG_FILE_PREFIX)
        .max_log_files(LOG_FILES_KEPT)
        .build(&dir)?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let env_filter = parse_filter(filter).map_err(|e| anyhow::anyhow!("invalid log filter {filter:?}: {e}"))?;
    let (filter_layer, handle) = reload::Layer::new(env_filter);
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr),
        )
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file_writer))
        .try_init()?;
    let _ = CONTROL.set(LogControl { handle, current: Mutex::new(filter.to_owned()), dir });
    Ok(LogGuard { _writer: guard })
}

/// The active filter, when this process manages logging.
pub fn current_filter() -> Option<String> {
    CONTROL.get().map(|c| c.current.lock().unwrap_or_else(|p| p.into_inner()).clone())
}

/// Replaces the active filter. Errors name what is wrong with it.
pub fn set_filter(filter: &str) -> Result<(), String> {
    let control = CONTROL.get().ok_or("this process does not manage its log filter")?;
    let parsed = parse_filter(filter)?;
    control.handle.reload(parsed).map_err(|e| e.to_string())?;
    *control.current.lock().unwrap_or_else(|p| p.into_inner()) = filter.to_owned();
    Ok(())
}

/// The directory this process writes its log to, when it manages logging.
pub fn managed_log_dir() -> Option<&'static Path> {
    CONTROL.get().map(|c| c.dir.as_path())
}

/// The newest log file in `dir`.
pub fn newest_log_file(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(LOG_FILE_PREFIX))
        .max_by_key(|e| e.file_name())
        .map(|e| e.path())
}

/// The last `lines` lines of a file, reading at most the last 8 MiB.
pub fn tail(path: &Path, lines: usize) -> std::io::Result<Vec<String>> {
    const MAX_READ: u64 = 8 << 20;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(MAX_READ);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        all.remove(0); // partial first line
    }
    let from = all.len().saturating_sub(lines);
    Ok(all[from..].iter().map(|l| l.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_returns_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fog.log.2026-01-01");
        let text: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(tail(&path, 3).unwrap(), vec!["line 8", "line 9", "line 10"]);
        assert_eq!(tail(&path, 100).unwrap().len(), 10);
    }

    #[test]
    fn newest_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fog.log.2026-01-01"), "a").unwrap();
        std::fs::write(dir.path().join("fog.log.2026-01-02"), "b").unwrap();
        std::fs::write(dir.path().join("other"), "c").unwrap();
        assert!(newest_log_file(dir.path()).unwrap().ends_with("fog.log.2026-01-02"));
    }

    #[test]
    fn filters_are_validated() {
        assert!(parse_filter("info,fog_node=debug").is_ok());
        assert!(parse_filter("").is_err());
        assert!(parse_filter("info,fog_node=loud").is_err());
    }
}
