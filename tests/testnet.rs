//! `fog testnet` and `fog node` as processes on 127.0.0.1: five nodes connect, SIGTERM stops
//! them all, identities persist in the reused data dirs, a killed node is reported down and
//! comes back with the same peer id through its peer book, and a crash under the testnet stops
//! the rest and names the node. The scheduler places jobs submitted on one node across three,
//! and places a killed node's jobs again. Betanet on seven nodes carries messages and replies
//! across key rotations, drops a replayed packet, and outlives a killed mixnode.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const FOG: &str = env!("CARGO_BIN_EXE_fog");
const NODES: usize = 5;
/// The issue's bound for the others to notice a killed node.
const DOWN_WITHIN: Duration = Duration::from_secs(15);
/// Generous bound for starting and connecting debug builds.
const WAIT: Duration = Duration::from_secs(60);

/// Port bases per test, spread by process id so parallel runs on one machine rarely collide,
/// and all below Linux's ephemeral range (32768 and up), where any outgoing connection (the
/// tests' own HTTP polls) may be holding a port a node is about to listen on.
fn base_port(test: u16) -> u16 {
    10_000 + (std::process::id() % 80) as u16 * 250 + test * 120
}

struct Testnet {
    child: Child,
    report: Value,
}

fn start_testnet(dir: &Path, base: u16, count: usize) -> Testnet {
    start_testnet_with(dir, base, count, &[])
}

fn start_testnet_with(dir: &Path, base: u16, count: usize, extra: &[&str]) -> Testnet {
    let mut child = Command::new(FOG)
        .args(["testnet", "--nodes", &count.to_string(), "--base-port", &base.to_string(), "--json", "--dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fog testnet starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("a JSON line");
    if line.is_empty() {
        let mut stderr = String::new();
        child.stderr.take().expect("stderr").read_to_string(&mut stderr).unwrap();
        panic!("fog testnet printed nothing: {stderr}");
    }
    let report: Value = serde_json::from_str(&line).expect("one JSON document");
    Testnet { child, report }
}

fn nodes(report: &Value) -> &Vec<Value> {
    report["nodes"].as_array().expect("nodes")
}

fn get(node: &Value, path: &str) -> Option<Value> {
    let token = std::fs::read_to_string(node["token_file"].as_str()?).ok()?;
    let url = format!("{}{path}", node["api_url"].as_str()?);
    let mut response = ureq::get(&url).header("Authorization", format!("Bearer {}", token.trim())).call().ok()?;
    response.body_mut().read_json().ok()
}

fn send(node: &Value, method: &str, path: &str, body: &Value) -> Value {
    let token = std::fs::read_to_string(node["token_file"].as_str().unwrap()).unwrap();
    let url = format!("{}{path}", node["api_url"].as_str().unwrap());
    let auth = format!("Bearer {}", token.trim());
    let response = match method {
        "PUT" => ureq::put(&url).header("Authorization", auth).send_json(body),
        _ => ureq::post(&url).header("Authorization", auth).send_json(body),
    };
    response.unwrap_or_else(|e| panic!("{method} {path}: {e}")).body_mut().read_json().unwrap()
}

fn peer_ids(node: &Value) -> Option<Vec<String>> {
    let peers = get(node, "/api/p2p/peers")?;
    Some(peers.as_array()?.iter().filter_map(|p| p["peer_id"].as_str().map(str::to_owned)).collect())
}

fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process still running after {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

fn signal(pid: u32, signal: &str) {
    assert!(Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
}

fn start_node(config: &Path) -> Child {
    Command::new(FOG)
        .args(["node", "--config"])
        .arg(config)
        .env_remove("FOG_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fog node starts")
}

#[test]
fn testnet_connects_stops_cleanly_and_nodes_come_back_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut testnet = start_testnet(dir.path(), base_port(0), NODES);
    let report = testnet.report.clone();
    let all: Vec<String> = nodes(&report).iter().map(|n| n["peer_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(all.len(), NODES);
    for (i, node) in nodes(&report).iter().enumerate() {
        let mut peers = peer_ids(node).expect("the node answers");
        peers.sort();
        let mut others: Vec<String> = all.iter().filter(|p| **p != all[i]).cloned().collect();
        others.sort();
        assert_eq!(peers, others, "node {} sees the other four", i + 1);
    }

    // SIGTERM (as Ctrl-C) stops every node and the testnet itself, cleanly.
    signal(testnet.child.id(), "-TERM");
    assert!(wait_exit(&mut testnet.child, WAIT).success());
    for node in nodes(&report) {
        assert!(!alive(node["pid"].as_u64().unwrap()), "node {} stopped", node["node"]);
    }

    // The same data dirs, started as plain nodes: the same identities, connected again.
    let config = |i: usize| dir.path().join(format!("node-{}", i + 1)).join("testnet.toml");
    let mut children: Vec<Child> = (0..NODES).map(|i| start_node(&config(i))).collect();
    wait_until(WAIT, "the restarted nodes reconnect", || {
        nodes(&report).iter().all(|n| peer_ids(n).is_some_and(|p| p.len() == NODES - 1))
    });
    for (node, peer) in nodes(&report).iter().zip(&all) {
        assert_eq!(get(node, "/api/node").unwrap()["peer_id"], *peer, "identity kept");
    }

    // Kill the last node: the others report it down in time.
    let last = NODES - 1;
    children[last].kill().unwrap();
    children[last].wait().unwrap();
    wait_until(DOWN_WITHIN, "the others report the killed node down", || {
        nodes(&report)[..last].iter().all(|n| peer_ids(n).is_some_and(|p| !p.contains(&all[last])))
    });

    // Back with the same data dir and no bootstrap address: its peer book reconnects it.
    let without_bootstrap = dir.path().join("node-5").join("restart.toml");
    let text = std::fs::read_to_string(config(last)).unwrap();
    let text = text.lines().map(|l| if l.starts_with("bootstrap") { "bootstrap = []" } else { l }).collect::<Vec<_>>();
    std::fs::write(&without_bootstrap, text.join("\n")).unwrap();
    children[last] = start_node(&without_bootstrap);
    wait_until(WAIT, "the restarted node reconnects to all four", || {
        peer_ids(&nodes(&report)[last]).is_some_and(|p| p.len() == NODES - 1)
    });
    assert_eq!(get(&nodes(&report)[last], "/api/node").unwrap()["peer_id"], all[last].as_str());
    let known = get(&nodes(&report)[last], "/api/p2p/known").unwrap();
    assert_eq!(known.as_array().unwrap().len(), NODES - 1, "the peer book knows the other four");

    for child in &mut children {
        signal(child.id(), "-TERM");
        assert!(wait_exit(child, WAIT).success());
    }
}

#[test]
fn a_crashed_node_stops_the_testnet_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut testnet = start_testnet(dir.path(), base_port(1), NODES);
    let report = testnet.report.clone();
    let third = &nodes(&report)[2];
    signal(third["pid"].as_u64().unwrap() as u32, "-KILL");
    let status = wait_exit(&mut testnet.child, WAIT);
    assert!(!status.success());
    let mut stderr = String::new();
    testnet.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("node 3 (pid"), "{stderr}");
    for node in nodes(&report) {
        assert!(!alive(node["pid"].as_u64().unwrap()), "node {} stopped", node["node"]);
    }
}

#[test]
fn bad_arguments_are_refused() {
    let output = Command::new(FOG).args(["testnet", "--nodes", "1"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--nodes must be between 2"));
}

/// Harvest settings under which a node computes however busy the machine is (tests run in parallel).
fn always_run() -> Value {
    serde_json::json!({"run_while_in_use": true, "max_cores_in_use": 0, "cpu_pct_in_use": 100,
        "ram_pct_in_use": 50, "other_cpu_suspend_pct": 0})
}

/// A WASI command (WebAssembly text, which the sandbox accepts too) that only counts, for
/// about 10¹⁰ instructions: long enough to be running when its node is killed.
const SPIN: &str = r#"(module (func (export "_start") (local $i i64)
    (loop $count (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $count (i64.lt_u (local.get $i) (i64.const 2000000000))))))"#;

fn job_phase(node: &Value, id: u64) -> Value {
    get(node, &format!("/api/scheduler/jobs/{id}")).expect("the job")
}

#[test]
fn scheduled_jobs_run_on_all_three_nodes_and_a_killed_nodes_jobs_are_placed_again() {
    const THREE: usize = 3;
    const TIERS: [&str; 3] = ["gold", "silver", "bronze"];
    let dir = tempfile::tempdir().unwrap();
    // The testnet writes the configs; the nodes then run as plain processes, so one can be killed.
    let mut testnet = start_testnet(dir.path(), base_port(2), THREE);
    let report = testnet.report.clone();
    signal(testnet.child.id(), "-TERM");
    assert!(wait_exit(&mut testnet.child, WAIT).success());
    let config = |i: usize| dir.path().join(format!("node-{}", i + 1)).join("testnet.toml");
    let mut children: Vec<Child> = (0..THREE).map(|i| start_node(&config(i))).collect();
    let all: Vec<String> = nodes(&report).iter().map(|n| n["peer_id"].as_str().unwrap().to_owned()).collect();
    wait_until(WAIT, "the nodes reconnect", || {
        nodes(&report).iter().all(|n| peer_ids(n).is_some_and(|p| p.len() == THREE - 1))
    });
    for node in nodes(&report) {
        send(node, "PUT", "/api/idle-compute/settings", &always_run());
    }
    let first = &nodes(&report)[0];
    wait_until(WAIT, "node 1 can place jobs on all three nodes", || {
        get(first, "/api/scheduler/stats")
            .is_some_and(|s| s["nodes"].as_array().unwrap().iter().filter(|n| n["available"] == true).count() == THREE)
    });

    // 30 jobs submitted on node 1 run on all three nodes, and every result comes back.
    let ids: Vec<u64> = (0..30)
        .map(|i| {
            let words = "fog ".repeat(i + 1);
            let job = send(
                first,
                "POST",
                "/api/scheduler/jobs",
                &serde_json::json!({"example": "wordcount", "input": words, "tier": TIERS[i % 3],
                    "deadline_s": 120, "work": 1e10}),
            );
            job["id"].as_u64().unwrap()
        })
        .collect();
    wait_until(WAIT, "all 30 jobs are done", || {
        ids.iter().all(|&id| job_phase(first, id)["job"]["phase"]["kind"] == "done")
    });
    let mut used = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let job = &job_phase(first, id)["job"];
        let text = job["result"]["output_text"].as_str().unwrap();
        assert!(text.contains(&format!("words {}", i + 1)), "job {id}: {text}");
        used.push(job["node"].as_str().unwrap().to_owned());
    }
    used.sort();
    used.dedup();
    assert_eq!(used.len(), THREE, "the jobs ran on {used:?}");

    // Kill a node while it runs jobs: they are placed again and finish elsewhere.
    let spins: Vec<u64> = (0..6)
        .map(|_| {
            let module = base64_encode(SPIN.as_bytes());
            let job = send(
                first,
                "POST",
                "/api/scheduler/jobs",
                &serde_json::json!({"module_base64": module, "label": "spin", "deadline_s": 600, "work": 1e10}),
            );
            job["id"].as_u64().unwrap()
        })
        .collect();
    let victim = THREE - 1;
    let on_victim = |id: &u64| job_phase(first, *id)["job"]["phase"]["node"] == all[victim].as_str();
    wait_until(WAIT, "node 3 runs a spin job", || {
        spins.iter().any(|id| on_victim(id) && job_phase(first, *id)["job"]["phase"]["kind"] == "running")
    });
    let lost: Vec<u64> = spins.iter().copied().filter(on_victim).collect();
    children[victim].kill().unwrap();
    children[victim].wait().unwrap();
    wait_until(WAIT * 2, "every spin job is done", || {
        spins.iter().all(|&id| job_phase(first, id)["job"]["phase"]["kind"] == "done")
    });
    for id in lost {
        let detail = job_phase(first, id);
        let attempts = detail["attempts"].as_array().unwrap();
        assert!(attempts.len() >= 2, "job {id}: {detail}");
        assert_eq!(attempts[0]["node"], all[victim].as_str());
        assert!(attempts[0]["outcome"].as_str().unwrap().starts_with("lost: "), "{detail}");
        assert_ne!(detail["job"]["node"], all[victim].as_str(), "finished elsewhere");
    }

    for (i, child) in children.iter_mut().enumerate() {
        if i != victim {
            signal(child.id(), "-TERM");
            assert!(wait_exit(child, WAIT).success());
        }
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn bitchat_over_the_simulated_radio_carries_public_and_private_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut testnet = start_testnet_with(dir.path(), base_port(3), 2, &["--simulated-radio"]);
    let (a, b) = (&nodes(&testnet.report)[0], &nodes(&testnet.report)[1]);
    let status = |node: &Value| get(node, "/api/bitchat/status").expect("status");
    let (a_id, b_id) =
        (status(a)["peer_id"].as_str().unwrap().to_owned(), status(b)["peer_id"].as_str().unwrap().to_owned());
    for node in [a, b] {
        let status = status(node);
        assert_eq!(status["simulated"], true);
        assert_eq!(status["adapter"]["state"], "ready", "{status}");
        assert!(status["adapter"]["transport"].as_str().unwrap().starts_with("simulated radio"));
    }
    let hears = |node: &Value, peer: &str| {
        get(node, "/api/bitchat/peers")
            .is_some_and(|p| p.as_array().unwrap().iter().any(|p| p["peer_id"] == peer && p["reachable"] == true))
    };
    wait_until(WAIT, "the two nodes hear each other's announces", || hears(a, &b_id) && hears(b, &a_id));

    let public = send(a, "POST", "/api/bitchat/messages", &serde_json::json!({ "text": "hello #mesh" }));
    let private = send(a, "POST", "/api/bitchat/messages", &serde_json::json!({ "to": b_id, "text": "just you" }));
    assert_eq!(private["delivery"], "queued");
    let has = |node: &Value, channel: &str, id: &Value| {
        get(node, &format!("/api/bitchat/messages?channel={}", channel.replace('#', "%23")))
            .and_then(|m| m.as_array().unwrap().iter().find(|m| m["id"] == *id).cloned())
    };
    wait_until(WAIT, "node 2 gets the public message", || has(b, "#mesh", &public["id"]).is_some());
    wait_until(WAIT, "node 2 gets the private message", || has(b, &a_id, &private["id"]).is_some());
    assert_eq!(has(b, &a_id, &private["id"]).unwrap()["text"], "just you");
    wait_until(WAIT, "node 1 sees it delivered", || {
        has(a, &b_id, &private["id"]).is_some_and(|m| m["delivery"] == "delivered")
    });
    send(b, "POST", &format!("/api/bitchat/peers/{a_id}/read"), &serde_json::json!({}));
    wait_until(WAIT, "node 1 sees it read", || has(a, &b_id, &private["id"]).is_some_and(|m| m["delivery"] == "read"));

    signal(testnet.child.id(), "-TERM");
    assert!(wait_exit(&mut testnet.child, WAIT).success());
}

fn betanet(node: &Value) -> Value {
    get(node, "/api/betanet/status").expect("betanet status")
}

fn drops(status: &Value, reason: &str) -> u64 {
    let drops = status["mixnode"]["drops"].as_array().unwrap();
    drops.iter().find(|d| d["reason"] == reason).map_or(0, |d| d["count"].as_u64().unwrap())
}

fn inbox_has(node: &Value, id: &Value) -> Option<Value> {
    get(node, "/api/betanet/inbox?limit=100")?.as_array()?.iter().find(|m| m["id"] == *id).cloned()
}

/// Listens on the testnet's mesh as an outsider: hears the signed descriptors and sends a
/// well-formed one-hop packet to a mixnode twice, as an observer replaying traffic would.
async fn replay_a_packet(nodes: &[Value], mesh_port: u16, victim: &str, epoch: u32) {
    use fog_mixnet::directory::Descriptor;
    use fog_mixnet::sphinx::{build_packet, Hop, PreparedKey};
    use futures_util::AsyncWriteExt as _;

    let config = fog_mesh::MeshConfig { listen: vec![format!("/ip4/127.0.0.1/tcp/{mesh_port}")], ..Default::default() };
    let mut secret = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
    let outsider = fog_mesh::Mesh::start(secret, config).await.unwrap();
    let mut descriptors =
        outsider.subscribe("fog/betanet/descriptors/1", fog_mesh::accept_all()).await.expect("subscribed");
    for node in nodes {
        outsider.dial(node["mesh_addr"].as_str().unwrap()).await.unwrap();
    }
    let descriptor = tokio::time::timeout(WAIT, async {
        loop {
            let message = descriptors.recv().await.expect("gossip runs");
            let descriptor = Descriptor::decode(&message.data).expect("a signed descriptor");
            if descriptor.peer_id() == victim && descriptor.key_for(epoch).is_some() {
                return descriptor;
            }
        }
    })
    .await
    .expect("the mixnode's descriptor within the bound");
    let key = PreparedKey::new(descriptor.key_for(epoch).unwrap()).unwrap();
    let hop = Hop { address: descriptor.identity, key: &key, delay_us: 0 };
    let packet = build_packet(descriptor.mode, epoch, &[hop], b"the same packet twice").unwrap();
    let mut stream = outsider.open_stream(victim, "/fog/mix/1").await.unwrap();
    for _ in 0..2 {
        stream.write_all(&(packet.len() as u16).to_be_bytes()).await.unwrap();
        stream.write_all(&packet).await.unwrap();
    }
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    outsider.stop().await;
}

#[test]
fn betanet_delivers_messages_and_replies_across_key_rotations_drops_a_replay_and_outlives_a_killed_mixnode() {
    const SEVEN: usize = 7;
    // Short epochs so the run crosses ten key rotations.
    const EPOCH_SECS: u64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let base = base_port(4);
    let mut testnet = start_testnet_with(dir.path(), base, SEVEN, &["--mixnodes", "6"]);
    let report = testnet.report.clone();
    signal(testnet.child.id(), "-TERM");
    assert!(wait_exit(&mut testnet.child, WAIT).success());
    let mut children: Vec<Child> = (0..SEVEN)
        .map(|i| {
            let config = dir.path().join(format!("node-{}", i + 1)).join("testnet.toml");
            let text = std::fs::read_to_string(&config).unwrap();
            let short = text.replace(
                "publish_every_secs = 5\n",
                &format!("publish_every_secs = 1\nepoch_secs = {EPOCH_SECS}\ngrace_secs = 2\n"),
            );
            assert_ne!(text, short, "the testnet writes a [betanet] section");
            std::fs::write(&config, short).unwrap();
            start_node(&config)
        })
        .collect();
    let all = nodes(&report);
    let (sender, receiver) = (&all[SEVEN - 1], &all[0]);
    let receiver_id = receiver["peer_id"].as_str().unwrap();
    wait_until(WAIT, "every node sees three full layers", || {
        all.iter().all(|n| get(n, "/api/betanet/status").is_some_and(|s| s["topology"]["usable"] == true))
    });
    let first_epoch = betanet(sender)["epoch"].as_u64().unwrap();

    // A steady load of messages and replies for ten rotations.
    let mut delivered = 0;
    while betanet(sender)["epoch"].as_u64().unwrap() < first_epoch + 10 {
        let text = format!("message {delivered} through the mixnet");
        let sent = send(sender, "POST", "/api/betanet/send", &serde_json::json!({ "to": receiver_id, "text": text }));
        wait_until(WAIT, "the message arrives", || inbox_has(receiver, &sent["id"]).is_some());
        let got = inbox_has(receiver, &sent["id"]).unwrap();
        assert_eq!((got["state"].as_str(), got["text"].as_str()), (Some("received"), Some(text.as_str())));
        assert!(got["reply_surbs"].as_u64().unwrap() > 0, "{got}");
        let reply = send(
            receiver,
            "POST",
            "/api/betanet/send",
            &serde_json::json!({ "reply_to": sent["id"], "text": "got it" }),
        );
        wait_until(WAIT, "the reply comes back", || inbox_has(sender, &reply["id"]).is_some());
        assert_eq!(inbox_has(sender, &reply["id"]).unwrap()["in_reply_to"], sent["id"]);
        wait_until(WAIT, "the sender sees it acknowledged", || {
            inbox_has(sender, &sent["id"]).is_some_and(|m| m["state"] == "delivered")
        });
        delivered += 1;
    }
    assert!(delivered >= 5, "{delivered} messages over ten rotations");
    for node in all {
        let status = betanet(node);
        assert_eq!((drops(&status, "expired_epoch"), drops(&status, "mac")), (0, 0), "{}", status["mixnode"]);
    }
    assert_eq!(betanet(sender)["client"]["retransmissions"], 0, "no packet was lost to a rotation");

    // A replayed packet is dropped and counted.
    let mixnode = &all[1];
    let mixnode_id = mixnode["peer_id"].as_str().unwrap();
    let before = betanet(mixnode);
    let epoch = before["epoch"].as_u64().unwrap() as u32;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(replay_a_packet(all, base + 110, mixnode_id, epoch));
    wait_until(WAIT, "the replay is counted", || drops(&betanet(mixnode), "replay") == drops(&before, "replay") + 1);

    // Kill a mixnode under a long message: its retransmitted fragments take other routes.
    let victim = (1..SEVEN - 1).find(|&i| betanet(&all[i])["mixnode"]["layer"] == 2).expect("a layer-2 mixnode");
    let body = "fragments ".repeat(6_000);
    let sent = send(sender, "POST", "/api/betanet/send", &serde_json::json!({ "to": receiver_id, "text": body }));
    children[victim].kill().unwrap();
    children[victim].wait().unwrap();
    wait_until(WAIT * 2, "the long message arrives whole", || {
        inbox_has(receiver, &sent["id"]).is_some_and(|m| m["text"].as_str() == Some(body.as_str()))
    });
    wait_until(WAIT, "the sender sees it acknowledged", || {
        inbox_has(sender, &sent["id"]).is_some_and(|m| m["state"] == "delivered")
    });
    assert!(betanet(sender)["client"]["retransmissions"].as_u64().unwrap() > 0, "fragments were resent");

    for (i, child) in children.iter_mut().enumerate() {
        if i != victim {
            signal(child.id(), "-TERM");
            assert!(wait_exit(child, WAIT).success());
        }
    }
}
