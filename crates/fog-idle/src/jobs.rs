//! Donated jobs as the harvester tracks them, and the views the API shows.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::sandbox::{hex, JobLimits, RunEnd};

/// Longest stdout shown inline as text; longer or binary output is fetched separately.
pub const OUTPUT_PREVIEW_BYTES: usize = 16 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JobId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for the policy or a free core.
    Queued,
    Running,
    /// Exited with status 0.
    Completed,
    /// Exited with another status, or was stopped by one of its limits or a trap.
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        [JobState::Queued, JobState::Running, JobState::Completed, JobState::Failed, JobState::Cancelled]
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: JobId,
    pub label: String,
    /// "local" or the peer id that offered it.
    pub origin: String,
    pub module_hash: [u8; 32],
    pub input_bytes: u64,
    pub limits: JobLimits,
    pub state: JobState,
    pub attempts: u32,
    pub preemptions: u32,
    pub submitted_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub end: Option<RunEnd>,
    /// The whole stdout, or only as much as a listing needs (see `output_bytes`).
    pub stdout: Vec<u8>,
    pub output_bytes: u64,
    pub stderr: Vec<u8>,
    /// Summed over all attempts, preempted ones included: that work was donated too.
    pub fuel_used: u64,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub peak_memory_bytes: u64,
}

/// A job as the dashboard and CLI show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct JobView {
    #[ts(type = "number")]
    pub id: u64,
    pub label: String,
    pub origin: String,
    pub module_hash: String,
    pub state: JobState,
    pub attempts: u32,
    pub preemptions: u32,
    #[ts(type = "number")]
    pub submitted_ms: i64,
    #[ts(type = "number | null")]
    pub started_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub finished_ms: Option<i64>,
    pub end: Option<RunEnd>,
    pub limits: JobLimits,
    #[ts(type = "number")]
    pub input_bytes: u64,
    #[ts(type = "number")]
    pub output_bytes: u64,
    /// stdout as text when it is UTF-8 and short enough to show.
    pub output_text: Option<String>,
    /// The end of stderr, for diagnostics.
    pub stderr_text: String,
    #[ts(type = "number")]
    pub fuel_used: u64,
    #[ts(type = "number")]
    pub cpu_ms: u64,
    #[ts(type = "number")]
    pub wall_ms: u64,
    #[ts(type = "number")]
    pub peak_memory_bytes: u64,
}

impl From<&JobRecord> for JobView {
    fn from(job: &JobRecord) -> Self {
        let complete = job.stdout.len() as u64 == job.output_bytes;
        let output_text = (complete && job.stdout.len() <= OUTPUT_PREVIEW_BYTES)
            .then(|| String::from_utf8(job.stdout.clone()).ok())
            .flatten();
        let stderr_tail = &job.stderr[job.stderr.len().saturating_sub(4096)..];
        JobView {
            id: job.id.0,
            label: job.label.clone(),
            origin: job.origin.clone(),
            module_hash: hex(&job.module_hash),
            state: job.state,
            attempts: job.attempts,
            preemptions: job.preemptions,
            submitted_ms: job.submitted_ms,
            started_ms: job.started_ms,
            finished_ms: job.finished_ms,
            end: job.end.clone(),
            limits: job.limits.clone(),
            input_bytes: job.input_bytes,
            output_bytes: job.output_bytes,
            output_text,
            stderr_text: String::from_utf8_lossy(stderr_tail).into_owned(),
            fuel_used: job.fuel_used,
            cpu_ms: job.cpu_ms,
            wall_ms: job.wall_ms,
            peak_memory_bytes: job.peak_memory_bytes,
        }
    }
}

/// Harvest totals since the first job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Totals {
    pub cpu_seconds: f64,
    #[ts(type = "number")]
    pub fuel: u64,
    #[ts(type = "number")]
    pub jobs_completed: u64,
    #[ts(type = "number")]
    pub jobs_failed: u64,
    #[ts(type = "number")]
    pub jobs_preempted: u64,
    #[ts(type = "number | null")]
    pub since_ms: Option<i64>,
}
