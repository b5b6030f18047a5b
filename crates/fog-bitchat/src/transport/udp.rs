//! A simulated radio over loopback UDP, so several nodes on one machine (a testnet) can chat
//! without Bluetooth. Each node binds one 127.0.0.1 port and is told its neighbours' ports;
//! a neighbour counts as in range while its hellos (one a second) arrive, and out of range
//! after 5 s of silence. One datagram carries one frame. Never on unless asked for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{Transport, TransportEvent, TransportEvents};
use crate::engine::LinkId;
use crate::model::AdapterState;

const HELLO: u8 = 0x00;
const FRAME: u8 = 0x01;
const HELLO_EVERY: Duration = Duration::from_secs(1);
const SILENT_AFTER: Duration = Duration::from_secs(5);
/// What the links claim as ATT MTU: the size Android asks for.
pub const MTU: usize = 517;

#[derive(Debug, thiserror::Error)]
pub enum UdpRadioError {
    #[error("the simulated radio only uses loopback addresses; {0} is not one")]
    NotLoopback(SocketAddr),
    #[error("cannot bind the simulated radio to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

struct UdpLink {
    socket: Arc<UdpSocket>,
}

impl Transport for UdpLink {
    fn simulated(&self) -> bool {
        true
    }

    fn send(&self, link: LinkId, frame: Vec<u8>) {
        let Ok(port) = u16::try_from(link) else { return };
        let mut datagram = Vec::with_capacity(frame.len() + 1);
        datagram.push(FRAME);
        datagram.extend_from_slice(&frame);
        let _ = self.socket.try_send_to(&datagram, SocketAddr::from(([127, 0, 0, 1], port)));
    }
}

/// Binds `bind` and starts talking to `neighbours`. Links are numbered by the neighbour's port.
pub async fn start(
    bind: SocketAddr,
    neighbours: Vec<SocketAddr>,
) -> Result<(Arc<dyn Transport>, TransportEvents), UdpRadioError> {
    if let Some(addr) = std::iter::once(&bind).chain(&neighbours).find(|a| !a.ip().is_loopback()) {
        return Err(UdpRadioError::NotLoopback(*addr));
    }
    let socket = Arc::new(UdpSocket::bind(bind).await.map_err(|source| UdpRadioError::Bind { addr: bind, source })?);
    let (tx, rx) = mpsc::unbounded_channel();
    let label = format!("simulated radio (loopback UDP {})", socket.local_addr().map_or(bind, |a| a));
    let _ = tx.send(TransportEvent::Adapter(AdapterState::Ready { transport: label }));
    tokio::spawn(run(socket.clone(), neighbours, tx));
    Ok((Arc::new(UdpLink { socket }), rx))
}

async fn run(socket: Arc<UdpSocket>, neighbours: Vec<SocketAddr>, events: mpsc::UnboundedSender<TransportEvent>) {
    let mut heard: HashMap<u16, Instant> = HashMap::new();
    let mut hello = tokio::time::interval(HELLO_EVERY);
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            _ = hello.tick() => {
                for addr in &neighbours {
                    let _ = socket.try_send_to(&[HELLO], *addr);
                }
                let now = Instant::now();
                heard.retain(|port, at| {
                    let alive = now.duration_since(*at) < SILENT_AFTER;
                    if !alive {
                        let _ = events.send(TransportEvent::LinkDown { link: LinkId::from(*port) });
                    }
                    alive
                });
                if events.is_closed() {
                    return;
                }
            }
            received = socket.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                if !neighbours.iter().any(|n| n.port() == from.port()) || !from.ip().is_loopback() {
                    continue;
                }
                let port = from.port();
                if heard.insert(port, Instant::now()).is_none() {
                    let _ = events.send(TransportEvent::LinkUp { link: LinkId::from(port), mtu: MTU, rssi_dbm: None });
                }
                if len > 1 && buf[0] == FRAME {
                    let _ = events.send(TransportEvent::Frame { link: LinkId::from(port), frame: buf[1..len].to_vec() });
                }
            }
        }
    }
}
