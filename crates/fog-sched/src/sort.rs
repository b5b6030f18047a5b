//! Fast non-dominated sorting with constraint-domination, and crowding distance (Deb et al.
//! 2002).

use crate::problem::Individual;

/// Whether `a` Pareto-dominates `b` (minimisation): no worse anywhere, better somewhere.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        better |= x < y;
    }
    better
}

/// Deb's constraint-domination: a feasible solution beats an infeasible one, the smaller
/// violation wins between infeasible ones, and feasible ones compare by Pareto dominance.
pub fn constrained_dominates(a: &Individual, b: &Individual) -> bool {
    match (a.feasible(), b.feasible()) {
        (true, false) => true,
        (false, true) => false,
        (false, false) => a.cv < b.cv,
        (true, true) => dominates(&a.f, &b.f),
    }
}

/// The fronts of `pop`, best first, as indices into it (ascending within a front). Feasible
/// solutions come first, sorted by Pareto dominance; infeasible ones follow, one front per
/// violation level — exactly the order constraint-domination gives.
pub fn non_dominated_fronts(pop: &[Individual]) -> Vec<Vec<usize>> {
    let (feasible, mut infeasible): (Vec<usize>, Vec<usize>) = (0..pop.len()).partition(|&i| pop[i].feasible());
    let mut fronts = match pop.first().map(|p| p.f.len()) {
        Some(2) => fronts_2d(pop, &feasible),
        _ => fronts_general(pop, &feasible),
    };
    infeasible.sort_unstable_by(|&a, &b| pop[a].cv.total_cmp(&pop[b].cv).then(a.cmp(&b)));
    for i in infeasible {
        match fronts.last_mut() {
            Some(front) if !pop[front[0]].feasible() && pop[front[0]].cv == pop[i].cv => front.push(i),
            _ => fronts.push(vec![i]),
        }
    }
    fronts
}

/// Two objectives in O(n log n): in lexicographic order each point joins the first front
/// whose latest member has a larger second objective (an identical point joins its twin).
fn fronts_2d(pop: &[Individual], members: &[usize]) -> Vec<Vec<usize>> {
    // The objectives copied next to their index, so the sort reads them in place; unstable
    // with the index as the last key gives the order a stable sort would, without its buffer.
    let mut order: Vec<(f64, f64, usize)> = members.iter().map(|&i| (pop[i].f[0], pop[i].f[1], i)).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut fronts: Vec<Vec<usize>> = Vec::new();
    let mut last_f2: Vec<f64> = Vec::new();
    let mut previous: Option<(f64, f64, usize)> = None;
    for (f1, f2, i) in order {
        let front = match previous {
            Some((p1, p2, front)) if p1 == f1 && p2 == f2 => front,
            _ => last_f2.partition_point(|&last| last <= f2),
        };
        if front == fronts.len() {
            fronts.push(Vec::new());
            last_f2.push(f2);
        }
        fronts[front].push(i);
        last_f2[front] = f2;
        previous = Some((f1, f2, front));
    }
    for front in &mut fronts {
        front.sort_unstable();
    }
    fronts
}

/// Any number of objectives: efficient non-dominated sort with sequential search (ENS-SS,
/// Zhang et al. 2015). In lexicographic order only earlier points can dominate a point, so
/// each point joins the first front none of whose members dominates it; usually far fewer
/// comparisons than the O(m n²) of pairing everything.
fn fronts_general(pop: &[Individual], members: &[usize]) -> Vec<Vec<usize>> {
    let mut order = members.to_vec();
    order.sort_unstable_by(|&a, &b| {
        pop[a]
            .f
            .iter()
            .zip(&pop[b].f)
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut fronts: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let f = &pop[i].f;
        let front = fronts.iter().position(|front| !front.iter().rev().any(|&q| dominates(&pop[q].f, f)));
        match front {
            Some(k) => fronts[k].push(i),
            None => fronts.push(vec![i]),
        }
    }
    for front in &mut fronts {
        front.sort_unstable();
    }
    fronts
}

/// Crowding distance of each member of one front (same order as `front`): boundary points of
/// each objective get infinity; the others the sum over objectives of the normalised gap
/// between their neighbours.
pub fn crowding_distance(pop: &[Individual], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let mut distance = vec![0.0; n];
    let n_obj = pop[front[0]].f.len();
    let mut order: Vec<usize> = (0..n).collect();
    for m in 0..n_obj {
        // Ties go by position in the front, so the boundary points are well defined.
        order.sort_unstable_by(|&a, &b| pop[front[a]].f[m].total_cmp(&pop[front[b]].f[m]).then(a.cmp(&b)));
        let lo = pop[front[order[0]]].f[m];
        let hi = pop[front[order[n - 1]]].f[m];
        distance[order[0]] = f64::INFINITY;
        distance[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span <= 0.0 {
            continue;
        }
        for k in 1..n - 1 {
            let gap = pop[front[order[k + 1]]].f[m] - pop[front[order[k - 1]]].f[m];
            distance[order[k]] += gap / span;
        }
    }
    distance
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ind(f: Vec<f64>, cv: f64) -> Individual {
        Individual { x: vec![], f, cv }
    }

    /// The definition, checked pair by pair: a front is every not-yet-ranked point that no other
    /// not-yet-ranked point dominates.
    fn brute_force_fronts(pop: &[Individual]) -> Vec<Vec<usize>> {
        let mut left: Vec<usize> = (0..pop.len()).collect();
        let mut fronts = Vec::new();
        while !left.is_empty() {
            let front: Vec<usize> = left
                .iter()
                .copied()
                .filter(|&i| !left.iter().any(|&j| constrained_dominates(&pop[j], &pop[i])))
                .collect();
            left.retain(|i| !front.contains(i));
            fronts.push(front);
        }
        fronts
    }

    proptest! {
        #[test]
        fn fast_sort_equals_the_brute_force_oracle(
            n_obj in 2usize..4,
            points in prop::collection::vec((prop::collection::vec(0u8..6, 3), 0u8..3), 0..60)
        ) {
            // Small integer values make ties and duplicates common.
            let pop: Vec<Individual> = points
                .into_iter()
                .map(|(f, cv)| ind(f.into_iter().take(n_obj).map(f64::from).collect(), f64::from(cv)))
                .collect();
            let mut fast = non_dominated_fronts(&pop);
            for front in &mut fast {
                front.sort_unstable();
            }
            prop_assert_eq!(fast, brute_force_fronts(&pop));
        }

        #[test]
        fn crowding_boundaries_are_infinite(values in prop::collection::vec((0.0f64..1.0, 0.0f64..1.0), 3..40)) {
            let pop: Vec<Individual> = values.iter().map(|(a, b)| ind(vec![*a, *b], 0.0)).collect();
            let front: Vec<usize> = (0..pop.len()).collect();
            let d = crowding_distance(&pop, &front);
            for m in 0..2 {
                let lowest = (0..pop.len()).min_by(|&a, &b| pop[a].f[m].total_cmp(&pop[b].f[m])).unwrap();
                let highest = (0..pop.len()).max_by(|&a, &b| pop[a].f[m].total_cmp(&pop[b].f[m])).unwrap();
                prop_assert!(d[lowest].is_infinite() && d[highest].is_infinite());
            }
            prop_assert!(d.iter().all(|v| *v >= 0.0));
        }
    }

    #[test]
    fn feasible_beats_infeasible_and_smaller_violation_wins() {
        let good_infeasible = ind(vec![0.0, 0.0], 1.0);
        let worse_feasible = ind(vec![9.0, 9.0], 0.0);
        assert!(constrained_dominates(&worse_feasible, &good_infeasible));
        assert!(constrained_dominates(&ind(vec![5.0], 0.5), &ind(vec![1.0], 2.0)));
        assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]));
    }
}
