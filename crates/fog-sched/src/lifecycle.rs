//! A scheduled job's lifecycle as a pure state machine, and the SLA figures of finished jobs.
//!
//! queued → placed (offered to a node, which accepted) → running → done | failed. A job whose
//! node refuses it, disappears or overruns goes to retrying and back to the queue, until it has
//! used its attempts; then it fails with the last reason. A job can be cancelled until it ends.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::model::Tier;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Phase {
    Queued,
    /// Accepted by `node`, not started there yet.
    Placed {
        node: String,
    },
    Running {
        node: String,
    },
    Done,
    Failed {
        reason: String,
    },
    /// Waiting to be placed again after `reason`.
    Retrying {
        reason: String,
    },
    Cancelled,
}

impl Phase {
    pub fn is_final(&self) -> bool {
        matches!(self, Phase::Done | Phase::Failed { .. } | Phase::Cancelled)
    }

    /// Whether the placer should consider the job.
    pub fn wants_placement(&self) -> bool {
        matches!(self, Phase::Queued | Phase::Retrying { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Placed { .. } => "placed",
            Phase::Running { .. } => "running",
            Phase::Done => "done",
            Phase::Failed { .. } => "failed",
            Phase::Retrying { .. } => "retrying",
            Phase::Cancelled => "cancelled",
        }
    }

    /// The node that has the job, while one has it.
    pub fn node(&self) -> Option<&str> {
        match self {
            Phase::Placed { node } | Phase::Running { node } => Some(node),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `node` accepted the job.
    Accepted {
        node: String,
    },
    /// The node it was offered to refused it (its policy, its capacity).
    Refused {
        reason: String,
    },
    Started,
    Finished,
    /// The job itself failed (exit status, trap, a limit): placing it again would not help.
    JobFailed {
        reason: String,
    },
    /// The node went away or stopped answering while it had the job.
    NodeLost {
        reason: String,
    },
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {phase} job cannot take {event}")]
pub struct InvalidTransition {
    pub phase: String,
    pub event: String,
}

/// A job's phase and how many placements it has used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub phase: Phase,
    pub attempts: u32,
    pub max_attempts: u32,
}

impl Lifecycle {
    pub fn new(max_attempts: u32) -> Self {
        Lifecycle { phase: Phase::Queued, attempts: 0, max_attempts: max_attempts.max(1) }
    }

    /// Applies `event`, or says why it does not fit the current phase (nothing changes then).
    pub fn apply(&mut self, event: Event) -> Result<(), InvalidTransition> {
        let next = match (&self.phase, event) {
            (phase, Event::Cancel) if !phase.is_final() => Phase::Cancelled,
            (Phase::Queued | Phase::Retrying { .. }, Event::Accepted { node }) => {
                self.attempts += 1;
                Phase::Placed { node }
            }
            (Phase::Queued | Phase::Retrying { .. }, Event::Refused { reason }) => self.retry_or_fail(reason),
            (Phase::Placed { node }, Event::Started) => Phase::Running { node: node.clone() },
            (Phase::Placed { .. } | Phase::Running { .. }, Event::Finished) => Phase::Done,
            (Phase::Placed { .. } | Phase::Running { .. }, Event::JobFailed { reason }) => Phase::Failed { reason },
            (Phase::Placed { .. } | Phase::Running { .. }, Event::NodeLost { reason }) => self.retry_or_fail(reason),
            (phase, event) => {
                return Err(InvalidTransition { phase: format!("{phase:?}"), event: format!("{event:?}") });
            }
        };
        self.phase = next;
        Ok(())
    }

    fn retry_or_fail(&self, reason: String) -> Phase {
        if self.attempts >= self.max_attempts {
            Phase::Failed { reason: format!("{reason} (after {} attempts)", self.attempts) }
        } else {
            Phase::Retrying { reason }
        }
    }
}

/// A job that ended, as the SLA figures need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    pub tier: Tier,
    pub submitted_ms: i64,
    /// When it started running, if it did.
    pub started_ms: Option<i64>,
    pub finished_ms: i64,
    pub deadline_ms: i64,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct TierFigures {
    pub tier: Tier,
    pub jobs: u32,
    /// Done by the deadline, % of the tier's ended jobs; none when there are none.
    pub on_time_pct: Option<f64>,
    /// Queue wait (submitted → started), nearest-rank percentiles.
    #[ts(type = "number | null")]
    pub p50_wait_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub p95_wait_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct SlaFigures {
    pub tiers: Vec<TierFigures>,
    /// Jobs done per minute over the window.
    pub throughput_per_min: f64,
    #[ts(type = "number")]
    pub window_ms: i64,
}

/// SLA figures of the jobs that ended in the `window_ms` before `now_ms`.
pub fn sla_figures(ended: &[Ended], now_ms: i64, window_ms: i64) -> SlaFigures {
    let recent: Vec<&Ended> = ended.iter().filter(|e| now_ms - e.finished_ms <= window_ms).collect();
    let tiers = [Tier::Gold, Tier::Silver, Tier::Bronze]
        .into_iter()
        .map(|tier| {
            let jobs: Vec<&&Ended> = recent.iter().filter(|e| e.tier == tier).collect();
            let on_time = jobs.iter().filter(|e| e.done && e.finished_ms <= e.deadline_ms).count();
            let mut waits: Vec<i64> = jobs.iter().filter_map(|e| e.started_ms.map(|s| s - e.submitted_ms)).collect();
            waits.sort_unstable();
            TierFigures {
                tier,
                jobs: jobs.len() as u32,
                on_time_pct: (!jobs.is_empty()).then(|| on_time as f64 * 100.0 / jobs.len() as f64),
                p50_wait_ms: percentile(&waits, 50),
                p95_wait_ms: percentile(&waits, 95),
            }
        })
        .collect();
    let done = recent.iter().filter(|e| e.done).count();
    SlaFigures { tiers, throughput_per_min: done as f64 * 60_000.0 / window_ms.max(1) as f64, window_ms }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(node: &str) -> Event {
        Event::Accepted { node: node.into() }
    }

    #[test]
    fn a_job_runs_to_done() {
        let mut job = Lifecycle::new(3);
        job.apply(accepted("a")).unwrap();
        job.apply(Event::Started).unwrap();
        job.apply(Event::Finished).unwrap();
        assert_eq!((job.phase, job.attempts), (Phase::Done, 1));
    }

    #[test]
    fn refusals_and_lost_nodes_retry_until_the_attempts_are_used() {
        let mut job = Lifecycle::new(2);
        job.apply(Event::Refused { reason: "paused: on battery".into() }).unwrap();
        assert!(job.phase.wants_placement());
        job.apply(accepted("a")).unwrap();
        job.apply(Event::Started).unwrap();
        job.apply(Event::NodeLost { reason: "a stopped answering".into() }).unwrap();
        assert_eq!(job.phase, Phase::Retrying { reason: "a stopped answering".into() });
        job.apply(accepted("b")).unwrap();
        job.apply(Event::NodeLost { reason: "b went away".into() }).unwrap();
        assert_eq!(job.phase, Phase::Failed { reason: "b went away (after 2 attempts)".into() });
        assert!(job.apply(accepted("c")).is_err(), "a failed job stays failed");
    }

    #[test]
    fn a_job_failure_is_final_and_cancel_works_until_the_end() {
        let mut job = Lifecycle::new(5);
        job.apply(accepted("a")).unwrap();
        job.apply(Event::JobFailed { reason: "exit 2".into() }).unwrap();
        assert_eq!(job.phase, Phase::Failed { reason: "exit 2".into() });
        assert!(job.apply(Event::Cancel).is_err());
        let mut running = Lifecycle::new(5);
        running.apply(accepted("a")).unwrap();
        running.apply(Event::Started).unwrap();
        running.apply(Event::Cancel).unwrap();
        assert_eq!(running.phase, Phase::Cancelled);
    }

    #[test]
    fn out_of_order_events_change_nothing() {
        let mut job = Lifecycle::new(3);
        let before = job.clone();
        assert!(job.apply(Event::Started).is_err());
        assert!(job.apply(Event::Finished).is_err());
        assert_eq!(job, before);
    }

    fn ended(tier: Tier, wait: i64, late: bool, done: bool) -> Ended {
        Ended {
            tier,
            submitted_ms: 0,
            started_ms: Some(wait),
            finished_ms: 1000,
            deadline_ms: if late { 999 } else { 1000 },
            done,
        }
    }

    #[test]
    fn sla_figures_per_tier() {
        let jobs: Vec<Ended> = (1..=20)
            .map(|i| ended(Tier::Gold, i * 10, i == 20, true))
            .chain([ended(Tier::Bronze, 5, false, false)])
            .collect();
        let f = sla_figures(&jobs, 1000, 60_000);
        let gold = &f.tiers[0];
        assert_eq!((gold.jobs, gold.on_time_pct), (20, Some(95.0)));
        assert_eq!((gold.p50_wait_ms, gold.p95_wait_ms), (Some(100), Some(190)));
        assert_eq!(f.tiers[1].on_time_pct, None, "no silver jobs: no figure, not 0 %");
        assert_eq!(f.tiers[2].on_time_pct, Some(0.0), "a failed job is not on time");
        assert_eq!(f.throughput_per_min, 20.0);
        // Jobs outside the window are left out.
        assert_eq!(sla_figures(&jobs, 1000 + 60_001, 60_000).tiers[0].jobs, 0);
    }
}
