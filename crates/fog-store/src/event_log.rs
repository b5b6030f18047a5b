//! The node event log: every bus event, appended in batches (group commit).

use rusqlite::params;

use crate::{Migration, Store, StoreError};

/// An event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub ts_ms: i64,
    pub topic: String,
    pub kind: String,
    pub data: serde_json::Value,
}

/// An event as stored, with its sequence number.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub ts_ms: i64,
    pub topic: String,
    pub kind: String,
    pub data: serde_json::Value,
}

/// Access to the `node_events` table.
pub struct EventLog;

impl EventLog {
    /// Schema of the event log.
    pub const MIGRATIONS: &'static [Migration] = &[Migration {
        domain: "event_log",
        version: 1,
        sql: "CREATE TABLE node_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                ts_ms INTEGER NOT NULL,
                topic TEXT NOT NULL,
                kind TEXT NOT NULL,
                data TEXT NOT NULL
              );
              CREATE INDEX node_events_topic ON node_events (topic, id);",
    }];

    /// Appends events in one transaction; returns their ids in order.
    pub fn append(store: &Store, events: &[NewEvent]) -> Result<Vec<i64>, StoreError> {
        let mut conn = store.writer();
        let mut run = || -> rusqlite::Result<Vec<i64>> {
            let tx = conn.transaction()?;
            let mut ids = Vec::with_capacity(events.len());
            {
                let mut stmt =
                    tx.prepare_cached("INSERT INTO node_events (ts_ms, topic, kind, data) VALUES (?1, ?2, ?3, ?4)")?;
                for e in events {
                    stmt.execute(params![e.ts_ms, e.topic, e.kind, e.data.to_string()])?;
                    ids.push(tx.last_insert_rowid());
                }
            }
            tx.commit()?;
            Ok(ids)
        };
        run().map_err(|e| store.error(e))
    }

    /// The newest `limit` events (optionally only topics starting with one of `topics`),
    /// oldest first.
    pub fn recent(store: &Store, limit: u32, topics: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let conn = store.reader();
        let run = || -> rusqlite::Result<Vec<StoredEvent>> {
            let mut stmt =
                conn.prepare_cached("SELECT id, ts_ms, topic, kind, data FROM node_events ORDER BY id DESC")?;
            let mut out = Vec::new();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                if out.len() as u32 >= limit {
                    break;
                }
                let topic: String = row.get(2)?;
                if !topics.is_empty() && !topics.iter().any(|t| topic_matches(&topic, t)) {
                    continue;
                }
                let data: String = row.get(4)?;
                out.push(StoredEvent {
                    id: row.get(0)?,
                    ts_ms: row.get(1)?,
                    topic,
                    kind: row.get(3)?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                });
            }
            out.reverse();
            Ok(out)
        };
        run().map_err(|e| store.error(e))
    }

    /// Number of events in the log.
    pub fn count(store: &Store) -> Result<u64, StoreError> {
        store
            .reader()
            .query_row("SELECT COUNT(*) FROM node_events", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| store.error(e))
    }
}

/// Whether `topic` is `filter` or below it (`service` matches `service` and `service.api`).
pub fn topic_matches(topic: &str, filter: &str) -> bool {
    topic == filter || (topic.starts_with(filter) && topic.as_bytes().get(filter.len()) == Some(&b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(topic: &str, n: i64) -> NewEvent {
        NewEvent { ts_ms: n, topic: topic.into(), kind: "k".into(), data: serde_json::json!({ "n": n }) }
    }

    #[test]
    fn appends_and_reads_back_in_order_with_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("fog.db"), EventLog::MIGRATIONS).unwrap();
        let ids = EventLog::append(&store, &[event("node", 1), event("service.api", 2), event("services", 3)]).unwrap();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let all = EventLog::recent(&store, 10, &[]).unwrap();
        assert_eq!(all.iter().map(|e| e.ts_ms).collect::<Vec<_>>(), vec![1, 2, 3]);
        let service = EventLog::recent(&store, 10, &["service".into()]).unwrap();
        assert_eq!(service.len(), 1);
        assert_eq!(service[0].data, serde_json::json!({ "n": 2 }));
        assert_eq!(EventLog::recent(&store, 2, &[]).unwrap()[0].ts_ms, 2);
        assert_eq!(EventLog::count(&store).unwrap(), 3);
    }

    #[test]
    fn committed_events_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fog.db");
        {
            let store = Store::open(&path, EventLog::MIGRATIONS).unwrap();
            EventLog::append(&store, &[event("node", 7)]).unwrap();
            // Dropped without any explicit close or checkpoint, as after a kill.
            std::mem::forget(store);
        }
        let store = Store::open(&path, EventLog::MIGRATIONS).unwrap();
        assert_eq!(EventLog::recent(&store, 10, &[]).unwrap()[0].ts_ms, 7);
    }

    proptest::proptest! {
        #[test]
        fn topic_matching_is_prefix_on_segments(a in "[a-z]{1,5}", b in "[a-z]{1,5}") {
            let child = format!("{a}.{b}");
            proptest::prop_assert!(topic_matches(&child, &a));
            proptest::prop_assert!(topic_matches(&a, &a));
            let joined = format!("{a}{b}");
            proptest::prop_assert!(!topic_matches(&joined, &a));
        }
    }
}
