//! [`NodeApi`]: every operation a shell (HTTP, Tauri, CLI) can call, each defined once here.
//! Shells parse input, call one method and map the error; nothing else.

pub mod types;

use std::net::SocketAddr;
use std::sync::Arc;

use fog_store::EventLog;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::logging;
use crate::node::NodeState;
use types::{
    BenchRequest, BenchResult, BetanetInboxQuery, BetanetMessage, BetanetSend, BetanetStatus, BitchatMessagesQuery,
    BitchatNickname, BitchatPeerFlags, BitchatRead, BitchatSend, ConnectRequest, DashboardStats, DisconnectRequest,
    Event, EventsQuery, Health, HealthStatus, IdleDevice, IdleJobSubmit, IdleOffer, KnownPeer, LogTail, LogsQuery,
    MeshPeer, MeshStats, MeshTopology, MeshTraffic, NodeInfo, PeerDirection, SchedJobDetail, SchedJobSubmit,
    ServiceState, Settings, SettingsUpdate, TopicTraffic, TopologyEdge, TopologyNode,
};

/// Default and largest number of events returned at once.
pub const EVENTS_DEFAULT: u32 = 100;
pub const EVENTS_MAX: u32 = 1000;
/// Default and largest number of log lines returned at once.
pub const LOG_LINES_DEFAULT: u32 = 200;
pub const LOG_LINES_MAX: u32 = 10_000;
/// How long each peer has to answer a topology question.
const TOPOLOGY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// Longest accepted topic filter, in bytes.
const TOPICS_MAX_LEN: usize = 1024;

/// The one API of a running node; cheap to clone.
#[derive(Clone)]
pub struct NodeApi {
    state: Arc<NodeState>,
}

impl NodeApi {
    pub(crate) fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    pub(crate) fn state(&self) -> &Arc<NodeState> {
        &self.state
    }

    /// Where the HTTP API listens, when it does.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        *self.state.api_addr.read().unwrap_or_else(|p| p.into_inner())
    }

    /// This node's identity, version, uptime and paths.
    pub async fn node_info(&self) -> Result<NodeInfo, ApiError> {
        let s = &self.state;
        let data_dir = &s.config.data_dir;
        Ok(NodeInfo {
            peer_id: s.identity.peer_id(),
            fingerprint: s.identity.fingerprint().to_string(),
            public_key: hex::encode(s.identity.public_key().as_bytes()),
            agreement_public_key: hex::encode(s.identity.agreement_public_key().as_bytes()),
            version: env!("CARGO_PKG_VERSION").into(),
            started_at_ms: s.started_at_ms,
            uptime_s: s.started.elapsed().as_secs(),
            pid: std::process::id(),
            data_dir: data_dir.display().to_string(),
            config_file: s.config.config_file.as_ref().map(|p| p.display().to_string()),
            db_file: s.store.path().display().to_string(),
            log_dir: logging::log_dir(data_dir).display().to_string(),
            token_file: s.token.path().display().to_string(),
            api_url: self.api_addr().map(|a| format!("http://{a}")),
        })
    }

    /// Health of every service.
    pub async fn health(&self) -> Result<Health, ApiError> {
        let services = self.state.services.snapshot();
        // A service stopped on purpose (disabled in the config) is not a fault.
        let faulty = services.iter().any(|s| matches!(s.state, ServiceState::Failed | ServiceState::Starting));
        Ok(Health {
            status: if faulty { HealthStatus::Degraded } else { HealthStatus::Ok },
            services,
            checked_at_ms: fog_store::now_ms(),
        })
    }

    /// The Overview page's figures.
    pub async fn dashboard_stats(&self) -> Result<DashboardStats, ApiError> {
        let s = &self.state;
        let store = s.store.clone();
        let events_total = tokio::task::spawn_blocking(move || EventLog::count(&store))
            .await
            .map_err(|e| ApiError::new(crate::error::code::INTERNAL, e.to_string()))??;
        let services = s.services.snapshot();
        let count = |f: &dyn Fn(ServiceState) -> bool| services.iter().filter(|x| f(x.state)).count() as u32;
        Ok(DashboardStats {
            uptime_s: s.started.elapsed().as_secs(),
            services_running: count(&|st| st == ServiceState::Running),
            services_built: count(&|st| st != ServiceState::NotAvailable),
            services_not_available: count(&|st| st == ServiceState::NotAvailable),
            events_total,
            event_subscribers: s.bus.subscriber_count() as u32,
            db_size_bytes: s.store.size_bytes(),
            http_requests_total: s.metrics.http_requests_total(),
            process: crate::process::sample(),
            sampled_at_ms: fog_store::now_ms(),
        })
    }

    /// The newest events of the event log, oldest first.
    pub async fn recent_events(&self, query: EventsQuery) -> Result<Vec<Event>, ApiError> {
        let limit = query.limit.unwrap_or(EVENTS_DEFAULT);
        if !(1..=EVENTS_MAX).contains(&limit) {
            return Err(ApiError::invalid_input(format!("limit must be between 1 and {EVENTS_MAX}, got {limit}")));
        }
        let topics = parse_topics(query.topics.as_deref())?;
        let store = self.state.store.clone();
        let stored = tokio::task::spawn_blocking(move || EventLog::recent(&store, limit, &topics))
            .await
            .map_err(|e| ApiError::new(crate::error::code::INTERNAL, e.to_string()))??;
        Ok(stored
            .into_iter()
            .map(|e| Event { id: e.id, ts_ms: e.ts_ms, topic: e.topic, kind: e.kind, data: e.data })
            .collect())
    }

    /// A live stream of events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.state.bus.subscribe()
    }

    /// The last lines of the node's log file.
    pub async fn logs(&self, query: LogsQuery) -> Result<LogTail, ApiError> {
        let lines = query.lines.unwrap_or(LOG_LINES_DEFAULT);
        if !(1..=LOG_LINES_MAX).contains(&lines) {
            return Err(ApiError::invalid_input(format!("lines must be between 1 and {LOG_LINES_MAX}, got {lines}")));
        }
        let Some(dir) = logging::managed_log_dir().map(|d| d.to_owned()) else {
            return Ok(LogTail {
                file: None,
                lines: vec![],
                empty_reason: Some("this process writes no log file (logging is managed by its host)".into()),
            });
        };
        tokio::task::spawn_blocking(move || {
            let Some(file) = logging::newest_log_file(&dir) else {
                return Ok(LogTail {
                    file: None,
                    lines: vec![],
                    empty_reason: Some(format!("no log file in {} yet", dir.display())),
                });
            };
            let tail = logging::tail(&file, lines as usize).map_err(|e| {
                ApiError::new(crate::error::code::INTERNAL, format!("cannot read {}: {e}", file.display()))
            })?;
            let empty_reason = tail.is_empty().then(|| "the log file is empty".to_owned());
            Ok(LogTail { file: Some(file.display().to_string()), lines: tail, empty_reason })
        })
        .await
        .map_err(|e| ApiError::new(crate::error::code::INTERNAL, e.to_string()))?
    }

    /// Settings that can change while the node runs.
    pub async fn settings(&self) -> Result<Settings, ApiError> {
        let c = &self.state.config;
        let current = logging::current_filter();
        Ok(Settings {
            log_level_editable: current.is_some(),
            log_level: current.unwrap_or_else(|| c.log.level.clone()),
            api_addr: c.api.addr.to_string(),
            data_dir: c.data_dir.display().to_string(),
            config_file: c.config_file.as_ref().map(|p| p.display().to_string()),
            lan_discovery: self.state.lan_discovery.load(std::sync::atomic::Ordering::Relaxed),
            lan_discovery_editable: self.state.mesh.is_some(),
        })
    }

    /// Changes settings; publishes `settings.changed`.
    pub async fn update_settings(&self, update: SettingsUpdate) -> Result<Settings, ApiError> {
        if let Some(level) = &update.log_level {
            logging::parse_filter(level)
                .map_err(|e| ApiError::invalid_input(format!("invalid log level {level:?}: {e}")))?;
            if logging::current_filter().is_none() {
                return Err(ApiError::new(
                    crate::error::code::UNAVAILABLE,
                    "this process does not manage its log filter, so it cannot be changed here",
                ));
            }
            logging::set_filter(level).map_err(ApiError::invalid_input)?;
            tracing::info!(log_level = %level, "log level changed");
            self.state.bus.publish("settings", "changed", serde_json::json!({ "log_level": level }));
        }
        if let Some(on) = update.lan_discovery {
            self.mesh()?.set_lan_discovery(on).await?;
            self.state.lan_discovery.store(on, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(lan_discovery = on, "LAN discovery switched");
            self.state.bus.publish("settings", "changed", serde_json::json!({ "lan_discovery": on }));
        }
        self.settings().await
    }
}

/// Benchmarks the dashboard runs.
impl NodeApi {
    /// Runs one benchmark in this process (one at a time, so runs do not skew each other).
    pub async fn bench_run(&self, request: BenchRequest) -> Result<BenchResult, ApiError> {
        let Ok(_running) = self.state.bench_lock.try_lock() else {
            return Err(ApiError::new(
                crate::error::code::UNAVAILABLE,
                "a benchmark is already running; try again when it ends",
            ));
        };
        let started_ms = fog_store::now_ms();
        let started = std::time::Instant::now();
        let (title, figures) = tokio::task::spawn_blocking(move || crate::bench::run(&request))
            .await
            .map_err(internal)?
            .map_err(ApiError::invalid_input)?;
        let result = BenchResult {
            id: self.state.bench_results.lock().unwrap_or_else(|p| p.into_inner()).len() as u64 + 1,
            suite: title.0,
            title: title.1,
            started_ms,
            wall_ms: started.elapsed().as_secs_f64() * 1000.0,
            build: if cfg!(debug_assertions) { "debug" } else { "release" }.into(),
            figures,
        };
        let mut results = self.state.bench_results.lock().unwrap_or_else(|p| p.into_inner());
        results.push(result.clone());
        self.state.bus.publish("bench", "finished", serde_json::json!({ "id": result.id, "title": result.title }));
        Ok(result)
    }

    /// Benchmark runs since the node started, newest first.
    pub async fn bench_results(&self) -> Result<Vec<BenchResult>, ApiError> {
        let results = self.state.bench_results.lock().unwrap_or_else(|p| p.into_inner());
        Ok(results.iter().rev().cloned().collect())
    }
}

/// Idle compute.
impl NodeApi {
    /// The device, the policy's decision, jobs and harvest totals.
    pub async fn idle_stats(&self) -> Result<fog_idle::HarvestStats, ApiError> {
        let harvester = self.harvester()?;
        tokio::task::spawn_blocking(move || harvester.stats()).await.map_err(internal)?.map_err(ApiError::from)
    }

    /// This node and the nodes of the mesh that advertise capacity.
    pub async fn idle_devices(&self) -> Result<Vec<IdleDevice>, ApiError> {
        let harvester = self.harvester()?;
        let own = harvester.capacity();
        let mut devices = vec![IdleDevice {
            peer_id: self.state.identity.peer_id(),
            this_node: true,
            received_ms: own.at_ms,
            capacity: own,
        }];
        let offers = self.state.idle_offers.fresh(fog_store::now_ms());
        devices.extend(offers.into_iter().map(|(peer_id, capacity, received_ms)| IdleDevice {
            peer_id,
            this_node: false,
            capacity,
            received_ms,
        }));
        Ok(devices)
    }

    pub async fn idle_settings(&self) -> Result<fog_idle::HarvestSettings, ApiError> {
        Ok(self.harvester()?.settings())
    }

    /// Replaces the harvest settings; an invalid field is a 400 naming it.
    pub async fn idle_update_settings(
        &self,
        settings: fog_idle::HarvestSettings,
    ) -> Result<fog_idle::HarvestSettings, ApiError> {
        let harvester = self.harvester()?;
        let saved = tokio::task::spawn_blocking(move || harvester.set_settings(settings)).await.map_err(internal)?;
        let saved = saved.map_err(|e| match e {
            fog_idle::SettingsUpdateError::Invalid(e) => ApiError::invalid_input(e.to_string()),
            fog_idle::SettingsUpdateError::Store(e) => e.into(),
        })?;
        self.state.bus.publish("idle", "settings_changed", &saved);
        Ok(saved)
    }

    /// The example jobs built into this node.
    pub async fn idle_examples(&self) -> Result<Vec<fog_idle::examples::ExampleJob>, ApiError> {
        Ok(fog_idle::examples::EXAMPLES.to_vec())
    }

    /// Queues a job; it runs when the harvest policy allows.
    pub async fn idle_submit(&self, request: IdleJobSubmit) -> Result<fog_idle::JobView, ApiError> {
        let harvester = self.harvester()?;
        let job = job_request(request, "local")?;
        tokio::task::spawn_blocking(move || harvester.submit(job)).await.map_err(internal)?.map_err(|e| match e {
            fog_idle::SubmitError::Store(e) => e.into(),
            other => ApiError::invalid_input(other.to_string()),
        })
    }

    pub async fn idle_job(&self, id: u64) -> Result<fog_idle::JobView, ApiError> {
        let harvester = self.harvester()?;
        tokio::task::spawn_blocking(move || harvester.job(id)).await.map_err(internal)?.map_err(job_error)
    }

    /// The whole stdout of a finished job.
    pub async fn idle_job_output(&self, id: u64) -> Result<Vec<u8>, ApiError> {
        let harvester = self.harvester()?;
        tokio::task::spawn_blocking(move || harvester.job_output(id)).await.map_err(internal)?.map_err(job_error)
    }

    pub async fn idle_cancel(&self, id: u64) -> Result<fog_idle::JobView, ApiError> {
        let harvester = self.harvester()?;
        tokio::task::spawn_blocking(move || harvester.cancel(id)).await.map_err(internal)?.map_err(job_error)
    }

    /// Offers a job to another node of the mesh, which accepts it (the answer is the job as
    /// queued there) or refuses it by its own harvest policy (a 400 with its reason).
    pub async fn idle_offer(&self, offer: IdleOffer) -> Result<fog_idle::JobView, ApiError> {
        let mesh = self.mesh()?;
        // Check locally first, so a malformed job is reported without a round trip.
        job_request(offer.job.clone(), "local")?;
        mesh.request(&offer.peer, crate::idle::OFFER_PROTOCOL, &offer.job, REMOTE_JOB_TIMEOUT)
            .await
            .map_err(remote_error)
    }

    /// State and result of a job this node offered to another.
    pub async fn idle_remote_job(&self, peer: String, id: u64) -> Result<fog_idle::JobView, ApiError> {
        let mesh = self.mesh()?;
        let query = crate::idle::JobQuery { id };
        mesh.request(&peer, crate::idle::JOB_PROTOCOL, &query, REMOTE_JOB_TIMEOUT).await.map_err(remote_error)
    }

    /// Queues a batch job for the scheduler, which places it on this node or a peer. The module
    /// is checked by the sandbox first: nothing is queued that no node could run.
    pub async fn sched_submit(&self, request: SchedJobSubmit) -> Result<fog_sched::queue::SchedJob, ApiError> {
        let scheduler = self.scheduler()?;
        let payload = decode_payload(&request.example, &request.module_base64, request.input, request.input_base64)?;
        let deadline_s = request.deadline_s.unwrap_or(DEFAULT_DEADLINE_S);
        if !deadline_s.is_finite() || deadline_s > MAX_DEADLINE_S {
            return Err(ApiError::invalid_input(format!(
                "deadline_s: seconds from now, at most {MAX_DEADLINE_S} (30 days), not {deadline_s}"
            )));
        }
        let defaults = fog_idle::JobLimits::default();
        let submission = fog_sched::queue::Submission {
            label: request.label.unwrap_or(payload.default_label),
            module: payload.module,
            input: payload.input,
            tier: request.tier.unwrap_or(fog_sched::model::Tier::Silver),
            deadline_ms: fog_store::now_ms() + (deadline_s * 1000.0) as i64,
            cpu: request.cpu.unwrap_or(1),
            memory_bytes: request.memory_bytes.unwrap_or(defaults.memory_bytes),
            fuel: request.fuel.unwrap_or(defaults.fuel),
            timeout_ms: request.timeout_ms.unwrap_or(defaults.timeout_ms),
            work: request.work,
        };
        // Checked before the module is compiled, so a bad field is reported at no cost; the
        // scheduler checks again for callers that come to it directly.
        submission.validate(fog_store::now_ms()).map_err(|e| ApiError::invalid_input(e.to_string()))?;
        let harvester = self.state.idle.clone();
        tokio::task::spawn_blocking(move || {
            let checked = match harvester {
                Some(harvester) => harvester.check_module(&submission.module).map_err(|e| e.to_string()),
                None => fog_idle::Sandbox::new()
                    .and_then(|sandbox| sandbox.load(&submission.module).map(|_| ()).map_err(|e| e.to_string())),
            };
            checked.map_err(|e| ApiError::invalid_input(format!("module: {e}")))?;
            scheduler.submit(submission).map_err(sched_error)
        })
        .await
        .map_err(internal)?
    }

    /// Every job that has not ended, then the most recent that have, newest first.
    pub async fn sched_jobs(&self) -> Result<Vec<fog_sched::queue::SchedJob>, ApiError> {
        let scheduler = self.scheduler()?;
        tokio::task::spawn_blocking(move || scheduler.jobs()).await.map_err(internal)?.map_err(sched_error)
    }

    pub async fn sched_job(&self, id: u64) -> Result<SchedJobDetail, ApiError> {
        let scheduler = self.scheduler()?;
        tokio::task::spawn_blocking(move || {
            Ok(SchedJobDetail { job: scheduler.job(id)?, attempts: scheduler.attempts(id)? })
        })
        .await
        .map_err(internal)?
        .map_err(sched_error)
    }

    /// The whole stdout of a job that has ended.
    pub async fn sched_job_output(&self, id: u64) -> Result<Vec<u8>, ApiError> {
        let scheduler = self.scheduler()?;
        tokio::task::spawn_blocking(move || scheduler.output(id)).await.map_err(internal)?.map_err(sched_error)
    }

    pub async fn sched_cancel(&self, id: u64) -> Result<fog_sched::queue::SchedJob, ApiError> {
        let scheduler = self.scheduler()?;
        tokio::task::spawn_blocking(move || scheduler.cancel(id)).await.map_err(internal)?.map_err(sched_error)
    }

    /// Queue counts, SLA figures, the last placement round and the nodes jobs can go to.
    pub async fn sched_stats(&self) -> Result<fog_sched::service::SchedStats, ApiError> {
        let scheduler = self.scheduler()?;
        tokio::task::spawn_blocking(move || scheduler.stats()).await.map_err(internal)?.map_err(sched_error)
    }

    /// BitChat's state: the radio (or why there is none), this device's identity and counters.
    pub async fn bitchat_status(&self) -> Result<fog_bitchat::model::BitchatStatus, ApiError> {
        Ok(self.bitchat()?.status())
    }

    /// Every BitChat peer heard, those in reach first.
    pub async fn bitchat_peers(&self) -> Result<Vec<fog_bitchat::model::ChatPeer>, ApiError> {
        self.bitchat()?.peers().await.map_err(bitchat_error)
    }

    /// Messages of one channel or all, oldest first.
    pub async fn bitchat_messages(
        &self,
        query: BitchatMessagesQuery,
    ) -> Result<Vec<fog_bitchat::model::ChatMessage>, ApiError> {
        let chat = self.bitchat()?;
        let limit = query.limit.unwrap_or(200);
        if !(1..=5000).contains(&limit) {
            return Err(ApiError::invalid_input(format!("limit must be 1 to 5000, not {limit}")));
        }
        tokio::task::spawn_blocking(move || chat.messages(query.channel.as_deref(), limit))
            .await
            .map_err(internal)?
            .map_err(bitchat_error)
    }

    /// Sends a public or private message.
    pub async fn bitchat_send(&self, request: BitchatSend) -> Result<fog_bitchat::model::ChatMessage, ApiError> {
        self.bitchat()?.send(request.to.as_deref(), &request.text).await.map_err(bitchat_error)
    }

    /// Marks a private chat read, sending read receipts.
    pub async fn bitchat_mark_read(&self, peer: String) -> Result<BitchatRead, ApiError> {
        let chat = self.bitchat()?;
        let marked = tokio::task::spawn_blocking(move || chat.mark_read(&peer))
            .await
            .map_err(internal)?
            .map_err(bitchat_error)?;
        Ok(BitchatRead { marked })
    }

    /// Sets a peer's favourite and verified marks.
    pub async fn bitchat_set_peer(&self, peer: String, flags: BitchatPeerFlags) -> Result<(), ApiError> {
        let chat = self.bitchat()?;
        tokio::task::spawn_blocking(move || chat.set_peer_flags(&peer, flags.favourite, flags.verified))
            .await
            .map_err(internal)?
            .map_err(bitchat_error)
    }

    pub async fn bitchat_set_nickname(
        &self,
        request: BitchatNickname,
    ) -> Result<fog_bitchat::model::BitchatStatus, ApiError> {
        let chat = self.bitchat()?;
        chat.set_nickname(&request.nickname).await.map_err(bitchat_error)?;
        Ok(chat.status())
    }

    /// Betanet's topology, this node's mixnode and client figures.
    pub async fn betanet_status(&self) -> Result<BetanetStatus, ApiError> {
        Ok(self.betanet()?.status())
    }

    /// Makes this node a mixnode (kept across restarts).
    pub async fn betanet_deploy(&self) -> Result<BetanetStatus, ApiError> {
        self.betanet()?.deploy().await.map_err(betanet_error)
    }

    /// Sends a message through the mixnet, to a node or as a reply to a received message.
    pub async fn betanet_send(&self, request: BetanetSend) -> Result<BetanetMessage, ApiError> {
        let betanet = self.betanet()?;
        let body = match (&request.text, &request.base64) {
            (Some(text), None) => text.clone().into_bytes(),
            (None, Some(encoded)) => base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
                .map_err(|e| ApiError::invalid_input(format!("base64: {e}")))?,
            _ => return Err(ApiError::invalid_input("give the body as exactly one of text and base64")),
        };
        match (&request.to, &request.reply_to) {
            (Some(to), None) => {
                fog_mesh::validate_peer(to).map_err(|e| ApiError::invalid_input(format!("to: {e}")))?;
                betanet.send(to, body).await.map_err(betanet_error)
            }
            (None, Some(id)) => betanet.reply(id, body).await.map_err(betanet_error),
            _ => Err(ApiError::invalid_input("give exactly one of to (a peer id) and reply_to (a message id)")),
        }
    }

    /// Messages sent and received through the mixnet, newest first.
    pub async fn betanet_inbox(&self, query: BetanetInboxQuery) -> Result<Vec<BetanetMessage>, ApiError> {
        let betanet = self.betanet()?;
        let limit = query.limit.unwrap_or(100);
        tokio::task::spawn_blocking(move || betanet.inbox(limit)).await.map_err(internal)?.map_err(betanet_error)
    }

    fn betanet(&self) -> Result<fog_mixnet::service::Betanet, ApiError> {
        self.state.betanet.clone().ok_or_else(|| self.not_running("betanet", "Betanet"))
    }

    fn bitchat(&self) -> Result<fog_bitchat::service::Bitchat, ApiError> {
        self.state.bitchat.clone().ok_or_else(|| self.not_running("bitchat", "BitChat"))
    }

    fn scheduler(&self) -> Result<std::sync::Arc<fog_sched::service::Scheduler>, ApiError> {
        self.state.scheduler.clone().ok_or_else(|| {
            ApiError::new(
                crate::error::code::UNAVAILABLE,
                "the scheduler is not running: its queue could not be opened",
            )
        })
    }

    fn harvester(&self) -> Result<std::sync::Arc<fog_idle::Harvester>, ApiError> {
        self.state.idle.clone().ok_or_else(|| self.not_running("idle_compute", "idle compute"))
    }
}

/// How long another node has to answer a job offer or query.
const REMOTE_JOB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A refusal or failure on the other node is the user's to read, as a 400 with its reason.
fn remote_error(e: fog_mesh::MeshError) -> ApiError {
    match e {
        fog_mesh::MeshError::Request { reason, peer, .. } | fog_mesh::MeshError::Refused { reason, peer, .. } => {
            ApiError::invalid_input(format!("{peer}: {reason}"))
        }
        other => other.into(),
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(crate::error::code::INTERNAL, e.to_string())
}

fn job_error(e: fog_idle::JobError) -> ApiError {
    match e {
        fog_idle::JobError::NotFound(_) => ApiError::new(crate::error::code::NOT_FOUND, e.to_string()),
        fog_idle::JobError::Finished(_) | fog_idle::JobError::NotFinished(_) => ApiError::invalid_input(e.to_string()),
        fog_idle::JobError::Store(e) => e.into(),
    }
}

/// Deadline of a submission that gives none, seconds from now.
const DEFAULT_DEADLINE_S: f64 = 600.0;
const MAX_DEADLINE_S: f64 = 30.0 * 24.0 * 3600.0;

fn bitchat_error(e: fog_bitchat::service::BitchatError) -> ApiError {
    use fog_bitchat::service::BitchatError;
    match e {
        BitchatError::Chat(fog_bitchat::engine::ChatError::UnknownPeer(_)) => {
            ApiError::new(crate::error::code::NOT_FOUND, e.to_string())
        }
        BitchatError::Chat(_) | BitchatError::BadPeerId(_) => ApiError::invalid_input(e.to_string()),
        BitchatError::Unavailable(_) | BitchatError::Stopped => {
            ApiError::new(crate::error::code::UNAVAILABLE, e.to_string())
        }
        BitchatError::Store(e) => e.into(),
    }
}

fn betanet_error(e: fog_mixnet::service::BetanetError) -> ApiError {
    use fog_mixnet::client::ClientError;
    use fog_mixnet::service::BetanetError;
    match e {
        BetanetError::Client(ClientError::NoTopology(_)) | BetanetError::Stopped => {
            ApiError::new(crate::error::code::UNAVAILABLE, e.to_string())
        }
        BetanetError::Client(ClientError::UnknownDestination(_)) | BetanetError::NotFound(_) => {
            ApiError::new(crate::error::code::NOT_FOUND, e.to_string())
        }
        BetanetError::Client(_) | BetanetError::Invalid(_) => ApiError::invalid_input(e.to_string()),
        BetanetError::Store(e) => e.into(),
        BetanetError::Keys(e) => internal(e),
    }
}

fn sched_error(e: fog_sched::service::SchedError) -> ApiError {
    use fog_sched::service::SchedError;
    match e {
        SchedError::NotFound(_) => ApiError::new(crate::error::code::NOT_FOUND, e.to_string()),
        SchedError::Invalid(_) | SchedError::Ended(_) | SchedError::NotFinished(_) => {
            ApiError::invalid_input(e.to_string())
        }
        SchedError::Store(e) => e.into(),
    }
}

/// Turns the API's submission into the harvester's request, checking that it names exactly one
/// module and at most one input. `origin` is "local" or the peer that offered it.
pub(crate) fn job_request(request: IdleJobSubmit, origin: &str) -> Result<fog_idle::JobRequest, ApiError> {
    let payload = decode_payload(&request.example, &request.module_base64, request.input, request.input_base64)?;
    Ok(fog_idle::JobRequest {
        label: request.label.unwrap_or(payload.default_label),
        origin: origin.into(),
        module: payload.module,
        input: payload.input,
        limits: request.limits.unwrap_or_default(),
    })
}

/// A submission's module and stdin as bytes.
struct Payload {
    module: Vec<u8>,
    input: Vec<u8>,
    default_label: String,
}

/// Decodes exactly one of an example's name and a base64 module, and at most one of a text
/// and a base64 input.
fn decode_payload(
    example: &Option<String>,
    module_base64: &Option<String>,
    input: Option<String>,
    input_base64: Option<String>,
) -> Result<Payload, ApiError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (module, default_label) = match (example, module_base64) {
        (Some(name), None) => {
            let example = fog_idle::examples::example(name).ok_or_else(|| {
                let names: Vec<&str> = fog_idle::examples::EXAMPLES.iter().map(|e| e.name).collect();
                ApiError::invalid_input(format!("no example {name:?}; there are {}", names.join(", ")))
            })?;
            (example.wasm.to_vec(), example.name.to_string())
        }
        (None, Some(encoded)) => {
            let module = b64
                .decode(encoded)
                .map_err(|e| ApiError::invalid_input(format!("module_base64 is not base64: {e}")))?;
            (module, "module".to_string())
        }
        _ => return Err(ApiError::invalid_input("give exactly one of example and module_base64")),
    };
    let input = match (input, input_base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(encoded)) => {
            b64.decode(encoded).map_err(|e| ApiError::invalid_input(format!("input_base64 is not base64: {e}")))?
        }
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => return Err(ApiError::invalid_input("give at most one of input and input_base64")),
    };
    Ok(Payload { module, input, default_label })
}

impl NodeApi {
    /// Why a service the request needs is not running, from the service registry.
    fn not_running(&self, id: &str, name: &str) -> ApiError {
        let detail = self
            .state
            .services
            .snapshot()
            .into_iter()
            .find(|s| s.id == id)
            .map_or_else(|| "not started".into(), |s| s.detail);
        ApiError::new(crate::error::code::UNAVAILABLE, format!("{name} is not running: {detail}"))
    }

    fn peer_book(&self) -> Result<fog_mesh::peer_book::PeerBook, ApiError> {
        self.mesh()?;
        Ok(fog_mesh::peer_book::PeerBook::new(self.state.store.clone()))
    }

    fn mesh(&self) -> Result<&fog_mesh::Mesh, ApiError> {
        self.state.mesh.as_ref().ok_or_else(|| self.not_running("mesh", "the mesh"))
    }

    /// This node's place in the mesh.
    pub async fn p2p_stats(&self) -> Result<MeshStats, ApiError> {
        let mesh = self.mesh()?;
        let peers = mesh.peers().await?;
        let outbound = peers.iter().filter(|p| p.outbound).count() as u32;
        Ok(MeshStats {
            peer_id: mesh.local_peer_id(),
            listen_addrs: mesh.listen_addrs().await?,
            connected_peers: peers.len() as u32,
            inbound: peers.len() as u32 - outbound,
            outbound,
            bootstrap: self.state.config.mesh.bootstrap.clone(),
            lan_discovery: self.state.lan_discovery.load(std::sync::atomic::Ordering::Relaxed),
            known_peers: self.peer_book()?.all()?.len() as u32,
            traffic: traffic(mesh.traffic()),
        })
    }

    /// Every peer in the peer book, most recently seen first.
    pub async fn p2p_known(&self) -> Result<Vec<KnownPeer>, ApiError> {
        let connected: Vec<String> = self.mesh()?.peers().await?.into_iter().map(|p| p.peer).collect();
        Ok(self
            .peer_book()?
            .all()?
            .into_iter()
            .map(|k| KnownPeer {
                connected: connected.contains(&k.peer),
                peer_id: k.peer,
                addresses: k.addresses,
                first_seen_ms: k.first_seen_ms,
                last_seen_ms: k.last_seen_ms,
                last_latency_ms: k.last_latency_us.map(|us| us as f64 / 1000.0),
                failures: k.failures,
            })
            .collect())
    }

    /// The mesh as far as this node can see, by asking each peer for its peers.
    pub async fn p2p_topology(&self) -> Result<MeshTopology, ApiError> {
        let mesh = self.mesh()?;
        let topology = mesh.topology(TOPOLOGY_TIMEOUT).await?;
        let me = mesh.local_peer_id();
        let nodes = topology
            .nodes
            .iter()
            .map(|p| TopologyNode {
                peer_id: p.clone(),
                this_node: *p == me,
                connected: topology.connected.contains(p),
            })
            .collect();
        let edges = topology.edges.iter().map(|(a, b)| TopologyEdge { a: a.clone(), b: b.clone() }).collect();
        Ok(MeshTopology { nodes, edges, unanswered: topology.unanswered })
    }

    /// The connected peers.
    pub async fn p2p_peers(&self) -> Result<Vec<MeshPeer>, ApiError> {
        let peers = self.mesh()?.peers().await?;
        Ok(peers
            .into_iter()
            .map(|p| MeshPeer {
                peer_id: p.peer,
                address: p.address,
                direction: if p.outbound { PeerDirection::Outbound } else { PeerDirection::Inbound },
                latency_ms: p.latency.map(|d| d.as_secs_f64() * 1000.0),
                connected_since_ms: p.connected_since_ms,
                protocols: p.protocols,
            })
            .collect())
    }

    /// Dials a peer; the connection shows up as a `mesh.peer_connected` event.
    pub async fn p2p_connect(&self, request: ConnectRequest) -> Result<(), ApiError> {
        self.mesh()?.dial(request.addr.trim()).await.map_err(Into::into)
    }

    /// Closes every connection to a peer.
    pub async fn p2p_disconnect(&self, request: DisconnectRequest) -> Result<(), ApiError> {
        self.mesh()?.disconnect(request.peer.trim()).await.map_err(Into::into)
    }
}

fn traffic(traffic: fog_mesh::Traffic) -> MeshTraffic {
    MeshTraffic {
        topics: traffic
            .topics
            .into_iter()
            .map(|t| TopicTraffic {
                topic: t.topic,
                messages_in: t.messages_in,
                bytes_in: t.bytes_in,
                messages_out: t.messages_out,
                bytes_out: t.bytes_out,
                rejected: t.rejected,
            })
            .collect(),
        requests_sent: traffic.requests_sent,
        requests_received: traffic.requests_received,
        requests_failed: traffic.requests_failed,
    }
}

/// Splits a comma-separated topic filter, rejecting anything that is not a dotted name.
pub fn parse_topics(topics: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(topics) = topics.filter(|t| !t.is_empty()) else { return Ok(vec![]) };
    if topics.len() > TOPICS_MAX_LEN {
        return Err(ApiError::invalid_input(format!("topics is longer than {TOPICS_MAX_LEN} bytes")));
    }
    topics
        .split(',')
        .map(|t| {
            let valid = !t.is_empty()
                && t.split('.').all(|seg| {
                    !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
            if valid {
                Ok(t.to_owned())
            } else {
                Err(ApiError::invalid_input(format!(
                    "invalid topic {t:?}: use dotted names such as service or node.started"
                )))
            }
        })
        .collect()
}

/// Whether an event passes a parsed topic filter (empty filter passes everything).
pub fn event_matches(event: &Event, topics: &[String]) -> bool {
    topics.is_empty() || topics.iter().any(|t| fog_store::event_log_topic_matches(&event.topic, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filters_are_validated() {
        assert_eq!(parse_topics(Some("node,service.api")).unwrap(), vec!["node", "service.api"]);
        assert!(parse_topics(None).unwrap().is_empty());
        assert!(parse_topics(Some("")).unwrap().is_empty());
        for bad in ["a,,b", "a..b", ".a", "a b", "a;drop"] {
            assert_eq!(parse_topics(Some(bad)).unwrap_err().code, "invalid_input", "{bad}");
        }
    }
}
