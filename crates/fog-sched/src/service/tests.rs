use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::model::Tier;

/// Nodes in memory: each runs a job over two polls (running, then done with its input reversed).
#[derive(Default)]
struct MemoryCluster {
    nodes: Mutex<Vec<MemoryNode>>,
    next_id: AtomicU64,
    cancelled: Mutex<Vec<(String, u64)>>,
}

struct MemoryNode {
    id: String,
    cores: u32,
    speed: f64,
    refuse: Option<String>,
    /// Neither answers nor advertises.
    down: bool,
    /// Keeps jobs running until set to false.
    hold: bool,
    jobs: HashMap<u64, (Dispatch, u32)>,
}

impl MemoryCluster {
    fn with(nodes: &[(&str, u32, f64)]) -> Arc<MemoryCluster> {
        let cluster = MemoryCluster::default();
        for &(id, cores, speed) in nodes {
            cluster.nodes.lock().unwrap().push(MemoryNode {
                id: id.into(),
                cores,
                speed,
                refuse: None,
                down: false,
                hold: false,
                jobs: HashMap::new(),
            });
        }
        Arc::new(cluster)
    }

    fn set(&self, id: &str, change: impl FnOnce(&mut MemoryNode)) {
        let mut nodes = self.nodes.lock().unwrap();
        change(nodes.iter_mut().find(|n| n.id == id).unwrap());
    }

    fn jobs_on(&self, id: &str) -> usize {
        self.nodes.lock().unwrap().iter().find(|n| n.id == id).unwrap().jobs.len()
    }
}

impl Cluster for MemoryCluster {
    fn workers(&self) -> Vec<Worker> {
        self.nodes
            .lock()
            .unwrap()
            .iter()
            .filter(|n| !n.down)
            .map(|n| Worker {
                id: n.id.clone(),
                is_self: n.id == "a",
                spec: Ok(NodeSpec {
                    speed: n.speed,
                    cores: n.cores,
                    memory_bytes: 1 << 30,
                    price_per_gigafuel: 0.0,
                    energy_per_gigafuel: 0.0,
                    reliability: 1.0,
                    busy_s: 0.0,
                }),
            })
            .collect()
    }

    async fn offer(&self, node: &str, job: Dispatch) -> Result<u64, ClusterError> {
        let mut nodes = self.nodes.lock().unwrap();
        let n = nodes.iter_mut().find(|n| n.id == node).unwrap();
        if n.down {
            return Err(ClusterError::Unreachable("down".into()));
        }
        if let Some(reason) = &n.refuse {
            return Err(ClusterError::Refused(reason.clone()));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        n.jobs.insert(id, (job, 0));
        Ok(id)
    }

    async fn poll(&self, node: &str, remote_id: u64) -> Result<RemoteState, ClusterError> {
        let mut nodes = self.nodes.lock().unwrap();
        let n = nodes.iter_mut().find(|n| n.id == node).unwrap();
        if n.down {
            return Err(ClusterError::Unreachable("connection refused".into()));
        }
        let hold = n.hold;
        let (job, polls) = n.jobs.get_mut(&remote_id).ok_or_else(|| ClusterError::Gone("no such job".into()))?;
        *polls += 1;
        if *polls == 1 || hold {
            return Ok(RemoteState::Running { started_ms: 1 });
        }
        let output: Vec<u8> = job.input.iter().rev().copied().collect();
        Ok(RemoteState::Finished {
            ok: true,
            started_ms: Some(1),
            result: RunResult {
                end: "exit 0".into(),
                output_bytes: output.len() as u64,
                output_text: String::from_utf8(output.clone()).ok(),
                stderr_text: String::new(),
                fuel_used: 1000,
                cpu_ms: 1,
                wall_ms: 1,
            },
            output,
        })
    }

    async fn cancel(&self, node: &str, remote_id: u64) -> Result<(), ClusterError> {
        self.cancelled.lock().unwrap().push((node.to_string(), remote_id));
        Ok(())
    }
}

fn config() -> SchedConfig {
    SchedConfig {
        tick: Duration::from_millis(10),
        lost_after: Duration::from_millis(50),
        exclude_for: Duration::from_secs(60),
        population: 20,
        generations: 10,
        ..SchedConfig::default()
    }
}

fn store(dir: &tempfile::TempDir) -> Arc<Store> {
    Arc::new(Store::open(&dir.path().join("fog.db"), queue::MIGRATIONS).unwrap())
}

fn submission(input: &str, tier: Tier) -> Submission {
    Submission {
        label: format!("job {input}"),
        module: b"\0asm\x01\0\0\0".to_vec(),
        input: input.as_bytes().to_vec(),
        tier,
        deadline_ms: fog_store::now_ms() + 60_000,
        cpu: 1,
        memory_bytes: 1 << 20,
        fuel: 1_000_000_000,
        timeout_ms: 10_000,
        work: None,
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn all_done(scheduler: &Scheduler, ids: &[u64]) -> bool {
    ids.iter().all(|&id| scheduler.job(id).unwrap().phase == Phase::Done)
}

#[test]
fn bad_submissions_are_refused_and_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = Scheduler::open(store(&dir), config()).unwrap();
    type Spoil = fn(&mut Submission);
    let cases: [(&str, Spoil); 6] = [
        ("deadline", |s| s.deadline_ms = fog_store::now_ms() - 1),
        ("cpu", |s| s.cpu = 0),
        ("memory_bytes", |s| s.memory_bytes = 8 << 30),
        ("module", |s| s.module.clear()),
        ("input", |s| s.input = vec![0; MAX_PAYLOAD]),
        ("work", |s| s.work = Some(f64::NAN)),
    ];
    for (field, spoil) in cases {
        let mut s = submission("x", Tier::Gold);
        spoil(&mut s);
        match scheduler.submit(s) {
            Err(SchedError::Invalid(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: expected an error, got {other:?}"),
        }
    }
    assert!(scheduler.jobs().unwrap().is_empty());
}

const MAX_PAYLOAD: usize = queue::MAX_PAYLOAD_BYTES;

#[tokio::test]
async fn jobs_spread_over_the_nodes_and_their_results_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = Arc::new(Scheduler::open(store(&dir), config()).unwrap());
    let cluster = MemoryCluster::with(&[("a", 2, 1e9), ("b", 2, 1e9), ("c", 2, 1e9)]);
    let driver = tokio::spawn(scheduler.clone().drive(cluster.clone()));
    let ids: Vec<u64> = (0..12)
        .map(|i| scheduler.submit(submission(&format!("in{i}"), [Tier::Gold, Tier::Bronze][i % 2])).unwrap().id)
        .collect();
    wait_until("every job is done", || all_done(&scheduler, &ids)).await;
    driver.abort();
    let mut nodes_used: Vec<String> = ids.iter().map(|&id| scheduler.job(id).unwrap().node.unwrap()).collect();
    nodes_used.sort();
    nodes_used.dedup();
    assert_eq!(nodes_used, ["a", "b", "c"], "1 s jobs on 2-core nodes spread over all three");
    let job = scheduler.job(ids[3]).unwrap();
    assert_eq!(job.result.unwrap().output_text.as_deref(), Some("3ni"));
    assert_eq!(scheduler.output(ids[3]).unwrap(), b"3ni");
    assert_eq!(scheduler.attempts(ids[3]).unwrap()[0].outcome.as_deref(), Some("done"));
    let stats = scheduler.stats().unwrap();
    assert_eq!(stats.sla.tiers[0].jobs, 6);
    assert!(stats.rounds_total >= 1 && stats.placements_total == 12);
    assert!(!stats.last_round.unwrap().front.is_empty());
    // The next run of the same module is estimated from what the last one used.
    let next = scheduler.submit(submission("again", Tier::Silver)).unwrap();
    assert_eq!((next.work, next.work_source), (1000.0, WorkSource::Learned));
}

#[tokio::test]
async fn a_refusing_node_is_left_out_and_the_job_placed_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = Arc::new(Scheduler::open(store(&dir), config()).unwrap());
    // The refusing node is by far the fastest, so the first plan picks it.
    let cluster = MemoryCluster::with(&[("fast", 8, 1e12), ("slow", 1, 1e6)]);
    cluster.set("fast", |n| n.refuse = Some("paused: on battery".into()));
    let driver = tokio::spawn(scheduler.clone().drive(cluster.clone()));
    let id = scheduler.submit(submission("x", Tier::Gold)).unwrap().id;
    wait_until("the job is done", || all_done(&scheduler, &[id])).await;
    driver.abort();
    let job = scheduler.job(id).unwrap();
    assert_eq!((job.node.as_deref(), job.attempts), (Some("slow"), 1), "a refusal uses no attempt");
    let fast = scheduler.stats().unwrap().nodes.into_iter().find(|n| n.id == "fast").unwrap();
    assert!(!fast.available && fast.reason.unwrap().contains("paused: on battery"));
}

#[tokio::test]
async fn jobs_of_a_lost_node_are_placed_again_and_finish() {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = Arc::new(Scheduler::open(store(&dir), config()).unwrap());
    let cluster = MemoryCluster::with(&[("a", 4, 1e9), ("b", 4, 1e9)]);
    cluster.set("a", |n| n.hold = true);
    cluster.set("b", |n| n.hold = true);
    let driver = tokio::spawn(scheduler.clone().drive(cluster.clone()));
    let ids: Vec<u64> =
        (0..6).map(|i| scheduler.submit(submission(&i.to_string(), Tier::Silver)).unwrap().id).collect();
    wait_until("both nodes run jobs", || cluster.jobs_on("a") > 0 && cluster.jobs_on("b") > 0).await;
    let on_b: Vec<u64> =
        ids.iter().copied().filter(|&id| scheduler.job(id).unwrap().node.as_deref() == Some("b")).collect();
    cluster.set("b", |n| n.down = true);
    cluster.set("a", |n| n.hold = false);
    wait_until("every job is done", || all_done(&scheduler, &ids)).await;
    driver.abort();
    for id in on_b {
        let attempts = scheduler.attempts(id).unwrap();
        assert_eq!(attempts.len(), 2, "job {id}: {attempts:?}");
        assert!(attempts[0].outcome.as_deref().unwrap().starts_with("lost: b stopped answering"), "{attempts:?}");
        assert_eq!((attempts[1].node.as_str(), attempts[1].outcome.as_deref()), ("a", Some("done")));
    }
    // The lost node is asked to drop the jobs it had, should it come back.
    assert!(cluster.cancelled.lock().unwrap().iter().any(|(node, _)| node == "b"));
}

#[tokio::test]
async fn a_cancelled_job_is_stopped_on_its_node_and_stays_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = Arc::new(Scheduler::open(store(&dir), config()).unwrap());
    let cluster = MemoryCluster::with(&[("a", 1, 1e9)]);
    cluster.set("a", |n| n.hold = true);
    let driver = tokio::spawn(scheduler.clone().drive(cluster.clone()));
    let id = scheduler.submit(submission("x", Tier::Bronze)).unwrap().id;
    wait_until("it runs", || matches!(scheduler.job(id).unwrap().phase, Phase::Running { .. })).await;
    assert_eq!(scheduler.cancel(id).unwrap().phase, Phase::Cancelled);
    wait_until("its node is told", || !cluster.cancelled.lock().unwrap().is_empty()).await;
    driver.abort();
    assert!(matches!(scheduler.cancel(id), Err(SchedError::Ended(_))));
    assert!(matches!(scheduler.cancel(999), Err(SchedError::NotFound(999))));
}

#[tokio::test]
async fn a_restart_resumes_the_queue_and_follows_jobs_already_placed() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = MemoryCluster::with(&[("a", 1, 1e9)]);
    cluster.set("a", |n| n.hold = true);
    let placed = {
        let scheduler = Arc::new(Scheduler::open(store(&dir), config()).unwrap());
        let driver = tokio::spawn(scheduler.clone().drive(cluster.clone()));
        let placed = scheduler.submit(submission("placed", Tier::Gold)).unwrap().id;
        wait_until("it runs", || matches!(scheduler.job(placed).unwrap().phase, Phase::Running { .. })).await;
        driver.abort();
        placed
    };
    let scheduler = Arc::new(Scheduler::open(store(&dir), config()).unwrap());
    let queued = scheduler.submit(submission("queued", Tier::Gold)).unwrap().id;
    cluster.set("a", |n| n.hold = false);
    let driver = tokio::spawn(scheduler.clone().drive(cluster.clone()));
    wait_until("both are done", || all_done(&scheduler, &[placed, queued])).await;
    driver.abort();
    assert_eq!(scheduler.attempts(placed).unwrap().len(), 1, "the running job was followed, not placed again");
}

#[tokio::test]
async fn with_no_node_jobs_wait_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let scheduler = Arc::new(Scheduler::open(store(&dir), config()).unwrap());
    let cluster = MemoryCluster::with(&[]);
    let driver = tokio::spawn(scheduler.clone().drive(cluster.clone()));
    scheduler.submit(submission("x", Tier::Gold)).unwrap();
    wait_until("it says why", || scheduler.stats().unwrap().waiting.is_some()).await;
    driver.abort();
    let stats = scheduler.stats().unwrap();
    assert!(stats.waiting.unwrap().contains("no node offers capacity"));
    assert_eq!(stats.queue_depth, 1);
}
