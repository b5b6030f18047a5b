//! The BitChat service: one [`Engine`] on its own task, fed by a transport, the clock and the
//! API's commands; everything it reports is written to SQLite before it is announced on the
//! event channel, so a crash never loses a message the page has shown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fog_store::{Store, StoreError};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::engine::{parse_peer_id, ChatError, Engine, Output};
use crate::keys::ChatKeys;
use crate::model::{AdapterState, BitchatStatus, ChatEvent, ChatMessage, ChatPeer};
use crate::store::ChatStore;
use crate::transport::{Transport, TransportEvent, TransportEvents};

#[derive(Debug, thiserror::Error)]
pub enum BitchatError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("BitChat cannot send: {0}")]
    Unavailable(String),
    #[error("`{0}` is not a peer id (16 hex digits)")]
    BadPeerId(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the BitChat service has stopped")]
    Stopped,
}

enum Command {
    SendPublic(String, oneshot::Sender<Result<ChatMessage, ChatError>>),
    SendPrivate([u8; 8], String, oneshot::Sender<Result<ChatMessage, ChatError>>),
    MarkRead([u8; 8], Vec<String>),
    SetNickname(String, oneshot::Sender<Result<(), ChatError>>),
    SetFlags([u8; 8], Option<bool>, Option<bool>),
    Peers(oneshot::Sender<Vec<ChatPeer>>),
    Leave(oneshot::Sender<()>),
}

/// Milliseconds since the epoch on tokio's clock, so tests that pause time see it move. One
/// anchor for the whole process, so services started at different (paused) times agree.
#[derive(Clone, Copy)]
struct Clock {
    wall_start_ms: u64,
    start: std::time::Instant,
}

impl Clock {
    fn new() -> Clock {
        static ANCHOR: std::sync::OnceLock<(u64, std::time::Instant)> = std::sync::OnceLock::new();
        let (wall_start_ms, start) = *ANCHOR.get_or_init(|| (fog_store::now_ms() as u64, std::time::Instant::now()));
        Clock { wall_start_ms, start }
    }
    fn now(&self) -> u64 {
        let elapsed = tokio::time::Instant::now().into_std().saturating_duration_since(self.start);
        self.wall_start_ms + elapsed.as_millis() as u64
    }
    fn instant(&self, ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.start + Duration::from_millis(ms.saturating_sub(self.wall_start_ms)))
    }
}

/// A running BitChat service.
#[derive(Clone)]
pub struct Bitchat {
    commands: mpsc::UnboundedSender<Command>,
    store: Arc<Store>,
    events: broadcast::Sender<ChatEvent>,
    status: Arc<Mutex<BitchatStatus>>,
}

impl Bitchat {
    /// Starts the service on the current tokio runtime with `keys` and `transport`. The
    /// nickname is the stored one, else `nickname`, else "fog-" and the peer id's first digits.
    pub fn start(
        store: Arc<Store>,
        keys: ChatKeys,
        nickname: Option<&str>,
        (transport, transport_events): (Arc<dyn Transport>, TransportEvents),
    ) -> Result<Bitchat, BitchatError> {
        let clock = Clock::new();
        let now = clock.now();
        let chat = ChatStore(&store);
        let peer_id = keys.peer_id();
        let nickname = match chat.setting("nickname")? {
            Some(stored) => stored,
            None => {
                let chosen =
                    nickname.map(str::to_owned).unwrap_or_else(|| format!("fog-{}", &hex::encode(peer_id)[..4]));
                chat.set_setting("nickname", &chosen)?;
                chosen
            }
        };
        let mut seed = [0u8; 8];
        getrandom::getrandom(&mut seed).map_err(|e| BitchatError::Unavailable(format!("no OS randomness: {e}")))?;
        let mut engine = Engine::new(keys, &nickname, now, u64::from_le_bytes(seed));
        for (id, known) in chat.peers()? {
            engine.restore_peer(id, known);
        }
        for pending in chat.outbox(now)? {
            engine.restore_pending(pending, now);
        }
        engine.restore_received(chat.received_private_ids()?);
        let status = Arc::new(Mutex::new(BitchatStatus {
            adapter: AdapterState::Starting,
            simulated: transport.simulated(),
            peer_id: hex::encode(peer_id),
            fingerprint: hex::encode(engine.keys().fingerprint()),
            nickname,
            links: 0,
            reachable_peers: 0,
            outbox: engine.outbox_len() as u32,
            counters: Default::default(),
        }));
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let service = Bitchat { commands, store: store.clone(), events: events.clone(), status: status.clone() };
        let task = Task { engine, clock, store, transport, events, status };
        tokio::spawn(task.run(transport_events, command_rx));
        Ok(service)
    }

    pub fn events(&self) -> broadcast::Receiver<ChatEvent> {
        self.events.subscribe()
    }

    pub fn status(&self) -> BitchatStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn ready(&self) -> Result<(), BitchatError> {
        match self.status().adapter {
            AdapterState::Unavailable { reason } => Err(BitchatError::Unavailable(reason)),
            _ => Ok(()),
        }
    }

    pub async fn peers(&self) -> Result<Vec<ChatPeer>, BitchatError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Peers(tx)).map_err(|_| BitchatError::Stopped)?;
        rx.await.map_err(|_| BitchatError::Stopped)
    }

    /// Messages of `channel` (`#mesh` or a peer id), or of all channels; the last `limit`.
    pub fn messages(&self, channel: Option<&str>, limit: u32) -> Result<Vec<ChatMessage>, BitchatError> {
        if let Some(channel) = channel.filter(|c| *c != crate::model::PUBLIC_CHANNEL) {
            parse_peer_id(channel).ok_or_else(|| BitchatError::BadPeerId(channel.to_owned()))?;
        }
        Ok(ChatStore(&self.store).messages(channel, limit)?)
    }

    /// Sends `text` to `#mesh`, or privately to the peer with id `to`.
    pub async fn send(&self, to: Option<&str>, text: &str) -> Result<ChatMessage, BitchatError> {
        self.ready()?;
        let (tx, rx) = oneshot::channel();
        let command = match to.filter(|t| *t != crate::model::PUBLIC_CHANNEL) {
            Some(to) => {
                let peer = parse_peer_id(to).ok_or_else(|| BitchatError::BadPeerId(to.to_owned()))?;
                Command::SendPrivate(peer, text.to_owned(), tx)
            }
            None => Command::SendPublic(text.to_owned(), tx),
        };
        self.commands.send(command).map_err(|_| BitchatError::Stopped)?;
        Ok(rx.await.map_err(|_| BitchatError::Stopped)??)
    }

    /// Marks a private chat read and sends read receipts for what was unread.
    pub fn mark_read(&self, peer: &str) -> Result<u32, BitchatError> {
        let id = parse_peer_id(peer).ok_or_else(|| BitchatError::BadPeerId(peer.to_owned()))?;
        let ids = ChatStore(&self.store).mark_read(&hex::encode(id))?;
        let count = ids.len() as u32;
        if !ids.is_empty() {
            self.commands.send(Command::MarkRead(id, ids)).map_err(|_| BitchatError::Stopped)?;
        }
        Ok(count)
    }

    pub async fn set_nickname(&self, nickname: &str) -> Result<(), BitchatError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::SetNickname(nickname.to_owned(), tx)).map_err(|_| BitchatError::Stopped)?;
        rx.await.map_err(|_| BitchatError::Stopped)??;
        ChatStore(&self.store).set_setting("nickname", nickname.trim())?;
        Ok(())
    }

    /// Sets a peer's favourite and verified marks.
    pub fn set_peer_flags(
        &self,
        peer: &str,
        favourite: Option<bool>,
        verified: Option<bool>,
    ) -> Result<(), BitchatError> {
        let id = parse_peer_id(peer).ok_or_else(|| BitchatError::BadPeerId(peer.to_owned()))?;
        if !ChatStore(&self.store).set_flags(&hex::encode(id), favourite, verified)? {
            return Err(ChatError::UnknownPeer(hex::encode(id)).into());
        }
        self.commands.send(Command::SetFlags(id, favourite, verified)).map_err(|_| BitchatError::Stopped)?;
        Ok(())
    }

    /// Sends a leave to the mesh and stops.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Leave(tx)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(1), rx).await;
        }
    }
}

struct Task {
    engine: Engine,
    clock: Clock,
    store: Arc<Store>,
    transport: Arc<dyn Transport>,
    events: broadcast::Sender<ChatEvent>,
    status: Arc<Mutex<BitchatStatus>>,
}

impl Task {
    async fn run(mut self, mut transport_events: TransportEvents, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut transport_open = true;
        loop {
            let now = self.clock.now();
            let wake = self.engine.next_wakeup().min(now + 1_000);
            tokio::select! {
                event = transport_events.recv(), if transport_open => match event {
                    Some(event) => self.on_transport(event),
                    None => transport_open = false,
                },
                command = commands.recv() => match command {
                    Some(Command::Leave(done)) => {
                        self.engine.leave(self.clock.now());
                        self.flush();
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.on_command(command),
                    None => return,
                },
                _ = tokio::time::sleep_until(self.clock.instant(wake)) => self.engine.tick(self.clock.now()),
            }
            self.flush();
        }
    }

    fn on_transport(&mut self, event: TransportEvent) {
        let now = self.clock.now();
        match event {
            TransportEvent::Adapter(adapter) => {
                self.status.lock().unwrap_or_else(|e| e.into_inner()).adapter = adapter.clone();
                let _ = self.events.send(ChatEvent::Adapter { adapter });
            }
            TransportEvent::LinkUp { link, mtu, rssi_dbm } => self.engine.link_up(link, mtu, rssi_dbm, now),
            TransportEvent::LinkDown { link } => self.engine.link_down(link, now),
            TransportEvent::Frame { link, frame } => self.engine.receive(link, &frame, now),
        }
    }

    fn on_command(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::SendPublic(text, reply) => {
                let _ = reply.send(self.engine.send_public(&text, now));
            }
            Command::SendPrivate(peer, text, reply) => {
                let _ = reply.send(self.engine.send_private(peer, &text, now));
            }
            Command::MarkRead(peer, ids) => self.engine.mark_read(peer, &ids, now),
            Command::SetNickname(nickname, reply) => {
                let result = self.engine.set_nickname(&nickname, now);
                if result.is_ok() {
                    self.status.lock().unwrap_or_else(|e| e.into_inner()).nickname = self.engine.nickname().to_owned();
                }
                let _ = reply.send(result);
            }
            Command::SetFlags(peer, favourite, verified) => self.engine.set_flags(peer, favourite, verified, now),
            Command::Peers(reply) => {
                let _ = reply.send(self.engine.peers(now));
            }
            Command::Leave(_) => unreachable!("handled by the loop"),
        }
    }

    /// Sends what the engine wants sent, stores what it reports, then tells listeners.
    fn flush(&mut self) {
        let chat = ChatStore(&self.store);
        while let Some(output) = self.engine.poll() {
            let stored = match &output {
                Output::Transmit { link, frame } => {
                    self.transport.send(*link, frame.clone());
                    continue;
                }
                Output::Pinned { peer_id, nickname, noise_key, signing_key, at_ms } => {
                    chat.pin(peer_id, nickname, noise_key, signing_key, *at_ms).map(|()| true)
                }
                Output::Event(ChatEvent::Message { message }) => chat.add_message(message).map(|()| true),
                Output::Event(ChatEvent::Delivery { message_id, peer_id, state }) => {
                    chat.set_delivery(peer_id, message_id, *state)
                }
                Output::Event(ChatEvent::Peer { peer }) => {
                    chat.heard(&peer.peer_id, &peer.nickname, peer.last_heard_ms).map(|()| true)
                }
                Output::Event(_) => Ok(true),
            };
            match (stored, output) {
                (Ok(true), Output::Event(event)) => {
                    let _ = self.events.send(event);
                }
                (Ok(_), _) => {}
                (Err(e), _) => tracing::warn!("bitchat: cannot store: {e}"),
            }
        }
        let now = self.clock.now();
        let reachable = self.engine.reachable_count(now) as u32;
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.links = self.engine.link_count() as u32;
        status.reachable_peers = reachable;
        status.outbox = self.engine.outbox_len() as u32;
        status.counters = self.engine.counters().clone();
    }
}
