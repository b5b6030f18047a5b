//! NSGA-II (Deb, Pratap, Agarwal, Meyarivan 2002) as pymoo 0.6 runs it: random initial
//! population, binary tournaments by constraint-domination then crowding, SBX and polynomial
//! mutation, duplicate children dropped, and rank-and-crowding survival of parents and
//! children together. Seeded and bit-reproducible.

use std::collections::HashSet;

use crate::operators::{PolynomialMutation, Sbx};
use crate::pool::Pool;
use crate::problem::{Individual, Problem, Space};
use crate::rng::Rng;
use crate::sort::{crowding_distance, dominates, non_dominated_fronts};

#[derive(Debug, Clone, PartialEq)]
pub struct Nsga2Config {
    pub pop_size: usize,
    pub generations: usize,
    pub seed: u64,
    pub crossover: Sbx,
    pub mutation: PolynomialMutation,
    /// Threads that vary and evaluate children (they live as long as the run); 1 does all on
    /// the calling thread. Results do not depend on it: each mating has its own random stream.
    pub threads: usize,
    /// Solutions to start from (e.g. the plans of simple heuristics); the rest of the initial
    /// population is random.
    pub initial: Vec<Vec<f64>>,
}

impl Default for Nsga2Config {
    fn default() -> Self {
        Nsga2Config {
            pop_size: 100,
            generations: 250,
            seed: 1,
            crossover: Sbx::default(),
            mutation: PolynomialMutation::default(),
            threads: 1,
            initial: Vec::new(),
        }
    }
}

/// The final population, with each member's rank (0 = non-dominated) and crowding distance.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub population: Vec<Individual>,
    pub rank: Vec<usize>,
    pub crowding: Vec<f64>,
    pub evaluations: usize,
}

impl Outcome {
    /// The first front: feasible, non-dominated members.
    pub fn front(&self) -> Vec<&Individual> {
        self.population.iter().zip(&self.rank).filter(|(i, r)| **r == 0 && i.feasible()).map(|(i, _)| i).collect()
    }
}

struct Ranked {
    population: Vec<Individual>,
    rank: Vec<usize>,
    crowding: Vec<f64>,
}

/// What the pool's threads do: evaluate a solution, or cross two parents' genes into two
/// children, mutate and repair them with the mating's own random stream, and evaluate both.
enum Work {
    Evaluate(Vec<f64>),
    /// Two individuals whose genes are the parents' (in reused buffers), and a seed.
    Mate(Individual, Individual, u64),
}

pub fn run(problem: &dyn Problem, config: &Nsga2Config) -> Outcome {
    let mut rng = Rng::new(config.seed);
    let n_var = problem.n_var();
    let space = Space::of(problem);
    let seeded = config.initial.iter().take(config.pop_size).map(|x| {
        let mut x = x.clone();
        x.resize(n_var, 0.0);
        space.repair(&mut x);
        Work::Evaluate(x)
    });
    let initial: Vec<Work> = seeded
        .collect::<Vec<_>>()
        .into_iter()
        .chain((config.initial.len().min(config.pop_size)..config.pop_size).map(|_| {
            let mut x: Vec<f64> =
                (0..n_var).map(|i| space.lo[i] + rng.next_f64() * (space.hi[i] - space.lo[i])).collect();
            space.repair(&mut x);
            Work::Evaluate(x)
        }))
        .collect();
    let work = |work: Work| match work {
        Work::Evaluate(x) => (Individual::evaluate(problem, x), None),
        Work::Mate(mut c1, mut c2, seed) => {
            let mut rng = Rng::new(seed);
            config.crossover.cross_in_place(&space, &mut c1.x, &mut c2.x, &mut rng);
            for c in [&mut c1, &mut c2] {
                config.mutation.mutate(&space, &mut c.x, &mut rng);
                space.round_integers(&mut c.x);
                c.reevaluate(problem);
            }
            (c1, Some(c2))
        }
    };
    std::thread::scope(|scope| {
        let pool = Pool::new(scope, config.threads, &work);
        let mut evaluations = initial.len();
        let first = pool.map(initial).into_iter().map(|(individual, _)| individual).collect();
        let mut spares = Vec::new();
        let mut ranked = survive(first, config.pop_size, &mut rng, &mut spares);
        for _ in 0..config.generations {
            let children = offspring(&ranked, config, &mut rng, &pool, &mut spares);
            evaluations += children.len();
            let mut merged = std::mem::take(&mut ranked.population);
            merged.extend(children);
            ranked = survive(merged, config.pop_size, &mut rng, &mut spares);
        }
        Outcome { population: ranked.population, rank: ranked.rank, crowding: ranked.crowding, evaluations }
    })
}

/// Rank-and-crowding survival: whole fronts while they fit, then the most crowded-apart
/// members of the front that does not (ties broken at random).
/// The members left out go to `spares`, whose buffers the next children reuse.
fn survive(pop: Vec<Individual>, size: usize, rng: &mut Rng, spares: &mut Vec<Individual>) -> Ranked {
    let fronts = non_dominated_fronts(&pop);
    let mut keep: Vec<(usize, usize, f64)> = Vec::with_capacity(size);
    for (rank, front) in fronts.iter().enumerate() {
        if keep.len() >= size {
            break;
        }
        let distance = crowding_distance(&pop, front);
        if keep.len() + front.len() <= size {
            keep.extend(front.iter().zip(&distance).map(|(&i, &d)| (i, rank, d)));
        } else {
            // A random permutation first, then a stable sort: equal distances in random order.
            let mut order = rng.permutation(front.len());
            order.sort_by(|&a, &b| distance[b].total_cmp(&distance[a]));
            let room = size - keep.len();
            keep.extend(order.into_iter().take(room).map(|k| (front[k], rank, distance[k])));
        }
    }
    let mut slots: Vec<Option<Individual>> = pop.into_iter().map(Some).collect();
    let population = keep.iter().map(|(i, _, _)| slots[*i].take().expect("kept once")).collect();
    spares.extend(slots.into_iter().flatten());
    Ranked { population, rank: keep.iter().map(|k| k.1).collect(), crowding: keep.iter().map(|k| k.2).collect() }
}

/// pymoo's binary tournament: lower violation if either is infeasible, else dominance, else
/// larger crowding distance, else a coin.
fn tournament(ranked: &Ranked, a: usize, b: usize, rng: &mut Rng) -> usize {
    let (pa, pb) = (&ranked.population[a], &ranked.population[b]);
    let coin = |rng: &mut Rng| if rng.next_f64() < 0.5 { a } else { b };
    if !pa.feasible() || !pb.feasible() {
        return if pa.cv < pb.cv {
            a
        } else if pb.cv < pa.cv {
            b
        } else {
            coin(rng)
        };
    }
    if dominates(&pa.f, &pb.f) {
        a
    } else if dominates(&pb.f, &pa.f) {
        b
    } else if ranked.crowding[a] > ranked.crowding[b] {
        a
    } else if ranked.crowding[b] > ranked.crowding[a] {
        b
    } else {
        coin(rng)
    }
}

/// The next generation's children: parents chosen by tournament here (pymoo's order of
/// random draws), varied and evaluated on the pool; exact duplicates of a parent or of another
/// child are dropped, as pymoo does, and more are made until there are enough.
fn offspring<F>(
    ranked: &Ranked,
    config: &Nsga2Config,
    rng: &mut Rng,
    pool: &Pool<Work, Made, F>,
    spares: &mut Vec<Individual>,
) -> Vec<Individual>
where
    F: Fn(Work) -> Made + Sync,
{
    let n = ranked.population.len();
    let mut children: Vec<Individual> = Vec::with_capacity(config.pop_size);
    // The genes' hashes, so most children are known to be new without comparing genes.
    let parents: Hashes = ranked.population.iter().map(|p| gene_hash(&p.x)).collect();
    let mut kept = Hashes::with_capacity_and_hasher(config.pop_size, Default::default());
    // pymoo draws tournament competitors from successive random permutations of the population.
    let mut draws: Vec<usize> = Vec::new();
    let mut draw = |rng: &mut Rng| {
        if draws.is_empty() {
            draws = rng.permutation(n);
        }
        draws.pop().expect("refilled")
    };
    for _attempt in 0..100 {
        if children.len() >= config.pop_size {
            break;
        }
        let matings = (config.pop_size - children.len()).div_ceil(2);
        let work: Vec<Work> = (0..matings)
            .map(|_| {
                let [a, b]: [usize; 2] = std::array::from_fn(|_| {
                    let (a, b) = (draw(rng), draw(rng));
                    tournament(ranked, a, b, rng)
                });
                let mut copy = |parent: usize| {
                    let mut child = spares.pop().unwrap_or_else(Individual::empty);
                    child.x.clear();
                    child.x.extend_from_slice(&ranked.population[parent].x);
                    child
                };
                let (first, second) = (copy(a), copy(b));
                Work::Mate(first, second, rng.next_u64())
            })
            .collect();
        for (first, second) in pool.map(work) {
            for child in std::iter::once(first).chain(second) {
                let key = gene_hash(&child.x);
                // A hash seen before is a duplicate or, rarely, a collision: compare the genes then.
                let duplicate = (parents.contains(&key) && ranked.population.iter().any(|p| p.x == child.x))
                    || (kept.contains(&key) && children.iter().any(|c| c.x == child.x));
                if !duplicate && children.len() < config.pop_size {
                    kept.insert(key);
                    children.push(child);
                } else {
                    spares.push(child);
                }
            }
        }
    }
    children
}

/// One or two evaluated solutions, as a piece of [`Work`] makes them.
type Made = (Individual, Option<Individual>);

/// A hash of the genes' bits (adding 0.0 turns -0.0 into 0.0, so genes that are `==` hash
/// alike): a rotate-and-xor chain, mixed once at the end, cheap enough to run on every child.
fn gene_hash(x: &[f64]) -> u64 {
    let h = x.iter().fold(0u64, |h, v| h.rotate_left(23) ^ (v + 0.0).to_bits());
    (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
}

/// The map keys are hashes already: use them as they are.
#[derive(Default)]
struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |h, b| h.rotate_left(8) ^ u64::from(*b));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Hashes = HashSet<u64, std::hash::BuildHasherDefault<Prehashed>>;
