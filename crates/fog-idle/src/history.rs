//! What the harvester keeps in SQLite: settings, job runs (with their module and input, so a
//! restart resumes the queue), and one device sample a minute for a week.

use fog_store::rusqlite::{params, OptionalExtension, Row};
use fog_store::{Migration, Store, StoreError};

use crate::device::DeviceState;
use crate::harvester::JobRequest;
use crate::jobs::{JobId, JobRecord, JobState, Totals, OUTPUT_PREVIEW_BYTES};
use crate::policy::HarvestSettings;
use crate::sandbox::RunEnd;

pub const MIGRATIONS: &[Migration] = &[Migration {
    domain: "idle",
    version: 1,
    sql: "CREATE TABLE idle_settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            json TEXT NOT NULL,
            updated_ms INTEGER NOT NULL
          );
          CREATE TABLE idle_modules (
            hash BLOB PRIMARY KEY,
            bytes BLOB NOT NULL,
            added_ms INTEGER NOT NULL
          );
          CREATE TABLE idle_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            label TEXT NOT NULL,
            origin TEXT NOT NULL,
            module_hash BLOB NOT NULL REFERENCES idle_modules(hash),
            input BLOB NOT NULL,
            limits TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            preemptions INTEGER NOT NULL DEFAULT 0,
            submitted_ms INTEGER NOT NULL,
            started_ms INTEGER,
            finished_ms INTEGER,
            end_json TEXT,
            stdout BLOB,
            stderr BLOB,
            fuel_used INTEGER NOT NULL DEFAULT 0,
            cpu_ms INTEGER NOT NULL DEFAULT 0,
            wall_ms INTEGER NOT NULL DEFAULT 0,
            peak_memory_bytes INTEGER NOT NULL DEFAULT 0
          );
          CREATE INDEX idle_jobs_state ON idle_jobs(state);
          CREATE TABLE idle_samples (
            at_ms INTEGER PRIMARY KEY,
            json TEXT NOT NULL
          );",
}];

/// Device samples older than this are deleted.
pub const SAMPLE_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

pub fn load_settings(store: &Store) -> Result<Option<HarvestSettings>, StoreError> {
    let conn = store.reader();
    let json: Option<String> = conn
        .query_row("SELECT json FROM idle_settings WHERE id = 1", [], |r| r.get(0))
        .optional()
        .map_err(|e| store.error(e))?;
    // Missing fields take their defaults. Settings this build cannot read at all (written by a
    // newer one) fall back to the defaults, with a warning, rather than stopping idle compute;
    // the stored row is left as it is until the user saves new settings.
    Ok(json.map(|j| {
        serde_json::from_str::<HarvestSettings>(&j).unwrap_or_else(|e| {
            tracing::warn!("the stored harvest settings cannot be read ({e}); using the defaults");
            HarvestSettings::default()
        })
    }))
}

pub fn save_settings(store: &Store, settings: &HarvestSettings) -> Result<(), StoreError> {
    let json = serde_json::to_string(settings).expect("settings serialize");
    store
        .writer()
        .execute(
            "INSERT INTO idle_settings (id, json, updated_ms) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated_ms = excluded.updated_ms",
            params![json, fog_store::now_ms()],
        )
        .map(drop)
        .map_err(|e| store.error(e))
}

/// Stores a new job (and its module, once per hash) and returns its id.
pub fn insert_job(
    store: &Store,
    request: &JobRequest,
    module_hash: &[u8; 32],
    submitted_ms: i64,
) -> Result<JobId, StoreError> {
    let limits = serde_json::to_string(&request.limits).expect("limits serialize");
    let mut conn = store.writer();
    let tx = conn.transaction().map_err(|e| store.error(e))?;
    tx.execute(
        "INSERT OR IGNORE INTO idle_modules (hash, bytes, added_ms) VALUES (?1, ?2, ?3)",
        params![module_hash.as_slice(), request.module, submitted_ms],
    )
    .map_err(|e| store.error(e))?;
    tx.execute(
        "INSERT INTO idle_jobs (label, origin, module_hash, input, limits, state, submitted_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
        params![request.label, request.origin, module_hash.as_slice(), request.input, limits, submitted_ms],
    )
    .map_err(|e| store.error(e))?;
    let id = tx.last_insert_rowid();
    tx.commit().map_err(|e| store.error(e))?;
    Ok(JobId(id as u64))
}

/// Writes a job's state and run figures (not its module or input, which never change).
pub fn update_job(store: &Store, job: &JobRecord) -> Result<(), StoreError> {
    let end = job.end.as_ref().map(|e| serde_json::to_string(e).expect("run end"));
    store
        .writer()
        .execute(
            "UPDATE idle_jobs SET state = ?2, attempts = ?3, preemptions = ?4, started_ms = ?5, finished_ms = ?6,
                end_json = ?7, stdout = ?8, stderr = ?9, fuel_used = ?10, cpu_ms = ?11, wall_ms = ?12,
                peak_memory_bytes = ?13
             WHERE id = ?1",
            params![
                job.id.0 as i64,
                job.state.as_str(),
                job.attempts,
                job.preemptions,
                job.started_ms,
                job.finished_ms,
                end,
                job.stdout,
                job.stderr,
                job.fuel_used as i64,
                job.cpu_ms as i64,
                job.wall_ms as i64,
                job.peak_memory_bytes as i64,
            ],
        )
        .map(drop)
        .map_err(|e| store.error(e))
}

const JOB_COLUMNS: &str = "id, label, origin, module_hash, length(input), limits, state, attempts, preemptions,
    submitted_ms, started_ms, finished_ms, end_json, stdout, stderr, fuel_used, cpu_ms, wall_ms, peak_memory_bytes,
    COALESCE(length(stdout), 0)";

fn job_from_row(row: &Row<'_>) -> fog_store::rusqlite::Result<JobRecord> {
    let hash: Vec<u8> = row.get(3)?;
    let limits: String = row.get(5)?;
    let state: String = row.get(6)?;
    let end: Option<String> = row.get(12)?;
    Ok(JobRecord {
        id: JobId(row.get::<_, i64>(0)? as u64),
        label: row.get(1)?,
        origin: row.get(2)?,
        module_hash: hash.try_into().unwrap_or([0; 32]),
        input_bytes: row.get::<_, i64>(4)? as u64,
        limits: serde_json::from_str(&limits).unwrap_or_default(),
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        attempts: row.get(7)?,
        preemptions: row.get(8)?,
        submitted_ms: row.get(9)?,
        started_ms: row.get(10)?,
        finished_ms: row.get(11)?,
        end: end.and_then(|e| serde_json::from_str::<RunEnd>(&e).ok()),
        stdout: row.get::<_, Option<Vec<u8>>>(13)?.unwrap_or_default(),
        output_bytes: row.get::<_, i64>(19)? as u64,
        stderr: row.get::<_, Option<Vec<u8>>>(14)?.unwrap_or_default(),
        fuel_used: row.get::<_, i64>(15)? as u64,
        cpu_ms: row.get::<_, i64>(16)? as u64,
        wall_ms: row.get::<_, i64>(17)? as u64,
        peak_memory_bytes: row.get::<_, i64>(18)? as u64,
    })
}

pub fn job(store: &Store, id: JobId) -> Result<Option<JobRecord>, StoreError> {
    store
        .reader()
        .query_row(&format!("SELECT {JOB_COLUMNS} FROM idle_jobs WHERE id = ?1"), [id.0 as i64], job_from_row)
        .optional()
        .map_err(|e| store.error(e))
}

/// Jobs not finished: queued, or running when the node last stopped.
pub fn unfinished_jobs(store: &Store) -> Result<Vec<JobRecord>, StoreError> {
    let conn = store.reader();
    let mut stmt = conn
        .prepare(&format!("SELECT {JOB_COLUMNS} FROM idle_jobs WHERE state IN ('queued', 'running') ORDER BY id"))
        .map_err(|e| store.error(e))?;
    let rows = stmt.query_map([], job_from_row).map_err(|e| store.error(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.error(e))
}

/// The most recently finished jobs, newest first, without their output.
pub fn recent_jobs(store: &Store, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
    let conn = store.reader();
    // Listings carry short output only, and the end of stderr.
    let columns = JOB_COLUMNS.replace(
        "stdout, stderr,",
        &format!("CASE WHEN length(stdout) <= {OUTPUT_PREVIEW_BYTES} THEN stdout END, substr(stderr, -4096),"),
    );
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {columns} FROM idle_jobs WHERE state NOT IN ('queued', 'running') ORDER BY finished_ms DESC, id DESC LIMIT ?1"
        ))
        .map_err(|e| store.error(e))?;
    let rows = stmt.query_map([limit], job_from_row).map_err(|e| store.error(e))?;
    rows.collect::<Result<_, _>>().map_err(|e| store.error(e))
}

/// What a job runs: its module's bytes and its input.
pub struct JobCode {
    pub module: Vec<u8>,
    pub input: Vec<u8>,
}

pub fn job_code(store: &Store, id: JobId) -> Result<Option<JobCode>, StoreError> {
    store
        .reader()
        .query_row(
            "SELECT m.bytes, j.input FROM idle_jobs j JOIN idle_modules m ON m.hash = j.module_hash WHERE j.id = ?1",
            [id.0 as i64],
            |r| Ok(JobCode { module: r.get(0)?, input: r.get(1)? }),
        )
        .optional()
        .map_err(|e| store.error(e))
}

pub fn totals(store: &Store) -> Result<Totals, StoreError> {
    store
        .reader()
        .query_row(
            "SELECT COALESCE(SUM(cpu_ms), 0), COALESCE(SUM(fuel_used), 0),
                    COUNT(*) FILTER (WHERE state = 'completed'),
                    COUNT(*) FILTER (WHERE state = 'failed'),
                    COALESCE(SUM(preemptions), 0),
                    MIN(submitted_ms)
             FROM idle_jobs",
            [],
            |r| {
                Ok(Totals {
                    cpu_seconds: r.get::<_, i64>(0)? as f64 / 1000.0,
                    fuel: r.get::<_, i64>(1)? as u64,
                    jobs_completed: r.get::<_, i64>(2)? as u64,
                    jobs_failed: r.get::<_, i64>(3)? as u64,
                    jobs_preempted: r.get::<_, i64>(4)? as u64,
                    since_ms: r.get(5)?,
                })
            },
        )
        .map_err(|e| store.error(e))
}

pub fn record_sample(store: &Store, sample: &DeviceState) -> Result<(), StoreError> {
    let mut conn = store.writer();
    let tx = conn.transaction().map_err(|e| store.error(e))?;
    tx.execute(
        "INSERT OR REPLACE INTO idle_samples (at_ms, json) VALUES (?1, ?2)",
        params![sample.at_ms, serde_json::to_string(sample).expect("sample")],
    )
    .map_err(|e| store.error(e))?;
    tx.execute("DELETE FROM idle_samples WHERE at_ms < ?1", [sample.at_ms - SAMPLE_RETENTION_MS])
        .map_err(|e| store.error(e))?;
    tx.commit().map_err(|e| store.error(e))
}
