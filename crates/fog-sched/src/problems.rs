//! Reference problems with known Pareto fronts: ZDT1–4 and ZDT6 (Zitzler, Deb, Thiele 2000),
//! DTLZ1 and DTLZ2 (Deb, Thiele, Laumanns, Zitzler 2002), in pymoo's default sizes.

use std::f64::consts::PI;

use crate::problem::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zdt {
    Zdt1,
    Zdt2,
    Zdt3,
    Zdt4,
    Zdt6,
}

/// ZDT3's front lies on these intervals of f1.
const ZDT3_REGIONS: [(f64, f64); 5] = [
    (0.0, 0.083_001_534_9),
    (0.182_228_780, 0.257_762_363_4),
    (0.409_313_674_8, 0.453_882_104_1),
    (0.618_396_794_4, 0.652_511_703_8),
    (0.823_331_798_3, 0.851_832_865_4),
];

impl Zdt {
    pub fn reference_point(self) -> [f64; 2] {
        [1.1, 1.1]
    }

    /// `n` points of the true front.
    pub fn true_front(self, n: usize) -> Vec<Vec<f64>> {
        let grid = |lo: f64, hi: f64, k: usize| -> Vec<f64> {
            (0..k).map(|i| lo + (hi - lo) * i as f64 / (k.max(2) - 1) as f64).collect()
        };
        match self {
            Zdt::Zdt1 | Zdt::Zdt4 => grid(0.0, 1.0, n).into_iter().map(|f1| vec![f1, 1.0 - f1.sqrt()]).collect(),
            Zdt::Zdt2 => grid(0.0, 1.0, n).into_iter().map(|f1| vec![f1, 1.0 - f1 * f1]).collect(),
            Zdt::Zdt6 => grid(0.280_775_319_3, 1.0, n).into_iter().map(|f1| vec![f1, 1.0 - f1 * f1]).collect(),
            Zdt::Zdt3 => {
                let per_region = n.div_ceil(ZDT3_REGIONS.len());
                ZDT3_REGIONS
                    .iter()
                    .flat_map(|(lo, hi)| grid(*lo, *hi, per_region))
                    .map(|f1| vec![f1, 1.0 - f1.sqrt() - f1 * (10.0 * PI * f1).sin()])
                    .collect()
            }
        }
    }
}

impl Problem for Zdt {
    fn n_var(&self) -> usize {
        match self {
            Zdt::Zdt1 | Zdt::Zdt2 | Zdt::Zdt3 => 30,
            Zdt::Zdt4 | Zdt::Zdt6 => 10,
        }
    }

    fn n_obj(&self) -> usize {
        2
    }

    fn bounds(&self, i: usize) -> (f64, f64) {
        match self {
            Zdt::Zdt4 if i > 0 => (-5.0, 5.0),
            _ => (0.0, 1.0),
        }
    }

    fn evaluate(&self, x: &[f64], f: &mut [f64], _g: &mut [f64]) {
        let n = x.len() as f64;
        let rest = &x[1..];
        match self {
            Zdt::Zdt1 | Zdt::Zdt2 | Zdt::Zdt3 => {
                let g = 1.0 + 9.0 / (n - 1.0) * rest.iter().sum::<f64>();
                let r = x[0] / g;
                let h = match self {
                    Zdt::Zdt1 => 1.0 - r.sqrt(),
                    Zdt::Zdt2 => 1.0 - r * r,
                    _ => 1.0 - r.sqrt() - r * (10.0 * PI * x[0]).sin(),
                };
                f[0] = x[0];
                f[1] = g * h;
            }
            Zdt::Zdt4 => {
                let g = 1.0 + 10.0 * (n - 1.0) + rest.iter().map(|v| v * v - 10.0 * (4.0 * PI * v).cos()).sum::<f64>();
                f[0] = x[0];
                f[1] = g * (1.0 - (x[0] / g).sqrt());
            }
            Zdt::Zdt6 => {
                let f1 = 1.0 - (-4.0 * x[0]).exp() * (6.0 * PI * x[0]).sin().powi(6);
                let g = 1.0 + 9.0 * (rest.iter().sum::<f64>() / (n - 1.0)).powf(0.25);
                f[0] = f1;
                f[1] = g * (1.0 - (f1 / g).powi(2));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtlz {
    Dtlz1 { n_obj: usize },
    Dtlz2 { n_obj: usize },
}

impl Dtlz {
    fn m(self) -> usize {
        match self {
            Dtlz::Dtlz1 { n_obj } | Dtlz::Dtlz2 { n_obj } => n_obj,
        }
    }

    /// Points of the true front at the Das–Dennis directions with `partitions` divisions.
    pub fn true_front(self, partitions: usize) -> Vec<Vec<f64>> {
        let directions = das_dennis(self.m(), partitions);
        match self {
            Dtlz::Dtlz1 { .. } => directions.into_iter().map(|d| d.into_iter().map(|v| 0.5 * v).collect()).collect(),
            Dtlz::Dtlz2 { .. } => directions
                .into_iter()
                .map(|d| {
                    let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
                    d.into_iter().map(|v| v / norm).collect()
                })
                .collect(),
        }
    }

    pub fn reference_point(self) -> Vec<f64> {
        match self {
            Dtlz::Dtlz1 { .. } => vec![1.0; self.m()],
            Dtlz::Dtlz2 { .. } => vec![1.1; self.m()],
        }
    }
}

impl Problem for Dtlz {
    fn n_var(&self) -> usize {
        match self {
            Dtlz::Dtlz1 { n_obj } => n_obj + 4,
            Dtlz::Dtlz2 { n_obj } => n_obj + 9,
        }
    }

    fn n_obj(&self) -> usize {
        self.m()
    }

    fn bounds(&self, _i: usize) -> (f64, f64) {
        (0.0, 1.0)
    }

    fn evaluate(&self, x: &[f64], f: &mut [f64], _g: &mut [f64]) {
        let m = self.m();
        let (head, tail) = x.split_at(m - 1);
        match self {
            Dtlz::Dtlz1 { .. } => {
                let k = tail.len() as f64;
                let g =
                    100.0 * (k + tail.iter().map(|v| (v - 0.5).powi(2) - (20.0 * PI * (v - 0.5)).cos()).sum::<f64>());
                for (i, out) in f.iter_mut().enumerate() {
                    let mut value = 0.5 * (1.0 + g);
                    value *= head[..m - 1 - i].iter().product::<f64>();
                    if i > 0 {
                        value *= 1.0 - head[m - 1 - i];
                    }
                    *out = value;
                }
            }
            Dtlz::Dtlz2 { .. } => {
                let g = tail.iter().map(|v| (v - 0.5).powi(2)).sum::<f64>();
                for (i, out) in f.iter_mut().enumerate() {
                    let mut value = 1.0 + g;
                    value *= head[..m - 1 - i].iter().map(|v| (v * PI / 2.0).cos()).product::<f64>();
                    if i > 0 {
                        value *= (head[m - 1 - i] * PI / 2.0).sin();
                    }
                    *out = value;
                }
            }
        }
    }
}

/// Das and Dennis's evenly spread directions on the unit simplex: every vector of `n_obj`
/// multiples of 1/`partitions` that sum to 1.
pub fn das_dennis(n_obj: usize, partitions: usize) -> Vec<Vec<f64>> {
    fn fill(left: usize, slots: usize, partitions: usize, current: &mut Vec<f64>, out: &mut Vec<Vec<f64>>) {
        if slots == 1 {
            current.push(left as f64 / partitions as f64);
            out.push(current.clone());
            current.pop();
            return;
        }
        for take in 0..=left {
            current.push(take as f64 / partitions as f64);
            fill(left - take, slots - 1, partitions, current, out);
            current.pop();
        }
    }
    let mut out = Vec::new();
    if n_obj > 0 && partitions > 0 {
        fill(partitions, n_obj, partitions, &mut Vec::new(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::hypervolume;

    #[test]
    fn fronts_lie_where_the_functions_put_optimal_solutions() {
        // ZDT optimum: x2..xn at 0 (ZDT4's at 0 too); f lands on the true front.
        for zdt in [Zdt::Zdt1, Zdt::Zdt2, Zdt::Zdt3, Zdt::Zdt4] {
            let mut x = vec![0.0; zdt.n_var()];
            x[0] = 0.25;
            let mut f = [0.0; 2];
            zdt.evaluate(&x, &mut f, &mut []);
            let expected = match zdt {
                Zdt::Zdt2 => 1.0 - 0.0625,
                Zdt::Zdt3 => 1.0 - 0.5 - 0.25 * (2.5 * PI).sin(),
                _ => 0.5,
            };
            assert!((f[1] - expected).abs() < 1e-12, "{zdt:?}: {f:?}");
        }
        // DTLZ optimum: the distance variables at 0.5.
        let d1 = Dtlz::Dtlz1 { n_obj: 3 };
        let mut x = vec![0.5; d1.n_var()];
        x[0] = 0.3;
        x[1] = 0.8;
        let mut f = [0.0; 3];
        d1.evaluate(&x, &mut f, &mut []);
        assert!((f.iter().sum::<f64>() - 0.5).abs() < 1e-12, "{f:?}");
        let d2 = Dtlz::Dtlz2 { n_obj: 3 };
        d2.evaluate(&vec![0.5; d2.n_var()], &mut f, &mut []);
        assert!((f.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12, "{f:?}");
    }

    #[test]
    fn das_dennis_counts_and_sums() {
        let d = das_dennis(3, 12);
        assert_eq!(d.len(), 91);
        assert!(d.iter().all(|v| (v.iter().sum::<f64>() - 1.0).abs() < 1e-12));
    }

    #[test]
    fn the_true_zdt1_front_has_the_known_hypervolume() {
        // ∫₀¹ (1.1 − (1 − √f1)) df1 + 0.1 · 1.1 = 0.1 + 2/3 + 0.11
        let hv = hypervolume(&Zdt::Zdt1.true_front(10_000), &[1.1, 1.1]);
        assert!((hv - (0.21 + 2.0 / 3.0)).abs() < 1e-4, "{hv}");
    }
}
