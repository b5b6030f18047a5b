//! The composition root: [`Node::start`] brings every service up from one [`Config`] and
//! [`Node::shutdown`] takes them down in reverse order.

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use fog_identity::NodeIdentity;
use fog_idle::{Harvester, HarvesterConfig, Probes};
use fog_mesh::peer_book::{self, PeerBook};
use fog_mesh::{Mesh, MeshConfig, PeerEvent};
use fog_sched::service::{SchedConfig, Scheduler};
use fog_store::{EventLog, Migration, Store};
use fs4::fs_std::FileExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::types::ServiceState;
use crate::api::NodeApi;
use crate::config::Config;
use crate::error::NodeError;
use crate::events::EventBus;
use crate::idle::MeshOffers;
use crate::metrics::Metrics;
use crate::services::ServiceRegistry;
use crate::token::ApiToken;

/// Name of the lock file that keeps two nodes off one data directory.
pub const LOCK_FILE: &str = "fog.lock";
/// How long shutdown waits for open HTTP connections.
const HTTP_DRAIN: Duration = Duration::from_secs(5);

/// Every migration this build knows, in order, by domain.
pub fn migrations() -> Vec<Migration> {
    [
        EventLog::MIGRATIONS,
        fog_mesh::peer_book::MIGRATIONS,
        fog_idle::history::MIGRATIONS,
        fog_sched::queue::MIGRATIONS,
        fog_bitchat::store::MIGRATIONS,
        fog_mixnet::store::MIGRATIONS,
    ]
    .concat()
}

/// Shared state behind [`NodeApi`].
pub(crate) struct NodeState {
    pub config: Config,
    pub identity: NodeIdentity,
    pub store: Arc<Store>,
    pub bus: EventBus,
    pub services: ServiceRegistry,
    pub metrics: Arc<Metrics>,
    pub token: ApiToken,
    pub started: Instant,
    pub started_at_ms: i64,
    pub api_addr: RwLock<Option<SocketAddr>>,
    /// The mesh, when it runs.
    pub mesh: Option<Mesh>,
    /// Whether mDNS runs now (the config's value until switched in the settings).
    pub lan_discovery: AtomicBool,
    /// The idle-compute harvester, when it runs.
    pub idle: Option<Arc<Harvester>>,
    /// Capacity the other nodes advertise.
    pub idle_offers: MeshOffers,
    /// The batch scheduler, unless its queue could not be opened.
    pub scheduler: Option<Arc<Scheduler>>,
    /// BitChat, unless it is switched off or could not start.
    pub bitchat: Option<fog_bitchat::service::Bitchat>,
    /// Betanet, unless it is switched off or the mesh is not running.
    pub betanet: Option<fog_mixnet::service::Betanet>,
    /// Benchmark runs since start, oldest first; one runs at a time.
    pub bench_results: std::sync::Mutex<Vec<crate::api::types::BenchResult>>,
    pub bench_lock: tokio::sync::Mutex<()>,
    pub shutdown: watch::Receiver<bool>,
}

/// A running node.
pub struct Node {
    api: NodeApi,
    shutdown: watch::Sender<bool>,
    http: Option<JoinHandle<()>>,
    scheduler: Option<JoinHandle<()>>,
    _lock: File,
}

impl Node {
    /// Starts a node: data directory, identity, database, event bus, then the HTTP API.
    /// A failure to listen is reported as the `api` service's state, not as an error, so an
    /// embedding app still runs; callers that need the API check [`Node::api_addr`].
    pub async fn start(config: Config) -> Result<Self, NodeError> {
        config.validate()?;
        let data_dir = config.data_dir.clone();
        create_private_dir(&data_dir)?;
        let lock = lock_data_dir(&data_dir)?;
        let (identity, created) = NodeIdentity::load_or_create(&data_dir)?;
        let key_file = data_dir.join(fog_identity::NODE_KEY_FILE);
        let store = Arc::new(Store::open(&data_dir.join(fog_store::DB_FILE), &migrations())?);
        let token = ApiToken::load_or_create(&data_dir)?;
        let metrics = Arc::new(Metrics::new());
        let bus = EventBus::start(store.clone(), metrics.clone());
        let services = ServiceRegistry::new(bus.clone());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mesh = start_mesh(&config, &identity).await;
        let idle = start_idle(&config, &store).await;
        let scheduler = Scheduler::open(store.clone(), SchedConfig::default()).map(Arc::new);
        let bitchat = crate::bitchat::start(&config.bitchat, &data_dir, store.clone()).await;
        let betanet = crate::betanet::start(
            &config.betanet,
            &data_dir,
            &identity,
            store.clone(),
            mesh.as_ref().ok().and_then(Option::as_ref),
        );

        let lan_discovery = matches!(mesh, Ok(Some(_))) && config.mesh.lan_discovery;
        let state = Arc::new(NodeState {
            config,
            identity,
            store,
            bus,
            services,
            metrics,
            token,
            started: Instant::now(),
            started_at_ms: fog_store::now_ms(),
            api_addr: RwLock::new(None),
            mesh: mesh.as_ref().ok().cloned().flatten(),
            lan_discovery: AtomicBool::new(lan_discovery),
            idle: idle.as_ref().ok().cloned().flatten(),
            idle_offers: MeshOffers::default(),
            scheduler: scheduler.as_ref().ok().cloned(),
            bitchat: bitchat.as_ref().ok().cloned().flatten(),
            betanet: match &betanet {
                Ok(crate::betanet::Started::Running(betanet)) => Some(betanet.clone()),
                _ => None,
            },
            bench_results: std::sync::Mutex::new(Vec::new()),
            bench_lock: tokio::sync::Mutex::new(()),
            shutdown: shutdown_rx,
        });
        let how = if created { "created at" } else { "loaded from" };
        state.services.set(
            "identity",
            "Identity",
            ServiceState::Running,
            format!("ed25519 key {how} {}", key_file.display()),
        );
        state.services.set("store", "Database", ServiceState::Running, describe_store(&state.store));
        state.services.set("events", "Event log", ServiceState::Running, "storing and streaming node events");
        match mesh {
            Ok(Some(mesh)) => {
                let addrs = mesh.listen_addrs().await.unwrap_or_default();
                let detail = format!("listening on {}", addrs.join(", "));
                state.services.set("mesh", "Mesh", ServiceState::Running, detail);
                tokio::spawn(forward_peer_events(mesh.peer_events(), state.bus.clone(), state.metrics.clone()));
                // Dials known and bootstrap peers only now, so their connections and failures reach the bus.
                let book = PeerBook::new(state.store.clone());
                tokio::spawn(peer_book::keep_connected(mesh, book, state.config.mesh.bootstrap.clone()));
            }
            Ok(None) => state.services.set("mesh", "Mesh", ServiceState::Stopped, "disabled in the configuration"),
            Err(e) => state.services.set("mesh", "Mesh", ServiceState::Failed, e.to_string()),
        }

        match idle {
            Ok(Some(harvester)) => {
                let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                let detail =
                    format!("sampling this device every second; up to {cores} cores, as the harvest policy allows");
                state.services.set("idle_compute", "Idle compute", ServiceState::Running, detail);
                tokio::spawn(crate::idle::forward_events(harvester.clone(), state.bus.clone()));
                if let Some(mesh) = &state.mesh {
                    tokio::spawn(crate::idle::serve_offers(mesh.clone(), harvester));
                }
            }
            Ok(None) => state.services.set(
                "idle_compute",
                "Idle compute",
                ServiceState::Stopped,
                "disabled in the configuration",
            ),
            Err(e) => state.services.set("idle_compute", "Idle compute", ServiceState::Failed, e),
        }
        if let Some(mesh) = &state.mesh {
            // Heard even without idle compute here: the scheduler places jobs on those nodes.
            tokio::spawn(crate::idle::advertise_capacity(mesh.clone(), state.idle.clone(), state.idle_offers.clone()));
        }
        let scheduler = match scheduler {
            Ok(scheduler) => {
                let detail = match (&state.idle, &state.mesh) {
                    (Some(_), Some(_)) => "placing jobs on this node and on peers that advertise capacity",
                    (Some(_), None) => "placing jobs on this node only: the mesh is not running",
                    (None, Some(_)) => "placing jobs on peers that advertise capacity (idle compute is off here)",
                    (None, None) => "no node to place jobs on: idle compute and the mesh are both off",
                };
                state.services.set("scheduler", "Scheduler", ServiceState::Running, detail);
                tokio::spawn(crate::sched::forward_events(scheduler.clone(), state.bus.clone()));
                let cluster = crate::sched::MeshCluster {
                    self_id: state.identity.peer_id(),
                    harvester: state.idle.clone(),
                    mesh: state.mesh.clone(),
                    offers: state.idle_offers.clone(),
                };
                Some(tokio::spawn(scheduler.drive(Arc::new(cluster))))
            }
            Err(e) => {
                state.services.set("scheduler", "Scheduler", ServiceState::Failed, e.to_string());
                None
            }
        };

        match bitchat {
            Ok(Some(chat)) => {
                tokio::spawn(crate::bitchat::forward_events(chat, state.clone()));
            }
            Ok(None) => {
                state.services.set("bitchat", "BitChat", ServiceState::Stopped, "disabled in the configuration")
            }
            Err(e) => state.services.set("bitchat", "BitChat", ServiceState::Failed, e),
        }

        match betanet {
            Ok(crate::betanet::Started::Running(betanet)) => {
                state.services.set("betanet", "Betanet", ServiceState::Running, "no mixnode descriptors heard yet");
                tokio::spawn(crate::betanet::forward_events(betanet, state.clone()));
            }
            Ok(crate::betanet::Started::Off(why)) => {
                state.services.set("betanet", "Betanet", ServiceState::Stopped, why)
            }
            Err(e) => state.services.set("betanet", "Betanet", ServiceState::Failed, e),
        }

        let api = NodeApi::new(state.clone());
        let http = if state.config.api.enabled { start_http(&state, &api).await } else { None };
        if !state.config.api.enabled {
            state.services.set("api", "HTTP API", ServiceState::Stopped, "disabled in the configuration");
        }
        state.bus.publish(
            "node",
            "started",
            serde_json::json!({ "peer_id": state.identity.peer_id(), "version": env!("CARGO_PKG_VERSION"), "identity_created": created }),
        );
        // Callers see a node whose start is already in the event log.
        state.bus.flush().await;
        tracing::info!(peer_id = %state.identity.peer_id(), data_dir = %data_dir.display(), "node started");
        Ok(Self { api, shutdown: shutdown_tx, http, scheduler, _lock: lock })
    }

    /// The API both shells call.
    pub fn api(&self) -> NodeApi {
        self.api.clone()
    }

    /// Where the HTTP API listens, when it does.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api.api_addr()
    }

    /// Stops every service and stores every event published before the call.
    pub async fn shutdown(mut self) {
        let state = self.api.state();
        state.bus.publish("node", "stopping", serde_json::json!({}));
        let _ = self.shutdown.send(true);
        if let Some(scheduler) = self.scheduler.take() {
            // Every change is committed as it happens; the queue resumes at the next start.
            scheduler.abort();
            state.services.set("scheduler", "Scheduler", ServiceState::Stopped, "node shut down");
        }
        if let Some(harvester) = state.idle.clone() {
            // Running jobs stop at their next tick and stay queued for the next start.
            let _ = tokio::task::spawn_blocking(move || harvester.stop()).await;
            state.services.set("idle_compute", "Idle compute", ServiceState::Stopped, "node shut down");
        }
        if let Some(chat) = &state.bitchat {
            // Peers drop us at once instead of after a minute of silence.
            chat.shutdown().await;
            state.services.set("bitchat", "BitChat", ServiceState::Stopped, "node shut down");
        }
        if let Some(mesh) = &state.mesh {
            mesh.stop().await;
            state.services.set("mesh", "Mesh", ServiceState::Stopped, "node shut down");
        }
        if let Some(http) = self.http.take() {
            if tokio::time::timeout(HTTP_DRAIN, http).await.is_err() {
                tracing::warn!("HTTP connections did not close within {HTTP_DRAIN:?}; dropped");
            }
            state.services.set("api", "HTTP API", ServiceState::Stopped, "node shut down");
        }
        state.bus.close().await;
        tracing::info!("node stopped");
    }
}

async fn start_http(state: &Arc<NodeState>, api: &NodeApi) -> Option<JoinHandle<()>> {
    let addr = state.config.api.addr;
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let local = listener.local_addr().unwrap_or(addr);
            *state.api_addr.write().unwrap_or_else(|p| p.into_inner()) = Some(local);
            state.services.set("api", "HTTP API", ServiceState::Running, format!("listening on http://{local}"));
            let router = crate::http::router(api.clone());
            let mut shutdown = state.shutdown.clone();
            Some(tokio::spawn(async move {
                let stop = async move {
                    let _ = shutdown.wait_for(|stop| *stop).await;
                };
                if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stop).await {
                    tracing::error!("HTTP API stopped: {e}");
                }
            }))
        }
        Err(e) => {
            state.services.set("api", "HTTP API", ServiceState::Failed, format!("cannot listen on {addr}: {e}"));
            None
        }
    }
}

async fn start_mesh(config: &Config, identity: &NodeIdentity) -> Result<Option<Mesh>, fog_mesh::MeshError> {
    if !config.mesh.enabled {
        return Ok(None);
    }
    let mesh_config = MeshConfig {
        listen: config.mesh.listen.clone(),
        lan_discovery: config.mesh.lan_discovery,
        ..MeshConfig::default()
    };
    Mesh::start(*identity.ed25519_secret(), mesh_config).await.map(Some)
}

async fn start_idle(config: &Config, store: &Arc<Store>) -> Result<Option<Arc<Harvester>>, String> {
    if !config.idle.enabled {
        return Ok(None);
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || Harvester::start(store, Probes::linux(), HarvesterConfig::default()))
        .await
        .map_err(|e| e.to_string())?
        .map(|h| Some(Arc::new(h)))
}

/// Puts peer arrivals and departures on the bus; latency samples stay in the peer list.
async fn forward_peer_events(
    mut events: tokio::sync::broadcast::Receiver<PeerEvent>,
    bus: EventBus,
    metrics: Arc<Metrics>,
) {
    loop {
        match events.recv().await {
            Ok(PeerEvent::Connected { peer, address, outbound }) => {
                metrics.mesh_peer_connections.inc();
                let direction = if outbound { "outbound" } else { "inbound" };
                bus.publish(
                    "mesh",
                    "peer_connected",
                    serde_json::json!({ "peer_id": peer, "address": address, "direction": direction }),
                );
            }
            Ok(PeerEvent::Disconnected { peer }) => {
                bus.publish("mesh", "peer_disconnected", serde_json::json!({ "peer_id": peer }));
            }
            Ok(PeerEvent::DialFailed { peer, reason }) => {
                metrics.mesh_dials_failed.inc();
                bus.publish("mesh", "dial_failed", serde_json::json!({ "peer_id": peer, "reason": reason }));
            }
            Ok(PeerEvent::Discovered { peer, address }) => {
                bus.publish("mesh", "peer_discovered", serde_json::json!({ "peer_id": peer, "address": address }));
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!("{missed} mesh peer events were not recorded");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn describe_store(store: &Store) -> String {
    let schemas = store
        .schema_versions()
        .map(|v| v.iter().map(|(d, n)| format!("{d} v{n}")).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    format!("{} (schema {schemas})", store.path().display())
}

fn create_private_dir(dir: &Path) -> Result<(), NodeError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| NodeError::Io { path: dir.display().to_string(), source })
}

fn lock_data_dir(dir: &Path) -> Result<File, NodeError> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| NodeError::Io { path: path.display().to_string(), source })?;
    match FileExt::try_lock_exclusive(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(NodeError::DataDirInUse { path: dir.display().to_string(), lock: path.display().to_string() }),
        Err(source) => Err(NodeError::Io { path: path.display().to_string(), source }),
    }
}
