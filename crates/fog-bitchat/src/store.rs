//! BitChat's tables in the node's SQLite database (domain `bitchat`): pinned peers with the
//! user's favourite and verified marks, every public and private message with its delivery
//! state (the outbox is the outgoing private messages still queued or sent), and settings.
//! Each change is one statement, committed before the engine's next step.

use fog_store::rusqlite::{params, OptionalExtension, Row};
use fog_store::{Migration, Store, StoreError};

use crate::engine::{parse_peer_id, KnownPeer, Pending, OUTBOX_KEEP_MS};
use crate::model::{ChatMessage, DeliveryState};
use crate::PeerId;

pub const MIGRATIONS: &[Migration] = &[Migration {
    domain: "bitchat",
    version: 1,
    sql: "CREATE TABLE bitchat_peers (
              peer_id TEXT PRIMARY KEY,
              nickname TEXT NOT NULL,
              noise_key BLOB NOT NULL,
              signing_key BLOB NOT NULL,
              first_seen_ms INTEGER NOT NULL,
              last_heard_ms INTEGER NOT NULL,
              favourite INTEGER NOT NULL DEFAULT 0,
              verified INTEGER NOT NULL DEFAULT 0
          );
          CREATE TABLE bitchat_messages (
              channel TEXT NOT NULL,
              id TEXT NOT NULL,
              sender TEXT NOT NULL,
              sender_nickname TEXT NOT NULL,
              text TEXT NOT NULL,
              timestamp_ms INTEGER NOT NULL,
              received_ms INTEGER NOT NULL,
              outgoing INTEGER NOT NULL,
              private INTEGER NOT NULL,
              delivery TEXT,
              read INTEGER NOT NULL DEFAULT 0,
              PRIMARY KEY (channel, id)
          );
          CREATE INDEX bitchat_messages_by_time ON bitchat_messages (channel, received_ms);
          CREATE TABLE bitchat_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
}];

pub struct ChatStore<'a>(pub &'a Store);

fn message(row: &Row) -> fog_store::rusqlite::Result<ChatMessage> {
    let delivery: Option<String> = row.get("delivery")?;
    Ok(ChatMessage {
        id: row.get("id")?,
        channel: row.get("channel")?,
        sender: row.get("sender")?,
        sender_nickname: row.get("sender_nickname")?,
        text: row.get("text")?,
        timestamp_ms: row.get::<_, i64>("timestamp_ms")? as u64,
        received_ms: row.get::<_, i64>("received_ms")? as u64,
        outgoing: row.get("outgoing")?,
        private: row.get("private")?,
        delivery: delivery.as_deref().and_then(DeliveryState::parse),
        read: row.get("read")?,
    })
}

impl ChatStore<'_> {
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0.setting("bitchat_settings", key)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.0.set_setting("bitchat_settings", key, value)
    }

    pub fn pin(
        &self,
        peer: &PeerId,
        nickname: &str,
        noise_key: &[u8; 32],
        signing_key: &[u8; 32],
        at_ms: u64,
    ) -> Result<(), StoreError> {
        self.0
            .writer()
            .execute(
                "INSERT INTO bitchat_peers (peer_id, nickname, noise_key, signing_key, first_seen_ms, last_heard_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (peer_id) DO NOTHING",
                params![hex::encode(peer), nickname, &noise_key[..], &signing_key[..], at_ms as i64],
            )
            .map(drop)
            .map_err(|e| self.0.error(e))
    }

    pub fn heard(&self, peer: &str, nickname: &str, last_heard_ms: u64) -> Result<(), StoreError> {
        self.0
            .writer()
            .execute(
                "UPDATE bitchat_peers SET nickname = ?2, last_heard_ms = MAX(last_heard_ms, ?3) WHERE peer_id = ?1",
                params![peer, nickname, last_heard_ms as i64],
            )
            .map(drop)
            .map_err(|e| self.0.error(e))
    }

    pub fn set_flags(&self, peer: &str, favourite: Option<bool>, verified: Option<bool>) -> Result<bool, StoreError> {
        self.0
            .writer()
            .execute(
                "UPDATE bitchat_peers SET favourite = COALESCE(?2, favourite), verified = COALESCE(?3, verified)
                 WHERE peer_id = ?1",
                params![peer, favourite, verified],
            )
            .map(|n| n > 0)
            .map_err(|e| self.0.error(e))
    }

    pub fn peers(&self) -> Result<Vec<(PeerId, KnownPeer)>, StoreError> {
        let conn = self.0.reader();
        let mut stmt = conn
            .prepare(
                "SELECT peer_id, nickname, noise_key, signing_key, first_seen_ms, last_heard_ms, favourite, verified
                 FROM bitchat_peers",
            )
            .map_err(|e| self.0.error(e))?;
        let rows = stmt
            .query_map([], |r| {
                let key = |i: usize| -> fog_store::rusqlite::Result<[u8; 32]> {
                    let bytes: Vec<u8> = r.get(i)?;
                    Ok(bytes.try_into().unwrap_or([0; 32]))
                };
                Ok((
                    r.get::<_, String>(0)?,
                    KnownPeer {
                        nickname: r.get(1)?,
                        noise_key: key(2)?,
                        signing_key: key(3)?,
                        first_seen_ms: r.get::<_, i64>(4)? as u64,
                        last_heard_ms: r.get::<_, i64>(5)? as u64,
                        favourite: r.get(6)?,
                        verified: r.get(7)?,
                    },
                ))
            })
            .map_err(|e| self.0.error(e))?;
        let mut peers = Vec::new();
        for row in rows {
            let (id, known) = row.map_err(|e| self.0.error(e))?;
            if let Some(id) = parse_peer_id(&id) {
                peers.push((id, known));
            }
        }
        Ok(peers)
    }

    /// Stores a message; a repeat of one already stored changes nothing.
    pub fn add_message(&self, m: &ChatMessage) -> Result<(), StoreError> {
        self.0
            .writer()
            .execute(
                "INSERT INTO bitchat_messages (channel, id, sender, sender_nickname, text, timestamp_ms, received_ms,
                     outgoing, private, delivery, read)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (channel, id) DO NOTHING",
                params![
                    m.channel,
                    m.id,
                    m.sender,
                    m.sender_nickname,
                    m.text,
                    m.timestamp_ms as i64,
                    m.received_ms as i64,
                    m.outgoing,
                    m.private,
                    m.delivery.map(DeliveryState::as_str),
                    m.read
                ],
            )
            .map(drop)
            .map_err(|e| self.0.error(e))
    }

    /// Moves an outgoing private message's state forward (never back). True if it changed.
    pub fn set_delivery(&self, channel: &str, id: &str, state: DeliveryState) -> Result<bool, StoreError> {
        let conn = self.0.writer();
        let current: Option<Option<String>> = conn
            .query_row("SELECT delivery FROM bitchat_messages WHERE channel = ?1 AND id = ?2", [channel, id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.0.error(e))?;
        let Some(current) = current else { return Ok(false) };
        let current = current.as_deref().and_then(DeliveryState::parse);
        if current.is_some_and(|c| c.rank() >= state.rank()) {
            return Ok(false);
        }
        conn.execute(
            "UPDATE bitchat_messages SET delivery = ?3 WHERE channel = ?1 AND id = ?2",
            params![channel, id, state.as_str()],
        )
        .map_err(|e| self.0.error(e))?;
        Ok(true)
    }

    /// Marks a private chat's received messages read; returns the ids that were unread.
    pub fn mark_read(&self, channel: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.0.writer();
        let ids: Vec<String> = {
            let mut stmt = conn
                .prepare(
                    "SELECT id FROM bitchat_messages WHERE channel = ?1 AND outgoing = 0 AND private = 1 AND read = 0",
                )
                .map_err(|e| self.0.error(e))?;
            let rows = stmt.query_map([channel], |r| r.get(0)).map_err(|e| self.0.error(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.0.error(e))?
        };
        conn.execute(
            "UPDATE bitchat_messages SET read = 1 WHERE channel = ?1 AND outgoing = 0 AND private = 1",
            [channel],
        )
        .map_err(|e| self.0.error(e))?;
        Ok(ids)
    }

    /// Messages of one channel (or all), oldest first, the last `limit`.
    pub fn messages(&self, channel: Option<&str>, limit: u32) -> Result<Vec<ChatMessage>, StoreError> {
        let conn = self.0.reader();
        let mut stmt = conn
            .prepare(
                "SELECT * FROM (SELECT rowid AS seq, * FROM bitchat_messages WHERE ?1 IS NULL OR channel = ?1
                 ORDER BY received_ms DESC, seq DESC LIMIT ?2) ORDER BY received_ms, seq",
            )
            .map_err(|e| self.0.error(e))?;
        let rows = stmt.query_map(params![channel, limit], message).map_err(|e| self.0.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.0.error(e))
    }

    /// Outgoing private messages still waiting for a receipt, younger than 24 h.
    pub fn outbox(&self, now_ms: u64) -> Result<Vec<Pending>, StoreError> {
        let conn = self.0.reader();
        let mut stmt = conn
            .prepare(
                "SELECT channel, id, text, timestamp_ms FROM bitchat_messages
                 WHERE outgoing = 1 AND private = 1 AND delivery IN ('queued', 'sent') AND timestamp_ms >= ?1
                 ORDER BY timestamp_ms",
            )
            .map_err(|e| self.0.error(e))?;
        let since = now_ms.saturating_sub(OUTBOX_KEEP_MS) as i64;
        let rows = stmt
            .query_map([since], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })
            .map_err(|e| self.0.error(e))?;
        let mut pending = Vec::new();
        for row in rows {
            let (channel, id, text, created) = row.map_err(|e| self.0.error(e))?;
            if let Some(peer) = parse_peer_id(&channel) {
                pending.push(Pending { peer, id, text, created_ms: created as u64, tries: 0 });
            }
        }
        Ok(pending)
    }

    /// Ids of private messages already received, so a sender's retry is not shown twice.
    pub fn received_private_ids(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.0.reader();
        let mut stmt = conn
            .prepare("SELECT id FROM bitchat_messages WHERE outgoing = 0 AND private = 1 AND received_ms >= ?1")
            .map_err(|e| self.0.error(e))?;
        let since = (fog_store::now_ms() as u64).saturating_sub(OUTBOX_KEEP_MS) as i64;
        let rows = stmt.query_map([since], |r| r.get(0)).map_err(|e| self.0.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.0.error(e))
    }
}
