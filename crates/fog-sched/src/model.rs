//! The placement problem: which node runs each queued job. A plan is one node index per job
//! (an integer gene). Each node runs its jobs gold first, then silver, then bronze, earliest
//! deadline first within a tier, on as many of its free cores as a job asks for (list
//! scheduling after the work it already has queued). Four objectives, all minimised:
//!
//! * **makespan**: when the last job finishes;
//! * **cost**: Σ work × the node's price;
//! * **energy**: Σ work × the node's energy per unit of work;
//! * **SLA risk**: Σ tier weight × lateness, where a job's finish time is divided by the
//!   node's reliability (its expected time once failed attempts are rerun).
//!
//! A job must fit its node (cores and memory): the overflow is the constraint violation.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::nsga2::{run, Nsga2Config};
use crate::problem::{Gene, Individual, Problem};
use crate::rng::Rng;

pub const GIGA: f64 = 1e9;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Gold,
    Silver,
    Bronze,
}

impl Tier {
    /// Weight of a second of lateness.
    pub fn weight(self) -> f64 {
        match self {
            Tier::Gold => 10.0,
            Tier::Silver => 3.0,
            Tier::Bronze => 1.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Gold => "gold",
            Tier::Silver => "silver",
            Tier::Bronze => "bronze",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        [Tier::Gold, Tier::Silver, Tier::Bronze].into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Estimated instructions (fuel).
    pub work: f64,
    pub cpu: u32,
    pub memory_bytes: u64,
    /// Seconds from now.
    pub deadline_s: f64,
    pub tier: Tier,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Instructions per second on one core.
    pub speed: f64,
    /// Cores it offers now.
    pub cores: u32,
    pub memory_bytes: u64,
    pub price_per_gigafuel: f64,
    /// Joules per 10⁹ instructions.
    pub energy_per_gigafuel: f64,
    /// Share of attempts that succeed, (0, 1].
    pub reliability: f64,
    /// Seconds of work already queued on it.
    pub busy_s: f64,
}

/// What a plan achieves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFigures {
    pub makespan_s: f64,
    pub cost: f64,
    pub energy_j: f64,
    pub sla_risk: f64,
    /// Gold jobs expected to finish after their deadline.
    pub late_gold: u32,
    pub late_jobs: u32,
    /// Capacity overflow; 0 when every job fits its node.
    pub violation: f64,
    /// Expected finish of each job, seconds from now.
    pub finish_s: Vec<f64>,
}

impl PlanFigures {
    pub fn objectives(&self) -> [f64; 4] {
        [self.makespan_s, self.cost, self.energy_j, self.sla_risk]
    }
}

/// The placement of `jobs` on `nodes`.
pub struct Placement<'a> {
    jobs: &'a [JobSpec],
    nodes: &'a [NodeSpec],
    /// Every job in the order nodes run them (tier, then deadline, then queue order), with what
    /// the simulation needs of it laid out in that order.
    steps: Vec<Step>,
    /// Per node, what the simulation needs, reciprocals taken once.
    lanes: Vec<Lane>,
    /// Where each node's cores start in a flat array of core free times.
    lane_start: Vec<usize>,
}

/// A job as the simulation reads it.
struct Step {
    job: usize,
    work: f64,
    /// 10⁹ instructions, for cost and energy.
    gigawork: f64,
    cpu: u32,
    /// Memory overflow is counted in GB.
    memory_gb: f64,
    memory_bytes: u64,
    deadline_s: f64,
    weight: f64,
    gold: bool,
}

/// A node as the simulation reads it.
struct Lane {
    seconds_per_instruction: f64,
    cores: u32,
    memory_bytes: u64,
    price: f64,
    energy: f64,
    /// Expected time per attempt-time: 1 / reliability.
    retry_factor: f64,
    busy_s: f64,
}

/// What one simulation gives besides the finish times.
struct Totals {
    makespan: f64,
    cost: f64,
    energy: f64,
    risk: f64,
    late_gold: u32,
    late_jobs: u32,
    violation: f64,
}

impl<'a> Placement<'a> {
    pub fn new(jobs: &'a [JobSpec], nodes: &'a [NodeSpec]) -> Self {
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| {
            let (ja, jb) = (&jobs[a], &jobs[b]);
            ja.tier.cmp(&jb.tier).then(ja.deadline_s.total_cmp(&jb.deadline_s)).then(a.cmp(&b))
        });
        let steps = order
            .into_iter()
            .map(|j| {
                let job = &jobs[j];
                Step {
                    job: j,
                    work: job.work,
                    gigawork: job.work / GIGA,
                    cpu: job.cpu,
                    memory_gb: job.memory_bytes as f64 / GIGA,
                    memory_bytes: job.memory_bytes,
                    deadline_s: job.deadline_s,
                    weight: job.tier.weight(),
                    gold: job.tier == Tier::Gold,
                }
            })
            .collect();
        let lanes = nodes
            .iter()
            .map(|n| Lane {
                seconds_per_instruction: 1.0 / n.speed,
                cores: n.cores,
                memory_bytes: n.memory_bytes,
                price: n.price_per_gigafuel,
                energy: n.energy_per_gigafuel,
                retry_factor: 1.0 / n.reliability,
                busy_s: n.busy_s,
            })
            .collect();
        let mut lane_start = Vec::with_capacity(nodes.len() + 1);
        let mut total = 0;
        for node in nodes {
            lane_start.push(total);
            total += node.cores.max(1) as usize;
        }
        lane_start.push(total);
        Placement { jobs, nodes, steps, lanes, lane_start }
    }

    /// Simulates a plan (`assignment[j]` = node of job j).
    pub fn figures(&self, assignment: &[usize]) -> PlanFigures {
        let mut finish = vec![0.0; self.jobs.len()];
        let t = self.simulate(assignment, &mut Vec::new(), Some(&mut finish));
        PlanFigures {
            makespan_s: t.makespan,
            cost: t.cost,
            energy_j: t.energy,
            sla_risk: t.risk,
            late_gold: t.late_gold,
            late_jobs: t.late_jobs,
            violation: t.violation,
            finish_s: finish,
        }
    }

    /// Runs every node's jobs in priority order on its cores. `cores` is scratch space.
    fn simulate(&self, assignment: &[usize], cores: &mut Vec<f64>, mut finish: Option<&mut [f64]>) -> Totals {
        cores.clear();
        for lane in &self.lanes {
            cores.extend(std::iter::repeat_n(lane.busy_s, lane.cores.max(1) as usize));
        }
        let mut t =
            Totals { makespan: 0.0, cost: 0.0, energy: 0.0, risk: 0.0, late_gold: 0, late_jobs: 0, violation: 0.0 };
        for step in &self.steps {
            let n = assignment[step.job];
            let lane = &self.lanes[n];
            if step.cpu > lane.cores || step.memory_bytes > lane.memory_bytes {
                t.violation += f64::from(step.cpu.saturating_sub(lane.cores));
                t.violation += step.memory_gb - (lane.memory_bytes as f64 / GIGA).min(step.memory_gb);
            }
            let cores = &mut cores[self.lane_start[n]..self.lane_start[n + 1]];
            let k = (step.cpu.max(1) as usize).min(cores.len());
            let run = step.work * lane.seconds_per_instruction;
            let end = if k == 1 {
                // The core that frees first: no sorting for the common one-core job, and no
                // branch to mispredict on which core that is.
                let (mut first, mut free) = (0, cores[0]);
                for (c, &at) in cores.iter().enumerate().skip(1) {
                    let earlier = at < free;
                    first = if earlier { c } else { first };
                    free = if earlier { at } else { free };
                }
                let end = free + run;
                cores[first] = end;
                end
            } else {
                cores.sort_by(f64::total_cmp);
                let end = cores[k - 1] + run / k as f64;
                cores[..k].iter_mut().for_each(|l| *l = end);
                end
            };
            let expected = end * lane.retry_factor;
            if let Some(finish) = finish.as_deref_mut() {
                finish[step.job] = expected;
            }
            t.makespan = t.makespan.max(expected);
            // Branch-free: whether a job is late is as hard to predict as which core it takes.
            let late = (expected - step.deadline_s).max(0.0);
            let is_late = u32::from(late > 0.0);
            t.late_jobs += is_late;
            t.late_gold += is_late & u32::from(step.gold);
            t.risk += step.weight * late;
            t.cost += step.gigawork * lane.price;
            t.energy += step.gigawork * lane.energy;
        }
        t
    }

    fn fits(&self, job: &JobSpec, node: &NodeSpec) -> bool {
        job.cpu <= node.cores && job.memory_bytes <= node.memory_bytes
    }

    /// Baseline: each job, in queue order, on the first node it fits (node 0 if none).
    pub fn fifo_first_fit(&self) -> Vec<usize> {
        self.jobs.iter().map(|job| self.nodes.iter().position(|n| self.fits(job, n)).unwrap_or(0)).collect()
    }

    /// Baseline: min-min — repeatedly place the job whose best completion time is smallest
    /// (ties: the first job, then the first node). Nodes only get busier, so a job's cached best
    /// is a lower bound: it is recomputed only when it comes up and its node has changed since.
    pub fn min_min(&self) -> Vec<usize> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        // Each node's core free times, ascending, and how often they have changed.
        let mut lanes: Vec<Vec<f64>> = self.nodes.iter().map(|n| vec![n.busy_s; n.cores.max(1) as usize]).collect();
        let mut version = vec![0u64; self.nodes.len()];
        let completion = |lanes: &[Vec<f64>], j: usize, n: usize| {
            let (job, node) = (&self.jobs[j], &self.nodes[n]);
            let k = (job.cpu.max(1) as usize).min(lanes[n].len());
            lanes[n][k - 1] + job.work / (node.speed * k as f64)
        };
        let best = |lanes: &[Vec<f64>], j: usize| {
            let mut best: Option<(f64, usize)> = None;
            for n in (0..self.nodes.len()).filter(|&n| self.fits(&self.jobs[j], &self.nodes[n])) {
                let end = completion(lanes, j, n);
                if best.is_none_or(|(b, _)| end < b) {
                    best = Some((end, n));
                }
            }
            best
        };
        // Completion times are never negative, so their bits order as the numbers do.
        let mut heap = BinaryHeap::new();
        let mut assignment = vec![0usize; self.jobs.len()];
        for j in 0..self.jobs.len() {
            // A job that fits nowhere stays on node 0 and counts as a violation.
            if let Some((end, n)) = best(&lanes, j) {
                heap.push(Reverse((end.max(0.0).to_bits(), j, n, version[n])));
            }
        }
        while let Some(Reverse((_, j, n, seen))) = heap.pop() {
            if seen != version[n] {
                let (end, n) = best(&lanes, j).expect("it fitted before");
                heap.push(Reverse((end.max(0.0).to_bits(), j, n, version[n])));
                continue;
            }
            let end = completion(&lanes, j, n);
            assignment[j] = n;
            let k = (self.jobs[j].cpu.max(1) as usize).min(lanes[n].len());
            lanes[n][..k].iter_mut().for_each(|l| *l = end);
            lanes[n].sort_by(f64::total_cmp);
            version[n] += 1;
        }
        assignment
    }

    /// Baseline: a random node each job fits.
    pub fn random(&self, seed: u64) -> Vec<usize> {
        let mut rng = Rng::new(seed);
        self.jobs
            .iter()
            .map(|job| {
                let fitting: Vec<usize> = (0..self.nodes.len()).filter(|&n| self.fits(job, &self.nodes[n])).collect();
                if fitting.is_empty() {
                    0
                } else {
                    fitting[rng.below(fitting.len())]
                }
            })
            .collect()
    }
}

impl Problem for Placement<'_> {
    fn n_var(&self) -> usize {
        self.jobs.len()
    }
    fn n_obj(&self) -> usize {
        4
    }
    fn n_constr(&self) -> usize {
        1
    }
    fn bounds(&self, _i: usize) -> (f64, f64) {
        (0.0, (self.nodes.len() - 1) as f64)
    }
    fn gene(&self, _i: usize) -> Gene {
        Gene::Integer
    }
    fn evaluate(&self, x: &[f64], f: &mut [f64], g: &mut [f64]) {
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Vec<usize>, Vec<f64>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        SCRATCH.with_borrow_mut(|(assignment, lanes)| {
            assignment.clear();
            assignment.extend(x.iter().map(|v| *v as usize));
            let t = self.simulate(assignment, lanes, None);
            f.copy_from_slice(&[t.makespan, t.cost, t.energy, t.risk]);
            g[0] = t.violation;
        });
    }
}

/// Threads worth using for a round of `n_jobs`: more than one pays once varying and
/// evaluating a child outweighs handing it to a thread (measured on two cores: 48 ms instead
/// of 64 at 100 jobs on 10 nodes).
pub fn evaluation_threads(n_jobs: usize) -> usize {
    if n_jobs >= 100 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        1
    }
}

/// A placement round's result: the plan chosen from the Pareto front, and the front.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub assignment: Vec<usize>,
    pub figures: PlanFigures,
    /// Objectives (makespan, cost, energy, SLA risk) of every feasible non-dominated plan found.
    pub front: Vec<[f64; 4]>,
    /// Index of the chosen plan in `front`.
    pub chosen: usize,
    pub fifo_first_fit: PlanFigures,
}

/// Finds the Pareto front of plans with NSGA-II (started from the FIFO first-fit and min-min
/// plans) and picks one by this rule:
///
/// 1. only feasible plans;
/// 2. if some plan has no gold job late, only those;
/// 3. if some plan is no worse than FIFO first-fit in both makespan and SLA risk, only those;
/// 4. the knee ([`knee`]): the plan least worse, in total, than the best each objective
///    reaches among the plans left (ties: the first).
pub fn plan(jobs: &[JobSpec], nodes: &[NodeSpec], config: &Nsga2Config) -> Option<Plan> {
    if jobs.is_empty() || nodes.is_empty() {
        return None;
    }
    let placement = Placement::new(jobs, nodes);
    let fifo = placement.fifo_first_fit();
    let fifo_figures = placement.figures(&fifo);
    if nodes.len() == 1 {
        // One node: there is one plan, nothing to search.
        return Some(Plan {
            front: vec![fifo_figures.objectives()],
            figures: fifo_figures.clone(),
            assignment: fifo,
            chosen: 0,
            fifo_first_fit: fifo_figures,
        });
    }
    let as_genes = |a: &[usize]| a.iter().map(|&n| n as f64).collect::<Vec<f64>>();
    let mut config = config.clone();
    config.initial = vec![as_genes(&fifo), as_genes(&placement.min_min())];
    let outcome = run(&placement, &config);
    // Plans with the same objectives are one point of the front.
    let mut front: Vec<&Individual> = Vec::new();
    for candidate in outcome.front() {
        if !front.iter().any(|kept| kept.f == candidate.f) {
            front.push(candidate);
        }
    }
    if front.is_empty() {
        return None;
    }
    let figures: Vec<PlanFigures> =
        front.iter().map(|i| placement.figures(&i.x.iter().map(|v| *v as usize).collect::<Vec<_>>())).collect();
    let mut candidates: Vec<usize> = (0..front.len()).collect();
    let narrow = |candidates: &mut Vec<usize>, keep: &dyn Fn(usize) -> bool| {
        let kept: Vec<usize> = candidates.iter().copied().filter(|&c| keep(c)).collect();
        if !kept.is_empty() {
            *candidates = kept;
        }
    };
    narrow(&mut candidates, &|c| figures[c].late_gold == 0);
    narrow(&mut candidates, &|c| {
        figures[c].makespan_s <= fifo_figures.makespan_s && figures[c].sla_risk <= fifo_figures.sla_risk
    });
    let chosen = knee(&candidates.iter().map(|&c| figures[c].objectives()).collect::<Vec<_>>())
        .map(|k| candidates[k])
        .unwrap_or(candidates[0]);
    Some(Plan {
        assignment: front[chosen].x.iter().map(|v| *v as usize).collect(),
        figures: figures[chosen].clone(),
        front: figures.iter().map(PlanFigures::objectives).collect(),
        chosen,
        fifo_first_fit: fifo_figures,
    })
}

/// The balanced point: the one whose objectives are, in total (Euclidean), the least worse
/// than the best each reaches. "Worse" is relative to that best (20 % more cost counts 0.2),
/// so a small spread in one objective cannot outweigh a large one in another; an objective
/// whose best is 0 is scaled by its spread instead (0 when every point has it at 0).
pub fn knee(points: &[[f64; 4]]) -> Option<usize> {
    let mut lo = [f64::INFINITY; 4];
    let mut hi = [f64::NEG_INFINITY; 4];
    for p in points {
        for m in 0..4 {
            lo[m] = lo[m].min(p[m]);
            hi[m] = hi[m].max(p[m]);
        }
    }
    let scale: Vec<f64> = (0..4).map(|m| if lo[m] > 0.0 { lo[m] } else { hi[m] - lo[m] }).collect();
    let worse = |p: &[f64; 4]| -> f64 {
        (0..4).map(|m| if scale[m] > 0.0 { ((p[m] - lo[m]) / scale[m]).powi(2) } else { 0.0 }).sum()
    };
    (0..points.len()).min_by(|&a, &b| worse(&points[a]).total_cmp(&worse(&points[b])))
}

#[cfg(test)]
mod tests;
