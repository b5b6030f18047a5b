//! NSGA-III (Deb and Jain 2014) for three or more objectives, as pymoo 0.6 runs it: the same
//! non-dominated sorting, but the last front that does not fit is thinned by reference
//! directions instead of crowding: objectives are normalised (ideal point, extreme points,
//! the hyperplane through them), each solution is associated with its nearest reference line,
//! and the least crowded lines are filled first. Parents are picked at random (by constraint
//! violation when either is infeasible); SBX η 30 with probability 1 and polynomial mutation η 20.

use crate::nsga2::Outcome;
use crate::operators::{PolynomialMutation, Sbx};
use crate::problem::{Individual, Problem, Space};
use crate::rng::Rng;
use crate::sort::non_dominated_fronts;

#[derive(Debug, Clone, PartialEq)]
pub struct Nsga3Config {
    pub generations: usize,
    pub seed: u64,
    /// Points on the unit simplex (e.g. [`crate::problems::das_dennis`]); the population is
    /// as large as the smallest multiple of four that holds one per direction, as in pymoo.
    pub directions: Vec<Vec<f64>>,
    pub crossover: Sbx,
    pub mutation: PolynomialMutation,
}

impl Nsga3Config {
    pub fn new(directions: Vec<Vec<f64>>, generations: usize, seed: u64) -> Self {
        Nsga3Config {
            generations,
            seed,
            directions,
            crossover: Sbx { eta: 30.0, prob: 1.0, ..Sbx::default() },
            mutation: PolynomialMutation::default(),
        }
    }

    pub fn pop_size(&self) -> usize {
        self.directions.len().div_ceil(4) * 4
    }
}

/// Normalisation kept across generations, as pymoo does.
struct Normaliser {
    ideal: Vec<f64>,
    worst: Vec<f64>,
    extremes: Option<Vec<Vec<f64>>>,
}

pub fn run(problem: &dyn Problem, config: &Nsga3Config) -> Outcome {
    let mut rng = Rng::new(config.seed);
    let space = Space::of(problem);
    let size = config.pop_size();
    let m = problem.n_obj();
    let mut norm = Normaliser { ideal: vec![f64::INFINITY; m], worst: vec![f64::NEG_INFINITY; m], extremes: None };
    let mut population: Vec<Individual> = (0..size)
        .map(|_| {
            let mut x: Vec<f64> =
                (0..problem.n_var()).map(|i| space.lo[i] + rng.next_f64() * (space.hi[i] - space.lo[i])).collect();
            space.repair(&mut x);
            Individual::evaluate(problem, x)
        })
        .collect();
    let mut evaluations = population.len();
    population = survive(population, size, &config.directions, &mut norm, &mut rng);
    for _ in 0..config.generations {
        let mut children = Vec::with_capacity(size);
        while children.len() < size {
            let a = pick(&population, &mut rng);
            let b = pick(&population, &mut rng);
            let (c1, c2) = config.crossover.cross(&space, &population[a].x, &population[b].x, &mut rng);
            for mut c in [c1, c2] {
                config.mutation.mutate(&space, &mut c, &mut rng);
                space.repair(&mut c);
                let duplicate = population.iter().any(|p| p.x == c) || children.iter().any(|k: &Individual| k.x == c);
                if !duplicate && children.len() < size {
                    children.push(Individual::evaluate(problem, c));
                }
            }
        }
        evaluations += children.len();
        population.extend(children);
        population = survive(population, size, &config.directions, &mut norm, &mut rng);
    }
    let fronts = non_dominated_fronts(&population);
    let mut rank = vec![0; population.len()];
    for (r, front) in fronts.iter().enumerate() {
        for &i in front {
            rank[i] = r;
        }
    }
    Outcome { crowding: vec![0.0; population.len()], population, rank, evaluations }
}

/// pymoo's tournament for NSGA-III: the lower violation if either is infeasible, else at random.
fn pick(pop: &[Individual], rng: &mut Rng) -> usize {
    let (a, b) = (rng.below(pop.len()), rng.below(pop.len()));
    if pop[a].feasible() && pop[b].feasible() {
        if rng.next_f64() < 0.5 {
            a
        } else {
            b
        }
    } else if pop[a].cv <= pop[b].cv {
        a
    } else {
        b
    }
}

fn survive(
    pop: Vec<Individual>,
    size: usize,
    directions: &[Vec<f64>],
    norm: &mut Normaliser,
    rng: &mut Rng,
) -> Vec<Individual> {
    let m = norm.ideal.len();
    for p in &pop {
        for k in 0..m {
            norm.ideal[k] = norm.ideal[k].min(p.f[k]);
            norm.worst[k] = norm.worst[k].max(p.f[k]);
        }
    }
    let fronts = non_dominated_fronts(&pop);
    let mut chosen: Vec<usize> = Vec::with_capacity(size);
    let mut last: Vec<usize> = Vec::new();
    for front in &fronts {
        if chosen.len() + front.len() <= size {
            chosen.extend(front);
            if chosen.len() == size {
                break;
            }
        } else {
            last = front.clone();
            break;
        }
    }
    if !last.is_empty() {
        let considered: Vec<usize> = chosen.iter().chain(&last).copied().collect();
        let first_front: Vec<usize> = fronts[0].clone();
        let nadir = nadir_point(&pop, &first_front, &considered, norm);
        let (niche, distance) = associate(&pop, &considered, directions, &norm.ideal, &nadir);
        let mut counts = vec![0usize; directions.len()];
        for (k, _) in chosen.iter().enumerate() {
            counts[niche[k]] += 1;
        }
        let offset = chosen.len();
        let mut remaining: Vec<usize> = (0..last.len()).collect();
        let mut open: Vec<bool> = vec![true; directions.len()];
        while chosen.len() < size {
            let least =
                (0..directions.len()).filter(|&d| open[d]).map(|d| counts[d]).min().expect("a direction is open");
            let candidates: Vec<usize> = (0..directions.len()).filter(|&d| open[d] && counts[d] == least).collect();
            let d = candidates[rng.below(candidates.len())];
            let members: Vec<usize> = remaining.iter().copied().filter(|&r| niche[offset + r] == d).collect();
            if members.is_empty() {
                open[d] = false;
                continue;
            }
            let pick = if counts[d] == 0 {
                *members
                    .iter()
                    .min_by(|&&a, &&b| distance[offset + a].total_cmp(&distance[offset + b]))
                    .expect("members")
            } else {
                members[rng.below(members.len())]
            };
            remaining.retain(|&r| r != pick);
            chosen.push(last[pick]);
            counts[d] += 1;
        }
    }
    let mut slots: Vec<Option<Individual>> = pop.into_iter().map(Some).collect();
    chosen.into_iter().map(|i| slots[i].take().expect("chosen once")).collect()
}

/// The nadir estimate: the intercepts of the hyperplane through the extreme points, or the
/// worst values of the first front where that plane is degenerate.
fn nadir_point(pop: &[Individual], first_front: &[usize], considered: &[usize], norm: &mut Normaliser) -> Vec<f64> {
    let m = norm.ideal.len();
    // Extreme points: for each axis, the point (among the considered and the previous extremes)
    // with the smallest achievement scalarising function along that axis.
    let mut candidates: Vec<Vec<f64>> = considered.iter().map(|&i| pop[i].f.clone()).collect();
    if let Some(previous) = &norm.extremes {
        candidates.extend(previous.iter().cloned());
    }
    let extremes: Vec<Vec<f64>> = (0..m)
        .map(|axis| {
            let asf = |f: &Vec<f64>| {
                (0..m)
                    .map(|k| {
                        let w = if k == axis { 1.0 } else { 1e-6 };
                        let v = f[k] - norm.ideal[k];
                        (if v.abs() < 1e-3 { 0.0 } else { v }) / w
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            candidates.iter().min_by(|a, b| asf(a).total_cmp(&asf(b))).expect("candidates").clone()
        })
        .collect();
    norm.extremes = Some(extremes.clone());
    let worst_of_front: Vec<f64> =
        (0..m).map(|k| first_front.iter().map(|&i| pop[i].f[k]).fold(f64::NEG_INFINITY, f64::max)).collect();
    let translated: Vec<Vec<f64>> =
        extremes.iter().map(|e| e.iter().zip(&norm.ideal).map(|(v, z)| v - z).collect()).collect();
    let mut nadir = match solve(&translated, &vec![1.0; m]) {
        Some(b) if b.iter().all(|v| *v > 1e-6) => {
            let nadir: Vec<f64> = (0..m).map(|k| norm.ideal[k] + 1.0 / b[k]).collect();
            if nadir.iter().zip(&norm.worst).all(|(n, w)| n <= w) {
                nadir
            } else {
                worst_of_front.clone()
            }
        }
        _ => worst_of_front.clone(),
    };
    for ((n, z), w) in nadir.iter_mut().zip(&norm.ideal).zip(&norm.worst) {
        if *n - z <= 1e-6 {
            *n = *w;
        }
    }
    nadir
}

/// Solves A·b = y by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(a: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let n = y.len();
    let mut m: Vec<Vec<f64>> = a.iter().zip(y).map(|(row, v)| row.iter().copied().chain([*v]).collect()).collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= factor * p;
                }
            }
        }
    }
    Some((0..n).map(|i| m[i][n] / m[i][i]).collect())
}

/// For each considered solution, its nearest reference line in normalised objective space and
/// its perpendicular distance to it.
fn associate(
    pop: &[Individual],
    considered: &[usize],
    directions: &[Vec<f64>],
    ideal: &[f64],
    nadir: &[f64],
) -> (Vec<usize>, Vec<f64>) {
    let units: Vec<Vec<f64>> = directions
        .iter()
        .map(|d| {
            let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
            d.iter().map(|v| v / norm).collect()
        })
        .collect();
    considered
        .iter()
        .map(|&i| {
            let f: Vec<f64> =
                (0..ideal.len()).map(|k| (pop[i].f[k] - ideal[k]) / (nadir[k] - ideal[k]).max(1e-12)).collect();
            let f_norm2: f64 = f.iter().map(|v| v * v).sum();
            units
                .iter()
                .enumerate()
                .map(|(d, u)| {
                    let along: f64 = f.iter().zip(u).map(|(a, b)| a * b).sum();
                    (d, (f_norm2 - along * along).max(0.0).sqrt())
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("directions")
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::hypervolume;
    use crate::nsga2::{self, Nsga2Config};
    use crate::problems::{das_dennis, Dtlz};

    #[test]
    fn solve_finds_the_plane() {
        let b = solve(&[vec![2.0, 0.0, 0.0], vec![0.0, 4.0, 0.0], vec![0.0, 0.0, 5.0]], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(b, vec![0.5, 0.25, 0.2]);
        assert!(solve(&[vec![1.0, 1.0], vec![1.0, 1.0]], &[1.0, 1.0]).is_none());
    }

    /// DTLZ2 with three objectives: NSGA-III's reference directions spread the front better
    /// than NSGA-II's crowding, so its hypervolume is higher, seed for seed.
    #[test]
    fn nsga3_beats_nsga2_on_three_objective_dtlz2() {
        let problem = Dtlz::Dtlz2 { n_obj: 3 };
        let reference = problem.reference_point();
        let hv =
            |front: Vec<&Individual>| hypervolume(&front.iter().map(|i| i.f.clone()).collect::<Vec<_>>(), &reference);
        let (mut three, mut two) = (0.0, 0.0);
        for seed in 1..=3 {
            let config = Nsga3Config::new(das_dennis(3, 12), 200, seed);
            three += hv(run(&problem, &config).front());
            let config2 = Nsga2Config { pop_size: config.pop_size(), generations: 200, seed, ..Nsga2Config::default() };
            two += hv(nsga2::run(&problem, &config2).front());
        }
        eprintln!("DTLZ2 mean HV: NSGA-III {:.4}, NSGA-II {:.4}", three / 3.0, two / 3.0);
        assert!(three > two, "NSGA-III {three} vs NSGA-II {two}");
    }
}
