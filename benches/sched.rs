//! Scheduler engine benchmarks: one NSGA-II run on ZDT1 at pymoo's reference setting (pop 100,
//! 250 generations), and the non-dominated sort of a merged population.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use fog_sched::problems::Zdt;
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

criterion_group!(benches, engine);
criterion_main!(benches);
