//! The BLE transport against the real D-Bus stack (see also `fog bitchat radio` in tests/api.rs):
//! btleplug talks to a private D-Bus daemon this test starts, and to BlueZ's API as
//! python-dbusmock's `bluez5` template serves it (`mock_phone.py` adds a BitChat phone). No
//! Bluetooth hardware or kernel support is needed; this proves our use of btleplug and BlueZ's
//! API, not radio range or real chipsets. Each missing layer gives its own reason at once, never
//! a hang; then a phone comes into range and frames go both ways.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fog_bitchat::model::AdapterState;
use fog_bitchat::transport::ble;
use fog_bitchat::transport::TransportEvent;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A bus daemon of our own, standing in for the system bus.
fn private_bus(dir: &Path) -> (Killed, String) {
    let socket = dir.join("system_bus_socket");
    let address = format!("unix:path={}", socket.display());
    let daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--nopidfile", &format!("--address={address}")])
        .stdout(Stdio::null())
        .spawn()
        .expect("dbus-daemon (Debian package dbus-daemon) runs");
    wait_for("the private bus socket", || socket.exists());
    (Killed(daemon), address)
}

async fn probe_reason() -> String {
    let started = Instant::now();
    let result =
        tokio::time::timeout(Duration::from_secs(5), ble::probe(None)).await.expect("the probe answers at once");
    assert!(started.elapsed() < Duration::from_secs(5));
    match result {
        Ok((_, info)) => format!("ready: {info}"),
        Err(reason) => reason,
    }
}

// One test: the bus address is process-wide, so the states are visited in turn. Several
// threads: the D-Bus handlers of our GATT server must answer while the test waits on the mock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_missing_layer_has_its_own_reason_then_a_mocked_phone_links_up() {
    let dir = tempfile::tempdir().unwrap();

    // libdbus reads the bus address once per process, so "no bus at all" is tested through
    // `fog bitchat radio` in tests/api.rs; here the bus is there from the start.
    let (_bus, address) = private_bus(dir.path());
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", &address);
    let reason = probe_reason().await;
    assert!(reason.starts_with("BlueZ not running"), "{reason}");

    let bluez = Killed(
        Command::new("/usr/bin/python3")
            .args(["-m", "dbusmock", "--system", "--template", "bluez5"])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3-dbusmock runs"),
    );
    wait_for("the mocked BlueZ", || {
        Command::new("dbus-send")
            .arg(format!("--bus={address}"))
            .args(["--print-reply", "--dest=org.bluez", "/", "org.freedesktop.DBus.Peer.Ping"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    assert_eq!(probe_reason().await, "no Bluetooth adapter found");

    // The transport itself reports the same, and looks again.
    let (transport, mut events) = ble::start(None, ble::Roles::Both);
    let first = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
    assert_eq!(
        first,
        TransportEvent::Adapter(AdapterState::Unavailable { reason: "no Bluetooth adapter found".into() })
    );

    phone(&["adapter"]);
    let reason = probe_reason().await;
    assert!(reason.starts_with("ready: "), "{reason}");
    let ready =
        tokio::time::timeout(Duration::from_secs(15), events.recv()).await.expect("found within a probe period");
    assert!(
        matches!(&ready, Some(TransportEvent::Adapter(AdapterState::Ready { transport }))
            if transport.starts_with("Bluetooth LE") && transport.ends_with("central and peripheral")),
        "{ready:?}"
    );
    // Advertised by service UUID only: no name, nothing that identifies us.
    assert_eq!(phone(&["advertised"]), format!("{}\nno name\n", ble::SERVICE_UUID.hyphenated()));

    // A phone comes into range: the central connects, subscribes, writes and hears it.
    phone(&["device"]);
    let (link, mtu, rssi_dbm) = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await.expect("a link within 10 s") {
            Some(TransportEvent::LinkUp { link, mtu, rssi_dbm }) => break (link, mtu, rssi_dbm),
            Some(_) => continue,
            None => panic!("the transport stopped"),
        }
    };
    assert_eq!((mtu, rssi_dbm), (517, Some(-61)));
    let keys = fog_bitchat::keys::ChatKeys::generate();
    let mut engine = fog_bitchat::engine::Engine::new(keys, "laptop", 1_800_000_000_000, 1);
    engine.link_up(link, mtu, rssi_dbm, 1_800_000_000_000);
    let Some(fog_bitchat::engine::Output::Transmit { frame: announce, .. }) = engine.poll() else {
        panic!("an announce on the new link")
    };
    transport.send(link, announce.clone());
    let wrote = wait_output("the write to reach the phone", || {
        let out = phone(&["writes"]);
        (!out.is_empty()).then_some(out)
    })
    .await;
    assert_eq!(wrote.trim(), hex::encode(&announce), "one whole frame per write");

    let from_phone = "0102030405";
    phone(&["notify", from_phone]);
    let frame = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("a frame within 5 s") {
            Some(TransportEvent::Frame { link: l, frame }) if l == link => break frame,
            Some(_) => continue,
            None => panic!("the transport stopped"),
        }
    };
    assert_eq!(hex::encode(frame), from_phone);

    // The phone as central: it writes to our GATT server and subscribes to its notifications.
    phone(&["central-write", "0a0b0c"]);
    let (server_link, server_mtu) = loop {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("a link within 5 s") {
            Some(TransportEvent::LinkUp { link, mtu, .. }) => break (link, mtu),
            Some(_) => continue,
            None => panic!("the transport stopped"),
        }
    };
    assert_ne!(server_link, link);
    assert_eq!(server_mtu, 247);
    let written = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap();
    assert_eq!(written, Some(TransportEvent::Frame { link: server_link, frame: vec![0x0a, 0x0b, 0x0c] }));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mock_phone.py");
    let listener =
        Command::new("/usr/bin/python3").args([script, "central-listen"]).stdout(Stdio::piped()).spawn().unwrap();
    let heard = tokio::task::spawn_blocking(move || listener.wait_with_output());
    tokio::pin!(heard);
    let output = loop {
        transport.send(server_link, vec![0xfe, 0xed]);
        tokio::select! {
            output = &mut heard => break output.unwrap().unwrap(),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    };
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "feed", "the subscribed phone hears our frame");
    drop(bluez);
}

fn phone(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mock_phone.py");
    let out = Command::new("/usr/bin/python3").arg(script).args(args).output().expect("mock_phone.py runs");
    assert!(out.status.success(), "mock_phone.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn wait_output<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
