//! The HTTP API of a real node on 127.0.0.1 with a temporary data directory: every route,
//! authentication, input errors, the live event stream, restart and the data-dir lock.

use std::sync::Once;
use std::time::Duration;

use fog_node::{logging, Config, Node, NodeError};
use serde_json::Value;

/// A node on an ephemeral loopback port, stopped on drop.
struct TestNode {
    runtime: tokio::runtime::Runtime,
    node: Option<Node>,
    base: String,
    token: String,
    dir: tempfile::TempDir,
}

fn init_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        std::mem::forget(logging::init("warn", &dir).unwrap());
    });
}

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config { data_dir: dir.to_owned(), ..Config::default() };
    config.api.addr = "127.0.0.1:0".parse().unwrap();
    config.mesh.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config
}

impl TestNode {
    fn start() -> Self {
        Self::start_in(tempfile::tempdir().unwrap())
    }

    fn start_in(dir: tempfile::TempDir) -> Self {
        init_logging();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let node = runtime.block_on(Node::start(config(dir.path()))).unwrap();
        let base = format!("http://{}", node.api_addr().expect("API listening"));
        let token = std::fs::read_to_string(dir.path().join("api_token")).unwrap().trim().to_owned();
        Self { runtime, node: Some(node), base, token, dir }
    }

    fn stop(mut self) -> tempfile::TempDir {
        let node = self.node.take().unwrap();
        self.runtime.block_on(node.shutdown());
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let url = format!("{}{}", self.base, path);
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut req = agent.get(&url);
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.call().unwrap()
            }
            ("PUT", Some(body)) => {
                let mut req = agent.put(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.send(body).unwrap()
            }
            _ => unreachable!(),
        };
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, Some(&self.token.clone()), None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let mut response = agent
            .post(format!("{}{}", self.base, path))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !check(self) {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn error(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let (status, body) = self.request(method, path, Some(&self.token.clone()), body);
        (status, body["code"].as_str().unwrap_or_default().to_owned())
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            self.runtime.block_on(node.shutdown());
        }
    }
}

const ROUTES: &[&str] = &[
    "/api/health",
    "/api/dashboard/stats",
    "/api/node",
    "/api/events/recent",
    "/api/logs",
    "/api/settings",
    "/api/openapi.json",
    "/api/idle-compute/stats",
    "/api/idle-compute/devices",
    "/api/idle-compute/settings",
    "/api/idle-compute/jobs/1",
    "/api/scheduler/jobs",
    "/api/scheduler/jobs/1",
    "/api/scheduler/stats",
    "/metrics",
    "/api/no-such-route",
];

#[test]
fn every_route_needs_the_token() {
    let node = TestNode::start();
    for route in ROUTES {
        for token in [None, Some("wrong")] {
            let (status, body) = node.request("GET", route, token, None);
            assert_eq!(status, 401, "{route} with {token:?}");
            assert_eq!(body["code"], "unauthorized", "{route}");
            assert!(body["message"].as_str().unwrap().len() > 10);
        }
    }
}

#[test]
fn health_reports_real_services_and_honest_gaps() {
    let node = TestNode::start();
    let health = node.get("/api/health");
    assert_eq!(health["status"], "ok");
    let services = health["services"].as_array().unwrap();
    let state = |id: &str| services.iter().find(|s| s["id"] == id).map(|s| s["state"].as_str().unwrap().to_owned());
    for built in ["identity", "store", "events", "mesh", "idle_compute", "scheduler", "betanet", "api"] {
        assert_eq!(state(built).as_deref(), Some("running"), "{built}");
    }
    for missing in ["privacy", "tokens"] {
        assert_eq!(state(missing).as_deref(), Some("not_available"), "{missing}");
    }
    // No Bluetooth here: BitChat says why, and everything else runs.
    assert!(matches!(state("bitchat").as_deref(), Some("stopped" | "running" | "starting")));
    let api = services.iter().find(|s| s["id"] == "api").unwrap();
    assert!(api["detail"].as_str().unwrap().contains(&node.base));
}

#[test]
fn node_info_matches_the_key_on_disk() {
    let node = TestNode::start();
    let info = node.get("/api/node");
    let key = fog_identity::NodeIdentity::load(&node.dir.path().join("node_key.pem")).unwrap();
    assert_eq!(info["peer_id"], key.peer_id());
    assert_eq!(info["fingerprint"], key.fingerprint().to_string());
    assert_eq!(info["api_url"], node.base);
    assert_eq!(info["data_dir"], node.dir.path().display().to_string());
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn stats_events_logs_settings_metrics_and_openapi_answer() {
    let node = TestNode::start();
    let stats = node.get("/api/dashboard/stats");
    assert!(stats["events_total"].as_u64().unwrap() >= 1);
    assert!(stats["db_size_bytes"].as_u64().unwrap() > 0);
    assert!(stats["process"]["rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(stats["services_not_available"], 2);

    let events = node.get("/api/events/recent?limit=50");
    let kinds: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}.{}", e["topic"].as_str().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&"node.started".to_owned()), "{kinds:?}");
    let only_node = node.get("/api/events/recent?topics=node");
    assert!(only_node.as_array().unwrap().iter().all(|e| e["topic"] == "node"));

    let logs = node.get("/api/logs?lines=20");
    assert!(logs["lines"].as_array().unwrap().len() <= 20);

    let settings = node.get("/api/settings");
    assert_eq!(settings["log_level_editable"], true);

    let (status, metrics) = node.request("GET", "/metrics", Some(&node.token.clone()), None);
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    for name in [
        "fog_build_info",
        "fog_events_total",
        "fog_http_requests_total",
        "fog_process_resident_memory_bytes",
        "fog_service_up",
        "fog_mesh_connected_peers",
        "fog_mesh_peer_connections_total",
        "fog_mesh_dials_failed_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    let openapi = node.get("/api/openapi.json");
    for path in ["/api/health", "/api/node", "/api/dashboard/stats", "/api/events", "/api/logs", "/api/settings"] {
        assert!(openapi["paths"].get(path).is_some(), "{path} missing from OpenAPI");
    }
}

#[test]
fn malformed_input_is_a_400_with_a_code() {
    let node = TestNode::start();
    for (method, path, body) in [
        ("GET", "/api/events/recent?limit=0", None),
        ("GET", "/api/events/recent?limit=abc", None),
        ("GET", "/api/events/recent?limit=100000", None),
        ("GET", "/api/events/recent?topics=a,,b", None),
        ("GET", "/api/events/recent?bogus=1", None),
        ("GET", "/api/logs?lines=-1", None),
        ("GET", "/api/logs?lines=999999", None),
        ("PUT", "/api/settings", Some("{not json")),
        ("PUT", "/api/settings", Some(r#"{"log_level": 5}"#)),
        ("PUT", "/api/settings", Some(r#"{"unknown": 1}"#)),
        ("PUT", "/api/settings", Some(r#"{"log_level": "info,fog_node=loud"}"#)),
        ("GET", "/api/events?topics=..", None),
    ] {
        assert_eq!(node.error(method, path, body), (400, "invalid_input".to_owned()), "{method} {path} {body:?}");
    }
    assert_eq!(node.error("GET", "/api/no-such-route", None), (404, "not_found".to_owned()));
}

#[test]
fn event_stream_delivers_live_events_with_their_log_ids() {
    use futures_util::StreamExt;
    let node = TestNode::start();
    let url = format!("{}/api/events?topics=settings&access_token={}", node.base.replace("http", "ws"), node.token);
    let received: Value = node.runtime.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let base = node.base.clone();
        let token = node.token.clone();
        let change = tokio::task::spawn_blocking(move || {
            let agent = ureq::Agent::new_with_defaults();
            agent
                .put(format!("{base}/api/settings"))
                .header("Authorization", format!("Bearer {token}"))
                .header("Content-Type", "application/json")
                .send(r#"{"log_level":"warn"}"#)
                .unwrap();
        });
        let message = tokio::time::timeout(Duration::from_secs(20), ws.next()).await.expect("an event within 20 s");
        change.await.unwrap();
        let _ = ws.close(None).await;
        serde_json::from_str(message.unwrap().unwrap().to_text().unwrap()).unwrap()
    });
    assert_eq!(received["topic"], "settings");
    assert_eq!(received["kind"], "changed");
    assert_eq!(received["data"]["log_level"], "warn");
    let id = received["id"].as_i64().unwrap();
    assert!(id > 0);
    let stored = node.get("/api/events/recent?topics=settings");
    assert!(stored.as_array().unwrap().iter().any(|e| e["id"] == id));
}

#[test]
fn event_stream_refuses_a_wrong_token() {
    let node = TestNode::start();
    let url = format!("{}/api/events?access_token=wrong", node.base.replace("http", "ws"));
    let result = node.runtime.block_on(tokio_tungstenite::connect_async(&url));
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
}

#[test]
fn restart_keeps_identity_and_events_and_the_lock_keeps_out_a_second_node() {
    let node = TestNode::start();
    let peer_id = node.get("/api/node")["peer_id"].clone();
    let second = node.runtime.block_on(Node::start(config(node.dir.path())));
    assert!(matches!(second, Err(NodeError::DataDirInUse { .. })), "second node on the same data dir must be refused");
    let dir = node.stop();

    let node = TestNode::start_in(dir);
    assert_eq!(node.get("/api/node")["peer_id"], peer_id);
    let started = node.get("/api/events/recent?topics=node");
    let count = started.as_array().unwrap().iter().filter(|e| e["kind"] == "started").count();
    assert_eq!(count, 2, "both starts are in the event log");
    assert!(started.as_array().unwrap().iter().any(|e| e["kind"] == "stopping"));
}

#[test]
fn a_busy_port_is_reported_as_a_failed_api_service() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = config(dir.path());
    config.api.addr = taken.local_addr().unwrap();
    let node = runtime.block_on(Node::start(config)).unwrap();
    assert_eq!(node.api_addr(), None);
    let health = runtime.block_on(node.api().health()).unwrap();
    assert_eq!(health.status, fog_node::api::types::HealthStatus::Degraded);
    let api = health.services.iter().find(|s| s.id == "api").unwrap();
    assert_eq!(api.state, fog_node::api::types::ServiceState::Failed);
    assert!(api.detail.contains("cannot listen"), "{}", api.detail);
    runtime.block_on(node.shutdown());
}

#[test]
fn two_nodes_connect_over_the_mesh_through_the_api() {
    let a = TestNode::start();
    let b = TestNode::start();
    let a_stats = a.get("/api/p2p/stats");
    assert_eq!(a_stats["peer_id"], a.get("/api/node")["peer_id"]);
    let a_addr = a_stats["listen_addrs"][0].as_str().unwrap().to_owned();
    assert!(a_addr.starts_with("/ip4/127.0.0.1/tcp/"), "{a_addr}");

    let (status, _) = b.post("/api/p2p/connect", &serde_json::json!({ "addr": a_addr }).to_string());
    assert_eq!(status, 204);
    let b_id = b.get("/api/node")["peer_id"].clone();
    a.wait_until("a sees b", |a| a.get("/api/p2p/peers").as_array().unwrap().iter().any(|p| p["peer_id"] == b_id));
    let peer = a.get("/api/p2p/peers")[0].clone();
    assert_eq!(peer["direction"], "inbound");
    assert_eq!(b.get("/api/p2p/stats")["outbound"], 1);
    // The peer list comes from the swarm; the event is stored a moment later by the bus.
    a.wait_until("the arrival is logged", |a| {
        a.get("/api/events/recent?topics=mesh")
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "peer_connected" && e["data"]["peer_id"] == b_id)
    });

    let (status, _) = a.post("/api/p2p/disconnect", &serde_json::json!({ "peer": b_id }).to_string());
    assert_eq!(status, 204);
    a.wait_until("a drops b", |a| a.get("/api/p2p/peers").as_array().unwrap().is_empty());
    a.wait_until("the departure is logged", |a| {
        a.get("/api/events/recent?topics=mesh").as_array().unwrap().iter().any(|e| e["kind"] == "peer_disconnected")
    });
}

#[test]
fn mesh_input_errors_are_400s() {
    let node = TestNode::start();
    for (path, body) in [
        ("/api/p2p/connect", r#"{"addr": "127.0.0.1:7421"}"#),
        ("/api/p2p/connect", r#"{"addr": ""}"#),
        ("/api/p2p/connect", r#"{"address": "/ip4/127.0.0.1/tcp/1"}"#),
        ("/api/p2p/disconnect", r#"{"peer": "nobody"}"#),
        ("/api/p2p/disconnect", r#"{"peer": "12D3KooWDjv8Xh389i5XJbr43a9CUWwd5pBNtiCYtGaEyZoAsds3"}"#),
    ] {
        let (status, body_out) = node.post(path, body);
        assert_eq!((status, body_out["code"].as_str()), (400, Some("invalid_input")), "{path} {body}: {body_out}");
    }
}

#[test]
fn a_disabled_mesh_answers_503_and_keeps_health_ok() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut config = config(dir.path());
    config.mesh.enabled = false;
    let node = runtime.block_on(Node::start(config)).unwrap();
    let api = node.api();
    let err = runtime.block_on(api.p2p_stats()).unwrap_err();
    assert_eq!(err.code, "unavailable");
    assert!(err.message.contains("disabled"), "{}", err.message);
    let health = runtime.block_on(api.health()).unwrap();
    assert_eq!(health.status, fog_node::api::types::HealthStatus::Ok, "{:?}", health.services);
    runtime.block_on(node.shutdown());
}

#[test]
fn the_fog_cli_talks_to_a_running_node() {
    let node = TestNode::start();
    let addr = node.base.trim_start_matches("http://").to_owned();
    let fog = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fog"))
            .args(args)
            .args(["--data-dir", node.dir.path().to_str().unwrap(), "--api-addr", &addr])
            .env_remove("FOG_CONFIG")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let peer_id = node.get("/api/node")["peer_id"].as_str().unwrap().to_owned();
    let (ok, text) = fog(&["status"]);
    assert!(ok && text.contains(&peer_id), "{text}");
    let (ok, text) = fog(&["p2p", "status"]);
    assert!(ok && text.contains("/ip4/127.0.0.1/tcp/"), "{text}");
    let (ok, text) = fog(&["p2p", "peers"]);
    assert!(ok && text.contains("no peers connected"), "{text}");
    let (ok, text) = fog(&["p2p", "connect", "nonsense"]);
    assert!(!ok && text.contains("not a valid multiaddr"), "{text}");
    // No Bluetooth here: the reason, not a failure.
    let (ok, text) = fog(&["bitchat", "peers"]);
    assert!(ok && text.contains("radio: unavailable — ") && text.contains("no peers heard yet"), "{text}");
}

/// Lets jobs run whatever this machine's user and other programs are doing (parallel tests
/// keep the CPU busy), so the tests do not depend on it.
const ALWAYS_RUN: &str = r#"{"run_while_in_use": true, "max_cores_in_use": 0, "cpu_pct_in_use": 100,
    "ram_pct_in_use": 50, "other_cpu_suspend_pct": 0}"#;

#[test]
fn idle_compute_runs_an_example_and_reports_the_device_honestly() {
    let node = TestNode::start();
    let (status, settings) =
        node.request("PUT", "/api/idle-compute/settings", Some(&node.token.clone()), Some(ALWAYS_RUN));
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["run_while_in_use"], true);
    assert_eq!(settings["idle_minutes"], 3.0, "fields not given keep their defaults");
    node.wait_until("the first device sample", |n| !n.get("/api/idle-compute/stats")["device"].is_null());
    let stats = node.get("/api/idle-compute/stats");
    let device = &stats["device"];
    // Every reading is either a value or a reason, never a made-up number.
    for field in ["power", "battery_pct", "charging", "user_idle_secs", "temperature_c", "memory_total_bytes"] {
        let reading = device[field].as_object().unwrap();
        assert!(
            reading.contains_key("known") || reading["unknown"].as_str().is_some_and(|r| !r.is_empty()),
            "{field}: {reading:?}"
        );
    }
    assert!(stats["decision"]["reason"].as_str().unwrap().len() > 8);

    let (status, queued) = node.post("/api/idle-compute/jobs", r#"{"example": "sieve", "input": "1000"}"#);
    assert_eq!(status, 200, "{queued}");
    let id = queued["id"].as_u64().unwrap();
    node.wait_until("the job to finish", |n| n.get(&format!("/api/idle-compute/jobs/{id}"))["state"] == "completed");
    let job = node.get(&format!("/api/idle-compute/jobs/{id}"));
    assert_eq!(job["output_text"], "168 primes up to 1000; the largest is 997\n");
    assert_eq!(job["end"], serde_json::json!({ "status": "exited", "code": 0 }));
    assert!(job["fuel_used"].as_u64().unwrap() > 1000);
    let (status, raw) =
        node.request("GET", &format!("/api/idle-compute/jobs/{id}/output"), Some(&node.token.clone()), None);
    assert_eq!((status, raw), (200, Value::String("168 primes up to 1000; the largest is 997\n".into())));
    assert_eq!(node.get("/api/idle-compute/stats")["totals"]["jobs_completed"], 1);
    let examples = node.get("/api/idle-compute/examples");
    assert_eq!(examples.as_array().unwrap().len(), 3);
    // The harvester's events reach the event log a moment after the job's state changes.
    node.wait_until("the job's events are logged", |n| {
        let events = n.get("/api/events/recent?topics=idle");
        let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        ["settings_changed", "job_queued", "job_started", "job_finished"].iter().all(|k| kinds.contains(k))
    });
    let (_, metrics) = node.request("GET", "/metrics", Some(&node.token.clone()), None);
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(metrics.contains("fog_idle_jobs_completed_total 1"), "{metrics}");
    assert!(metrics.contains("fog_idle_mode{mode=\"pause\"} 0"), "{metrics}");
}

#[test]
fn idle_compute_input_errors_are_clear_and_queue_nothing() {
    let node = TestNode::start();
    let put = |body: &str| {
        let (status, body) = node.request("PUT", "/api/idle-compute/settings", Some(&node.token.clone()), Some(body));
        (status, body["message"].as_str().unwrap_or_default().to_owned())
    };
    let (status, message) = put(r#"{"cpu_pct_idle": 0}"#);
    assert_eq!(status, 400);
    assert!(message.starts_with("cpu_pct_idle: must be 1 to 100"), "{message}");
    let (status, message) = put(r#"{"max_cpus": 2}"#);
    assert!(status == 400 && message.contains("max_cpus"), "{message}");
    let (status, message) = put(r#"{"windows": [{"start": "25:00", "end": "06:00"}]}"#);
    assert!(status == 400 && message.starts_with("windows[0]"), "{message}");
    for body in [
        r#"{}"#,
        r#"{"example": "sieve", "module_base64": "AGFzbQ=="}"#,
        r#"{"example": "doom"}"#,
        r#"{"module_base64": "not base64!"}"#,
        r#"{"module_base64": "AGFzbQEAAAA="}"#,
        r#"{"example": "sieve", "input": "1", "input_base64": "MQ=="}"#,
        r#"{"example": "sieve", "limits": {"memory_bytes": 0, "fuel": 1, "timeout_ms": 1, "output_bytes": 1}}"#,
        r#"{"example": "sieve", "limits": {"memory_bytes": 1048576, "fuel": 1, "timeout_ms": 999999999999, "output_bytes": 1}}"#,
    ] {
        let (status, answer) = node.post("/api/idle-compute/jobs", body);
        assert_eq!((status, answer["code"].as_str()), (400, Some("invalid_input")), "{body}: {answer}");
    }
    assert_eq!(node.error("GET", "/api/idle-compute/jobs/abc", None), (400, "invalid_input".into()));
    assert_eq!(node.error("GET", "/api/idle-compute/jobs/999", None), (404, "not_found".into()));
    let (status, _) = node.post("/api/idle-compute/jobs/999/cancel", "{}");
    assert_eq!(status, 404);
    let stats = node.get("/api/idle-compute/stats");
    assert!(stats["queued"].as_array().unwrap().is_empty() && stats["recent"].as_array().unwrap().is_empty());
    assert_eq!(node.get("/api/idle-compute/settings")["cpu_pct_idle"], 100);
}

#[test]
fn nodes_advertise_their_capacity_over_the_mesh() {
    let a = TestNode::start();
    let b = TestNode::start();
    let a_addr = a.get("/api/p2p/stats")["listen_addrs"][0].as_str().unwrap().to_owned();
    let (status, _) = b.post("/api/p2p/connect", &serde_json::json!({ "addr": a_addr }).to_string());
    assert_eq!(status, 204);
    let b_id = b.get("/api/node")["peer_id"].clone();
    a.wait_until("b's capacity reaches a", |a| {
        a.get("/api/idle-compute/devices").as_array().unwrap().iter().any(|d| d["peer_id"] == b_id)
    });
    let devices = a.get("/api/idle-compute/devices");
    assert_eq!(devices[0]["this_node"], true);
    let b_device = devices.as_array().unwrap().iter().find(|d| d["peer_id"] == b_id).unwrap();
    assert_eq!(b_device["this_node"], false);
    assert!(b_device["capacity"]["reason"].as_str().unwrap().len() > 8);
}

#[test]
fn a_node_offers_a_job_to_another_which_runs_it_by_its_own_policy() {
    let a = TestNode::start();
    let b = TestNode::start();
    let (status, _) = b.request("PUT", "/api/idle-compute/settings", Some(&b.token.clone()), Some(ALWAYS_RUN));
    assert_eq!(status, 200);
    let b_addr = b.get("/api/p2p/stats")["listen_addrs"][0].as_str().unwrap().to_owned();
    let b_id = b.get("/api/node")["peer_id"].as_str().unwrap().to_owned();
    let a_id = a.get("/api/node")["peer_id"].as_str().unwrap().to_owned();
    let (status, _) = a.post("/api/p2p/connect", &serde_json::json!({ "addr": b_addr }).to_string());
    assert_eq!(status, 204);
    a.wait_until("a connects to b", |a| {
        a.get("/api/p2p/peers").as_array().unwrap().iter().any(|p| p["peer_id"] == b_id)
    });
    b.wait_until("b samples its device", |b| b.get("/api/idle-compute/stats")["decision"]["mode"] != "pause");

    let offer = serde_json::json!({ "peer": b_id, "job": { "example": "sieve", "input": "100" } });
    let (status, accepted) = a.post("/api/idle-compute/offer", &offer.to_string());
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["origin"], a_id.as_str());
    let id = accepted["id"].as_u64().unwrap();
    let remote = format!("/api/idle-compute/peers/{b_id}/jobs/{id}");
    a.wait_until("the job finishes on b", |a| a.get(&remote)["state"] == "completed");
    assert_eq!(a.get(&remote)["output_text"], "25 primes up to 100; the largest is 97\n");
    // b lists it as run for a; a's own queue never saw it.
    assert_eq!(b.get(&format!("/api/idle-compute/jobs/{id}"))["origin"], a_id.as_str());
    assert!(a.get("/api/idle-compute/stats")["recent"].as_array().unwrap().is_empty());

    // b's policy refuses work while it is switched off, and says why.
    let (status, _) =
        b.request("PUT", "/api/idle-compute/settings", Some(&b.token.clone()), Some(r#"{"enabled": false}"#));
    assert_eq!(status, 200);
    b.wait_until("b pauses", |b| b.get("/api/idle-compute/stats")["decision"]["mode"] == "pause");
    let (status, refused) = a.post("/api/idle-compute/offer", &offer.to_string());
    assert_eq!(status, 400);
    assert!(refused["message"].as_str().unwrap().contains("refused: paused: donation is switched off"), "{refused}");
    // Nobody else can read a's jobs on b.
    let (status, _) =
        b.request("GET", &format!("/api/idle-compute/peers/{a_id}/jobs/{id}"), Some(&b.token.clone()), None);
    assert_eq!(status, 400);
}

#[test]
fn benchmarks_run_in_the_node_and_are_listed() {
    let node = TestNode::start();
    let (status, result) = node.post("/api/bench/run", r#"{"suite": "nsga", "pop": 20, "gens": 150, "seed": 3}"#);
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["suite"], "nsga");
    assert!(result["title"].as_str().unwrap().contains("zdt1"));
    let figures = result["figures"].as_array().unwrap();
    let hv = figures.iter().find(|f| f["name"].as_str().unwrap().starts_with("hypervolume")).unwrap();
    assert!(hv["value"].as_f64().unwrap() > 0.0);
    let (status, sandbox) = node.post("/api/bench/run", r#"{"suite": "sandbox"}"#);
    assert_eq!(status, 200, "{sandbox}");
    let ratio = sandbox["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "sieve: sandbox / native throughput")
        .cloned();
    assert!(ratio.unwrap()["value"].as_f64().unwrap() > 0.0);
    let results = node.get("/api/bench/results");
    assert_eq!(results.as_array().unwrap().len(), 2);
    assert_eq!(results[0]["suite"], "sandbox", "newest first");
    for bad in [
        r#"{"suite": "quantum"}"#,
        r#"{"suite": "nsga", "pop": 100000, "gens": 1000}"#,
        r#"{"suite": "nsga", "problem": "zdt9"}"#,
        r#"{"suit": "nsga"}"#,
    ] {
        let (status, answer) = node.post("/api/bench/run", bad);
        assert_eq!((status, answer["code"].as_str()), (400, Some("invalid_input")), "{bad}: {answer}");
    }
}

#[test]
fn scheduled_jobs_are_checked_run_here_and_reported() {
    let node = TestNode::start();
    let (status, _) = node.request("PUT", "/api/idle-compute/settings", Some(&node.token.clone()), Some(ALWAYS_RUN));
    assert_eq!(status, 200);
    // Bad submissions are refused naming the field, and nothing is queued.
    for (body, field) in [
        (r#"{"example": "sieve", "deadline_s": -5}"#, "deadline"),
        (r#"{"example": "sieve", "cpu": 0}"#, "cpu"),
        (r#"{"example": "sieve", "memory_bytes": 99999999999}"#, "memory_bytes"),
        (r#"{"module_base64": "AGFzbQEAAAA="}"#, "module"),
        (r#"{"module_base64": "bm90IHdhc20="}"#, "module"),
        (r#"{"example": "sieve", "tier": "platinum"}"#, "tier"),
    ] {
        let (status, error) = node.post("/api/scheduler/jobs", body);
        assert_eq!(status, 400, "{body}: {error}");
        assert!(error["message"].as_str().unwrap().contains(field), "{body}: {error}");
    }
    assert!(node.get("/api/scheduler/jobs").as_array().unwrap().is_empty());

    let (status, queued) = node.post(
        "/api/scheduler/jobs",
        r#"{"example": "sieve", "input": "1000", "tier": "gold", "deadline_s": 60, "label": "primes"}"#,
    );
    assert_eq!(status, 200, "{queued}");
    let id = queued["id"].as_u64().unwrap();
    node.wait_until("the job is done", |n| {
        n.get(&format!("/api/scheduler/jobs/{id}"))["job"]["phase"]["kind"] == "done"
    });
    let detail = node.get(&format!("/api/scheduler/jobs/{id}"));
    let peer_id = node.get("/api/node")["peer_id"].clone();
    assert_eq!(detail["job"]["node"], peer_id, "the only node is this one");
    assert_eq!(detail["job"]["result"]["output_text"], "168 primes up to 1000; the largest is 997\n");
    assert_eq!(detail["attempts"][0]["outcome"], "done");
    let (status, raw) =
        node.request("GET", &format!("/api/scheduler/jobs/{id}/output"), Some(&node.token.clone()), None);
    assert_eq!((status, raw), (200, Value::String("168 primes up to 1000; the largest is 997\n".into())));
    let (status, error) = node.post(&format!("/api/scheduler/jobs/{id}/cancel"), "{}");
    assert_eq!(status, 400, "an ended job cannot be cancelled: {error}");
    let (status, _) = node.request("GET", "/api/scheduler/jobs/999", Some(&node.token.clone()), None);
    assert_eq!(status, 404);

    let stats = node.get("/api/scheduler/stats");
    assert_eq!(stats["sla"]["tiers"][0]["jobs"], 1);
    assert_eq!(stats["sla"]["tiers"][0]["on_time_pct"], 100.0);
    assert!(stats["last_round"]["front"].as_array().is_some_and(|f| !f.is_empty()));
    assert_eq!(stats["nodes"][0]["is_self"], true);
    node.wait_until("the job's events are logged", |n| {
        let events = n.get("/api/events/recent?topics=scheduler");
        let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        ["job_queued", "round", "job_placed", "job_done"].iter().all(|k| kinds.contains(k))
    });
    let (_, metrics) = node.request("GET", "/metrics", Some(&node.token.clone()), None);
    let metrics = metrics.as_str().unwrap();
    assert!(metrics.contains("fog_sched_placements_total 1"), "{metrics}");
    assert!(metrics.contains("fog_sched_on_time_ratio{tier=\"gold\"} 1.0"), "{metrics}");
}

#[test]
fn fog_bitchat_decodes_and_encodes_frames() {
    let fog = |args: &[&str], stdin: Option<&str>| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fog"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    };
    // VECTORS.md A1.
    let frame = "01020701020304050607080000031011121314151617aabbcc";
    let decoded = fog(&["bitchat", "decode", frame], None);
    assert!(decoded.status.success());
    let json: Value = serde_json::from_slice(&decoded.stdout).unwrap();
    assert_eq!((json["type_name"].as_str(), json["payload_hex"].as_str()), (Some("message"), Some("aabbcc")));
    let encoded = fog(&["bitchat", "encode", "-"], Some(&String::from_utf8(decoded.stdout).unwrap()));
    assert_eq!(String::from_utf8(encoded.stdout).unwrap().trim(), frame);
    let bad = fog(&["bitchat", "decode", "0102"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("shorter than the smallest packet"));
}

#[test]
fn bitchat_without_a_radio_says_why_and_refuses_bad_input() {
    let node = TestNode::start();
    let status = node.get("/api/bitchat/status");
    assert_eq!(status["peer_id"].as_str().unwrap().len(), 16);
    assert_eq!(status["simulated"], false);
    let key = std::fs::metadata(node.dir.path().join("bitchat_keys")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777, 0o600);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut status = status;
    while status["adapter"]["state"] == "starting" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        status = node.get("/api/bitchat/status");
    }
    if status["adapter"]["state"] == "unavailable" {
        let reason = status["adapter"]["reason"].as_str().unwrap();
        assert!(!reason.is_empty());
        let (code, body) = node.post("/api/bitchat/messages", r#"{ "text": "hi" }"#);
        assert_eq!(code, 503);
        assert!(body["message"].as_str().unwrap().contains(reason), "{body}");
    }
    assert_eq!(node.get("/api/bitchat/peers"), serde_json::json!([]));
    assert_eq!(node.get("/api/bitchat/messages?channel=%23mesh"), serde_json::json!([]));
    let (code, body) = node.request("GET", "/api/bitchat/messages?channel=nope", Some(&node.token.clone()), None);
    assert_eq!(code, 400, "{body}");
    let (code, _) = node.post("/api/bitchat/messages", r#"{ "text": "hi", "extra": 1 }"#);
    assert_eq!(code, 400);
}

#[test]
fn fog_bitchat_radio_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fog"))
        .args(["bitchat", "radio"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={}", dir.path().join("no-bus").display()))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("radio: unavailable — cannot connect to the D-Bus system bus"), "{stderr}");
}
