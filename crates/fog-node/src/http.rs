//! The HTTP shell: axum routes over [`NodeApi`], bearer-token auth, the event WebSocket,
//! Prometheus metrics, the OpenAPI document and the built dashboard.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use rust_embed::Embed;
use tokio::sync::broadcast::error::RecvError;
use utoipa::OpenApi;

use crate::api::types::{
    BenchRequest, BenchResult, BetanetInboxQuery, BetanetMessage, BetanetSend, BetanetStatus, BitchatMessagesQuery,
    BitchatNickname, BitchatPeerFlags, BitchatRead, BitchatSend, ConnectRequest, DashboardStats, DisconnectRequest,
    Event, EventsQuery, Health, HealthStatus, IdleDevice, IdleJobSubmit, IdleOffer, KnownPeer, LogTail, LogsQuery,
    MeshPeer, MeshStats, MeshTopology, MeshTraffic, NodeInfo, PeerDirection, ProcessStats, SchedJobDetail,
    SchedJobSubmit, ServiceHealth, ServiceState, Settings, SettingsUpdate, TopicTraffic, TopologyEdge, TopologyNode,
};
use crate::api::{event_matches, parse_topics, NodeApi};
use crate::error::{code, ApiError};

/// Content-Security-Policy of the dashboard: everything from this origin, nothing inline but styles.
const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The router of the whole HTTP API.
pub fn router(api: NodeApi) -> Router {
    let protected = Router::new()
        .route("/api/health", get(health))
        .route("/api/dashboard/stats", get(dashboard_stats))
        .route("/api/node", get(node_info))
        .route("/api/events", get(events_stream))
        .route("/api/events/recent", get(recent_events))
        .route("/api/logs", get(logs))
        .route("/api/settings", get(settings).put(update_settings))
        .route("/api/p2p/stats", get(p2p_stats))
        .route("/api/p2p/peers", get(p2p_peers))
        .route("/api/p2p/known", get(p2p_known))
        .route("/api/p2p/topology", get(p2p_topology))
        .route("/api/p2p/connect", post(p2p_connect))
        .route("/api/p2p/disconnect", post(p2p_disconnect))
        .route("/api/idle-compute/stats", get(idle_stats))
        .route("/api/idle-compute/devices", get(idle_devices))
        .route("/api/idle-compute/settings", get(idle_settings).put(idle_update_settings))
        .route("/api/idle-compute/examples", get(idle_examples))
        // A module may be up to 32 MiB, a third more in base64, plus its input.
        .route("/api/idle-compute/jobs", post(idle_submit).layer(DefaultBodyLimit::max(72 << 20)))
        .route("/api/idle-compute/jobs/{id}", get(idle_job))
        .route("/api/idle-compute/jobs/{id}/output", get(idle_job_output))
        .route("/api/idle-compute/jobs/{id}/cancel", post(idle_cancel))
        .route("/api/idle-compute/offer", post(idle_offer).layer(DefaultBodyLimit::max(72 << 20)))
        .route("/api/idle-compute/peers/{peer}/jobs/{id}", get(idle_remote_job))
        .route("/api/scheduler/jobs", get(sched_jobs).post(sched_submit).layer(DefaultBodyLimit::max(2 << 20)))
        .route("/api/scheduler/jobs/{id}", get(sched_job))
        .route("/api/scheduler/jobs/{id}/output", get(sched_job_output))
        .route("/api/scheduler/jobs/{id}/cancel", post(sched_cancel))
        .route("/api/scheduler/stats", get(sched_stats))
        .route("/api/bitchat/status", get(bitchat_status))
        .route("/api/bitchat/peers", get(bitchat_peers))
        .route("/api/bitchat/peers/{peer}", put(bitchat_set_peer))
        .route("/api/bitchat/peers/{peer}/read", post(bitchat_mark_read))
        .route("/api/bitchat/messages", get(bitchat_messages).post(bitchat_send))
        .route("/api/bitchat/nickname", put(bitchat_set_nickname))
        .route("/api/betanet/status", get(betanet_status))
        .route("/api/betanet/deploy", post(betanet_deploy))
        .route("/api/betanet/send", post(betanet_send))
        .route("/api/betanet/inbox", get(betanet_inbox))
        .route("/api/bench/run", post(bench_run))
        .route("/api/bench/results", get(bench_results))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/api/{*rest}", any(api_not_found))
        .route_layer(middleware::from_fn_with_state(api.clone(), require_token));
    Router::new()
        .merge(protected)
        .fallback(dashboard)
        .layer(middleware::from_fn_with_state(api.clone(), count_requests))
        .with_state(api)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self)).into_response()
    }
}

/// Query string parsed into `T`, or a 400 `{code, message}`.
struct ApiQuery<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::invalid_input(format!("invalid query string: {}", e.body_text())))
    }
}

/// JSON body parsed into `T`, or a 400 `{code, message}`.
struct ApiJson<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|j| Self(j.0))
            .map_err(|e| ApiError::invalid_input(format!("invalid JSON body: {}", e.body_text())))
    }
}

async fn require_token(State(api): State<NodeApi>, req: Request, next: Next) -> Response {
    let from_header =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Browsers cannot set headers on a WebSocket, so the event stream also takes the token as
    // the `access_token` query parameter (RFC 6750 §2.3).
    let from_query = (req.uri().path() == "/api/events")
        .then(|| req.uri().query())
        .flatten()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")));
    match from_header.or(from_query) {
        Some(token) if api.state().token.matches(token) => next.run(req).await,
        Some(_) => ApiError::new(code::UNAUTHORIZED, "the API token is wrong").into_response(),
        None => ApiError::new(
            code::UNAUTHORIZED,
            format!(
                "missing API token: send `Authorization: Bearer <token>`; the token is in {}",
                api.state().token.path().display()
            ),
        )
        .into_response(),
    }
}

async fn count_requests(State(api): State<NodeApi>, req: Request, next: Next) -> Response {
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None if req.uri().path().starts_with("/api") => "/api/*".to_owned(),
        None => "dashboard".to_owned(),
    };
    let response = next.run(req).await;
    api.state().metrics.count_http(&route, response.status().as_u16());
    response
}

#[utoipa::path(get, path = "/api/health", responses((status = 200, body = Health), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn health(State(api): State<NodeApi>) -> Result<Json<Health>, ApiError> {
    api.health().await.map(Json)
}

#[utoipa::path(get, path = "/api/dashboard/stats", responses((status = 200, body = DashboardStats), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn dashboard_stats(State(api): State<NodeApi>) -> Result<Json<DashboardStats>, ApiError> {
    api.dashboard_stats().await.map(Json)
}

#[utoipa::path(get, path = "/api/node", responses((status = 200, body = NodeInfo), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn node_info(State(api): State<NodeApi>) -> Result<Json<NodeInfo>, ApiError> {
    api.node_info().await.map(Json)
}

#[utoipa::path(get, path = "/api/events/recent", params(EventsQuery), responses((status = 200, body = Vec<Event>), (status = 400, body = ApiError), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn recent_events(
    State(api): State<NodeApi>,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<Event>>, ApiError> {
    api.recent_events(query).await.map(Json)
}

#[utoipa::path(get, path = "/api/logs", params(LogsQuery), responses((status = 200, body = LogTail), (status = 400, body = ApiError), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn logs(State(api): State<NodeApi>, ApiQuery(query): ApiQuery<LogsQuery>) -> Result<Json<LogTail>, ApiError> {
    api.logs(query).await.map(Json)
}

#[utoipa::path(get, path = "/api/settings", responses((status = 200, body = Settings), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn settings(State(api): State<NodeApi>) -> Result<Json<Settings>, ApiError> {
    api.settings().await.map(Json)
}

#[utoipa::path(put, path = "/api/settings", request_body = SettingsUpdate, responses((status = 200, body = Settings), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn update_settings(
    State(api): State<NodeApi>,
    ApiJson(update): ApiJson<SettingsUpdate>,
) -> Result<Json<Settings>, ApiError> {
    api.update_settings(update).await.map(Json)
}

#[utoipa::path(get, path = "/api/p2p/stats", responses((status = 200, body = MeshStats), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn p2p_stats(State(api): State<NodeApi>) -> Result<Json<MeshStats>, ApiError> {
    api.p2p_stats().await.map(Json)
}

#[utoipa::path(get, path = "/api/p2p/peers", responses((status = 200, body = Vec<MeshPeer>), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn p2p_peers(State(api): State<NodeApi>) -> Result<Json<Vec<MeshPeer>>, ApiError> {
    api.p2p_peers().await.map(Json)
}

#[utoipa::path(get, path = "/api/p2p/known", responses((status = 200, body = Vec<KnownPeer>), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn p2p_known(State(api): State<NodeApi>) -> Result<Json<Vec<KnownPeer>>, ApiError> {
    api.p2p_known().await.map(Json)
}

#[utoipa::path(get, path = "/api/p2p/topology", responses((status = 200, body = MeshTopology), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn p2p_topology(State(api): State<NodeApi>) -> Result<Json<MeshTopology>, ApiError> {
    api.p2p_topology().await.map(Json)
}

#[utoipa::path(post, path = "/api/p2p/connect", request_body = ConnectRequest, responses((status = 204, description = "dialling"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn p2p_connect(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<ConnectRequest>,
) -> Result<StatusCode, ApiError> {
    api.p2p_connect(request).await.map(|_| StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/p2p/disconnect", request_body = DisconnectRequest, responses((status = 204, description = "disconnected"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn p2p_disconnect(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<DisconnectRequest>,
) -> Result<StatusCode, ApiError> {
    api.p2p_disconnect(request).await.map(|_| StatusCode::NO_CONTENT)
}

fn job_id(id: &str) -> Result<u64, ApiError> {
    id.parse().map_err(|_| ApiError::invalid_input(format!("job id must be a whole number, got {id:?}")))
}

#[utoipa::path(get, path = "/api/idle-compute/stats", responses((status = 200, body = fog_idle::HarvestStats), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_stats(State(api): State<NodeApi>) -> Result<Json<fog_idle::HarvestStats>, ApiError> {
    api.idle_stats().await.map(Json)
}

#[utoipa::path(get, path = "/api/idle-compute/devices", responses((status = 200, body = Vec<IdleDevice>), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_devices(State(api): State<NodeApi>) -> Result<Json<Vec<IdleDevice>>, ApiError> {
    api.idle_devices().await.map(Json)
}

#[utoipa::path(get, path = "/api/idle-compute/settings", responses((status = 200, body = fog_idle::HarvestSettings), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_settings(State(api): State<NodeApi>) -> Result<Json<fog_idle::HarvestSettings>, ApiError> {
    api.idle_settings().await.map(Json)
}

#[utoipa::path(put, path = "/api/idle-compute/settings", request_body = fog_idle::HarvestSettings, responses((status = 200, body = fog_idle::HarvestSettings), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_update_settings(
    State(api): State<NodeApi>,
    ApiJson(settings): ApiJson<fog_idle::HarvestSettings>,
) -> Result<Json<fog_idle::HarvestSettings>, ApiError> {
    api.idle_update_settings(settings).await.map(Json)
}

#[utoipa::path(get, path = "/api/idle-compute/examples", responses((status = 200, body = Vec<fog_idle::examples::ExampleJob>), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn idle_examples(State(api): State<NodeApi>) -> Result<Json<Vec<fog_idle::examples::ExampleJob>>, ApiError> {
    api.idle_examples().await.map(Json)
}

#[utoipa::path(post, path = "/api/idle-compute/jobs", request_body = IdleJobSubmit, responses((status = 200, body = fog_idle::JobView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_submit(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<IdleJobSubmit>,
) -> Result<Json<fog_idle::JobView>, ApiError> {
    api.idle_submit(request).await.map(Json)
}

#[utoipa::path(get, path = "/api/idle-compute/jobs/{id}", params(("id" = u64, Path, description = "Job id")), responses((status = 200, body = fog_idle::JobView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_job(State(api): State<NodeApi>, Path(id): Path<String>) -> Result<Json<fog_idle::JobView>, ApiError> {
    api.idle_job(job_id(&id)?).await.map(Json)
}

/// The job's whole stdout, as bytes.
#[utoipa::path(get, path = "/api/idle-compute/jobs/{id}/output", params(("id" = u64, Path, description = "Job id")), responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_job_output(State(api): State<NodeApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let output = api.idle_job_output(job_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], output).into_response())
}

#[utoipa::path(post, path = "/api/idle-compute/jobs/{id}/cancel", params(("id" = u64, Path, description = "Job id")), responses((status = 200, body = fog_idle::JobView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_cancel(State(api): State<NodeApi>, Path(id): Path<String>) -> Result<Json<fog_idle::JobView>, ApiError> {
    api.idle_cancel(job_id(&id)?).await.map(Json)
}

#[utoipa::path(post, path = "/api/idle-compute/offer", request_body = IdleOffer, responses((status = 200, body = fog_idle::JobView, description = "accepted: the job as queued on the peer"), (status = 400, body = ApiError, description = "invalid, or refused by the peer's policy"), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_offer(
    State(api): State<NodeApi>,
    ApiJson(offer): ApiJson<IdleOffer>,
) -> Result<Json<fog_idle::JobView>, ApiError> {
    api.idle_offer(offer).await.map(Json)
}

#[utoipa::path(get, path = "/api/idle-compute/peers/{peer}/jobs/{id}", params(("peer" = String, Path, description = "Peer id"), ("id" = u64, Path, description = "Job id on that peer")), responses((status = 200, body = fog_idle::JobView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn idle_remote_job(
    State(api): State<NodeApi>,
    Path((peer, id)): Path<(String, String)>,
) -> Result<Json<fog_idle::JobView>, ApiError> {
    api.idle_remote_job(peer, job_id(&id)?).await.map(Json)
}

#[utoipa::path(get, path = "/api/scheduler/jobs", responses((status = 200, body = Vec<fog_sched::queue::SchedJob>, description = "jobs that have not ended, then the most recent that have"), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn sched_jobs(State(api): State<NodeApi>) -> Result<Json<Vec<fog_sched::queue::SchedJob>>, ApiError> {
    api.sched_jobs().await.map(Json)
}

#[utoipa::path(post, path = "/api/scheduler/jobs", request_body = SchedJobSubmit, responses((status = 200, body = fog_sched::queue::SchedJob, description = "queued"), (status = 400, body = ApiError, description = "invalid: nothing was queued"), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn sched_submit(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<SchedJobSubmit>,
) -> Result<Json<fog_sched::queue::SchedJob>, ApiError> {
    api.sched_submit(request).await.map(Json)
}

#[utoipa::path(get, path = "/api/scheduler/jobs/{id}", params(("id" = u64, Path, description = "Job id")), responses((status = 200, body = SchedJobDetail), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn sched_job(State(api): State<NodeApi>, Path(id): Path<String>) -> Result<Json<SchedJobDetail>, ApiError> {
    api.sched_job(job_id(&id)?).await.map(Json)
}

/// The job's whole stdout, as bytes.
#[utoipa::path(get, path = "/api/scheduler/jobs/{id}/output", params(("id" = u64, Path, description = "Job id")), responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn sched_job_output(State(api): State<NodeApi>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let output = api.sched_job_output(job_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], output).into_response())
}

#[utoipa::path(post, path = "/api/scheduler/jobs/{id}/cancel", params(("id" = u64, Path, description = "Job id")), responses((status = 200, body = fog_sched::queue::SchedJob), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn sched_cancel(
    State(api): State<NodeApi>,
    Path(id): Path<String>,
) -> Result<Json<fog_sched::queue::SchedJob>, ApiError> {
    api.sched_cancel(job_id(&id)?).await.map(Json)
}

#[utoipa::path(get, path = "/api/scheduler/stats", responses((status = 200, body = fog_sched::service::SchedStats), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn sched_stats(State(api): State<NodeApi>) -> Result<Json<fog_sched::service::SchedStats>, ApiError> {
    api.sched_stats().await.map(Json)
}

#[utoipa::path(get, path = "/api/bitchat/status", responses((status = 200, body = fog_bitchat::model::BitchatStatus, description = "the radio (or why there is none), identity, counters"), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn bitchat_status(State(api): State<NodeApi>) -> Result<Json<fog_bitchat::model::BitchatStatus>, ApiError> {
    api.bitchat_status().await.map(Json)
}

#[utoipa::path(get, path = "/api/bitchat/peers", responses((status = 200, body = Vec<fog_bitchat::model::ChatPeer>), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn bitchat_peers(State(api): State<NodeApi>) -> Result<Json<Vec<fog_bitchat::model::ChatPeer>>, ApiError> {
    api.bitchat_peers().await.map(Json)
}

#[utoipa::path(put, path = "/api/bitchat/peers/{peer}", params(("peer" = String, Path, description = "Peer id, 16 hex digits")), request_body = BitchatPeerFlags, responses((status = 204, description = "marks set"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn bitchat_set_peer(
    State(api): State<NodeApi>,
    Path(peer): Path<String>,
    ApiJson(flags): ApiJson<BitchatPeerFlags>,
) -> Result<StatusCode, ApiError> {
    api.bitchat_set_peer(peer, flags).await.map(|()| StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/bitchat/peers/{peer}/read", params(("peer" = String, Path, description = "Peer id, 16 hex digits")), responses((status = 200, body = BitchatRead), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn bitchat_mark_read(
    State(api): State<NodeApi>,
    Path(peer): Path<String>,
) -> Result<Json<BitchatRead>, ApiError> {
    api.bitchat_mark_read(peer).await.map(Json)
}

#[utoipa::path(get, path = "/api/bitchat/messages", params(BitchatMessagesQuery), responses((status = 200, body = Vec<fog_bitchat::model::ChatMessage>, description = "oldest first"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn bitchat_messages(
    State(api): State<NodeApi>,
    ApiQuery(query): ApiQuery<BitchatMessagesQuery>,
) -> Result<Json<Vec<fog_bitchat::model::ChatMessage>>, ApiError> {
    api.bitchat_messages(query).await.map(Json)
}

#[utoipa::path(post, path = "/api/bitchat/messages", request_body = BitchatSend, responses((status = 200, body = fog_bitchat::model::ChatMessage, description = "sent (public) or queued (private)"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError), (status = 503, body = ApiError, description = "no radio, with the reason")), security(("bearer" = [])))]
async fn bitchat_send(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<BitchatSend>,
) -> Result<Json<fog_bitchat::model::ChatMessage>, ApiError> {
    api.bitchat_send(request).await.map(Json)
}

#[utoipa::path(get, path = "/api/betanet/status", responses((status = 200, body = BetanetStatus, description = "topology, this node's mixnode and client figures"), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn betanet_status(State(api): State<NodeApi>) -> Result<Json<BetanetStatus>, ApiError> {
    api.betanet_status().await.map(Json)
}

#[utoipa::path(post, path = "/api/betanet/deploy", responses((status = 200, body = BetanetStatus, description = "this node now mixes"), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn betanet_deploy(State(api): State<NodeApi>) -> Result<Json<BetanetStatus>, ApiError> {
    api.betanet_deploy().await.map(Json)
}

#[utoipa::path(post, path = "/api/betanet/send", request_body = BetanetSend, responses((status = 200, body = BetanetMessage, description = "queued in the client's stream"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 404, body = ApiError, description = "no such endpoint or message"), (status = 503, body = ApiError, description = "no usable topology, with the reason")), security(("bearer" = [])))]
async fn betanet_send(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<BetanetSend>,
) -> Result<Json<BetanetMessage>, ApiError> {
    api.betanet_send(request).await.map(Json)
}

#[utoipa::path(get, path = "/api/betanet/inbox", params(BetanetInboxQuery), responses((status = 200, body = Vec<BetanetMessage>, description = "sent and received, newest first"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn betanet_inbox(
    State(api): State<NodeApi>,
    ApiQuery(query): ApiQuery<BetanetInboxQuery>,
) -> Result<Json<Vec<BetanetMessage>>, ApiError> {
    api.betanet_inbox(query).await.map(Json)
}

#[utoipa::path(put, path = "/api/bitchat/nickname", request_body = BitchatNickname, responses((status = 200, body = fog_bitchat::model::BitchatStatus), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)), security(("bearer" = [])))]
async fn bitchat_set_nickname(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<BitchatNickname>,
) -> Result<Json<fog_bitchat::model::BitchatStatus>, ApiError> {
    api.bitchat_set_nickname(request).await.map(Json)
}

#[utoipa::path(post, path = "/api/bench/run", request_body = BenchRequest, responses((status = 200, body = BenchResult), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError, description = "another benchmark is running")), security(("bearer" = [])))]
async fn bench_run(
    State(api): State<NodeApi>,
    ApiJson(request): ApiJson<BenchRequest>,
) -> Result<Json<BenchResult>, ApiError> {
    api.bench_run(request).await.map(Json)
}

#[utoipa::path(get, path = "/api/bench/results", responses((status = 200, body = Vec<BenchResult>), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn bench_results(State(api): State<NodeApi>) -> Result<Json<Vec<BenchResult>>, ApiError> {
    api.bench_results().await.map(Json)
}

/// Query of the event WebSocket.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    /// Comma-separated topic filter.
    topics: Option<String>,
    /// The API token, for clients that cannot send headers (browsers).
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// Live events as JSON text messages, one event per message.
#[utoipa::path(get, path = "/api/events", params(StreamQuery), responses((status = 101, description = "WebSocket of Event JSON messages"), (status = 400, body = ApiError), (status = 401, body = ApiError)), security(("bearer" = [])))]
async fn events_stream(
    State(api): State<NodeApi>,
    ApiQuery(query): ApiQuery<StreamQuery>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let topics = parse_topics(query.topics.as_deref())?;
    let upgrade =
        upgrade.map_err(|e| ApiError::invalid_input(format!("/api/events is a WebSocket: {}", e.body_text())))?;
    let events = api.subscribe();
    Ok(upgrade.on_upgrade(move |socket| stream_events(api, socket, events, topics)))
}

async fn stream_events(
    api: NodeApi,
    mut socket: WebSocket,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    topics: Vec<String>,
) {
    let mut shutdown = api.state().shutdown.clone();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) if event_matches(&event, &topics) => {
                    let Ok(text) = serde_json::to_string(&event) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    let notice = Event { id: 0, ts_ms: fog_store::now_ms(), topic: "stream".into(), kind: "lagged".into(), data: serde_json::json!({ "missed": missed }) };
                    let text = serde_json::to_string(&notice).unwrap_or_default();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = async { shutdown.wait_for(|stop| *stop).await.map(|_| ()) } => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

async fn metrics(State(api): State<NodeApi>) -> Response {
    let state = api.state();
    let process = crate::process::sample();
    let services: Vec<(String, bool)> = state
        .services
        .snapshot()
        .into_iter()
        .filter(|s| s.state != ServiceState::NotAvailable)
        .map(|s| (s.id, s.state == ServiceState::Running))
        .collect();
    let mesh_peers = match &state.mesh {
        Some(mesh) => mesh.peers().await.ok().map(|p| p.len()),
        None => None,
    };
    let idle = match &state.idle {
        Some(harvester) => {
            let harvester = harvester.clone();
            tokio::task::spawn_blocking(move || harvester.stats().ok()).await.ok().flatten()
        }
        None => None,
    };
    let scheduler = match &state.scheduler {
        Some(scheduler) => {
            let scheduler = scheduler.clone();
            tokio::task::spawn_blocking(move || scheduler.stats().ok()).await.ok().flatten()
        }
        None => None,
    };
    let betanet = state.betanet.as_ref().map(|b| b.status());
    let body = state.metrics.render(&crate::metrics::ScrapeSample {
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        resident_memory_bytes: process.rss_bytes,
        cpu_seconds: process.cpu_seconds,
        db_size_bytes: state.store.size_bytes(),
        event_subscribers: state.bus.subscriber_count(),
        services: &services,
        mesh_peers,
        mesh: state.mesh.as_ref(),
        idle: idle.as_ref(),
        scheduler: scheduler.as_ref(),
        betanet: betanet.as_ref(),
    });
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Fog Compute node API", description = "Every /api route and /metrics need `Authorization: Bearer <token>`; errors are `{code, message}`."),
    paths(health, dashboard_stats, node_info, recent_events, events_stream, logs, settings, update_settings, p2p_stats, p2p_peers, p2p_known, p2p_topology, p2p_connect, p2p_disconnect, idle_stats, idle_devices, idle_settings, idle_update_settings, idle_examples, idle_submit, idle_job, idle_job_output, idle_cancel, idle_offer, idle_remote_job, sched_jobs, sched_submit, sched_job, sched_job_output, sched_cancel, sched_stats, bitchat_status, bitchat_peers, bitchat_set_peer, bitchat_mark_read, bitchat_messages, bitchat_send, bitchat_set_nickname, betanet_status, betanet_deploy, betanet_send, betanet_inbox, bench_run, bench_results),
    components(schemas(ConnectRequest, DisconnectRequest, MeshPeer, MeshStats, MeshTraffic, TopicTraffic, KnownPeer, MeshTopology, TopologyNode, TopologyEdge, PeerDirection, ApiError, Health, HealthStatus, ServiceHealth, ServiceState, DashboardStats, ProcessStats, NodeInfo, Event, LogTail, Settings, SettingsUpdate, IdleDevice, IdleJobSubmit, IdleOffer, SchedJobSubmit, SchedJobDetail, BitchatSend, BitchatMessagesQuery, BitchatPeerFlags, BitchatNickname, BitchatRead, BenchRequest, BenchResult, fog_bitchat::model::BitchatStatus, fog_bitchat::model::ChatPeer, fog_bitchat::model::ChatMessage, fog_bitchat::model::AdapterState, fog_bitchat::model::DeliveryState, fog_bitchat::model::ChatCounters, BetanetSend, BetanetInboxQuery, BetanetStatus, BetanetMessage, fog_mixnet::model::TopologyView, fog_mixnet::model::MixnodeView, fog_mixnet::model::DropCount, fog_mixnet::model::HistogramBucket, fog_mixnet::model::MixnodeStats, fog_mixnet::model::ClientStats, fog_mixnet::model::MessageState)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of this API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::new(code::NOT_FOUND, format!("no API route {}", uri.path()))
}

/// The built dashboard (frontend/dist), embedded in release builds and read from disk in debug.
#[derive(Embed)]
#[folder = "../../frontend/dist"]
#[allow_missing = true]
struct Dashboard;

async fn dashboard(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (file, name) = match Dashboard::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (file, path),
        // Unknown paths get the app shell: routes live in the URL fragment.
        None => match Dashboard::get("index.html") {
            Some(file) => (file, "index.html"),
            None => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The dashboard is not built into this binary. Build it with `npm --prefix frontend run build` and rebuild fog; the API under /api works without it.\n",
                )
                    .into_response()
            }
        },
    };
    let mime = file.metadata.mimetype().to_owned();
    let cache = if name == "index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DASHBOARD_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
