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
    /// Every job in the order nodes run them: tier, then deadline, then queue order.
    order: Vec<usize>,
    /// Where each node's cores start in a flat array of core free times.
    lane_start: Vec<usize>,
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
        let mut lane_start = Vec::with_capacity(nodes.len() + 1);
        let mut total = 0;
        for node in nodes {
            lane_start.push(total);
            total += node.cores.max(1) as usize;
        }
        lane_start.push(total);
        Placement { jobs, nodes, order, lane_start }
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

    /// Runs every node's jobs in priority order on its cores. `lanes` is scratch space.
    fn simulate(&self, assignment: &[usize], lanes: &mut Vec<f64>, mut finish: Option<&mut [f64]>) -> Totals {
        lanes.clear();
        for node in self.nodes {
            lanes.extend(std::iter::repeat_n(node.busy_s, node.cores.max(1) as usize));
        }
        let mut t =
            Totals { makespan: 0.0, cost: 0.0, energy: 0.0, risk: 0.0, late_gold: 0, late_jobs: 0, violation: 0.0 };
        for &j in &self.order {
            let (job, n) = (&self.jobs[j], assignment[j]);
            let node = &self.nodes[n];
            t.violation += f64::from(job.cpu.saturating_sub(node.cores));
            t.violation += job.memory_bytes.saturating_sub(node.memory_bytes) as f64 / GIGA;
            let cores = &mut lanes[self.lane_start[n]..self.lane_start[n + 1]];
            let k = (job.cpu.max(1) as usize).min(cores.len());
            let end = if k == 1 {
                // The core that frees first: no sorting for the common one-core job.
                let (first, free) =
                    cores.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map(|(i, v)| (i, *v)).expect("a core");
                let end = free + job.work / node.speed;
                cores[first] = end;
                end
            } else {
                cores.sort_by(f64::total_cmp);
                let end = cores[k - 1] + job.work / (node.speed * k as f64);
                cores[..k].iter_mut().for_each(|l| *l = end);
                end
            };
            let expected = end / node.reliability;
            if let Some(finish) = finish.as_deref_mut() {
                finish[j] = expected;
            }
            t.makespan = t.makespan.max(expected);
            let late = (expected - job.deadline_s).max(0.0);
            if late > 0.0 {
                t.late_jobs += 1;
                if job.tier == Tier::Gold {
                    t.late_gold += 1;
                }
            }
            t.risk += job.tier.weight() * late;
            t.cost += job.work / GIGA * node.price_per_gigafuel;
            t.energy += job.work / GIGA * node.energy_per_gigafuel;
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

    /// Baseline: min-min — repeatedly place the job whose best completion time is smallest.
    pub fn min_min(&self) -> Vec<usize> {
        let mut lanes: Vec<Vec<f64>> = self.nodes.iter().map(|n| vec![n.busy_s; n.cores.max(1) as usize]).collect();
        let mut assignment = vec![0usize; self.jobs.len()];
        let mut left: Vec<usize> = (0..self.jobs.len()).collect();
        while !left.is_empty() {
            let mut best: Option<(f64, usize, usize)> = None;
            for (pos, &j) in left.iter().enumerate() {
                let job = &self.jobs[j];
                for (n, node) in self.nodes.iter().enumerate() {
                    if !self.fits(job, node) {
                        continue;
                    }
                    let k = (job.cpu.max(1) as usize).min(lanes[n].len());
                    let mut free = lanes[n].clone();
                    free.sort_by(f64::total_cmp);
                    let end = free[k - 1] + job.work / (node.speed * k as f64);
                    if best.is_none_or(|(b, _, _)| end < b) {
                        best = Some((end, pos, n));
                    }
                }
            }
            let Some((end, pos, n)) = best else {
                // Nothing fits anywhere: the rest go to node 0 and count as violations.
                left.drain(..).for_each(|j| assignment[j] = 0);
                break;
            };
            let j = left.remove(pos);
            assignment[j] = n;
            let k = (self.jobs[j].cpu.max(1) as usize).min(lanes[n].len());
            lanes[n].sort_by(f64::total_cmp);
            lanes[n][..k].iter_mut().for_each(|l| *l = end);
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
/// 4. the knee: the plan nearest the ideal point once each objective is scaled to [0, 1] over
///    the plans left (ties: the first).
pub fn plan(jobs: &[JobSpec], nodes: &[NodeSpec], config: &Nsga2Config) -> Option<Plan> {
    if jobs.is_empty() || nodes.is_empty() {
        return None;
    }
    let placement = Placement::new(jobs, nodes);
    let fifo = placement.fifo_first_fit();
    let fifo_figures = placement.figures(&fifo);
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

/// The point nearest the ideal point after scaling each objective to [0, 1].
pub fn knee(points: &[[f64; 4]]) -> Option<usize> {
    let mut lo = [f64::INFINITY; 4];
    let mut hi = [f64::NEG_INFINITY; 4];
    for p in points {
        for m in 0..4 {
            lo[m] = lo[m].min(p[m]);
            hi[m] = hi[m].max(p[m]);
        }
    }
    let scaled = |p: &[f64; 4]| -> f64 {
        (0..4).map(|m| if hi[m] > lo[m] { ((p[m] - lo[m]) / (hi[m] - lo[m])).powi(2) } else { 0.0 }).sum()
    };
    (0..points.len()).min_by(|&a, &b| scaled(&points[a]).total_cmp(&scaled(&points[b])))
}

#[cfg(test)]
mod tests;
