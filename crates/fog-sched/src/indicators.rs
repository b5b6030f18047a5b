//! Quality indicators of an approximation set: exact hypervolume (a sweep in two dimensions,
//! slicing by the last objective above that) and inverted generational distance.

use crate::sort::dominates;

/// The volume dominated by `points` and bounded by `reference` (minimisation). Points that do
/// not strictly dominate the reference contribute nothing.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<&[f64]> =
        points.iter().map(Vec::as_slice).filter(|p| p.iter().zip(reference).all(|(v, r)| v < r)).collect();
    volume(&inside, reference)
}

fn volume(points: &[&[f64]], reference: &[f64]) -> f64 {
    match reference.len() {
        0 => 0.0,
        1 => points.iter().map(|p| reference[0] - p[0]).fold(0.0, f64::max),
        2 => {
            let mut sorted: Vec<&[f64]> = points.to_vec();
            sorted.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
            let mut lowest = reference[1];
            let mut area = 0.0;
            for p in sorted {
                if p[1] < lowest {
                    area += (reference[0] - p[0]) * (lowest - p[1]);
                    lowest = p[1];
                }
            }
            area
        }
        d => {
            // Slabs between consecutive values of the last objective: each slab's volume is the
            // (d-1)-dimensional volume of the points at or below it, times its thickness.
            let last = d - 1;
            let mut sorted: Vec<&[f64]> = points.to_vec();
            sorted.sort_by(|a, b| a[last].total_cmp(&b[last]));
            let mut total = 0.0;
            for i in 0..sorted.len() {
                let top = sorted.get(i + 1).map(|p| p[last]).unwrap_or(reference[last]);
                let thickness = top - sorted[i][last];
                if thickness <= 0.0 {
                    continue;
                }
                let below: Vec<&[f64]> = non_dominated(&sorted[..=i], last);
                total += volume(&below, &reference[..last]) * thickness;
            }
            total
        }
    }
}

/// The points not dominated in their first `dims` objectives (fewer points, same volume).
fn non_dominated<'a>(points: &[&'a [f64]], dims: usize) -> Vec<&'a [f64]> {
    points
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            !points
                .iter()
                .enumerate()
                .any(|(j, q)| j != *i && (dominates(&q[..dims], &p[..dims]) || (q[..dims] == p[..dims] && j < *i)))
        })
        .map(|(_, p)| &p[..dims])
        .collect()
}

/// Mean distance from each point of the true front to the nearest point of `points`.
pub fn igd(points: &[Vec<f64>], true_front: &[Vec<f64>]) -> f64 {
    if points.is_empty() || true_front.is_empty() {
        return f64::INFINITY;
    }
    let distance = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    true_front.iter().map(|t| points.iter().map(|p| distance(p, t)).fold(f64::INFINITY, f64::min)).sum::<f64>()
        / true_front.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_volumes() {
        assert_eq!(hypervolume(&[vec![0.0, 0.0]], &[1.0, 1.0]), 1.0);
        let staircase = [vec![0.0, 2.0], vec![1.0, 1.0], vec![2.0, 0.0]];
        assert_eq!(hypervolume(&staircase, &[3.0, 3.0]), 6.0);
        // A dominated point and one outside the reference box change nothing.
        let extra = [staircase.to_vec(), vec![vec![2.0, 2.0], vec![4.0, 0.0]]].concat();
        assert_eq!(hypervolume(&extra, &[3.0, 3.0]), 6.0);
        let cube = [vec![0.0, 0.0, 0.0]];
        assert_eq!(hypervolume(&cube, &[2.0, 2.0, 2.0]), 8.0);
        // Box A = [0,2)×[1,2)×[1,2) is 2, box B = [1,2)×[0,2)×[0,2) is 4, they share
        // [1,2)×[1,2)×[1,2), 1: the union is 5.
        let two = [vec![0.0, 1.0, 1.0], vec![1.0, 0.0, 0.0]];
        assert_eq!(hypervolume(&two, &[2.0, 2.0, 2.0]), 5.0);
    }

    /// n evenly spaced points of the linear front f2 = 1 − f1, reference (1, 1): point i adds a
    /// strip h wide and 1 − i·h high (h = 1/(n−1)), so the volume is ½ − ½·h.
    #[test]
    fn sampled_linear_front_matches_the_analytic_value() {
        for n in [2usize, 5, 50, 500] {
            let h = 1.0 / (n - 1) as f64;
            let front: Vec<Vec<f64>> = (0..n).map(|i| vec![i as f64 * h, 1.0 - i as f64 * h]).collect();
            let hv = hypervolume(&front, &[1.0, 1.0]);
            assert!((hv - (0.5 - 0.5 * h)).abs() < 1e-12, "n={n}: {hv}");
        }
    }

    proptest! {
        /// Against a Monte-Carlo-free oracle: the union of boxes measured on the grid their
        /// coordinates make, in three dimensions.
        #[test]
        fn three_dimensional_volume_equals_the_grid_oracle(
            points in prop::collection::vec(prop::collection::vec(0u8..5, 3), 1..12)
        ) {
            let points: Vec<Vec<f64>> = points.into_iter().map(|p| p.into_iter().map(f64::from).collect()).collect();
            let reference = [5.0, 5.0, 5.0];
            let mut oracle = 0.0;
            for x in 0..5 {
                for y in 0..5 {
                    for z in 0..5 {
                        let cell = [x as f64, y as f64, z as f64];
                        if points.iter().any(|p| p.iter().zip(&cell).all(|(a, c)| a <= c)) {
                            oracle += 1.0;
                        }
                    }
                }
            }
            prop_assert_eq!(hypervolume(&points, &reference), oracle);
        }
    }

    #[test]
    fn igd_is_zero_on_the_front_and_grows_away_from_it() {
        let front = vec![vec![0.0, 1.0], vec![1.0, 0.0]];
        assert_eq!(igd(&front, &front), 0.0);
        assert!((igd(&[vec![0.0, 1.0]], &front) - 2f64.sqrt() / 2.0).abs() < 1e-12);
    }
}
