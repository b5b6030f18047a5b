//! TypeScript definitions of the API types, generated with ts-rs into the frontend.
//! `cargo test -p fog-node bindings` fails when the committed file is stale and rewrites it
//! when run with `UPDATE_BINDINGS=1`.

use ts_rs::TS;

use crate::api::types::*;

/// Path of the generated file, relative to the repository root.
pub const BINDINGS_PATH: &str = "frontend/src/lib/api/bindings.ts";

/// The whole generated file.
pub fn typescript() -> String {
    let decls = [
        NodeInfo::decl(),
        ServiceState::decl(),
        ServiceHealth::decl(),
        HealthStatus::decl(),
        Health::decl(),
        ProcessStats::decl(),
        DashboardStats::decl(),
        Event::decl(),
        EventsQuery::decl(),
        LogsQuery::decl(),
        LogTail::decl(),
        Settings::decl(),
        SettingsUpdate::decl(),
        ApiError::decl(),
        PeerDirection::decl(),
        MeshStats::decl(),
        MeshTraffic::decl(),
        TopicTraffic::decl(),
        MeshPeer::decl(),
        KnownPeer::decl(),
        MeshTopology::decl(),
        TopologyNode::decl(),
        TopologyEdge::decl(),
        ConnectRequest::decl(),
        DisconnectRequest::decl(),
        fog_idle::Reading::<f64>::decl(),
        fog_idle::PowerSource::decl(),
        fog_idle::DeviceState::decl(),
        fog_idle::HarvestSettings::decl(),
        fog_idle::TimeWindow::decl(),
        fog_idle::Mode::decl(),
        fog_idle::Rule::decl(),
        fog_idle::Decision::decl(),
        fog_idle::JobLimits::decl(),
        fog_idle::StopReason::decl(),
        fog_idle::RunEnd::decl(),
        fog_idle::JobState::decl(),
        fog_idle::JobView::decl(),
        fog_idle::Totals::decl(),
        fog_idle::HistoryPoint::decl(),
        fog_idle::Capacity::decl(),
        fog_idle::HarvestStats::decl(),
        fog_idle::examples::ExampleJob::decl(),
        IdleDevice::decl(),
        IdleJobSubmit::decl(),
        IdleOffer::decl(),
        fog_sched::model::Tier::decl(),
        fog_sched::lifecycle::Phase::decl(),
        fog_sched::lifecycle::TierFigures::decl(),
        fog_sched::lifecycle::SlaFigures::decl(),
        fog_sched::queue::WorkSource::decl(),
        fog_sched::queue::RunResult::decl(),
        fog_sched::queue::SchedJob::decl(),
        fog_sched::queue::Attempt::decl(),
        fog_sched::queue::Round::decl(),
        fog_sched::service::SchedNode::decl(),
        fog_sched::service::PhaseCounts::decl(),
        fog_sched::service::SchedStats::decl(),
        SchedJobSubmit::decl(),
        SchedJobDetail::decl(),
        fog_bitchat::model::DeliveryState::decl(),
        fog_bitchat::model::ChatMessage::decl(),
        fog_bitchat::model::ChatPeer::decl(),
        fog_bitchat::model::AdapterState::decl(),
        fog_bitchat::model::ChatCounters::decl(),
        fog_bitchat::model::BitchatStatus::decl(),
        fog_bitchat::model::ChatEvent::decl(),
        BitchatSend::decl(),
        BitchatMessagesQuery::decl(),
        BitchatPeerFlags::decl(),
        BitchatNickname::decl(),
        BitchatRead::decl(),
        fog_mixnet::model::TopologyView::decl(),
        fog_mixnet::model::MixnodeView::decl(),
        fog_mixnet::model::DropCount::decl(),
        fog_mixnet::model::HistogramBucket::decl(),
        fog_mixnet::model::MixnodeStats::decl(),
        fog_mixnet::model::ClientStats::decl(),
        fog_mixnet::model::BetanetStatus::decl(),
        fog_mixnet::model::MessageState::decl(),
        fog_mixnet::model::BetanetMessage::decl(),
        fog_mixnet::model::BetanetEvent::decl(),
        BetanetSend::decl(),
        BetanetInboxQuery::decl(),
        fog_idle::bench::Figure::decl(),
        BenchRequest::decl(),
        BenchResult::decl(),
    ];
    let mut out =
        String::from("// Generated from Rust by `UPDATE_BINDINGS=1 cargo test -p fog-node bindings` — do not edit.\n");
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bindings_are_fresh() {
        // Read at run time: a test binary reused from a clone at another path must still check this one.
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("run under cargo test");
        let path = std::path::Path::new(&manifest_dir).join("../..").join(super::BINDINGS_PATH);
        let generated = super::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale; run `UPDATE_BINDINGS=1 cargo test -p fog-node bindings` and commit it",
            path.display()
        );
    }
}
