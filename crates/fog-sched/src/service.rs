//! The scheduler service: takes jobs into the persisted queue, places the queued ones in rounds
//! (NSGA-II over the nodes that offer capacity, see [`crate::model`]), hands each to its node,
//! follows it until it ends, and places it again when its node refuses it, disappears or
//! overruns. The nodes are reached through a [`Cluster`], which the node wires to the mesh and
//! its own harvester, and tests to an in-memory one.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fog_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::lifecycle::{sla_figures, Event, Lifecycle, Phase, SlaFigures};
use crate::model::{evaluation_threads, plan, JobSpec, NodeSpec};
use crate::nsga2::Nsga2Config;
use crate::queue::{self, Attempt, InvalidSubmission, Round, RunResult, SchedJob, Submission, WorkSource};

/// A node that can take jobs, or why it cannot now.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Peer id.
    pub id: String,
    pub is_self: bool,
    pub spec: Result<NodeSpec, String>,
}

/// A job as it travels to the node that runs it.
#[derive(Debug, Clone)]
pub struct Dispatch {
    pub label: String,
    pub module: Arc<Vec<u8>>,
    pub input: Arc<Vec<u8>>,
    pub memory_bytes: u64,
    pub fuel: u64,
    pub timeout_ms: u64,
    pub output_bytes: u64,
}

/// A dispatched job as its node reports it.
#[derive(Debug, Clone)]
pub enum RemoteState {
    Queued,
    Running {
        started_ms: i64,
    },
    Finished {
        ok: bool,
        started_ms: Option<i64>,
        result: RunResult,
        output: Vec<u8>,
    },
    /// Cancelled on that node (by its owner, not by us).
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The node said no (its policy, its queue).
    #[error("{0}")]
    Refused(String),
    /// The node could not be asked; it may answer later.
    #[error("{0}")]
    Unreachable(String),
    /// The node does not have the job (any more).
    #[error("{0}")]
    Gone(String),
}

/// The nodes, as the scheduler reaches them.
pub trait Cluster: Send + Sync + 'static {
    /// Every node that advertises capacity, this one included.
    fn workers(&self) -> Vec<Worker>;
    /// Offers a job to `node`; the answer is the job's id there.
    fn offer(&self, node: &str, job: Dispatch) -> impl Future<Output = Result<u64, ClusterError>> + Send;
    fn poll(&self, node: &str, remote_id: u64) -> impl Future<Output = Result<RemoteState, ClusterError>> + Send;
    fn cancel(&self, node: &str, remote_id: u64) -> impl Future<Output = Result<(), ClusterError>> + Send;
}

#[derive(Debug, Clone)]
pub struct SchedConfig {
    /// How often in-flight jobs are polled and queued ones placed.
    pub tick: Duration,
    /// Placements a job may use before it fails.
    pub max_attempts: u32,
    /// A node that has not answered about a job for this long has lost it.
    pub lost_after: Duration,
    /// How long a node that refused a job or lost one is left out of placement.
    pub exclude_for: Duration,
    /// Queued jobs one round places at most (the rest wait for the next).
    pub max_round_jobs: usize,
    pub population: usize,
    pub generations: usize,
    /// Jobs listed by [`Scheduler::jobs`].
    pub list_limit: u32,
}

impl Default for SchedConfig {
    fn default() -> Self {
        SchedConfig {
            tick: Duration::from_secs(1),
            max_attempts: 3,
            lost_after: Duration::from_secs(5),
            exclude_for: Duration::from_secs(15),
            max_round_jobs: 500,
            population: 100,
            generations: 200,
            list_limit: 200,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error(transparent)]
    Invalid(#[from] InvalidSubmission),
    #[error("no scheduled job {0}")]
    NotFound(u64),
    #[error("job {0} has already ended")]
    Ended(u64),
    #[error("job {0} has not finished; its output comes when it does")]
    NotFinished(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Something the dashboard and the event log should hear about.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SchedEvent {
    /// A job changed phase (its new phase is in the job).
    Job {
        job: Box<SchedJob>,
    },
    Round {
        round: Box<Round>,
    },
}

/// A node as the Scheduler page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct SchedNode {
    pub id: String,
    pub is_self: bool,
    /// Whether the next round may place jobs on it.
    pub available: bool,
    /// Why it cannot take jobs, when it cannot.
    pub reason: Option<String>,
    /// Instructions per second on one core.
    pub speed: Option<f64>,
    pub free_cores: u32,
    pub price_per_gigafuel: Option<f64>,
    /// Share of this scheduler's attempts on it that finished, smoothed (1 with no history).
    pub reliability: f64,
    /// This scheduler's jobs on it now.
    pub in_flight: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct PhaseCounts {
    pub queued: u32,
    pub placed: u32,
    pub running: u32,
    pub retrying: u32,
}

/// Everything the Scheduler page shows besides the job list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct SchedStats {
    pub active: PhaseCounts,
    /// Jobs waiting to be placed.
    pub queue_depth: u32,
    /// Why queued jobs are waiting, when they are.
    pub waiting: Option<String>,
    /// Over the last hour.
    pub sla: SlaFigures,
    pub last_round: Option<Round>,
    pub nodes: Vec<SchedNode>,
    #[ts(type = "number")]
    pub rounds_total: u64,
    #[ts(type = "number")]
    pub placements_total: u64,
}

/// The SLA figures' window.
pub const SLA_WINDOW_MS: i64 = 3600 * 1000;

/// What the scheduler tracks about a job that has not ended.
#[derive(Debug, Clone)]
struct Active {
    lifecycle: Lifecycle,
    spec: JobSpec,
    deadline_ms: i64,
    label: String,
    fuel: u64,
    timeout_ms: u64,
    remote_id: Option<u64>,
    placed_ms: Option<i64>,
    started_ms: Option<i64>,
    /// When polls started failing, and how many have.
    failing_since: Option<Instant>,
    failed_polls: u32,
}

struct Inner {
    active: BTreeMap<u64, Active>,
    /// Nodes left out of placement until the instant, with why.
    excluded: HashMap<String, (Instant, String)>,
    /// Jobs cancelled here that their node should stop: (node, its id there).
    to_cancel: Vec<(String, u64)>,
    waiting: Option<String>,
    nodes: Vec<SchedNode>,
}

pub struct Scheduler {
    store: Arc<Store>,
    config: SchedConfig,
    inner: Mutex<Inner>,
    events: broadcast::Sender<SchedEvent>,
    wake: Notify,
}

impl Scheduler {
    /// Loads the jobs that had not ended when the node last stopped.
    pub fn open(store: Arc<Store>, config: SchedConfig) -> Result<Scheduler, StoreError> {
        let mut active = BTreeMap::new();
        for job in queue::active_jobs(&store)? {
            active.insert(
                job.id,
                Active {
                    lifecycle: Lifecycle {
                        phase: job.phase.clone(),
                        attempts: job.attempts,
                        max_attempts: job.max_attempts,
                    },
                    spec: JobSpec {
                        work: job.work,
                        cpu: job.cpu,
                        memory_bytes: job.memory_bytes,
                        deadline_s: 0.0,
                        tier: job.tier,
                    },
                    deadline_ms: job.deadline_ms,
                    label: job.label,
                    fuel: job.fuel,
                    timeout_ms: job.timeout_ms,
                    remote_id: job.remote_id,
                    placed_ms: job.placed_ms,
                    started_ms: job.started_ms,
                    failing_since: None,
                    failed_polls: 0,
                },
            );
        }
        let (events, _) = broadcast::channel(1024);
        Ok(Scheduler {
            store,
            config,
            inner: Mutex::new(Inner {
                active,
                excluded: HashMap::new(),
                to_cancel: Vec::new(),
                waiting: None,
                nodes: Vec::new(),
            }),
            events,
            wake: Notify::new(),
        })
    }

    pub fn events(&self) -> broadcast::Receiver<SchedEvent> {
        self.events.subscribe()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a job. The module must already have passed the sandbox's checks.
    pub fn submit(&self, submission: Submission) -> Result<SchedJob, SchedError> {
        let now_ms = fog_store::now_ms();
        submission.validate(now_ms)?;
        let (work, source) = match submission.work {
            Some(work) => (work, WorkSource::Given),
            None => match queue::learned_work(&self.store, &submission.module)? {
                Some(work) => (work.min(submission.fuel as f64), WorkSource::Learned),
                None => (submission.fuel as f64, WorkSource::FuelLimit),
            },
        };
        let lifecycle = Lifecycle::new(self.config.max_attempts);
        let id = queue::insert_job(&self.store, &submission, work, source, &lifecycle, now_ms)?;
        self.inner().active.insert(
            id,
            Active {
                lifecycle,
                spec: JobSpec {
                    work,
                    cpu: submission.cpu,
                    memory_bytes: submission.memory_bytes,
                    deadline_s: 0.0,
                    tier: submission.tier,
                },
                deadline_ms: submission.deadline_ms,
                label: submission.label,
                fuel: submission.fuel,
                timeout_ms: submission.timeout_ms,
                remote_id: None,
                placed_ms: None,
                started_ms: None,
                failing_since: None,
                failed_polls: 0,
            },
        );
        let job = self.job(id)?;
        let _ = self.events.send(SchedEvent::Job { job: Box::new(job.clone()) });
        self.wake.notify_one();
        Ok(job)
    }

    pub fn job(&self, id: u64) -> Result<SchedJob, SchedError> {
        queue::job(&self.store, id)?.ok_or(SchedError::NotFound(id))
    }

    pub fn attempts(&self, id: u64) -> Result<Vec<Attempt>, SchedError> {
        self.job(id)?;
        Ok(queue::attempts(&self.store, id)?)
    }

    /// Every job that has not ended, then the most recent ended ones.
    pub fn jobs(&self) -> Result<Vec<SchedJob>, SchedError> {
        let mut jobs = queue::active_jobs(&self.store)?;
        jobs.reverse();
        let ended = queue::recent_jobs(&self.store, self.config.list_limit)?;
        jobs.extend(ended.into_iter().filter(|j| j.phase.is_final()));
        Ok(jobs)
    }

    pub fn output(&self, id: u64) -> Result<Vec<u8>, SchedError> {
        let job = self.job(id)?;
        if !job.phase.is_final() {
            return Err(SchedError::NotFinished(id));
        }
        Ok(queue::output(&self.store, id)?.unwrap_or_default())
    }

    pub fn cancel(&self, id: u64) -> Result<SchedJob, SchedError> {
        let mut inner = self.inner();
        let Some(active) = inner.active.get_mut(&id) else {
            self.job(id)?;
            return Err(SchedError::Ended(id));
        };
        let node = active.lifecycle.phase.node().map(str::to_string);
        active.lifecycle.apply(Event::Cancel).map_err(|_| SchedError::Ended(id))?;
        let active = inner.active.remove(&id).expect("present");
        if let (Some(node), Some(remote_id)) = (node.clone(), active.remote_id) {
            inner.to_cancel.push((node, remote_id));
        }
        drop(inner);
        let now_ms = fog_store::now_ms();
        self.persist(id, &active, Some(now_ms), None, None, node.is_some().then_some(("cancelled", now_ms)))?;
        self.wake.notify_one();
        self.job(id)
    }

    pub fn stats(&self) -> Result<SchedStats, SchedError> {
        let now_ms = fog_store::now_ms();
        let ended = queue::ended_since(&self.store, now_ms - SLA_WINDOW_MS)?;
        let (rounds_total, placements_total) = queue::totals(&self.store)?;
        let inner = self.inner();
        let mut active = PhaseCounts::default();
        for job in inner.active.values() {
            match job.lifecycle.phase {
                Phase::Queued => active.queued += 1,
                Phase::Placed { .. } => active.placed += 1,
                Phase::Running { .. } => active.running += 1,
                Phase::Retrying { .. } => active.retrying += 1,
                _ => {}
            }
        }
        Ok(SchedStats {
            queue_depth: active.queued + active.retrying,
            active,
            waiting: inner.waiting.clone(),
            sla: sla_figures(&ended, now_ms, SLA_WINDOW_MS),
            last_round: queue::last_round(&self.store)?,
            nodes: inner.nodes.clone(),
            rounds_total,
            placements_total,
        })
    }

    /// Writes a job's current state, and tells the listeners.
    fn persist(
        &self,
        id: u64,
        active: &Active,
        finished_ms: Option<i64>,
        result: Option<(&RunResult, &[u8])>,
        opens_attempt: Option<(&str, i64)>,
        closes_attempt: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        queue::record(
            &self.store,
            &queue::Transition {
                id,
                lifecycle: &active.lifecycle,
                remote_id: active.remote_id,
                placed_ms: active.placed_ms,
                started_ms: active.started_ms,
                finished_ms,
                result,
                opens_attempt,
                closes_attempt,
            },
        )?;
        if let Ok(Some(job)) = queue::job(&self.store, id) {
            let _ = self.events.send(SchedEvent::Job { job: Box::new(job) });
        }
        Ok(())
    }

    /// Places and follows jobs until the task is dropped.
    pub async fn drive<C: Cluster>(self: Arc<Self>, cluster: Arc<C>) {
        loop {
            self.cancel_remote(&cluster).await;
            self.poll(&cluster).await;
            if let Err(e) = self.place(&cluster).await {
                tracing::warn!("placement round failed: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.tick) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    async fn cancel_remote<C: Cluster>(&self, cluster: &Arc<C>) {
        let to_cancel = std::mem::take(&mut self.inner().to_cancel);
        for (node, remote_id) in to_cancel {
            if let Err(e) = cluster.cancel(&node, remote_id).await {
                tracing::debug!("job {remote_id} on {node} not cancelled: {e}");
            }
        }
    }

    /// Asks each node about the jobs it has, and moves them on.
    async fn poll<C: Cluster>(&self, cluster: &Arc<C>) {
        let in_flight: Vec<(u64, String, u64)> = self
            .inner()
            .active
            .iter()
            .filter_map(|(id, a)| Some((*id, a.lifecycle.phase.node()?.to_string(), a.remote_id?)))
            .collect();
        let mut polls = JoinSet::new();
        for (id, node, remote_id) in in_flight {
            let cluster = cluster.clone();
            polls.spawn(async move { (id, node.clone(), cluster.poll(&node, remote_id).await) });
        }
        while let Some(joined) = polls.join_next().await {
            let Ok((id, node, answer)) = joined else { continue };
            if let Err(e) = self.follow(id, &node, answer) {
                tracing::warn!("job {id} could not be updated: {e}");
            }
        }
    }

    /// Applies one poll's answer to job `id`, which `node` had when it was asked.
    fn follow(&self, id: u64, node: &str, answer: Result<RemoteState, ClusterError>) -> Result<(), StoreError> {
        let now_ms = fog_store::now_ms();
        let mut guard = self.inner();
        let inner = &mut *guard;
        let config = &self.config;
        let Some(active) = inner.active.get_mut(&id) else { return Ok(()) };
        if active.lifecycle.phase.node() != Some(node) {
            return Ok(());
        }
        let overrun_ms = (active.timeout_ms as i64).saturating_mul(2).saturating_add(60_000);
        let lost = match answer {
            Ok(state) => {
                active.failing_since = None;
                active.failed_polls = 0;
                match state {
                    RemoteState::Queued if active.placed_ms.is_some_and(|p| now_ms - p > overrun_ms) => {
                        Some(format!("{} has not run it within {} s", short(node), overrun_ms / 1000))
                    }
                    RemoteState::Queued => None,
                    RemoteState::Running { started_ms } => {
                        if matches!(active.lifecycle.phase, Phase::Placed { .. }) {
                            let _ = active.lifecycle.apply(Event::Started);
                            active.started_ms = Some(started_ms);
                            let active = active.clone();
                            drop(guard);
                            return self.persist(id, &active, None, None, None, None);
                        }
                        None
                    }
                    RemoteState::Finished { ok, started_ms, result, output } => {
                        if matches!(active.lifecycle.phase, Phase::Placed { .. }) {
                            let _ = active.lifecycle.apply(Event::Started);
                        }
                        active.started_ms = active.started_ms.or(started_ms).or(Some(now_ms));
                        let (event, outcome) = if ok {
                            (Event::Finished, "done".to_string())
                        } else {
                            let reason = format!("{} on {}", result.end, short(node));
                            (Event::JobFailed { reason: reason.clone() }, format!("failed: {reason}"))
                        };
                        let _ = active.lifecycle.apply(event);
                        let active = inner.active.remove(&id).expect("present");
                        drop(guard);
                        return self.persist(
                            id,
                            &active,
                            Some(now_ms),
                            Some((&result, &output)),
                            None,
                            Some((&outcome, now_ms)),
                        );
                    }
                    RemoteState::Cancelled => Some(format!("the job was cancelled on {}", short(node))),
                }
            }
            Err(ClusterError::Gone(reason)) => Some(reason),
            Err(ClusterError::Refused(reason) | ClusterError::Unreachable(reason)) => {
                let since = *active.failing_since.get_or_insert_with(Instant::now);
                active.failed_polls += 1;
                (active.failed_polls >= 3 && since.elapsed() >= config.lost_after)
                    .then(|| format!("{} stopped answering: {reason}", short(node)))
            }
        };
        let Some(reason) = lost else { return Ok(()) };
        tracing::info!("job {id}: {reason}");
        let _ = active.lifecycle.apply(Event::NodeLost { reason: reason.clone() });
        active.failing_since = None;
        active.failed_polls = 0;
        if let Some(remote_id) = active.remote_id.take() {
            inner.to_cancel.push((node.to_string(), remote_id));
        }
        active.placed_ms = None;
        active.started_ms = None;
        let active = active.clone();
        let ended = active.lifecycle.phase.is_final();
        inner.excluded.insert(node.to_string(), (Instant::now() + config.exclude_for, reason.clone()));
        if ended {
            inner.active.remove(&id);
        }
        drop(guard);
        self.persist(id, &active, ended.then_some(now_ms), None, None, Some((&format!("lost: {reason}"), now_ms)))
    }

    /// One placement round: the queued jobs on the nodes that can take them, then the offers.
    async fn place<C: Cluster>(&self, cluster: &Arc<C>) -> Result<(), SchedError> {
        let workers = cluster.workers();
        let record: HashMap<String, (u32, u32)> =
            queue::node_record(&self.store)?.into_iter().map(|(node, ended, done)| (node, (ended, done))).collect();
        let now = Instant::now();
        let now_ms = fog_store::now_ms();
        let (jobs, nodes, ids, node_ids) = {
            let mut guard = self.inner();
            let inner = &mut *guard;
            inner.excluded.retain(|_, (until, _)| *until > now);
            let mut in_flight: HashMap<&str, (u32, f64)> = HashMap::new();
            for a in inner.active.values() {
                if let Some(node) = a.lifecycle.phase.node() {
                    let entry = in_flight.entry(node).or_default();
                    entry.0 += 1;
                    entry.1 += a.spec.work * f64::from(a.spec.cpu);
                }
            }
            let mut views = Vec::new();
            let mut nodes = Vec::new();
            let mut node_ids = Vec::new();
            for worker in &workers {
                let (count, queued_work) = in_flight.get(worker.id.as_str()).copied().unwrap_or_default();
                let (ended, done) = record.get(&worker.id).copied().unwrap_or_default();
                let reliability = f64::from(done + 1) / f64::from(ended + 1);
                let reason = match (&worker.spec, inner.excluded.get(&worker.id)) {
                    (Err(reason), _) => Some(reason.clone()),
                    (Ok(_), Some((_, reason))) => Some(format!("left out for a while: {reason}")),
                    (Ok(spec), None) if spec.cores == 0 => Some("no free cores".to_string()),
                    (Ok(_), None) => None,
                };
                let spec = worker.spec.as_ref().ok();
                views.push(SchedNode {
                    id: worker.id.clone(),
                    is_self: worker.is_self,
                    available: reason.is_none(),
                    reason: reason.clone(),
                    speed: spec.map(|s| s.speed),
                    free_cores: spec.map_or(0, |s| s.cores),
                    price_per_gigafuel: spec.map(|s| s.price_per_gigafuel),
                    reliability,
                    in_flight: count,
                });
                if let (None, Some(spec)) = (reason, spec) {
                    let mut spec = spec.clone();
                    spec.reliability = reliability.clamp(0.05, 1.0);
                    spec.busy_s = queued_work / (spec.speed * f64::from(spec.cores.max(1)));
                    nodes.push(spec);
                    node_ids.push(worker.id.clone());
                }
            }
            inner.nodes = views;
            let mut pending: Vec<(u64, &Active)> = inner
                .active
                .iter()
                .filter(|(_, a)| a.lifecycle.phase.wants_placement())
                .map(|(i, a)| (*i, a))
                .collect();
            if pending.is_empty() {
                inner.waiting = None;
                return Ok(());
            }
            if nodes.is_empty() {
                inner.waiting = Some(if workers.is_empty() {
                    "no node offers capacity: idle compute is off here and no peer advertises any".to_string()
                } else {
                    "no node can take jobs now (see the nodes' reasons)".to_string()
                });
                return Ok(());
            }
            pending.sort_by_key(|(id, a)| (a.spec.tier, a.deadline_ms, *id));
            let fits =
                |a: &Active| nodes.iter().any(|n| a.spec.cpu <= n.cores && a.spec.memory_bytes <= n.memory_bytes);
            let unfit = pending.iter().filter(|(_, a)| !fits(a)).count();
            pending.retain(|(_, a)| fits(a));
            pending.truncate(self.config.max_round_jobs);
            inner.waiting =
                (unfit > 0).then(|| format!("{unfit} job(s) need more cores or memory than any node offers now"));
            let jobs: Vec<JobSpec> = pending
                .iter()
                .map(|(_, a)| JobSpec { deadline_s: (a.deadline_ms - now_ms) as f64 / 1000.0, ..a.spec.clone() })
                .collect();
            let ids: Vec<u64> = pending.iter().map(|(id, _)| *id).collect();
            (jobs, nodes, ids, node_ids)
        };
        if jobs.is_empty() {
            return Ok(());
        }
        let config = Nsga2Config {
            pop_size: self.config.population,
            generations: self.config.generations,
            seed: now_ms as u64,
            threads: evaluation_threads(jobs.len()),
            ..Nsga2Config::default()
        };
        let started = Instant::now();
        let (jobs_n, planned) = {
            let jobs = jobs.clone();
            let nodes = nodes.clone();
            let n = jobs.len();
            (n, tokio::task::spawn_blocking(move || plan(&jobs, &nodes, &config)).await.ok().flatten())
        };
        let Some(planned) = planned else { return Ok(()) };
        let mut placed: BTreeMap<&str, u32> = BTreeMap::new();
        for &n in &planned.assignment {
            *placed.entry(node_ids[n].as_str()).or_default() += 1;
        }
        let round = Round {
            at_ms: now_ms,
            jobs: jobs_n as u32,
            nodes: node_ids.clone(),
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            front: planned.front.clone(),
            chosen: planned.chosen,
            late_gold: planned.figures.late_gold,
            late_jobs: planned.figures.late_jobs,
            fifo_first_fit: planned.fifo_first_fit.objectives(),
            placed: placed.into_iter().map(|(n, c)| (n.to_string(), c)).collect(),
        };
        queue::save_round(&self.store, &round)?;
        let _ = self.events.send(SchedEvent::Round { round: Box::new(round) });
        self.dispatch(cluster, &ids, &planned.assignment, &node_ids).await
    }

    /// Offers each job to the node the plan chose, all at once.
    async fn dispatch<C: Cluster>(
        &self,
        cluster: &Arc<C>,
        ids: &[u64],
        assignment: &[usize],
        node_ids: &[String],
    ) -> Result<(), SchedError> {
        let mut offers = JoinSet::new();
        for (&id, &n) in ids.iter().zip(assignment) {
            let Some(payload) = queue::payload(&self.store, id)? else { continue };
            let Some(dispatch) = self.inner().active.get(&id).map(|a| Dispatch {
                label: a.label.clone(),
                module: Arc::new(payload.module),
                input: Arc::new(payload.input),
                memory_bytes: a.spec.memory_bytes,
                fuel: a.fuel,
                timeout_ms: a.timeout_ms,
                output_bytes: queue::MAX_OUTPUT_BYTES,
            }) else {
                continue;
            };
            let cluster = cluster.clone();
            let node = node_ids[n].clone();
            offers.spawn(async move { (id, node.clone(), cluster.offer(&node, dispatch).await) });
        }
        while let Some(joined) = offers.join_next().await {
            let Ok((id, node, answer)) = joined else { continue };
            let now_ms = fog_store::now_ms();
            let mut inner = self.inner();
            let Some(active) = inner.active.get_mut(&id) else {
                // Cancelled while the offer was out: the node should drop it.
                if let Ok(remote_id) = answer {
                    inner.to_cancel.push((node, remote_id));
                }
                continue;
            };
            match answer {
                Ok(remote_id) => {
                    if active.lifecycle.apply(Event::Accepted { node: node.clone() }).is_err() {
                        inner.to_cancel.push((node, remote_id));
                        continue;
                    }
                    active.remote_id = Some(remote_id);
                    active.placed_ms = Some(now_ms);
                    active.started_ms = None;
                    let active = active.clone();
                    drop(inner);
                    self.persist(id, &active, None, None, Some((&node, now_ms)), None)?;
                }
                Err(e) => {
                    let reason = match &e {
                        ClusterError::Refused(r) => format!("{} refused it: {r}", short(&node)),
                        ClusterError::Unreachable(r) | ClusterError::Gone(r) => {
                            format!("{} could not be reached: {r}", short(&node))
                        }
                    };
                    let _ = active.lifecycle.apply(Event::Refused { reason: reason.clone() });
                    let active = active.clone();
                    inner.excluded.insert(node, (Instant::now() + self.config.exclude_for, reason));
                    let ended = active.lifecycle.phase.is_final();
                    if ended {
                        inner.active.remove(&id);
                    }
                    drop(inner);
                    self.persist(id, &active, ended.then_some(now_ms), None, None, None)?;
                }
            }
        }
        Ok(())
    }
}

/// A peer id as people read it: its last 8 characters.
fn short(node: &str) -> String {
    match node.char_indices().rev().nth(7) {
        Some((at, _)) if at > 0 => format!("…{}", &node[at..]),
        _ => node.to_string(),
    }
}

#[cfg(test)]
mod tests;
