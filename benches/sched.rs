//! Scheduler engine benchmarks: one NSGA-II run on ZDT1 at pymoo's reference setting (pop 100,
//! 250 generations), the non-dominated sort of a merged population, and placement rounds.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use fog_sched::bench::placement_instance;
use fog_sched::model::{evaluation_threads, plan};
use fog_sched::problems::Zdt;
use fog_sched::sort::non_dominated_fronts;
use fog_sched::{nsga2, Individual, Nsga2Config, Problem};

fn engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("nsga2");
    group.sample_size(20);
    group.bench_function("zdt1_pop100_gens250", |b| b.iter(|| nsga2(&Zdt::Zdt1, &Nsga2Config::default())));
    let two = Nsga2Config { threads: 2, ..Nsga2Config::default() };
    group.bench_function("zdt1_pop100_gens250_2_threads", |b| b.iter(|| nsga2(&Zdt::Zdt1, &two)));
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

fn placement(c: &mut Criterion) {
    let mut group = c.benchmark_group("placement");
    group.sample_size(10);
    for (n_jobs, n_nodes) in [(100, 10), (500, 20)] {
        let (jobs, nodes) = placement_instance(n_jobs, n_nodes, 11);
        let config = Nsga2Config { generations: 200, threads: evaluation_threads(n_jobs), ..Nsga2Config::default() };
        group.bench_function(format!("{n_jobs}_jobs_{n_nodes}_nodes_pop100_gens200"), |b| {
            b.iter(|| plan(&jobs, &nodes, &config))
        });
    }
    group.finish();
}

criterion_group!(benches, engine, placement);
criterion_main!(benches);
