//! The node's event bus: every state change a user could watch is published here, stored in
//! the event log (group commit: one transaction per burst) and then broadcast to live
//! subscribers with its log sequence number, so a client can merge history and live events.

use std::sync::Arc;

use fog_store::{EventLog, NewEvent, Store};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::api::types::Event;
use crate::metrics::Metrics;

/// Most events written in one transaction.
const MAX_BATCH: usize = 512;
/// Events a slow live subscriber may fall behind before it misses some.
const LIVE_BUFFER: usize = 1024;

enum Command {
    Publish(NewEvent),
    /// Answer once everything published before is stored and broadcast.
    Flush(oneshot::Sender<()>),
    /// Like `Flush`, then stop.
    Close(oneshot::Sender<()>),
}

/// Handle for publishing and subscribing; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    commands: mpsc::UnboundedSender<Command>,
    live: broadcast::Sender<Event>,
}

impl EventBus {
    /// Starts the writer task that stores and broadcasts events.
    pub fn start(store: Arc<Store>, metrics: Arc<Metrics>) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        tokio::spawn(write_events(rx, store, metrics, live.clone()));
        Self { commands, live }
    }

    /// Publishes an event. Never blocks; after [`EventBus::close`] events are dropped.
    pub fn publish(&self, topic: &str, kind: &str, data: impl Serialize) {
        let data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
        let event = NewEvent { ts_ms: fog_store::now_ms(), topic: topic.into(), kind: kind.into(), data };
        let _ = self.commands.send(Command::Publish(event));
    }

    /// A live stream of events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }

    /// Live subscribers right now.
    pub fn subscriber_count(&self) -> usize {
        self.live.receiver_count()
    }

    /// Waits until everything published so far is stored and broadcast.
    pub async fn flush(&self) {
        self.send_and_wait(Command::Flush).await
    }

    /// Stores everything published so far, then stops the writer.
    pub async fn close(&self) {
        self.send_and_wait(Command::Close).await
    }

    async fn send_and_wait(&self, command: fn(oneshot::Sender<()>) -> Command) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(command(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_events(
    mut rx: mpsc::UnboundedReceiver<Command>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    live: broadcast::Sender<Event>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = Vec::new();
        let mut waiter = None;
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Publish(event) => batch.push(event),
                Command::Flush(done) => {
                    waiter = Some((done, false));
                    break;
                }
                Command::Close(done) => {
                    waiter = Some((done, true));
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let store = store.clone();
            let to_store = batch.clone();
            let ids = tokio::task::spawn_blocking(move || EventLog::append(&store, &to_store)).await;
            let ids = match ids {
                Ok(Ok(ids)) => ids,
                Ok(Err(e)) => {
                    tracing::error!("event log write failed, events are broadcast unstored: {e}");
                    metrics.event_write_failures.inc();
                    vec![0; batch.len()]
                }
                Err(e) => {
                    tracing::error!("event log writer panicked: {e}");
                    vec![0; batch.len()]
                }
            };
            for (event, id) in batch.into_iter().zip(ids) {
                metrics.count_event(&event.topic);
                let _ =
                    live.send(Event { id, ts_ms: event.ts_ms, topic: event.topic, kind: event.kind, data: event.data });
            }
        }
        if let Some((done, stop)) = waiter {
            let _ = done.send(());
            if stop {
                return;
            }
        }
    }
}
