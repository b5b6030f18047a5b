//! Bluetooth LE through BlueZ, in both roles: bluer serves the peripheral (see [`super::peripheral`])
//! and btleplug is the central: scan for BitChat's service UUID, connect (one attempt per 0.5 s, at most 6 links, 8 s timeout,
//! peers without a link tried again every 5 s), find the one
//! characteristic, subscribe to its notifications and write each frame whole, without response.
//!
//! When the radio cannot be used the transport says why, looks again every 10 s, and the rest
//! of the node runs on. The reasons are told apart by what failed, never by an error's text: no system
//! D-Bus socket, a bus without BlueZ (`adapters()` fails), or BlueZ without a controller (an
//! empty adapter list).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use btleplug::api::{Central, CentralEvent, Characteristic, Manager as _, Peripheral as _, ScanFilter, WriteType};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures::StreamExt;
use tokio::sync::mpsc;
use uuid::{uuid, Uuid};

use super::{Transport, TransportEvent, TransportEvents};
use crate::engine::LinkId;
use crate::model::AdapterState;

/// The BitChat service of release builds of the apps.
pub const SERVICE_UUID: Uuid = uuid!("F47B5E2D-4A9E-4C5A-9B3F-8E1D2C3A4B5C");
/// Its one characteristic, carrying frames both ways.
pub const CHARACTERISTIC_UUID: Uuid = uuid!("A1B2C3D4-E5F6-4A5B-8C9D-0E1F2A3B4C5D");

const MAX_CENTRAL_LINKS: usize = 6;
const CONNECT_EVERY: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// Known peers without a link are tried again this often.
const RETRY_EVERY: Duration = Duration::from_secs(5);
const CONNECT_JITTER: Duration = Duration::from_millis(2_000);

fn random_below(limit: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    let _ = getrandom::getrandom(&mut bytes);
    Duration::from_millis(u64::from_le_bytes(bytes) % limit.as_millis().max(1) as u64)
}
const SYSTEM_BUS_SOCKET: &str = "/run/dbus/system_bus_socket";

/// Why BLE cannot be used here, if it cannot: finds the adapter named `wanted` (`hci1`), or
/// the first one.
pub async fn probe(wanted: Option<&str>) -> Result<(Adapter, String), String> {
    let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok();
    if address.is_none() && !Path::new(SYSTEM_BUS_SOCKET).exists() {
        return Err(format!(
            "D-Bus system bus not running ({SYSTEM_BUS_SOCKET} is missing), so BlueZ cannot be reached"
        ));
    }
    let manager = Manager::new().await.map_err(|e| format!("cannot connect to the D-Bus system bus: {e}"))?;
    let adapters =
        manager.adapters().await.map_err(|e| format!("BlueZ not running (no org.bluez on the system bus: {e})"))?;
    for adapter in adapters {
        let info = adapter.adapter_info().await.unwrap_or_else(|_| "adapter".into());
        // BlueZ names it first: "hci0 (usb:v1D6Bp0246d0540)".
        if wanted.is_none_or(|name| info.split_whitespace().next() == Some(name)) {
            return Ok((adapter, info));
        }
    }
    Err(match wanted {
        Some(name) => format!("no Bluetooth adapter named {name}"),
        None => "no Bluetooth adapter found".to_owned(),
    })
}

/// Which BLE roles to play.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Roles {
    /// Scan and connect to peers, and let them connect to us (as the apps do).
    #[default]
    Both,
    /// Only scan and connect (nothing advertised).
    Central,
    /// Only advertise and serve.
    Peripheral,
}

/// Where a link's frames go.
pub(super) enum Sink {
    /// Written to the peer's characteristic, in order.
    Central(mpsc::UnboundedSender<Vec<u8>>),
    /// Notified to the centrals subscribed to ours.
    Peripheral,
}

#[derive(Default)]
pub(super) struct Links {
    pub(super) by_id: HashMap<LinkId, Sink>,
    peripherals: HashSet<PeripheralId>,
    /// The peripheral role's notification queue, once it serves.
    pub(super) notify: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

struct BleTransport {
    links: Arc<Mutex<Links>>,
}

impl Transport for BleTransport {
    fn simulated(&self) -> bool {
        false
    }

    fn send(&self, link: LinkId, frame: Vec<u8>) {
        let links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        match links.by_id.get(&link) {
            Some(Sink::Central(writes)) => {
                let _ = writes.send(frame);
            }
            Some(Sink::Peripheral) => {
                if let Some(notify) = &links.notify {
                    let _ = notify.send(frame);
                }
            }
            None => {}
        }
    }
}

/// Starts the BLE transport on the current runtime, on adapter `adapter` (`hci1`) or the first
/// one, in `roles`. It reports `Unavailable` with the reason if there is no usable radio.
pub fn start(adapter: Option<String>, roles: Roles) -> (Arc<dyn Transport>, TransportEvents) {
    let (tx, rx) = mpsc::unbounded_channel();
    let links = Arc::new(Mutex::new(Links::default()));
    tokio::spawn(run(adapter, roles, links.clone(), tx));
    (Arc::new(BleTransport { links }), rx)
}

/// How often a missing radio is looked for again (a dongle plugged in, BlueZ started).
const PROBE_EVERY: Duration = Duration::from_secs(10);

async fn run(
    wanted: Option<String>,
    roles: Roles,
    links: Arc<Mutex<Links>>,
    events: mpsc::UnboundedSender<TransportEvent>,
) {
    let mut last_reason = None;
    let (adapter, info) = loop {
        match probe(wanted.as_deref()).await {
            Ok(found) => break found,
            Err(reason) => {
                if last_reason.as_ref() != Some(&reason) {
                    let _ = events.send(TransportEvent::Adapter(AdapterState::Unavailable { reason: reason.clone() }));
                    last_reason = Some(reason);
                }
                if events.is_closed() {
                    return;
                }
                tokio::time::sleep(PROBE_EVERY).await;
            }
        }
    };
    let unavailable = |reason: String| {
        let _ = events.send(TransportEvent::Adapter(AdapterState::Unavailable { reason }));
    };
    let next_link = Arc::new(AtomicU64::new(1));
    let name = info.split_whitespace().next().unwrap_or_default().to_owned();
    // Both roles by default, as the apps run: phones that only scan find us through the peripheral.
    let (serving, peripheral) = match roles {
        Roles::Central => (None, None),
        Roles::Both | Roles::Peripheral => {
            match super::peripheral::serve(&name, links.clone(), next_link.clone(), events.clone()).await {
                Ok(serving) => (Some(serving), None),
                Err(reason) => (None, Some(reason)),
            }
        }
    };
    if roles == Roles::Peripheral {
        // Registration can fail on a busy BlueZ (it times out asking us for our objects): try
        // again, saying why meanwhile.
        let mut serving = serving;
        let mut failure = peripheral;
        while serving.is_none() {
            if let Some(reason) = failure.take() {
                unavailable(format!("the peripheral role is unavailable: {reason}"));
            }
            tokio::time::sleep(PROBE_EVERY).await;
            if events.is_closed() {
                return;
            }
            match super::peripheral::serve(&name, links.clone(), next_link.clone(), events.clone()).await {
                Ok(s) => serving = Some(s),
                Err(reason) => failure = Some(reason),
            }
        }
        let transport = format!("Bluetooth LE ({info}), peripheral only");
        let _ = events.send(TransportEvent::Adapter(AdapterState::Ready { transport }));
        while !events.is_closed() {
            tokio::time::sleep(PROBE_EVERY).await;
        }
        return;
    }
    let mut central = match adapter.events().await {
        Ok(stream) => stream,
        Err(e) => return unavailable(format!("cannot watch the Bluetooth adapter: {e}")),
    };
    if let Err(e) = adapter.start_scan(ScanFilter { services: vec![SERVICE_UUID] }).await {
        return unavailable(format!("cannot scan for BitChat peers (is the adapter powered?): {e}"));
    }
    let described = match (roles, peripheral) {
        (Roles::Central, _) => "central only".to_owned(),
        (_, Some(reason)) => format!("central only; the peripheral role is unavailable: {reason}"),
        (_, None) => "central and peripheral".to_owned(),
    };
    let transport = format!("Bluetooth LE ({info}), {described}");
    let _ = events.send(TransportEvent::Adapter(AdapterState::Ready { transport }));
    let mut last_attempt = tokio::time::Instant::now() - CONNECT_EVERY;
    // Peers already known to BlueZ send no new discovery event; they are tried again from here.
    let mut retry = tokio::time::interval(RETRY_EVERY);
    loop {
        let candidates = tokio::select! {
            event = central.next() => match event {
                Some(CentralEvent::DeviceDiscovered(id) | CentralEvent::DeviceUpdated(id)) => vec![id],
                Some(CentralEvent::ServicesAdvertisement { id, services }) if services.contains(&SERVICE_UUID) => vec![id],
                Some(_) => continue,
                None => return,
            },
            _ = retry.tick() => match adapter.peripherals().await {
                Ok(known) => known.iter().map(|p| p.id()).collect(),
                Err(_) => continue,
            },
        };
        for id in candidates {
            {
                let links = links.lock().unwrap_or_else(|e| e.into_inner());
                if links.peripherals.contains(&id) || links.peripherals.len() >= MAX_CENTRAL_LINKS {
                    continue;
                }
            }
            let Ok(peripheral) = adapter.peripheral(&id).await else { continue };
            let advertises =
                peripheral.properties().await.ok().flatten().is_some_and(|p| p.services.contains(&SERVICE_UUID));
            if !advertises {
                continue;
            }
            // A random wait first: two laptops that found each other at the same moment would
            // otherwise connect to each other at the same instants, collide, and repeat.
            tokio::time::sleep_until(last_attempt + CONNECT_EVERY + random_below(CONNECT_JITTER)).await;
            last_attempt = tokio::time::Instant::now();
            links.lock().unwrap_or_else(|e| e.into_inner()).peripherals.insert(id.clone());
            let link = next_link.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve_link(peripheral, id, link, links.clone(), events.clone()));
        }
    }
}

/// Connects to one peer and carries its frames until it goes.
async fn serve_link(
    peripheral: Peripheral,
    id: PeripheralId,
    link: LinkId,
    links: Arc<Mutex<Links>>,
    events: mpsc::UnboundedSender<TransportEvent>,
) {
    let connected = connect(&peripheral).await;
    if let Err(e) = &connected {
        tracing::info!("bitchat: cannot link to {}: {e}", peripheral.address());
    }
    if let Ok(characteristic) = connected {
        if let Ok(mut notifications) = peripheral.notifications().await {
            let (writes, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
            links.lock().unwrap_or_else(|e| e.into_inner()).by_id.insert(link, Sink::Central(writes));
            let rssi_dbm = peripheral.properties().await.ok().flatten().and_then(|p| p.rssi);
            let mtu = usize::from(peripheral.mtu());
            let _ = events.send(TransportEvent::LinkUp { link, mtu, rssi_dbm });
            let writer = {
                let peripheral = peripheral.clone();
                tokio::spawn(async move {
                    while let Some(frame) = outgoing.recv().await {
                        if peripheral.write(&characteristic, &frame, WriteType::WithoutResponse).await.is_err() {
                            return;
                        }
                    }
                })
            };
            while let Some(note) = notifications.next().await {
                if note.uuid == CHARACTERISTIC_UUID {
                    let _ = events.send(TransportEvent::Frame { link, frame: note.value });
                }
            }
            writer.abort();
            let _ = events.send(TransportEvent::LinkDown { link });
        }
    }
    let _ = peripheral.disconnect().await;
    let mut links = links.lock().unwrap_or_else(|e| e.into_inner());
    links.by_id.remove(&link);
    links.peripherals.remove(&id);
}

async fn connect(peripheral: &Peripheral) -> Result<Characteristic, btleplug::Error> {
    tokio::time::timeout(CONNECT_TIMEOUT, peripheral.connect())
        .await
        .map_err(|_| btleplug::Error::TimedOut(CONNECT_TIMEOUT))??;
    peripheral.discover_services().await?;
    let characteristic = peripheral
        .characteristics()
        .into_iter()
        .find(|c| c.uuid == CHARACTERISTIC_UUID && c.service_uuid == SERVICE_UUID)
        .ok_or(btleplug::Error::NoSuchCharacteristic)?;
    peripheral.subscribe(&characteristic).await?;
    Ok(characteristic)
}
