//! NSGA-II (Deb, Pratap, Agarwal, Meyarivan 2002) as pymoo 0.6 runs it: random initial
//! population, binary tournaments by constraint-domination then crowding, SBX and polynomial
//! mutation, duplicate children dropped, and rank-and-crowding survival of parents and
//! children together. Seeded and bit-reproducible.

use std::collections::HashSet;

use crate::operators::{PolynomialMutation, Sbx};
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
    /// Threads that evaluate children; 1 evaluates on the calling thread. Worth more than one
    /// only when an evaluation costs more than spawning does (the scheduling model, not ZDT).
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

pub fn run(problem: &dyn Problem, config: &Nsga2Config) -> Outcome {
    let mut rng = Rng::new(config.seed);
    let n_var = problem.n_var();
    let space = Space::of(problem);
    let seeded = config.initial.iter().take(config.pop_size).map(|x| {
        let mut x = x.clone();
        x.resize(n_var, 0.0);
        space.repair(&mut x);
        x
    });
    let initial: Vec<Vec<f64>> = seeded
        .collect::<Vec<_>>()
        .into_iter()
        .chain((config.initial.len().min(config.pop_size)..config.pop_size).map(|_| {
            let mut x: Vec<f64> =
                (0..n_var).map(|i| space.lo[i] + rng.next_f64() * (space.hi[i] - space.lo[i])).collect();
            space.repair(&mut x);
            x
        }))
        .collect();
    let mut evaluations = initial.len();
    let mut ranked = survive(evaluate_all(problem, initial, config.threads), config.pop_size, &mut rng);
    for _ in 0..config.generations {
        let children = offspring(&space, &ranked, config, &mut rng);
        evaluations += children.len();
        let mut merged = std::mem::take(&mut ranked.population);
        merged.extend(evaluate_all(problem, children, config.threads));
        ranked = survive(merged, config.pop_size, &mut rng);
    }
    Outcome { population: ranked.population, rank: ranked.rank, crowding: ranked.crowding, evaluations }
}

fn evaluate_all(problem: &dyn Problem, xs: Vec<Vec<f64>>, threads: usize) -> Vec<Individual> {
    if threads <= 1 || xs.len() < 2 {
        return xs.into_iter().map(|x| Individual::evaluate(problem, x)).collect();
    }
    let chunk = xs.len().div_ceil(threads);
    let mut chunks: Vec<Vec<Vec<f64>>> = Vec::new();
    let mut xs = xs.into_iter().peekable();
    while xs.peek().is_some() {
        chunks.push(xs.by_ref().take(chunk).collect());
    }
    let evaluate = move |c: Vec<Vec<f64>>| c.into_iter().map(|x| Individual::evaluate(problem, x)).collect::<Vec<_>>();
    // The calling thread takes the last chunk itself: one spawn fewer per generation.
    let last = chunks.pop().expect("at least one chunk");
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks.into_iter().map(|c| scope.spawn(move || evaluate(c))).collect();
        let mine = evaluate(last);
        let mut all: Vec<Individual> = handles.into_iter().flat_map(|h| h.join().expect("evaluation thread")).collect();
        all.extend(mine);
        all
    })
}

/// Rank-and-crowding survival: whole fronts while they fit, then the most crowded-apart
/// members of the front that does not (ties broken at random).
fn survive(pop: Vec<Individual>, size: usize, rng: &mut Rng) -> Ranked {
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

fn offspring(space: &Space, ranked: &Ranked, config: &Nsga2Config, rng: &mut Rng) -> Vec<Vec<f64>> {
    let n = ranked.population.len();
    let mut children: Vec<Vec<f64>> = Vec::with_capacity(config.pop_size);
    // The genes' hashes, so most children are known to be new without comparing genes.
    let parents: Hashes = ranked.population.iter().map(|p| gene_hash(&p.x)).collect();
    let mut kept = Hashes::with_capacity_and_hasher(config.pop_size, Default::default());
    // pymoo draws tournament competitors from successive random permutations of the population.
    let mut pool: Vec<usize> = Vec::new();
    let mut draw = |rng: &mut Rng| {
        if pool.is_empty() {
            pool = rng.permutation(n);
        }
        pool.pop().expect("refilled")
    };
    for _attempt in 0..100 {
        if children.len() >= config.pop_size {
            break;
        }
        let matings = (config.pop_size - children.len()).div_ceil(2);
        let mut batch = Vec::with_capacity(matings * 2);
        for _ in 0..matings {
            let mates: [usize; 2] = std::array::from_fn(|_| {
                let (a, b) = (draw(rng), draw(rng));
                tournament(ranked, a, b, rng)
            });
            let (mut c1, mut c2) =
                config.crossover.cross(space, &ranked.population[mates[0]].x, &ranked.population[mates[1]].x, rng);
            for c in [&mut c1, &mut c2] {
                config.mutation.mutate(space, c, rng);
                space.repair(c);
            }
            batch.push(c1);
            batch.push(c2);
        }
        for child in batch {
            // Exact duplicates of a parent or of another child are dropped, as pymoo does.
            let key = gene_hash(&child);
            // A hash seen before is a duplicate or, rarely, a collision: compare the genes then.
            let duplicate = (parents.contains(&key) && ranked.population.iter().any(|p| p.x == child))
                || (kept.contains(&key) && children.contains(&child));
            if !duplicate && children.len() < config.pop_size {
                kept.insert(key);
                children.push(child);
            }
        }
    }
    children
}

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
