//! `fog bench nsga`: one NSGA-II run on a reference problem, judged by hypervolume at the
//! standard reference point and IGD against the true front, with its wall time; and
//! `fog bench placement`: one placement round on a synthetic instance.

use std::time::Instant;

use serde::Serialize;

use crate::indicators::{hypervolume, igd};
use crate::model::{plan, JobSpec, NodeSpec, Placement, Tier};
use crate::nsga2::{run, Nsga2Config};
use crate::nsga3::Nsga3Config;
use crate::problem::Problem;
use crate::problems::{das_dennis, Dtlz, Zdt};
use crate::rng::Rng;

pub const PROBLEMS: [&str; 7] = ["zdt1", "zdt2", "zdt3", "zdt4", "zdt6", "dtlz1", "dtlz2"];

#[derive(Debug, Clone, Serialize)]
pub struct NsgaReport {
    pub problem: String,
    pub algorithm: String,
    pub pop: usize,
    pub gens: usize,
    pub seed: u64,
    pub threads: usize,
    pub evaluations: usize,
    pub front_size: usize,
    pub hypervolume: f64,
    pub reference_point: Vec<f64>,
    pub igd: f64,
    pub wall_ms: f64,
}

/// One run of `algorithm` ("nsga2", or "nsga3" with Das–Dennis directions: 99 partitions for
/// two objectives, 12 for three, so about `pop` is ignored for it) on `problem`.
pub fn nsga(
    problem: &str,
    algorithm: &str,
    pop: usize,
    gens: usize,
    seed: u64,
    threads: usize,
) -> Result<NsgaReport, String> {
    if !(4..=100_000).contains(&pop) {
        return Err(format!("the population must be 4 to 100000, got {pop}"));
    }
    if !(1..=256).contains(&threads) {
        return Err(format!("the threads must be 1 to 256, got {threads}"));
    }
    if gens > 1_000_000 {
        return Err(format!("the generations must be at most 1000000, got {gens}"));
    }
    let (instance, reference, true_front): (Box<dyn Problem>, Vec<f64>, Vec<Vec<f64>>) = match problem {
        "zdt1" | "zdt2" | "zdt3" | "zdt4" | "zdt6" => {
            let zdt = match problem {
                "zdt1" => Zdt::Zdt1,
                "zdt2" => Zdt::Zdt2,
                "zdt3" => Zdt::Zdt3,
                "zdt4" => Zdt::Zdt4,
                _ => Zdt::Zdt6,
            };
            (Box::new(zdt), zdt.reference_point().to_vec(), zdt.true_front(1000))
        }
        "dtlz1" | "dtlz2" => {
            let dtlz = if problem == "dtlz1" { Dtlz::Dtlz1 { n_obj: 3 } } else { Dtlz::Dtlz2 { n_obj: 3 } };
            (Box::new(dtlz), dtlz.reference_point(), dtlz.true_front(12))
        }
        other => return Err(format!("no problem {other:?}; there are {}", PROBLEMS.join(", "))),
    };
    let started = Instant::now();
    let (outcome, pop) = match algorithm {
        "nsga2" => {
            let config = Nsga2Config { pop_size: pop, generations: gens, seed, threads, ..Nsga2Config::default() };
            (run(instance.as_ref(), &config), pop)
        }
        "nsga3" => {
            let partitions = if instance.n_obj() == 2 { 99 } else { 12 };
            let config = Nsga3Config::new(das_dennis(instance.n_obj(), partitions), gens, seed);
            (crate::nsga3::run(instance.as_ref(), &config), config.pop_size())
        }
        other => return Err(format!("no algorithm {other:?}; there are nsga2 and nsga3")),
    };
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let front: Vec<Vec<f64>> = outcome.front().iter().map(|i| i.f.clone()).collect();
    Ok(NsgaReport {
        problem: problem.to_string(),
        algorithm: algorithm.to_string(),
        pop,
        gens,
        seed,
        threads,
        evaluations: outcome.evaluations,
        front_size: front.len(),
        hypervolume: hypervolume(&front, &reference),
        reference_point: reference,
        igd: igd(&front, &true_front),
        wall_ms,
    })
}

/// A synthetic placement instance for measuring: jobs of 1–21·10⁹ instructions in all tiers
/// with deadlines 5–65 s away, on nodes of 1–8 cores with mixed speed, price, energy,
/// reliability and queued work. Seeded, so every run measures the same instance.
pub fn placement_instance(n_jobs: usize, n_nodes: usize, seed: u64) -> (Vec<JobSpec>, Vec<NodeSpec>) {
    let mut rng = Rng::new(seed);
    let nodes = (0..n_nodes)
        .map(|_| NodeSpec {
            speed: 1e9 * (0.5 + 2.0 * rng.next_f64()),
            cores: 1 + rng.below(8) as u32,
            memory_bytes: 16 << 30,
            price_per_gigafuel: 0.5 + rng.next_f64(),
            energy_per_gigafuel: 20.0 + 80.0 * rng.next_f64(),
            reliability: 0.9 + 0.1 * rng.next_f64(),
            busy_s: 5.0 * rng.next_f64(),
        })
        .collect();
    let tiers = [Tier::Gold, Tier::Silver, Tier::Bronze];
    let jobs = (0..n_jobs)
        .map(|_| JobSpec {
            work: 1e9 * (1.0 + 20.0 * rng.next_f64()),
            cpu: 1,
            memory_bytes: 1 << 30,
            deadline_s: 5.0 + 60.0 * rng.next_f64(),
            tier: tiers[rng.below(3)],
        })
        .collect();
    (jobs, nodes)
}

#[derive(Debug, Clone, Serialize)]
pub struct PlacementReport {
    pub jobs: usize,
    pub nodes: usize,
    pub pop: usize,
    pub gens: usize,
    pub threads: usize,
    pub wall_ms: f64,
    pub front_size: usize,
    /// The chosen plan against FIFO first-fit.
    pub makespan_s: f64,
    pub fifo_makespan_s: f64,
    pub sla_risk: f64,
    pub fifo_sla_risk: f64,
    pub min_min_makespan_s: f64,
    pub min_min_sla_risk: f64,
    pub late_gold: u32,
}

/// One placement round (NSGA-II and the choice rule) on a synthetic instance.
pub fn placement(
    jobs: usize,
    nodes: usize,
    pop: usize,
    gens: usize,
    threads: usize,
) -> Result<PlacementReport, String> {
    if !(1..=100_000).contains(&jobs) || !(1..=10_000).contains(&nodes) {
        return Err(format!("1–100000 jobs on 1–10000 nodes, not {jobs} on {nodes}"));
    }
    if !(4..=10_000).contains(&pop) || gens > 100_000 || !(1..=256).contains(&threads) {
        return Err(format!(
            "population 4–10000, at most 100000 generations, 1–256 threads; not {pop}, {gens}, {threads}"
        ));
    }
    let (job_specs, node_specs) = placement_instance(jobs, nodes, 11);
    let config = Nsga2Config { pop_size: pop, generations: gens, threads, ..Nsga2Config::default() };
    let started = Instant::now();
    let planned = plan(&job_specs, &node_specs, &config).ok_or("nothing to place")?;
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let placement = Placement::new(&job_specs, &node_specs);
    let min_min = placement.figures(&placement.min_min());
    Ok(PlacementReport {
        jobs,
        nodes,
        pop,
        gens,
        threads,
        wall_ms,
        front_size: planned.front.len(),
        makespan_s: planned.figures.makespan_s,
        fifo_makespan_s: planned.fifo_first_fit.makespan_s,
        sla_risk: planned.figures.sla_risk,
        fifo_sla_risk: planned.fifo_first_fit.sla_risk,
        min_min_makespan_s: min_min.makespan_s,
        min_min_sla_risk: min_min.sla_risk,
        late_gold: planned.figures.late_gold,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_and_refuses() {
        let report = super::nsga("zdt1", "nsga2", 20, 60, 1, 1).unwrap();
        assert_eq!((report.evaluations, report.reference_point.clone()), (1220, vec![1.1, 1.1]));
        assert!(report.hypervolume > 0.0 && report.igd.is_finite());
        assert!(super::nsga("zdt9", "nsga2", 20, 5, 1, 1).unwrap_err().contains("zdt1"));
        assert!(super::nsga("zdt1", "nsga2", 2, 5, 1, 1).is_err());
        assert!(super::nsga("zdt1", "nsga4", 20, 5, 1, 1).is_err());
        // Threads change the wall time, not the result.
        let two = super::nsga("zdt1", "nsga2", 20, 60, 1, 2).unwrap();
        assert_eq!((two.hypervolume, two.evaluations), (report.hypervolume, report.evaluations));
        let three = super::nsga("dtlz2", "nsga3", 20, 3, 1, 1).unwrap();
        assert_eq!((three.reference_point.len(), three.pop), (3, 92));
        let placed = super::placement(40, 5, 20, 10, 1).unwrap();
        assert!(placed.makespan_s <= placed.fifo_makespan_s && placed.front_size >= 1);
        assert!(super::placement(0, 5, 20, 10, 1).is_err());
    }
}
