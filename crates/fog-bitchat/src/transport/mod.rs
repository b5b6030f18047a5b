//! What carries frames between neighbours. Every transport numbers its links, reports whether
//! it can run at all (and why not), and sends one whole frame per write, best effort: a radio
//! loses frames and the mesh copes.
//!
//! - [`ble`]: Bluetooth LE through BlueZ (btleplug as central, bluer as peripheral).
//! - [`memory`]: an in-memory radio with loss, delay, MTU and topology, for tests.
//! - [`udp`]: a simulated radio over loopback UDP, so nodes on one machine can chat; only on an
//!   explicit flag, and labelled as simulated wherever it shows.

pub mod ble;
pub mod memory;
mod peripheral;
pub mod udp;

use tokio::sync::mpsc;

use crate::engine::LinkId;
use crate::model::AdapterState;

#[derive(Debug, Clone, PartialEq)]
pub enum TransportEvent {
    Adapter(AdapterState),
    LinkUp { link: LinkId, mtu: usize, rssi_dbm: Option<i16> },
    LinkDown { link: LinkId },
    Frame { link: LinkId, frame: Vec<u8> },
}

pub type TransportEvents = mpsc::UnboundedReceiver<TransportEvent>;

pub trait Transport: Send + Sync + 'static {
    /// True for anything that is not a real radio.
    fn simulated(&self) -> bool;
    /// Sends one whole frame on `link`; a frame that cannot go (link gone, too big) is dropped.
    fn send(&self, link: LinkId, frame: Vec<u8>);
}
