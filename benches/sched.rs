//! Scheduler engine benchmarks: one NSGA-II run on ZDT1 at pymoo's reference setting (pop 100,
//! 250 generations), and the non-dominated sort of a merged population.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use fog_sched::model::{plan, JobSpec, NodeSpec, Tier};
use fog_sched::problems::Zdt;
use fog_sched::rng::Rng;
use fog_sched::sort::non_dominated_fronts;
use fog_sched::{nsga2, Individual, Nsga2Config, Problem};

fn engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("nsga2");
    group.sample_size(20);
    group.bench_function("zdt1_pop100_gens250", |b| b.iter(|| nsga2(&Zdt::Zdt1, &Nsga2Config::default())));
    group.finish();

    let population: Vec<Individual> =
        nsga2(&Zdt::Zdt1, &Nsga2Config { pop_size: 200, generations: 3, ..Default::default() })
            .population
            .into_iter()
            .chain((0..200).map(|i| {
                let mut x = vec![0.5; Zdt::Zdt1.n_var()];
                x[0] = i as f64 / 200.0;
                Individual::evaluate(&Zdt::Zdt1, x)
            }))
            .collect();
    c.bench_function("sort/fronts_of_400", |b| b.iter(|| non_dominated_fronts(black_box(&population))));
}

/// Jobs of 1–21·10⁹ instructions in all tiers on nodes of mixed speed, price and energy.
fn instance(n_jobs: usize, n_nodes: usize) -> (Vec<JobSpec>, Vec<NodeSpec>) {
    let mut rng = Rng::new(11);
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

fn placement(c: &mut Criterion) {
    let mut group = c.benchmark_group("placement");
    group.sample_size(10);
    for (n_jobs, n_nodes) in [(100, 10), (500, 20)] {
        let (jobs, nodes) = instance(n_jobs, n_nodes);
        // Evaluating on more threads pays once an evaluation outweighs spawning them (measured:
        // slower at 100 jobs, faster at 500 on two cores).
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let threads = if n_jobs >= 250 { cores } else { 1 };
        let config = Nsga2Config { generations: 200, threads, ..Nsga2Config::default() };
        group.bench_function(format!("{n_jobs}_jobs_{n_nodes}_nodes_pop100_gens200"), |b| {
            b.iter(|| plan(&jobs, &nodes, &config))
        });
    }
    group.finish();
}

criterion_group!(benches, engine, placement);
criterion_main!(benches);
