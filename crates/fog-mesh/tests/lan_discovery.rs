//! LAN discovery with mDNS, inside a private network namespace so that no multicast leaves
//! this machine: the test re-runs itself under `unshare --net` with a veth pair
//! (10.77.0.1 ↔ 10.77.0.2) and a multicast route, then two nodes with no bootstrap address must
//! find each other. One starts with discovery on; the other switches it on while running.

use std::process::Command;
use std::time::Duration;

use fog_identity::NodeIdentity;
use fog_mesh::{Mesh, MeshConfig};
use tokio::time::timeout;

const INSIDE: &str = "FOG_TEST_INSIDE_NETNS";
const TEST: &str = "two_nodes_find_each_other_on_the_lan";
const NAMESPACE_SETUP: &str = "set -e
ip link set lo up
ip link add fogv0 type veth peer name fogv1
ip addr add 10.77.0.1/24 dev fogv0
ip addr add 10.77.0.2/24 dev fogv1
ip link set fogv0 up
ip link set fogv1 up
ip route add 224.0.0.0/4 dev fogv0
exec \"$0\" \"$@\"";

#[test]
fn two_nodes_find_each_other_on_the_lan() {
    if std::env::var_os(INSIDE).is_some() {
        return find_each_other();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new("unshare")
        .args(["--net", "--", "sh", "-c", NAMESPACE_SETUP])
        .arg(exe)
        .args(["--exact", TEST, "--nocapture"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux) runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the namespaced run failed (it needs root for unshare --net, and iproute2):\n{}\n{stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "the test did not run inside the namespace");
}

#[tokio::main(flavor = "current_thread")]
async fn find_each_other() {
    let on_lan = |ip: &str, lan_discovery: bool| MeshConfig {
        listen: vec![format!("/ip4/{ip}/tcp/0")],
        lan_discovery,
        ..MeshConfig::default()
    };
    let a = Mesh::start(*NodeIdentity::generate().ed25519_secret(), on_lan("10.77.0.1", true)).await.unwrap();
    let b = Mesh::start(*NodeIdentity::generate().ed25519_secret(), on_lan("10.77.0.2", false)).await.unwrap();
    b.set_lan_discovery(true).await.unwrap();
    timeout(Duration::from_secs(30), async {
        loop {
            let a_sees_b = a.peers().await.unwrap().iter().any(|p| p.peer == b.local_peer_id());
            let b_sees_a = b.peers().await.unwrap().iter().any(|p| p.peer == a.local_peer_id());
            if a_sees_b && b_sees_a {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the nodes find each other by mDNS");
    b.set_lan_discovery(false).await.unwrap();
    a.stop().await;
    b.stop().await;
}
