//! The job queue as SQLite keeps it: jobs with their module and input (so a restart resumes the
//! queue), every placement attempt, and the last placement rounds. What a job looks like to the
//! API, and the checks a submission passes before anything is stored.

use fog_store::rusqlite::{params, OptionalExtension, Row};
use fog_store::{Migration, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::lifecycle::{Ended, Lifecycle, Phase};
use crate::model::Tier;

pub const MIGRATIONS: &[Migration] = &[Migration {
    domain: "sched",
    version: 1,
    sql: "CREATE TABLE sched_modules (
            hash BLOB PRIMARY KEY,
            bytes BLOB NOT NULL,
            added_ms INTEGER NOT NULL
          );
          CREATE TABLE sched_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            label TEXT NOT NULL,
            module_hash BLOB NOT NULL REFERENCES sched_modules(hash),
            input BLOB NOT NULL,
            tier TEXT NOT NULL,
            cpu INTEGER NOT NULL,
            memory_bytes INTEGER NOT NULL,
            fuel INTEGER NOT NULL,
            timeout_ms INTEGER NOT NULL,
            work REAL NOT NULL,
            work_source TEXT NOT NULL,
            submitted_ms INTEGER NOT NULL,
            deadline_ms INTEGER NOT NULL,
            phase TEXT NOT NULL,
            phase_json TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            remote_id INTEGER,
            placed_ms INTEGER,
            started_ms INTEGER,
            finished_ms INTEGER,
            result_json TEXT,
            output BLOB
          );
          CREATE INDEX sched_jobs_phase ON sched_jobs(phase);
          CREATE INDEX sched_jobs_module ON sched_jobs(module_hash, phase);
          CREATE TABLE sched_attempts (
            job_id INTEGER NOT NULL REFERENCES sched_jobs(id),
            attempt INTEGER NOT NULL,
            node TEXT NOT NULL,
            remote_id INTEGER,
            placed_ms INTEGER NOT NULL,
            ended_ms INTEGER,
            outcome TEXT,
            PRIMARY KEY (job_id, attempt)
          );
          CREATE INDEX sched_attempts_node ON sched_attempts(node);
          CREATE TABLE sched_rounds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_ms INTEGER NOT NULL,
            json TEXT NOT NULL
          );",
}];

/// Placement rounds kept.
const ROUNDS_KEPT: i64 = 100;
/// Largest module plus input: both travel to another node in one request of at most 1 MiB,
/// base64-coded.
pub const MAX_PAYLOAD_BYTES: usize = 700 << 10;
/// Largest output a scheduled job may write: it travels back in one response.
pub const MAX_OUTPUT_BYTES: u64 = 4 << 20;
/// Cores a job may ask for.
pub const MAX_CPU: u32 = 64;
/// A WebAssembly (32-bit) module cannot address more.
pub const MAX_MEMORY_BYTES: u64 = 4 << 30;
/// One WebAssembly page.
pub const MIN_MEMORY_BYTES: u64 = 64 << 10;
pub const MAX_FUEL: u64 = 10_000_000_000_000;
pub const MAX_TIMEOUT_MS: u64 = 24 * 3600 * 1000;
pub const MAX_LABEL_CHARS: usize = 200;
/// Output shown inline when it is UTF-8 text.
pub const OUTPUT_PREVIEW_BYTES: usize = 16 << 10;

/// A batch job as the user submits it, once its module and input are bytes.
#[derive(Debug, Clone)]
pub struct Submission {
    pub label: String,
    pub module: Vec<u8>,
    pub input: Vec<u8>,
    pub tier: Tier,
    /// When it should be done, Unix ms.
    pub deadline_ms: i64,
    pub cpu: u32,
    pub memory_bytes: u64,
    /// Instructions the job may use at most.
    pub fuel: u64,
    pub timeout_ms: u64,
    /// The submitter's estimate of the instructions it needs.
    pub work: Option<f64>,
}

/// A submission the scheduler will not take, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSubmission {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidSubmission {
    InvalidSubmission { field, message: message.into() }
}

impl Submission {
    /// Checks everything but the module's contents (the sandbox judges those).
    pub fn validate(&self, now_ms: i64) -> Result<(), InvalidSubmission> {
        if self.label.chars().count() > MAX_LABEL_CHARS {
            return Err(invalid("label", format!("at most {MAX_LABEL_CHARS} characters")));
        }
        if self.module.is_empty() {
            return Err(invalid("module", "the module is empty"));
        }
        let payload = self.module.len() + self.input.len();
        if payload > MAX_PAYLOAD_BYTES {
            return Err(invalid(
                "input",
                format!(
                    "module and input are {payload} bytes together; a scheduled job may have at most {MAX_PAYLOAD_BYTES}, \
                     because both travel to the node that runs it in one message"
                ),
            ));
        }
        if self.deadline_ms <= now_ms {
            return Err(invalid("deadline", "the deadline has already passed"));
        }
        if !(1..=MAX_CPU).contains(&self.cpu) {
            return Err(invalid("cpu", format!("between 1 and {MAX_CPU} cores, not {}", self.cpu)));
        }
        if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&self.memory_bytes) {
            return Err(invalid(
                "memory_bytes",
                format!(
                    "between {MIN_MEMORY_BYTES} (64 KiB) and {MAX_MEMORY_BYTES} (4 GiB), not {}",
                    self.memory_bytes
                ),
            ));
        }
        if !(1..=MAX_FUEL).contains(&self.fuel) {
            return Err(invalid("fuel", format!("between 1 and {MAX_FUEL} instructions, not {}", self.fuel)));
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&self.timeout_ms) {
            return Err(invalid("timeout_ms", format!("between 1 ms and 24 h, not {} ms", self.timeout_ms)));
        }
        if let Some(work) = self.work {
            if !(work.is_finite() && work > 0.0 && work <= self.fuel as f64) {
                return Err(invalid("work", format!("a positive estimate no larger than the fuel limit, not {work}")));
            }
        }
        Ok(())
    }
}

/// Where a job's work estimate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkSource {
    /// The submitter's estimate.
    Given,
    /// The instructions the last finished run of the same module used.
    Learned,
    /// Neither: the fuel limit, an upper bound.
    FuelLimit,
}

impl WorkSource {
    fn as_str(self) -> &'static str {
        match self {
            WorkSource::Given => "given",
            WorkSource::Learned => "learned",
            WorkSource::FuelLimit => "fuel_limit",
        }
    }

    fn parse(s: &str) -> WorkSource {
        match s {
            "given" => WorkSource::Given,
            "learned" => WorkSource::Learned,
            _ => WorkSource::FuelLimit,
        }
    }
}

/// How a finished run went, as the node that ran it reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct RunResult {
    /// "exit 0", "exit 2", "out of fuel", …
    pub end: String,
    #[ts(type = "number")]
    pub output_bytes: u64,
    /// stdout as text when it is UTF-8 and short enough to show.
    pub output_text: Option<String>,
    pub stderr_text: String,
    #[ts(type = "number")]
    pub fuel_used: u64,
    #[ts(type = "number")]
    pub cpu_ms: u64,
    #[ts(type = "number")]
    pub wall_ms: u64,
}

/// A scheduled job as the dashboard and CLI show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct SchedJob {
    #[ts(type = "number")]
    pub id: u64,
    pub label: String,
    pub module_hash: String,
    #[ts(type = "number")]
    pub input_bytes: u64,
    pub tier: Tier,
    pub cpu: u32,
    #[ts(type = "number")]
    pub memory_bytes: u64,
    #[ts(type = "number")]
    pub fuel: u64,
    #[ts(type = "number")]
    pub timeout_ms: u64,
    /// Estimated instructions.
    pub work: f64,
    pub work_source: WorkSource,
    #[ts(type = "number")]
    pub submitted_ms: i64,
    #[ts(type = "number")]
    pub deadline_ms: i64,
    pub phase: Phase,
    pub attempts: u32,
    pub max_attempts: u32,
    /// The node of the current or last attempt.
    pub node: Option<String>,
    /// The job's id on that node.
    #[ts(type = "number | null")]
    pub remote_id: Option<u64>,
    #[ts(type = "number | null")]
    pub placed_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub started_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub finished_ms: Option<i64>,
    pub result: Option<RunResult>,
}

/// One placement of a job on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Attempt {
    pub attempt: u32,
    pub node: String,
    #[ts(type = "number | null")]
    pub remote_id: Option<u64>,
    #[ts(type = "number")]
    pub placed_ms: i64,
    #[ts(type = "number | null")]
    pub ended_ms: Option<i64>,
    /// "done", "failed: …", "lost: …", "cancelled"; none while it runs.
    pub outcome: Option<String>,
}

/// A placement round: the Pareto front NSGA-II found and the plan chosen from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Round {
    #[ts(type = "number")]
    pub at_ms: i64,
    pub jobs: u32,
    /// Nodes that could take jobs, by id.
    pub nodes: Vec<String>,
    pub duration_ms: f64,
    /// (makespan s, cost, energy J, SLA risk) of each plan on the front.
    pub front: Vec<[f64; 4]>,
    /// Index of the chosen plan in `front`.
    pub chosen: usize,
    pub late_gold: u32,
    pub late_jobs: u32,
    /// The FIFO first-fit plan's objectives, for comparison.
    pub fifo_first_fit: [f64; 4],
    /// How many jobs each node got.
    pub placed: Vec<(String, u32)>,
}

/// Stores a new job; returns its id.
pub fn insert_job(
    store: &Store,
    submission: &Submission,
    work: f64,
    work_source: WorkSource,
    lifecycle: &Lifecycle,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let hash: [u8; 32] = Sha256::digest(&submission.module).into();
    let mut conn = store.writer();
    let tx = conn.transaction().map_err(|e| store.error(e))?;
    tx.execute(
        "INSERT OR IGNORE INTO sched_modules (hash, bytes, added_ms) VALUES (?1, ?2, ?3)",
        params![hash.as_slice(), submission.module, now_ms],
    )
    .map_err(|e| store.error(e))?;
    tx.execute(
        "INSERT INTO sched_jobs (label, module_hash, input, tier, cpu, memory_bytes, fuel, timeout_ms, work,
            work_source, submitted_ms, deadline_ms, phase, phase_json, max_attempts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            submission.label,
            hash.as_slice(),
            submission.input,
            submission.tier.as_str(),
            submission.cpu,
            submission.memory_bytes as i64,
            submission.fuel as i64,
            submission.timeout_ms as i64,
            work,
            work_source.as_str(),
            now_ms,
            submission.deadline_ms,
            lifecycle.phase.name(),
            phase_json(&lifecycle.phase),
            lifecycle.max_attempts,
        ],
    )
    .map_err(|e| store.error(e))?;
    let id = tx.last_insert_rowid() as u64;
    tx.commit().map_err(|e| store.error(e))?;
    Ok(id)
}

fn phase_json(phase: &Phase) -> String {
    serde_json::to_string(phase).expect("phase serializes")
}

/// The instructions the last finished run of this module used, if one finished.
pub fn learned_work(store: &Store, module: &[u8]) -> Result<Option<f64>, StoreError> {
    let hash: [u8; 32] = Sha256::digest(module).into();
    store
        .reader()
        .query_row(
            "SELECT json_extract(result_json, '$.fuel_used') FROM sched_jobs
             WHERE module_hash = ?1 AND phase = 'done' ORDER BY finished_ms DESC LIMIT 1",
            params![hash.as_slice()],
            |r| r.get::<_, Option<f64>>(0),
        )
        .optional()
        .map(|v| v.flatten().filter(|w| *w > 0.0))
        .map_err(|e| store.error(e))
}

/// What changes with a job's phase.
pub struct Transition<'a> {
    pub id: u64,
    pub lifecycle: &'a Lifecycle,
    pub remote_id: Option<u64>,
    pub placed_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// Set when the job ended with a run.
    pub result: Option<(&'a RunResult, &'a [u8])>,
    /// The attempt this transition opens (a new placement) …
    pub opens_attempt: Option<(&'a str, i64)>,
    /// … or closes, with its outcome.
    pub closes_attempt: Option<(&'a str, i64)>,
}

/// Writes a phase change and its attempt record in one transaction.
pub fn record(store: &Store, t: &Transition) -> Result<(), StoreError> {
    let mut conn = store.writer();
    let tx = conn.transaction().map_err(|e| store.error(e))?;
    let (result_json, output) = match t.result {
        Some((result, output)) => (Some(serde_json::to_string(result).expect("result serializes")), Some(output)),
        None => (None, None),
    };
    tx.execute(
        "UPDATE sched_jobs SET phase = ?2, phase_json = ?3, attempts = ?4, remote_id = ?5, placed_ms = ?6,
            started_ms = ?7, finished_ms = ?8,
            result_json = COALESCE(?9, result_json), output = COALESCE(?10, output)
         WHERE id = ?1",
        params![
            t.id as i64,
            t.lifecycle.phase.name(),
            phase_json(&t.lifecycle.phase),
            t.lifecycle.attempts,
            t.remote_id.map(|r| r as i64),
            t.placed_ms,
            t.started_ms,
            t.finished_ms,
            result_json,
            output,
        ],
    )
    .map_err(|e| store.error(e))?;
    if let Some((node, at_ms)) = t.opens_attempt {
        tx.execute(
            "INSERT OR REPLACE INTO sched_attempts (job_id, attempt, node, remote_id, placed_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![t.id as i64, t.lifecycle.attempts, node, t.remote_id.map(|r| r as i64), at_ms],
        )
        .map_err(|e| store.error(e))?;
    }
    if let Some((outcome, at_ms)) = t.closes_attempt {
        tx.execute(
            "UPDATE sched_attempts SET ended_ms = ?3, outcome = ?4
             WHERE job_id = ?1 AND attempt = ?2 AND ended_ms IS NULL",
            params![t.id as i64, t.lifecycle.attempts, at_ms, outcome],
        )
        .map_err(|e| store.error(e))?;
    }
    tx.commit().map_err(|e| store.error(e))
}

const JOB_COLUMNS: &str = "j.id, j.label, j.module_hash, length(j.input), j.tier, j.cpu, j.memory_bytes, j.fuel,
    j.timeout_ms, j.work, j.work_source, j.submitted_ms, j.deadline_ms, j.phase_json, j.attempts, j.max_attempts,
    (SELECT node FROM sched_attempts a WHERE a.job_id = j.id ORDER BY attempt DESC LIMIT 1),
    j.remote_id, j.placed_ms, j.started_ms, j.finished_ms, j.result_json";

fn job_from_row(row: &Row) -> fog_store::rusqlite::Result<SchedJob> {
    let hash: Vec<u8> = row.get(2)?;
    let tier: String = row.get(4)?;
    let phase: String = row.get(13)?;
    let result: Option<String> = row.get(21)?;
    Ok(SchedJob {
        id: row.get::<_, i64>(0)? as u64,
        label: row.get(1)?,
        module_hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
        input_bytes: row.get::<_, i64>(3)? as u64,
        tier: Tier::parse(&tier).unwrap_or(Tier::Bronze),
        cpu: row.get(5)?,
        memory_bytes: row.get::<_, i64>(6)? as u64,
        fuel: row.get::<_, i64>(7)? as u64,
        timeout_ms: row.get::<_, i64>(8)? as u64,
        work: row.get(9)?,
        work_source: WorkSource::parse(&row.get::<_, String>(10)?),
        submitted_ms: row.get(11)?,
        deadline_ms: row.get(12)?,
        phase: serde_json::from_str(&phase)
            .unwrap_or(Phase::Failed { reason: format!("this build cannot read the stored phase {phase}") }),
        attempts: row.get(14)?,
        max_attempts: row.get(15)?,
        node: row.get(16)?,
        remote_id: row.get::<_, Option<i64>>(17)?.map(|r| r as u64),
        placed_ms: row.get(18)?,
        started_ms: row.get(19)?,
        finished_ms: row.get(20)?,
        result: result.and_then(|r| serde_json::from_str(&r).ok()),
    })
}

pub fn job(store: &Store, id: u64) -> Result<Option<SchedJob>, StoreError> {
    store
        .reader()
        .query_row(&format!("SELECT {JOB_COLUMNS} FROM sched_jobs j WHERE j.id = ?1"), [id as i64], job_from_row)
        .optional()
        .map_err(|e| store.error(e))
}

/// Jobs that have not ended, oldest first.
pub fn active_jobs(store: &Store) -> Result<Vec<SchedJob>, StoreError> {
    query_jobs(
        store,
        &format!(
            "SELECT {JOB_COLUMNS} FROM sched_jobs j WHERE j.phase IN ('queued', 'placed', 'running', 'retrying')
             ORDER BY j.id"
        ),
        [],
    )
}

/// The most recent jobs, newest first.
pub fn recent_jobs(store: &Store, limit: u32) -> Result<Vec<SchedJob>, StoreError> {
    query_jobs(store, &format!("SELECT {JOB_COLUMNS} FROM sched_jobs j ORDER BY j.id DESC LIMIT ?1"), [limit])
}

fn query_jobs(store: &Store, sql: &str, args: impl fog_store::rusqlite::Params) -> Result<Vec<SchedJob>, StoreError> {
    let conn = store.reader();
    let mut stmt = conn.prepare_cached(sql).map_err(|e| store.error(e))?;
    let rows = stmt.query_map(args, job_from_row).map_err(|e| store.error(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.error(e))
}

pub fn attempts(store: &Store, id: u64) -> Result<Vec<Attempt>, StoreError> {
    let conn = store.reader();
    let mut stmt = conn
        .prepare_cached(
            "SELECT attempt, node, remote_id, placed_ms, ended_ms, outcome FROM sched_attempts
             WHERE job_id = ?1 ORDER BY attempt",
        )
        .map_err(|e| store.error(e))?;
    let rows = stmt
        .query_map([id as i64], |r| {
            Ok(Attempt {
                attempt: r.get(0)?,
                node: r.get(1)?,
                remote_id: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                placed_ms: r.get(3)?,
                ended_ms: r.get(4)?,
                outcome: r.get(5)?,
            })
        })
        .map_err(|e| store.error(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.error(e))
}

/// What a node needs to run a job.
pub struct Payload {
    pub module: Vec<u8>,
    pub input: Vec<u8>,
}

/// A job's module and input.
pub fn payload(store: &Store, id: u64) -> Result<Option<Payload>, StoreError> {
    store
        .reader()
        .query_row(
            "SELECT m.bytes, j.input FROM sched_jobs j JOIN sched_modules m ON m.hash = j.module_hash WHERE j.id = ?1",
            [id as i64],
            |r| Ok(Payload { module: r.get(0)?, input: r.get(1)? }),
        )
        .optional()
        .map_err(|e| store.error(e))
}

/// A finished job's whole output.
pub fn output(store: &Store, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
    store
        .reader()
        .query_row("SELECT output FROM sched_jobs WHERE id = ?1", [id as i64], |r| r.get::<_, Option<Vec<u8>>>(0))
        .optional()
        .map(Option::flatten)
        .map_err(|e| store.error(e))
}

/// Ended jobs since `since_ms`, as the SLA figures need them.
pub fn ended_since(store: &Store, since_ms: i64) -> Result<Vec<Ended>, StoreError> {
    let conn = store.reader();
    let mut stmt = conn
        .prepare_cached(
            "SELECT tier, submitted_ms, started_ms, finished_ms, deadline_ms, phase = 'done' FROM sched_jobs
             WHERE phase IN ('done', 'failed') AND finished_ms >= ?1",
        )
        .map_err(|e| store.error(e))?;
    let rows = stmt
        .query_map([since_ms], |r| {
            Ok(Ended {
                tier: Tier::parse(&r.get::<_, String>(0)?).unwrap_or(Tier::Bronze),
                submitted_ms: r.get(1)?,
                started_ms: r.get(2)?,
                finished_ms: r.get(3)?,
                deadline_ms: r.get(4)?,
                done: r.get(5)?,
            })
        })
        .map_err(|e| store.error(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.error(e))
}

/// Per node: (attempts ended, attempts done), for its reliability.
pub fn node_record(store: &Store) -> Result<Vec<(String, u32, u32)>, StoreError> {
    let conn = store.reader();
    let mut stmt = conn
        .prepare_cached(
            "SELECT node, count(*), sum(outcome = 'done') FROM sched_attempts
             WHERE ended_ms IS NOT NULL AND outcome != 'cancelled' GROUP BY node",
        )
        .map_err(|e| store.error(e))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(|e| store.error(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.error(e))
}

pub fn save_round(store: &Store, round: &Round) -> Result<(), StoreError> {
    let json = serde_json::to_string(round).expect("round serializes");
    let mut conn = store.writer();
    let tx = conn.transaction().map_err(|e| store.error(e))?;
    tx.execute("INSERT INTO sched_rounds (at_ms, json) VALUES (?1, ?2)", params![round.at_ms, json])
        .map_err(|e| store.error(e))?;
    tx.execute("DELETE FROM sched_rounds WHERE id <= (SELECT max(id) FROM sched_rounds) - ?1", [ROUNDS_KEPT])
        .map_err(|e| store.error(e))?;
    tx.commit().map_err(|e| store.error(e))
}

pub fn last_round(store: &Store) -> Result<Option<Round>, StoreError> {
    let json: Option<String> = store
        .reader()
        .query_row("SELECT json FROM sched_rounds ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
        .optional()
        .map_err(|e| store.error(e))?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// (placement rounds, placements) ever recorded.
pub fn totals(store: &Store) -> Result<(u64, u64), StoreError> {
    let conn = store.reader();
    let rounds: i64 = conn
        .query_row("SELECT COALESCE(max(id), 0) FROM sched_rounds", [], |r| r.get(0))
        .map_err(|e| store.error(e))?;
    let placements: i64 =
        conn.query_row("SELECT count(*) FROM sched_attempts", [], |r| r.get(0)).map_err(|e| store.error(e))?;
    Ok((rounds as u64, placements as u64))
}
