//! The peripheral role through BlueZ (bluer): a GATT server with BitChat's service and its one
//! characteristic, advertised by service UUID only (no name, no peer id), so phones, including
//! backgrounded iPhones that only scan, can find and connect to the laptop.
//!
//! A central that writes becomes a link of its own (its writes are its frames). BlueZ sends a
//! notification to every subscribed central at once, so a frame for any peripheral link goes to
//! all of them; the same frame queued for several links within 100 ms goes out once. A central
//! silent for 60 s counts as gone (BlueZ does not tell a GATT server about disconnects).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bluer::adv::{Advertisement, AdvertisementHandle};
use bluer::gatt::local::{
    Application, ApplicationHandle, Characteristic, CharacteristicNotifier, CharacteristicNotify,
    CharacteristicNotifyMethod, CharacteristicRead, CharacteristicWrite, CharacteristicWriteMethod, Service,
};
use tokio::sync::mpsc;

use super::ble::{Links, Sink, CHARACTERISTIC_UUID, SERVICE_UUID};
use super::TransportEvent;
use crate::engine::LinkId;

const SILENT_AFTER: Duration = Duration::from_secs(60);
const SAME_FRAME_WITHIN: Duration = Duration::from_millis(100);

/// What keeps the server and the advertisement registered; dropping it withdraws both.
pub struct Serving {
    _application: ApplicationHandle,
    _advertisement: AdvertisementHandle,
}

/// Registers the GATT application and the advertisement on adapter `name` (the one the
/// central uses).
pub async fn serve(
    name: &str,
    links: Arc<Mutex<Links>>,
    next_link: Arc<AtomicU64>,
    events: mpsc::UnboundedSender<TransportEvent>,
) -> Result<Serving, String> {
    let session = bluer::Session::new().await.map_err(|e| format!("cannot reach BlueZ: {e}"))?;
    let adapter = session.adapter(name).map_err(|e| format!("no adapter {name}: {e}"))?;
    let centrals: Arc<Mutex<HashMap<bluer::Address, (LinkId, Instant)>>> = Arc::default();
    let notifiers: Arc<Mutex<Vec<CharacteristicNotifier>>> = Arc::default();

    let on_write = {
        let (links, centrals, events) = (links.clone(), centrals.clone(), events.clone());
        move |frame: Vec<u8>, address: bluer::Address, mtu: u16| {
            let mut centrals = centrals.lock().unwrap_or_else(|e| e.into_inner());
            let link = match centrals.get_mut(&address) {
                Some((link, heard)) => {
                    *heard = Instant::now();
                    *link
                }
                None => {
                    let link = next_link.fetch_add(1, Ordering::Relaxed);
                    centrals.insert(address, (link, Instant::now()));
                    links.lock().unwrap_or_else(|e| e.into_inner()).by_id.insert(link, Sink::Peripheral);
                    let _ = events.send(TransportEvent::LinkUp { link, mtu: usize::from(mtu), rssi_dbm: None });
                    link
                }
            };
            let _ = events.send(TransportEvent::Frame { link, frame });
        }
    };
    let on_subscribe = {
        let notifiers = notifiers.clone();
        move |notifier: CharacteristicNotifier| {
            notifiers.lock().unwrap_or_else(|e| e.into_inner()).push(notifier);
        }
    };
    let application = Application {
        services: vec![Service {
            uuid: SERVICE_UUID,
            primary: true,
            characteristics: vec![Characteristic {
                uuid: CHARACTERISTIC_UUID,
                read: Some(CharacteristicRead {
                    read: true,
                    fun: Box::new(|_| Box::pin(async { Ok(Vec::new()) })),
                    ..Default::default()
                }),
                write: Some(CharacteristicWrite {
                    write: true,
                    write_without_response: true,
                    method: CharacteristicWriteMethod::Fun(Box::new(move |frame, request| {
                        on_write(frame, request.device_address, request.mtu);
                        Box::pin(async { Ok(()) })
                    })),
                    ..Default::default()
                }),
                notify: Some(CharacteristicNotify {
                    notify: true,
                    method: CharacteristicNotifyMethod::Fun(Box::new(move |notifier| {
                        on_subscribe(notifier);
                        Box::pin(async {})
                    })),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let application =
        adapter.serve_gatt_application(application).await.map_err(|e| format!("cannot serve the GATT service: {e}"))?;
    let advertisement = Advertisement {
        service_uuids: [SERVICE_UUID].into_iter().collect(),
        discoverable: Some(true),
        ..Default::default()
    };
    let advertisement = adapter.advertise(advertisement).await.map_err(|e| format!("cannot advertise: {e}"))?;

    let (notify, mut frames) = mpsc::unbounded_channel::<Vec<u8>>();
    links.lock().unwrap_or_else(|e| e.into_inner()).notify = Some(notify);
    tokio::spawn(async move {
        let mut last: Option<(Vec<u8>, Instant)> = None;
        while let Some(frame) = frames.recv().await {
            if last.as_ref().is_some_and(|(f, at)| *f == frame && at.elapsed() < SAME_FRAME_WITHIN) {
                continue;
            }
            let mut current = std::mem::take(&mut *notifiers.lock().unwrap_or_else(|e| e.into_inner()));
            current.retain(|n| !n.is_stopped());
            for notifier in &mut current {
                let _ = notifier.notify(frame.clone()).await;
            }
            notifiers.lock().unwrap_or_else(|e| e.into_inner()).extend(current);
            last = Some((frame, Instant::now()));
        }
    });
    tokio::spawn(async move {
        let mut check = tokio::time::interval(SILENT_AFTER / 4);
        loop {
            check.tick().await;
            let gone: Vec<LinkId> = {
                let mut centrals = centrals.lock().unwrap_or_else(|e| e.into_inner());
                let gone =
                    centrals.values().filter(|(_, heard)| heard.elapsed() > SILENT_AFTER).map(|(l, _)| *l).collect();
                centrals.retain(|_, (_, heard)| heard.elapsed() <= SILENT_AFTER);
                gone
            };
            for link in gone {
                links.lock().unwrap_or_else(|e| e.into_inner()).by_id.remove(&link);
                let _ = events.send(TransportEvent::LinkDown { link });
            }
            if events.is_closed() {
                return;
            }
        }
    });
    Ok(Serving { _application: application, _advertisement: advertisement })
}
