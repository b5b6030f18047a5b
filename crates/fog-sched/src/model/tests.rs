use super::*;

const GIB: u64 = 1 << 30;

fn node(speed: f64, cores: u32, price: f64, energy: f64) -> NodeSpec {
    NodeSpec {
        speed,
        cores,
        memory_bytes: 8 * GIB,
        price_per_gigafuel: price,
        energy_per_gigafuel: energy,
        reliability: 1.0,
        busy_s: 0.0,
    }
}

fn job(work: f64, deadline_s: f64, tier: Tier) -> JobSpec {
    JobSpec { work, cpu: 1, memory_bytes: GIB, deadline_s, tier }
}

#[test]
fn figures_by_hand() {
    let nodes = [node(1e9, 1, 2.0, 10.0), node(2e9, 2, 1.0, 5.0)];
    let jobs = [
        job(4e9, 3.0, Tier::Bronze), // node 0: 4 s, 1 s late
        job(2e9, 10.0, Tier::Gold),  // node 0, runs first (gold): 2 s, then the bronze job ends at 6 s
        job(4e9, 1.0, Tier::Silver), // node 1: 2 s, 1 s late
    ];
    let placement = Placement::new(&jobs, &nodes);
    let f = placement.figures(&[0, 0, 1]);
    assert_eq!(f.finish_s, vec![6.0, 2.0, 2.0]);
    assert_eq!(f.makespan_s, 6.0);
    assert_eq!(f.cost, 4.0 * 2.0 + 2.0 * 2.0 + 4.0 * 1.0);
    assert_eq!(f.energy_j, 40.0 + 20.0 + 20.0);
    assert_eq!(f.sla_risk, 3.0 * 1.0 + 3.0 * 1.0);
    assert_eq!((f.late_gold, f.late_jobs, f.violation), (0, 2, 0.0));
    // Two cores run two jobs side by side (gold, then silver beside it, then bronze on the
    // core that frees first), and a node that succeeds half the time takes twice as long.
    let mut unreliable = nodes.clone();
    unreliable[1].reliability = 0.5;
    let f = Placement::new(&jobs, &unreliable).figures(&[1, 1, 1]);
    assert_eq!(f.finish_s, vec![6.0, 2.0, 4.0]);
}

#[test]
fn a_job_that_does_not_fit_is_a_violation() {
    let nodes = [node(1e9, 2, 1.0, 1.0)];
    let jobs = [JobSpec { work: 1e9, cpu: 4, memory_bytes: 10 * GIB, deadline_s: 60.0, tier: Tier::Gold }];
    let f = Placement::new(&jobs, &nodes).figures(&[0]);
    assert!((f.violation - (2.0 + 2.0 * GIB as f64 / GIGA)).abs() < 1e-9, "{}", f.violation);
}

/// A seeded instance: fast-but-dear and slow-but-cheap nodes, tight deadlines for the lower
/// tiers, and gold deadlines every gold job can meet on the fastest node (gold runs first there).
fn instance(seed: u64, n_jobs: usize, n_nodes: usize) -> (Vec<JobSpec>, Vec<NodeSpec>) {
    let mut rng = Rng::new(seed);
    let nodes: Vec<NodeSpec> = (0..n_nodes)
        .map(|i| {
            let speed = 1e9 * (0.5 + 2.0 * rng.next_f64());
            NodeSpec {
                speed,
                cores: 1 + rng.below(4) as u32,
                memory_bytes: (2 + rng.below(14) as u64) * GIB,
                price_per_gigafuel: speed / 1e9 * (0.5 + rng.next_f64()),
                energy_per_gigafuel: 20.0 + 80.0 * rng.next_f64(),
                reliability: 0.9 + 0.1 * rng.next_f64(),
                busy_s: if i == 0 { 0.0 } else { 5.0 * rng.next_f64() },
            }
        })
        .collect();
    let fastest = nodes.iter().map(|n| n.speed).fold(0.0, f64::max);
    let mut jobs: Vec<JobSpec> = (0..n_jobs)
        .map(|_| {
            let tier = match rng.below(10) {
                0 | 1 => Tier::Gold,
                2..=4 => Tier::Silver,
                _ => Tier::Bronze,
            };
            JobSpec { work: 1e9 * (1.0 + 20.0 * rng.next_f64()), cpu: 1, memory_bytes: GIB, deadline_s: 0.0, tier }
        })
        .collect();
    let gold_work: f64 = jobs.iter().filter(|j| j.tier == Tier::Gold).map(|j| j.work).sum();
    let min_reliability = nodes.iter().map(|n| n.reliability).fold(1.0, f64::min);
    for j in &mut jobs {
        j.deadline_s = match j.tier {
            Tier::Gold => gold_work / fastest / min_reliability + 1.0,
            _ => 2.0 + 10.0 * rng.next_f64(),
        };
    }
    (jobs, nodes)
}

#[test]
fn no_gold_job_is_late_when_a_plan_allows_it() {
    for seed in 1..=5 {
        let (jobs, nodes) = instance(seed, 40, 6);
        let config = Nsga2Config { pop_size: 60, generations: 80, seed, ..Nsga2Config::default() };
        let plan = plan(&jobs, &nodes, &config).unwrap();
        assert_eq!(plan.figures.late_gold, 0, "seed {seed}: {:?}", plan.figures);
        assert_eq!(plan.figures.violation, 0.0);
        assert!(plan.chosen < plan.front.len());
    }
}

#[test]
fn the_chosen_plan_matches_or_beats_fifo_first_fit_on_makespan_and_sla_risk() {
    for seed in 1..=5 {
        let (jobs, nodes) = instance(100 + seed, 60, 8);
        let config = Nsga2Config { pop_size: 60, generations: 80, seed, ..Nsga2Config::default() };
        let plan = plan(&jobs, &nodes, &config).unwrap();
        let fifo = &plan.fifo_first_fit;
        assert!(
            plan.figures.makespan_s <= fifo.makespan_s,
            "seed {seed}: {} > {}",
            plan.figures.makespan_s,
            fifo.makespan_s
        );
        assert!(plan.figures.sla_risk <= fifo.sla_risk, "seed {seed}");
        // And it is usually far better: FIFO piles everything on the first node.
        assert!(plan.figures.makespan_s < fifo.makespan_s, "seed {seed}");
    }
}

#[test]
fn baselines_place_every_job_where_it_fits() {
    let (jobs, mut nodes) = instance(7, 30, 5);
    nodes[0].memory_bytes = GIB / 2; // nothing fits the first node
    let placement = Placement::new(&jobs, &nodes);
    for assignment in [placement.fifo_first_fit(), placement.min_min(), placement.random(3)] {
        assert_eq!(assignment.len(), jobs.len());
        assert_eq!(placement.figures(&assignment).violation, 0.0);
        assert!(assignment.iter().all(|&n| n != 0));
    }
    let fifo = placement.figures(&placement.fifo_first_fit());
    let min_min = placement.figures(&placement.min_min());
    assert!(min_min.makespan_s < fifo.makespan_s);
}

#[test]
fn knee_prefers_the_balanced_point() {
    let points = [[0.0, 10.0, 10.0, 10.0], [5.0, 5.0, 5.0, 5.0], [10.0, 0.0, 10.0, 0.0]];
    assert_eq!(knee(&points), Some(1));
    assert_eq!(knee(&[]), None);
    // Three times the makespan for 10 % less cost is not a balance.
    let points = [[30.0, 110.0, 0.0, 5.0], [100.0, 100.0, 0.0, 5.0]];
    assert_eq!(knee(&points), Some(0));
}

#[test]
fn plans_are_reproducible() {
    let (jobs, nodes) = instance(9, 20, 4);
    let config = Nsga2Config { pop_size: 40, generations: 30, seed: 5, ..Nsga2Config::default() };
    let a = plan(&jobs, &nodes, &config).unwrap();
    let b = plan(&jobs, &nodes, &Nsga2Config { threads: 2, ..config }).unwrap();
    assert_eq!(a.assignment, b.assignment);
    assert_eq!(a.front, b.front);
}

/// Min-min as defined: each round, every placeable job against every node it fits.
fn min_min_by_definition(jobs: &[JobSpec], nodes: &[NodeSpec]) -> Vec<usize> {
    let fits = |j: &JobSpec, n: &NodeSpec| j.cpu <= n.cores && j.memory_bytes <= n.memory_bytes;
    let mut lanes: Vec<Vec<f64>> = nodes.iter().map(|n| vec![n.busy_s; n.cores.max(1) as usize]).collect();
    let mut assignment = vec![0; jobs.len()];
    let mut left: Vec<usize> = (0..jobs.len()).collect();
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for (pos, &j) in left.iter().enumerate() {
            for (n, node) in nodes.iter().enumerate().filter(|(_, node)| fits(&jobs[j], node)) {
                let k = (jobs[j].cpu.max(1) as usize).min(lanes[n].len());
                let end = lanes[n][k - 1] + jobs[j].work / (node.speed * k as f64);
                if best.is_none_or(|(b, _, _)| end < b) {
                    best = Some((end, pos, n));
                }
            }
        }
        let Some((end, pos, n)) = best else { return assignment };
        let j = left.remove(pos);
        assignment[j] = n;
        let k = (jobs[j].cpu.max(1) as usize).min(lanes[n].len());
        lanes[n][..k].iter_mut().for_each(|l| *l = end);
        lanes[n].sort_by(f64::total_cmp);
    }
}

#[test]
fn min_min_equals_its_definition() {
    for seed in 0..20 {
        let (mut jobs, nodes) = instance(seed, 40, 6);
        // Some jobs need several cores, and one fits nowhere.
        jobs[3].cpu = 2;
        jobs[7].cpu = 3;
        jobs[9].memory_bytes = 64 * GIB;
        let placement = Placement::new(&jobs, &nodes);
        assert_eq!(placement.min_min(), min_min_by_definition(&jobs, &nodes), "seed {seed}");
    }
}

#[test]
fn one_node_has_one_plan() {
    let (jobs, nodes) = instance(2, 10, 1);
    let planned = plan(&jobs, &nodes, &Nsga2Config::default()).unwrap();
    assert_eq!((planned.assignment, planned.front.len(), planned.chosen), (vec![0; 10], 1, 0));
}
