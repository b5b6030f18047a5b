//! Betanet's tables in the node's SQLite database (domain `betanet`): messages sent and
//! received (with the reply SURBs that came with them) and settings such as whether this node
//! was deployed as a mixnode.

use fog_store::rusqlite::{params, OptionalExtension, Row};
use fog_store::{Migration, Store, StoreError};

use crate::model::{BetanetMessage, MessageState};
use crate::sphinx::Surb;

pub const MIGRATIONS: &[Migration] = &[Migration {
    domain: "betanet",
    version: 1,
    sql: "CREATE TABLE betanet_messages (
              id TEXT PRIMARY KEY,
              state TEXT NOT NULL,
              to_peer TEXT,
              body BLOB NOT NULL,
              in_reply_to TEXT,
              reply_surbs BLOB NOT NULL,
              at_ms INTEGER NOT NULL,
              reason TEXT
          );
          CREATE INDEX betanet_messages_by_time ON betanet_messages (at_ms);
          CREATE TABLE betanet_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
}];

pub struct MixStore<'a>(pub &'a Store);

fn encode_surbs(surbs: &[Surb]) -> Vec<u8> {
    let mut out = Vec::new();
    for surb in surbs {
        let bytes = surb.to_bytes();
        out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

fn decode_surbs(mut bytes: &[u8]) -> Vec<Surb> {
    let mut surbs = Vec::new();
    while bytes.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        let Some(surb) = bytes.get(2..2 + len).and_then(|b| Surb::from_bytes(b).ok()) else { break };
        surbs.push(surb);
        bytes = &bytes[2 + len..];
    }
    surbs
}

fn message(row: &Row) -> fog_store::rusqlite::Result<BetanetMessage> {
    let body: Vec<u8> = row.get("body")?;
    let surbs: Vec<u8> = row.get("reply_surbs")?;
    let state: String = row.get("state")?;
    Ok(BetanetMessage {
        id: row.get("id")?,
        state: MessageState::parse(&state).unwrap_or(MessageState::Failed),
        to: row.get("to_peer")?,
        bytes: body.len() as u32,
        binary: std::str::from_utf8(&body).is_err(),
        text: String::from_utf8(body).unwrap_or_default(),
        in_reply_to: row.get("in_reply_to")?,
        reply_surbs: decode_surbs(&surbs).len() as u32,
        at_ms: row.get::<_, i64>("at_ms")? as u64,
        reason: row.get("reason")?,
    })
}

impl MixStore<'_> {
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.setting("betanet_settings", key)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.0.set_setting("betanet_settings", key, value)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &self,
        id: &str,
        state: MessageState,
        to: Option<&str>,
        body: &[u8],
        in_reply_to: Option<&str>,
        reply_surbs: &[Surb],
        at_ms: u64,
    ) -> Result<BetanetMessage, StoreError> {
        self.0
            .writer()
            .execute(
                "INSERT INTO betanet_messages (id, state, to_peer, body, in_reply_to, reply_surbs, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                params![id, state.as_str(), to, body, in_reply_to, encode_surbs(reply_surbs), at_ms as i64],
            )
            .map_err(|e| self.0.error(e))?;
        self.get(id)?.ok_or_else(|| self.0.error(fog_store::rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn set_state(&self, id: &str, state: MessageState, reason: Option<&str>) -> Result<(), StoreError> {
        self.0
            .writer()
            .execute(
                "UPDATE betanet_messages SET state = ?2, reason = ?3 WHERE id = ?1",
                params![id, state.as_str(), reason],
            )
            .map(drop)
            .map_err(|e| self.0.error(e))
    }

    pub fn get(&self, id: &str) -> Result<Option<BetanetMessage>, StoreError> {
        self.0
            .reader()
            .query_row("SELECT * FROM betanet_messages WHERE id = ?1", [id], message)
            .optional()
            .map_err(|e| self.0.error(e))
    }

    /// The reply SURBs of a received message, which are then gone (each is single-use).
    pub fn take_reply_surbs(&self, id: &str) -> Result<Vec<Surb>, StoreError> {
        let conn = self.0.writer();
        let surbs: Option<Vec<u8>> = conn
            .query_row("SELECT reply_surbs FROM betanet_messages WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.0.error(e))?;
        conn.execute("UPDATE betanet_messages SET reply_surbs = x'' WHERE id = ?1", [id])
            .map_err(|e| self.0.error(e))?;
        Ok(surbs.map(|s| decode_surbs(&s)).unwrap_or_default())
    }

    /// The last `limit` messages, newest first.
    pub fn list(&self, limit: u32) -> Result<Vec<BetanetMessage>, StoreError> {
        let conn = self.0.reader();
        let mut stmt = conn
            .prepare("SELECT * FROM betanet_messages ORDER BY at_ms DESC, rowid DESC LIMIT ?1")
            .map_err(|e| self.0.error(e))?;
        let rows = stmt.query_map([limit], message).map_err(|e| self.0.error(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.0.error(e))
    }

    /// Outgoing messages left `sending` by a stop: their SURB keys were in memory, so they
    /// cannot be acknowledged any more.
    pub fn fail_unfinished(&self) -> Result<usize, StoreError> {
        self.0
            .writer()
            .execute(
                "UPDATE betanet_messages SET state = 'failed', reason = 'the node stopped before it was acknowledged'
                 WHERE state = 'sending'",
                [],
            )
            .map_err(|e| self.0.error(e))
    }
}
