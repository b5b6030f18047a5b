//! Wires the idle-compute harvester into the node: its events onto the bus, and its capacity
//! onto the mesh, where every node advertises what it can offer and hears what others offer.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use fog_idle::{Capacity, Harvester, IdleEvent};
use fog_mesh::{GossipMessage, Mesh, Verdict};
use tokio::sync::broadcast::error::RecvError;

use crate::events::EventBus;

/// Request-response protocol on which a node offers a job to another; the answer is the
/// accepted job, or the refusal's reason.
pub const OFFER_PROTOCOL: &str = "/fog/idle/offer/1";
/// Request-response protocol on which the node that offered a job asks for its state and result.
pub const JOB_PROTOCOL: &str = "/fog/idle/job/1";

/// Request-response protocol on which the node that offered a job asks for its state and, once
/// it has finished, its whole output.
pub const RESULT_PROTOCOL: &str = "/fog/idle/result/1";
/// Request-response protocol on which the node that offered a job cancels it.
pub const CANCEL_PROTOCOL: &str = "/fog/idle/cancel/1";

/// Asks about a job this node offered earlier.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JobQuery {
    pub id: u64,
}

/// A job's state, with its whole output (base64) once it has finished.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JobResult {
    pub job: fog_idle::JobView,
    pub output_base64: Option<String>,
}

/// Gossip topic of capacity advertisements.
pub const CAPACITY_TOPIC: &str = "fog/idle/capacity/1";
/// How often a node advertises even when nothing changed.
pub const ADVERTISE_EVERY: Duration = Duration::from_secs(10);
/// Retry delay when no peer could take an advertisement.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// An advertisement older than this is no longer listed.
pub const OFFER_STALE_MS: i64 = 60_000;
/// Largest advertisement accepted.
const MAX_ADVERT_BYTES: usize = 4096;

/// What the other nodes of the mesh last advertised, by peer id, with when it arrived.
#[derive(Clone, Default)]
pub struct MeshOffers(Arc<RwLock<HashMap<String, (Capacity, i64)>>>);

impl MeshOffers {
    /// Fresh advertisements, most recently heard first.
    pub fn fresh(&self, now_ms: i64) -> Vec<(String, Capacity, i64)> {
        let offers = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut fresh: Vec<_> = offers
            .iter()
            .filter(|(_, (_, at))| now_ms - at < OFFER_STALE_MS)
            .map(|(peer, (capacity, at))| (peer.clone(), capacity.clone(), *at))
            .collect();
        fresh.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        fresh
    }

    fn record(&self, peer: String, capacity: Capacity, at_ms: i64) {
        let mut offers = self.0.write().unwrap_or_else(|p| p.into_inner());
        offers.retain(|_, (_, at)| at_ms - *at < OFFER_STALE_MS);
        offers.insert(peer, (capacity, at_ms));
    }
}

fn decode_advert(message: &GossipMessage) -> Option<Capacity> {
    if message.data.len() > MAX_ADVERT_BYTES {
        return None;
    }
    serde_json::from_slice(&message.data).ok()
}

/// Puts the harvester's events on the bus as topic `idle`.
pub async fn forward_events(harvester: Arc<Harvester>, bus: EventBus) {
    let mut events = harvester.events();
    loop {
        match events.recv().await {
            Ok(event) => {
                let mut payload = serde_json::to_value(&event).unwrap_or_default();
                let kind = payload
                    .as_object_mut()
                    .and_then(|o| o.remove("kind"))
                    .and_then(|k| k.as_str().map(str::to_string))
                    .unwrap_or_default();
                bus.publish("idle", &kind, payload);
            }
            Err(RecvError::Lagged(missed)) => tracing::warn!("{missed} idle events were not recorded"),
            Err(RecvError::Closed) => return,
        }
    }
}

/// Records the advertisements of other nodes and, when this node harvests, advertises its own
/// capacity every [`ADVERTISE_EVERY`] and whenever the policy's decision changes.
pub async fn advertise_capacity(mesh: Mesh, harvester: Option<Arc<Harvester>>, offers: MeshOffers) {
    let validator: fog_mesh::Validator =
        Arc::new(|message| if decode_advert(message).is_some() { Verdict::Accept } else { Verdict::Reject });
    let mut adverts = match mesh.subscribe(CAPACITY_TOPIC, validator).await {
        Ok(adverts) => adverts,
        Err(e) => {
            tracing::warn!("cannot subscribe to capacity advertisements: {e}");
            return;
        }
    };
    let mut events = harvester.as_ref().map(|h| h.events());
    let mut tick = tokio::time::interval(ADVERTISE_EVERY);
    loop {
        let decision_changes = async {
            match &mut events {
                Some(events) => events.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tick.tick(), if harvester.is_some() => {}
            event = decision_changes => match event {
                Ok(IdleEvent::DecisionChanged { .. }) | Err(RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(RecvError::Closed) => return,
            },
            advert = adverts.recv() => {
                let Some(advert) = advert else { return };
                if let (Some(peer), Some(capacity)) = (advert.source.clone(), decode_advert(&advert)) {
                    offers.record(peer, capacity, fog_store::now_ms());
                }
                continue;
            }
        }
        let Some(harvester) = &harvester else { continue };
        let data = serde_json::to_vec(&harvester.capacity()).expect("capacity serializes");
        // Publishing fails while no peer has subscribed yet: try again soon rather than at the
        // next regular advertisement.
        if let Err(e) = mesh.publish(CAPACITY_TOPIC, data).await {
            tracing::debug!("capacity not advertised: {e}");
            tick.reset_after(RETRY_AFTER);
        }
    }
}

/// Answers other nodes' job offers with the harvest policy's verdict, and their questions about
/// the jobs they offered (only those: a node cannot read another's results).
pub async fn serve_offers(mesh: Mesh, harvester: Arc<Harvester>) {
    let served = async {
        Ok::<_, fog_mesh::MeshError>((
            mesh.serve::<crate::api::types::IdleJobSubmit, fog_idle::JobView>(OFFER_PROTOCOL).await?,
            mesh.serve::<JobQuery, fog_idle::JobView>(JOB_PROTOCOL).await?,
            mesh.serve::<JobQuery, JobResult>(RESULT_PROTOCOL).await?,
            mesh.serve::<JobQuery, fog_idle::JobView>(CANCEL_PROTOCOL).await?,
        ))
    };
    let (mut offers, mut queries, mut results, mut cancels) = match served.await {
        Ok(served) => served,
        Err(e) => {
            tracing::warn!("cannot serve job offers: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            offer = offers.recv() => {
                let Some(offer) = offer else { return };
                let harvester = harvester.clone();
                tokio::spawn(async move {
                    let request = match crate::api::job_request(offer.request.clone(), &offer.peer) {
                        Ok(request) => request,
                        Err(e) => return offer.refuse(e.message),
                    };
                    match tokio::task::spawn_blocking(move || harvester.offer(request)).await {
                        Ok(Ok(job)) => offer.respond(&job),
                        Ok(Err(e)) => offer.refuse(e.to_string()),
                        Err(e) => offer.refuse(e.to_string()),
                    }
                });
            }
            query = queries.recv() => {
                let Some(query) = query else { return };
                let harvester = harvester.clone();
                tokio::spawn(async move {
                    let (id, peer) = (query.request.id, query.peer.clone());
                    match tokio::task::spawn_blocking(move || own_job(&harvester, id, &peer)).await {
                        Ok(Ok(job)) => query.respond(&job),
                        Ok(Err(reason)) => query.refuse(reason),
                        Err(e) => query.refuse(e.to_string()),
                    }
                });
            }
            query = results.recv() => {
                let Some(query) = query else { return };
                let harvester = harvester.clone();
                tokio::spawn(async move {
                    let (id, peer) = (query.request.id, query.peer.clone());
                    let answer = tokio::task::spawn_blocking(move || {
                        let job = own_job(&harvester, id, &peer)?;
                        let output = job
                            .state
                            .is_finished()
                            .then(|| harvester.job_output(id).map_err(|e| e.to_string()))
                            .transpose()?;
                        use base64::Engine as _;
                        let output_base64 = output.map(|o| base64::engine::general_purpose::STANDARD.encode(o));
                        Ok::<_, String>(JobResult { job, output_base64 })
                    });
                    match answer.await {
                        Ok(Ok(result)) => query.respond(&result),
                        Ok(Err(reason)) => query.refuse(reason),
                        Err(e) => query.refuse(e.to_string()),
                    }
                });
            }
            query = cancels.recv() => {
                let Some(query) = query else { return };
                let harvester = harvester.clone();
                tokio::spawn(async move {
                    let (id, peer) = (query.request.id, query.peer.clone());
                    let cancelled = tokio::task::spawn_blocking(move || {
                        own_job(&harvester, id, &peer)?;
                        harvester.cancel(id).map_err(|e| e.to_string())
                    });
                    match cancelled.await {
                        Ok(Ok(job)) => query.respond(&job),
                        Ok(Err(reason)) => query.refuse(reason),
                        Err(e) => query.refuse(e.to_string()),
                    }
                });
            }
        }
    }
}

/// Job `id`, if `peer` offered it: a node sees only its own jobs.
fn own_job(harvester: &Harvester, id: u64, peer: &str) -> Result<fog_idle::JobView, String> {
    match harvester.job(id) {
        Ok(job) if job.origin == peer => Ok(job),
        Ok(_) | Err(fog_idle::JobError::NotFound(_)) => Err(format!("no job {id} from you")),
        Err(e) => Err(e.to_string()),
    }
}
