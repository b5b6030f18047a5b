//! Wires the scheduler to the node: its cluster is this node's harvester plus the peers that
//! advertise capacity on the mesh, reached with the idle-compute protocols; its events go on the
//! bus as topic `scheduler`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use fog_idle::{Capacity, Harvester, JobLimits, JobRequest, JobState, JobView, Mode, RunEnd};
use fog_mesh::{Mesh, MeshError};
use fog_sched::model::NodeSpec;
use fog_sched::queue::RunResult;
use fog_sched::service::{Cluster, ClusterError, Dispatch, RemoteState, SchedEvent, Scheduler, Worker};
use tokio::sync::broadcast::error::RecvError;

use crate::events::EventBus;
use crate::idle::{JobQuery, JobResult, MeshOffers, CANCEL_PROTOCOL, OFFER_PROTOCOL, RESULT_PROTOCOL};

/// How long a peer has to answer an offer, a poll or a cancel.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);
/// Origin of the jobs the scheduler runs on this node's own harvester.
pub const LOCAL_ORIGIN: &str = "scheduler";

/// This node and the mesh, as the scheduler sees them.
pub struct MeshCluster {
    pub self_id: String,
    pub harvester: Option<Arc<Harvester>>,
    pub mesh: Option<Mesh>,
    pub offers: MeshOffers,
}

/// What a node's advertisement offers the placement model. Energy is not measured anywhere yet,
/// so it counts as zero for every node and does not sway the choice.
fn node_spec(capacity: &Capacity) -> Result<NodeSpec, String> {
    if capacity.mode == Mode::Pause {
        return Err(capacity.reason.clone());
    }
    let speed = capacity.speed_fuel_per_sec.ok_or("its speed is not measured yet")?;
    Ok(NodeSpec {
        speed,
        cores: capacity.cores,
        memory_bytes: capacity.free_memory_bytes.unwrap_or(u64::MAX),
        price_per_gigafuel: capacity.price_per_gigafuel,
        energy_per_gigafuel: 0.0,
        reliability: 1.0,
        busy_s: 0.0,
    })
}

fn run_result(job: &JobView) -> RunResult {
    RunResult {
        end: job.end.as_ref().map_or_else(|| job.state.as_str().to_string(), RunEnd::to_string),
        output_bytes: job.output_bytes,
        output_text: job.output_text.clone(),
        stderr_text: job.stderr_text.clone(),
        fuel_used: job.fuel_used,
        cpu_ms: job.cpu_ms,
        wall_ms: job.wall_ms,
    }
}

fn remote_state(job: &JobView, output: Vec<u8>) -> RemoteState {
    match job.state {
        JobState::Queued => RemoteState::Queued,
        JobState::Running => RemoteState::Running { started_ms: job.started_ms.unwrap_or_else(fog_store::now_ms) },
        JobState::Completed | JobState::Failed => RemoteState::Finished {
            ok: job.state == JobState::Completed,
            started_ms: job.started_ms,
            result: run_result(job),
            output,
        },
        JobState::Cancelled => RemoteState::Cancelled,
    }
}

/// A failed request: the peer's refusal, or no answer.
fn cluster_error(e: MeshError) -> ClusterError {
    match e {
        MeshError::Refused { reason, .. } => ClusterError::Refused(reason),
        other => ClusterError::Unreachable(other.to_string()),
    }
}

impl MeshCluster {
    fn local(&self, node: &str) -> Option<Arc<Harvester>> {
        (node == self.self_id).then(|| self.harvester.clone()).flatten()
    }

    fn mesh(&self) -> Result<&Mesh, ClusterError> {
        self.mesh.as_ref().ok_or_else(|| ClusterError::Unreachable("the mesh is not running".into()))
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ClusterError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ClusterError::Unreachable(e.to_string()))
}

impl Cluster for MeshCluster {
    fn workers(&self) -> Vec<Worker> {
        let mut workers: Vec<Worker> = self
            .harvester
            .iter()
            .map(|h| Worker { id: self.self_id.clone(), is_self: true, spec: node_spec(&h.capacity()) })
            .collect();
        for (peer, capacity, _) in self.offers.fresh(fog_store::now_ms()) {
            if peer != self.self_id {
                workers.push(Worker { id: peer, is_self: false, spec: node_spec(&capacity) });
            }
        }
        workers
    }

    async fn offer(&self, node: &str, job: Dispatch) -> Result<u64, ClusterError> {
        let limits = JobLimits {
            memory_bytes: job.memory_bytes,
            fuel: job.fuel,
            timeout_ms: job.timeout_ms,
            output_bytes: job.output_bytes,
        };
        if let Some(harvester) = self.local(node) {
            let request = JobRequest {
                label: job.label,
                origin: LOCAL_ORIGIN.into(),
                module: job.module.to_vec(),
                input: job.input.to_vec(),
                limits,
            };
            return blocking(move || harvester.offer(request))
                .await?
                .map(|view| view.id)
                .map_err(|e| ClusterError::Refused(e.to_string()));
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let submit = crate::api::types::IdleJobSubmit {
            label: Some(job.label),
            example: None,
            module_base64: Some(b64.encode(job.module.as_slice())),
            input: None,
            input_base64: Some(b64.encode(job.input.as_slice())),
            limits: Some(limits),
        };
        let view: JobView =
            self.mesh()?.request(node, OFFER_PROTOCOL, &submit, PEER_TIMEOUT).await.map_err(cluster_error)?;
        Ok(view.id)
    }

    async fn poll(&self, node: &str, remote_id: u64) -> Result<RemoteState, ClusterError> {
        if let Some(harvester) = self.local(node) {
            return blocking(move || {
                let job = harvester.job(remote_id).map_err(|e| ClusterError::Gone(e.to_string()))?;
                let output = if job.state.is_finished() {
                    harvester.job_output(remote_id).unwrap_or_default()
                } else {
                    Vec::new()
                };
                Ok(remote_state(&job, output))
            })
            .await?;
        }
        let answer: JobResult =
            self.mesh()?.request(node, RESULT_PROTOCOL, &JobQuery { id: remote_id }, PEER_TIMEOUT).await.map_err(
                |e| match cluster_error(e) {
                    // The node answers but does not have it (a wiped data directory, say).
                    ClusterError::Refused(reason) => ClusterError::Gone(reason),
                    other => other,
                },
            )?;
        let output = match answer.output_base64 {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| ClusterError::Unreachable(format!("the output does not decode: {e}")))?,
            None => Vec::new(),
        };
        Ok(remote_state(&answer.job, output))
    }

    async fn cancel(&self, node: &str, remote_id: u64) -> Result<(), ClusterError> {
        if let Some(harvester) = self.local(node) {
            return blocking(move || {
                harvester.cancel(remote_id).map(|_| ()).map_err(|e| ClusterError::Gone(e.to_string()))
            })
            .await?;
        }
        let _: JobView = self
            .mesh()?
            .request(node, CANCEL_PROTOCOL, &JobQuery { id: remote_id }, PEER_TIMEOUT)
            .await
            .map_err(cluster_error)?;
        Ok(())
    }
}

/// Puts the scheduler's events on the bus as topic `scheduler`: `job_<phase>` for each change
/// of a job's phase, and `round` for each placement round.
pub async fn forward_events(scheduler: Arc<Scheduler>, bus: EventBus) {
    let mut events = scheduler.events();
    loop {
        match events.recv().await {
            Ok(SchedEvent::Job { job }) => bus.publish("scheduler", &format!("job_{}", job.phase.name()), &job),
            Ok(SchedEvent::Round { round }) => bus.publish("scheduler", "round", &round),
            Err(RecvError::Lagged(missed)) => tracing::warn!("{missed} scheduler events were not recorded"),
            Err(RecvError::Closed) => return,
        }
    }
}
