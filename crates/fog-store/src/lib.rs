//! SQLite storage for Fog Compute.
//!
//! One database file (`fog.db`) in the data directory, opened in WAL mode with foreign keys and
//! a busy timeout. Each domain crate registers its own ordered [`Migration`]s; the store applies
//! the missing ones at open, each in its own transaction, and records them in
//! `schema_migrations`. A file that is not a database, or that a newer build has migrated past
//! what this build knows, is an error naming the file: the store never re-creates a database
//! it cannot read.
//!
//! Writes go through one connection (SQLite allows one writer); reads use their own connection
//! so they never wait behind a long write.

mod event_log;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use event_log::{topic_matches as event_log_topic_matches, EventLog, NewEvent, StoredEvent};
pub use rusqlite;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "fog.db";

/// One schema step of one domain. Versions start at 1 and increase by one.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// The domain that owns the tables, e.g. `"node"`, `"mesh"`.
    pub domain: &'static str,
    /// Position in the domain's sequence, starting at 1.
    pub version: u32,
    /// SQL run once, inside a transaction.
    pub sql: &'static str,
}

/// What can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a Fog Compute database or is damaged ({reason}); move it away to start fresh, or restore a backup")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} was written by a newer Fog Compute ({domain} schema version {found}, this build knows up to {known}); upgrade Fog Compute to open it")]
    NewerSchema { path: PathBuf, domain: String, found: u32, known: u32 },
    #[error("migrations for {domain} are not numbered 1, 2, 3…: expected version {expected}, got {got}")]
    BadMigrationOrder { domain: String, expected: u32, got: u32 },
    #[error("migration {domain} v{version} failed on {path}: {source}")]
    MigrationFailed {
        path: PathBuf,
        domain: String,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// The node's database.
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

impl Store {
    /// Opens (or creates) the database at `path` and applies every pending migration.
    pub fn open(path: &Path, migrations: &[Migration]) -> Result<Self, StoreError> {
        check_order(migrations)?;
        let writer = open_connection(path, OpenFlags::default())?;
        let store_err = |source| classify(path, source);
        // Any read of the schema fails on a file that is not a database.
        let check: String = writer.query_row("PRAGMA quick_check(1)", [], |r| r.get(0)).map_err(store_err)?;
        if check != "ok" {
            return Err(StoreError::Corrupt { path: path.to_owned(), reason: check });
        }
        writer
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    domain TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    applied_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (domain, version)
                 );",
            )
            .map_err(store_err)?;
        apply_migrations(path, &writer, migrations)?;
        let reader = open_connection(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        Ok(Self { path: path.to_owned(), writer: Mutex::new(writer), reader: Mutex::new(reader) })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The write connection. Hold it briefly; group writes in one transaction.
    pub fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The read connection.
    pub fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wraps a rusqlite error with this database's path.
    /// A value from a domain's key/value table (`key TEXT PRIMARY KEY, value TEXT`).
    pub fn setting(&self, table: &'static str, key: &str) -> Result<Option<String>, StoreError> {
        self.reader()
            .query_row(&format!("SELECT value FROM {table} WHERE key = ?1"), [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.error(e))
    }

    pub fn set_setting(&self, table: &'static str, key: &str, value: &str) -> Result<(), StoreError> {
        self.writer()
            .execute(
                &format!(
                    "INSERT INTO {table} (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                [key, value],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }

    pub fn error(&self, source: rusqlite::Error) -> StoreError {
        classify(&self.path, source)
    }

    /// Size of the database file plus its WAL, in bytes.
    pub fn size_bytes(&self) -> u64 {
        let wal = self.path.with_extension("db-wal");
        [self.path.as_path(), wal.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }

    /// Applied schema version of each domain.
    pub fn schema_versions(&self) -> Result<Vec<(String, u32)>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare("SELECT domain, MAX(version) FROM schema_migrations GROUP BY domain ORDER BY domain")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.error(e));
        rows
    }
}

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, e))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| classify(path, e))?;
    // FULL keeps every committed transaction across power loss; callers batch writes
    // (group commit) where rates matter.
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(|e| classify(path, e))?;
    Ok(conn)
}

fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match source.sqlite_error_code() {
        Some(NotADatabase | DatabaseCorrupt) => {
            StoreError::Corrupt { path: path.to_owned(), reason: source.to_string() }
        }
        _ => StoreError::Sqlite { path: path.to_owned(), source },
    }
}

fn check_order(migrations: &[Migration]) -> Result<(), StoreError> {
    let mut domains: Vec<&str> = migrations.iter().map(|m| m.domain).collect();
    domains.sort_unstable();
    domains.dedup();
    for domain in domains {
        for (i, m) in migrations.iter().filter(|m| m.domain == domain).enumerate() {
            let expected = i as u32 + 1;
            if m.version != expected {
                return Err(StoreError::BadMigrationOrder { domain: domain.into(), expected, got: m.version });
            }
        }
    }
    Ok(())
}

fn apply_migrations(path: &Path, conn: &Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    let applied = |domain: &str| -> Result<u32, StoreError> {
        conn.query_row("SELECT MAX(version) FROM schema_migrations WHERE domain = ?1", [domain], |r| {
            r.get::<_, Option<u32>>(0)
        })
        .optional()
        .map(|v| v.flatten().unwrap_or(0))
        .map_err(|e| classify(path, e))
    };
    // A newer schema in any domain this build knows means a newer build wrote the file.
    for m in migrations {
        let known = migrations.iter().filter(|x| x.domain == m.domain).map(|x| x.version).max().unwrap_or(0);
        let found = applied(m.domain)?;
        if found > known {
            return Err(StoreError::NewerSchema { path: path.to_owned(), domain: m.domain.into(), found, known });
        }
    }
    for m in migrations {
        if m.version <= applied(m.domain)? {
            continue;
        }
        let failed = |source| StoreError::MigrationFailed {
            path: path.to_owned(),
            domain: m.domain.into(),
            version: m.version,
            source,
        };
        let run = || -> rusqlite::Result<()> {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(m.sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (domain, version, applied_at_ms) VALUES (?1, ?2, ?3)",
                rusqlite::params![m.domain, m.version, now_ms()],
            )?;
            tx.commit()
        };
        run().map_err(failed)?;
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: Migration = Migration { domain: "t", version: 1, sql: "CREATE TABLE a (x INTEGER);" };
    const TWO: Migration = Migration { domain: "t", version: 2, sql: "ALTER TABLE a ADD COLUMN y TEXT;" };

    #[test]
    fn opens_in_wal_mode_and_applies_migrations_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let store = Store::open(&path, &[ONE]).unwrap();
        let mode: String = store.writer().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = store.writer().query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        drop(store);
        let store = Store::open(&path, &[ONE, TWO]).unwrap();
        store.writer().execute("INSERT INTO a (x, y) VALUES (1, 'b')", []).unwrap();
        assert_eq!(store.schema_versions().unwrap(), vec![("t".to_string(), 2)]);
    }

    #[test]
    fn newer_schema_is_refused_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        Store::open(&path, &[ONE, TWO]).unwrap();
        let err = Store::open(&path, &[ONE]).err().unwrap();
        assert!(matches!(err, StoreError::NewerSchema { found: 2, known: 1, .. }), "{err}");
        assert!(err.to_string().contains(DB_FILE));
    }

    #[test]
    fn garbage_file_is_corrupt_and_left_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let garbage = vec![0x5a_u8; 8192];
        std::fs::write(&path, &garbage).unwrap();
        let err = Store::open(&path, &[ONE]).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(DB_FILE));
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn failed_migration_leaves_nothing_half_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let bad = Migration { domain: "t", version: 2, sql: "CREATE TABLE b (x); SELEKT;" };
        let err = Store::open(&path, &[ONE, bad]).err().unwrap();
        assert!(matches!(err, StoreError::MigrationFailed { version: 2, .. }), "{err}");
        let store = Store::open(&path, &[ONE]).unwrap();
        let b_exists: i64 =
            store.reader().query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'", [], |r| r.get(0)).unwrap();
        assert_eq!(b_exists, 0);
    }

    #[test]
    fn migrations_must_be_numbered_from_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open(&dir.path().join(DB_FILE), &[TWO]).err().unwrap();
        assert!(matches!(err, StoreError::BadMigrationOrder { expected: 1, got: 2, .. }));
    }
}
