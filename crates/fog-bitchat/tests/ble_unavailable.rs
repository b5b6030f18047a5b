//! The BLE transport's "no radio" paths, for real (see also `fog bitchat radio` in tests/api.rs): btleplug talks to an actual D-Bus daemon
//! (a private one this test starts) and to BlueZ's API as python-dbusmock's `bluez5` template
//! serves it. No Bluetooth hardware or kernel support is needed. Each state must give its own
//! reason at once, never hang.

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

fn dbus_send(address: &str, args: &[&str]) {
    let ok = Command::new("dbus-send")
        .arg(format!("--bus={address}"))
        .args(["--print-reply", "--dest=org.bluez"])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("dbus-send runs")
        .success();
    assert!(ok, "dbus-send {args:?}");
}

async fn probe_reason() -> String {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(5), ble::probe()).await.expect("the probe answers at once");
    assert!(started.elapsed() < Duration::from_secs(5));
    match result {
        Ok((_, info)) => format!("ready: {info}"),
        Err(reason) => reason,
    }
}

// One test: the bus address is process-wide, so the states are visited in turn.
#[tokio::test]
async fn each_missing_layer_has_its_own_reason_and_a_mocked_adapter_is_found() {
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
    let (_transport, mut events) = ble::start();
    let first = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.unwrap().unwrap();
    assert_eq!(
        first,
        TransportEvent::Adapter(AdapterState::Unavailable { reason: "no Bluetooth adapter found".into() })
    );

    dbus_send(&address, &["/org/bluez", "org.bluez.Mock.AddAdapter", "string:hci0", "string:fog-test"]);
    let reason = probe_reason().await;
    assert!(reason.starts_with("ready: "), "{reason}");
    let ready =
        tokio::time::timeout(Duration::from_secs(15), events.recv()).await.expect("found within a probe period");
    assert!(
        matches!(&ready, Some(TransportEvent::Adapter(AdapterState::Ready { transport })) if transport.starts_with("Bluetooth LE")),
        "{ready:?}"
    );
    drop(bluez);
}
