//! BitChat over the real BlueZ stack and the kernel's Bluetooth layer, with emulated LE
//! controllers (BlueZ's btvirt) in a QEMU guest: two Fog nodes on their own controllers, one a
//! btleplug central and the other a bluer peripheral, exchange announces, a public message and a Noise DM
//! with its delivery receipt (tests/ble-vm). Emulated controllers prove the stack and our code,
//! not radio range or real chipsets.

use std::process::Command;

#[test]
fn two_nodes_chat_over_bluez_with_emulated_controllers() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/ble-vm/run");
    let output = Command::new(script)
        .arg(env!("CARGO_BIN_EXE_fog"))
        .output()
        .expect("tests/ble-vm/run starts (qemu-system-x86 etc. come from scripts/setup-debian --test)");
    let console = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        console.contains("FOG-VM: PASS") && console.contains("FOG-VM-EXIT 0"),
        "the guest's console:\n{console}\n{stderr}"
    );
    for step in ["announces heard both ways", "public message delivered", "private message delivered, receipt back"] {
        assert!(console.contains(step), "{step}");
    }
}
