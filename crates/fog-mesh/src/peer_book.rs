//! The peer book: every peer this node has met, kept in SQLite, and redialled on start.
//!
//! [`keep_connected`] watches the mesh's peer events, records them in the book, and at start
//! dials every known peer and every bootstrap address until each is connected once, backing off
//! after each attempt that did not connect (2 s, 4 s, 8 s … up to 5 minutes). A peer that later
//! goes away is not chased: it redials us from its own book when it comes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fog_store::rusqlite::params;
use fog_store::{Migration, Store, StoreError};
use tokio::sync::broadcast::error::RecvError;

use crate::{Mesh, PeerEvent};

/// Schema of the peer book.
pub const MIGRATIONS: &[Migration] = &[Migration {
    domain: "mesh",
    version: 1,
    sql: "CREATE TABLE mesh_peers (
            peer_id TEXT PRIMARY KEY,
            addresses TEXT NOT NULL DEFAULT '[]',
            first_seen_ms INTEGER NOT NULL,
            last_seen_ms INTEGER NOT NULL,
            last_latency_us INTEGER,
            failures INTEGER NOT NULL DEFAULT 0
          );",
}];

/// Addresses kept per peer; a peer announcing more keeps the first ones.
const MAX_ADDRESSES: usize = 8;
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
const REDIAL_TICK: Duration = Duration::from_millis(500);

/// A peer as the book remembers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownPeer {
    pub peer: String,
    /// Listen addresses the peer announced, without `/p2p/…`.
    pub addresses: Vec<String>,
    /// Unix milliseconds.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub last_latency_us: Option<i64>,
    /// Dial failures since the last successful connection.
    pub failures: u32,
}

/// A change to record.
#[derive(Clone, Debug, PartialEq)]
pub enum BookEntry {
    Seen { peer: String, at_ms: i64 },
    Addresses { peer: String, addresses: Vec<String>, at_ms: i64 },
    Latency { peer: String, rtt: Duration },
    DialFailed { peer: String },
}

/// The `mesh_peers` table.
#[derive(Clone)]
pub struct PeerBook {
    store: Arc<Store>,
}

impl PeerBook {
    pub fn new(store: Arc<Store>) -> Self {
        Self { store }
    }

    /// Every known peer, most recently seen first.
    pub fn all(&self) -> Result<Vec<KnownPeer>, StoreError> {
        let conn = self.store.reader();
        let mut stmt = conn
            .prepare(
                "SELECT peer_id, addresses, first_seen_ms, last_seen_ms, last_latency_us, failures
                 FROM mesh_peers ORDER BY last_seen_ms DESC, peer_id",
            )
            .map_err(|e| self.store.error(e))?;
        let rows = stmt
            .query_map([], |row| {
                let addresses: String = row.get(1)?;
                Ok(KnownPeer {
                    peer: row.get(0)?,
                    addresses: serde_json::from_str(&addresses).unwrap_or_default(),
                    first_seen_ms: row.get(2)?,
                    last_seen_ms: row.get(3)?,
                    last_latency_us: row.get(4)?,
                    failures: row.get(5)?,
                })
            })
            .map_err(|e| self.store.error(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.store.error(e))
    }

    /// Records one change, in its own transaction.
    pub fn record(&self, entry: &BookEntry) -> Result<(), StoreError> {
        let conn = self.store.writer();
        let result = match entry {
            BookEntry::Seen { peer, at_ms } => conn.execute(
                "INSERT INTO mesh_peers (peer_id, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?2)
                 ON CONFLICT(peer_id) DO UPDATE SET last_seen_ms = ?2, failures = 0",
                params![peer, at_ms],
            ),
            BookEntry::Addresses { peer, addresses, at_ms } => {
                let kept: Vec<&String> = addresses.iter().take(MAX_ADDRESSES).collect();
                let json = serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into());
                conn.execute(
                    "INSERT INTO mesh_peers (peer_id, addresses, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?3)
                     ON CONFLICT(peer_id) DO UPDATE SET addresses = ?2, last_seen_ms = ?3",
                    params![peer, json, at_ms],
                )
            }
            BookEntry::Latency { peer, rtt } => conn.execute(
                "UPDATE mesh_peers SET last_latency_us = ?2 WHERE peer_id = ?1",
                params![peer, i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX)],
            ),
            BookEntry::DialFailed { peer } => {
                conn.execute("UPDATE mesh_peers SET failures = failures + 1 WHERE peer_id = ?1", params![peer])
            }
        };
        result.map(drop).map_err(|e| self.store.error(e))
    }
}

/// Something to dial until it is connected once.
#[derive(Clone, Debug, PartialEq)]
struct Target {
    /// Known for book peers and for bootstrap addresses ending in `/p2p/…`.
    peer: Option<String>,
    /// Full dial addresses.
    addresses: Vec<String>,
    attempts: u32,
    next_at: Instant,
}

/// Which addresses to dial when: the pure part of [`keep_connected`].
#[derive(Debug, Default)]
pub struct Redial {
    targets: Vec<Target>,
}

impl Redial {
    /// Targets for the known peers (except this node) and the bootstrap addresses, all due now.
    pub fn new(local_peer: &str, known: &[KnownPeer], bootstrap: &[String], now: Instant) -> Self {
        let mut targets: Vec<Target> = bootstrap
            .iter()
            .map(|addr| Target { peer: peer_of(addr), addresses: vec![addr.clone()], attempts: 0, next_at: now })
            .collect();
        for known in known.iter().filter(|k| k.peer != local_peer && !k.addresses.is_empty()) {
            let addresses = known.addresses.iter().map(|a| with_peer(a, &known.peer)).collect();
            if let Some(target) = targets.iter_mut().find(|t| t.peer.as_deref() == Some(known.peer.as_str())) {
                target.addresses.extend::<Vec<String>>(addresses);
            } else {
                targets.push(Target { peer: Some(known.peer.clone()), addresses, attempts: 0, next_at: now });
            }
        }
        Self { targets }
    }

    /// The addresses to dial now; each returned target waits twice as long before its next try.
    pub fn due(&mut self, now: Instant) -> Vec<String> {
        let mut addresses = Vec::new();
        for target in self.targets.iter_mut().filter(|t| t.next_at <= now) {
            addresses.extend(target.addresses.iter().cloned());
            target.next_at = now + backoff(target.attempts);
            target.attempts += 1;
        }
        addresses
    }

    /// A peer connected at an address: its target, or the bootstrap address it was dialled by, is done.
    pub fn connected(&mut self, peer: &str, address: &str) {
        let address = without_peer(address);
        self.targets.retain(|t| {
            let same_peer = t.peer.as_deref() == Some(peer);
            let same_address = t.peer.is_none() && t.addresses.iter().any(|a| without_peer(a) == address);
            !(same_peer || same_address)
        });
    }

    /// How many targets are still waiting to connect.
    pub fn pending(&self) -> usize {
        self.targets.len()
    }
}

/// Delay after the given number of earlier attempts: 2 s, 4 s, 8 s … capped at 5 minutes.
pub fn backoff(attempts: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(1u32.checked_shl(attempts.min(16)).unwrap_or(u32::MAX)).min(MAX_BACKOFF)
}

fn peer_of(addr: &str) -> Option<String> {
    addr.rsplit_once("/p2p/").map(|(_, peer)| peer.to_owned()).filter(|p| !p.contains('/'))
}

fn without_peer(addr: &str) -> &str {
    addr.rsplit_once("/p2p/").map_or(addr, |(base, _)| base)
}

fn with_peer(addr: &str, peer: &str) -> String {
    format!("{}/p2p/{peer}", without_peer(addr))
}

/// Keeps the book up to date from the mesh's peer events and redials known peers and bootstrap
/// addresses until each has connected once. Runs until the mesh stops.
pub async fn keep_connected(mesh: Mesh, book: PeerBook, bootstrap: Vec<String>) {
    // Subscribed before the first dial, so no connection is missed.
    let mut events = mesh.peer_events();
    let known = {
        let book = book.clone();
        tokio::task::spawn_blocking(move || book.all()).await
    };
    let known = match known {
        Ok(Ok(known)) => known,
        Ok(Err(e)) => {
            tracing::warn!("cannot read the peer book: {e}");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!("cannot read the peer book: {e}");
            Vec::new()
        }
    };
    let mut redial = Redial::new(&mesh.local_peer_id(), &known, &bootstrap, Instant::now());
    let mut tick = tokio::time::interval(REDIAL_TICK);
    loop {
        tokio::select! {
            _ = mesh.stopped() => return,
            event = events.recv() => match event {
                Ok(event) => {
                    if let PeerEvent::Connected { peer, address, .. } = &event {
                        redial.connected(peer, address);
                    }
                    if let Some(entry) = book_entry(event) {
                        let book = book.clone();
                        tokio::task::spawn_blocking(move || {
                            if let Err(e) = book.record(&entry) {
                                tracing::warn!("cannot update the peer book: {e}");
                            }
                        });
                    }
                }
                Err(RecvError::Lagged(missed)) => tracing::warn!("{missed} peer events missed by the peer book"),
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick(), if redial.pending() > 0 => {
                for addr in redial.due(Instant::now()) {
                    if let Err(e) = mesh.dial(&addr).await {
                        tracing::debug!("cannot redial {addr}: {e}");
                    }
                }
            }
        }
    }
}

fn book_entry(event: PeerEvent) -> Option<BookEntry> {
    let at_ms = fog_store::now_ms();
    match event {
        PeerEvent::Connected { peer, .. } => Some(BookEntry::Seen { peer, at_ms }),
        PeerEvent::Disconnected { peer } => Some(BookEntry::Seen { peer, at_ms }),
        PeerEvent::Identified { peer, listen_addrs, .. } => {
            let addresses = listen_addrs.iter().map(|a| without_peer(a).to_owned()).collect();
            Some(BookEntry::Addresses { peer, addresses, at_ms })
        }
        PeerEvent::Latency { peer, rtt } => Some(BookEntry::Latency { peer, rtt }),
        PeerEvent::DialFailed { peer: Some(peer), .. } => Some(BookEntry::DialFailed { peer }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(peer: &str, addresses: &[&str]) -> KnownPeer {
        KnownPeer {
            peer: peer.into(),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            first_seen_ms: 1,
            last_seen_ms: 2,
            last_latency_us: None,
            failures: 0,
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let delays: Vec<u64> = (0..10).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn redial_dials_known_peers_and_bootstrap_until_connected() {
        let start = Instant::now();
        let book = [known("me", &["/ip4/127.0.0.1/tcp/1"]), known("A", &["/ip4/127.0.0.1/tcp/2"]), known("B", &[])];
        let bootstrap = vec!["/ip4/127.0.0.1/tcp/3".to_string()];
        let mut redial = Redial::new("me", &book, &bootstrap, start);
        assert_eq!(redial.pending(), 2, "self and peers without addresses are skipped");
        assert_eq!(redial.due(start), ["/ip4/127.0.0.1/tcp/3", "/ip4/127.0.0.1/tcp/2/p2p/A"]);
        assert!(redial.due(start + Duration::from_secs(1)).is_empty(), "backing off");
        assert_eq!(redial.due(start + Duration::from_secs(2)).len(), 2);
        assert!(redial.due(start + Duration::from_secs(5)).is_empty(), "second wait is 4 s");

        redial.connected("C", "/ip4/127.0.0.1/tcp/3/p2p/C");
        assert_eq!(redial.pending(), 1, "the bootstrap address connected");
        redial.connected("A", "/ip4/127.0.0.1/tcp/9");
        assert_eq!(redial.pending(), 0);
    }

    #[test]
    fn bootstrap_with_a_peer_id_merges_with_the_book() {
        let book = [known("A", &["/ip4/127.0.0.1/tcp/2"])];
        let bootstrap = vec!["/ip4/127.0.0.1/tcp/7/p2p/A".to_string()];
        let mut redial = Redial::new("me", &book, &bootstrap, Instant::now());
        assert_eq!(redial.pending(), 1);
        assert_eq!(redial.due(Instant::now()), ["/ip4/127.0.0.1/tcp/7/p2p/A", "/ip4/127.0.0.1/tcp/2/p2p/A"]);
    }

    #[test]
    fn the_book_keeps_what_it_is_told() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(&dir.path().join("fog.db"), MIGRATIONS).expect("store"));
        let book = PeerBook::new(store);
        book.record(&BookEntry::Seen { peer: "A".into(), at_ms: 10 }).expect("seen");
        book.record(&BookEntry::DialFailed { peer: "A".into() }).expect("failed");
        book.record(&BookEntry::DialFailed { peer: "unknown".into() }).expect("ignored");
        let addresses = (0..20).map(|i| format!("/ip4/127.0.0.1/tcp/{i}")).collect();
        book.record(&BookEntry::Addresses { peer: "A".into(), addresses, at_ms: 20 }).expect("addresses");
        book.record(&BookEntry::Latency { peer: "A".into(), rtt: Duration::from_micros(1500) }).expect("latency");
        let first = |book: &PeerBook| book.all().expect("read").into_iter().find(|p| p.peer == "A").expect("known");
        let a = first(&book);
        assert_eq!((a.first_seen_ms, a.last_seen_ms, a.failures), (10, 20, 1));
        assert_eq!(a.addresses.len(), MAX_ADDRESSES);
        assert_eq!(a.last_latency_us, Some(1500));
        book.record(&BookEntry::Seen { peer: "A".into(), at_ms: 30 }).expect("seen again");
        assert_eq!(first(&book).failures, 0, "a connection clears failures");
        assert_eq!(book.all().expect("all").len(), 1, "failures of unknown peers add nobody");
    }
}
