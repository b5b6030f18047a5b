//! Variation operators with pymoo's semantics (pymoo 0.6), so results compare with it:
//! simulated binary crossover (SBX) and polynomial mutation (PM).

use crate::problem::Space;
use crate::rng::Rng;

/// SBX: with probability `prob` per mating the parents are crossed; then each variable is
/// crossed with probability `prob_var` (unless the parents agree there), with distribution
/// index `eta`; the children swap that variable with probability `prob_exch`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sbx {
    pub eta: f64,
    pub prob: f64,
    pub prob_var: f64,
    pub prob_exch: f64,
}

impl Default for Sbx {
    fn default() -> Self {
        Sbx { eta: 15.0, prob: 0.9, prob_var: 0.5, prob_exch: 0.5 }
    }
}

/// PM: each variable mutates with probability `prob_var` (`None`: min(0.5, 1/n)), with
/// distribution index `eta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolynomialMutation {
    pub eta: f64,
    pub prob_var: Option<f64>,
}

impl Default for PolynomialMutation {
    fn default() -> Self {
        PolynomialMutation { eta: 20.0, prob_var: None }
    }
}

const EPS: f64 = 1.0e-14;

/// x^k and x^(1/k) for the operators' fixed k = η + 1. `powf` is most of an NSGA-II run's
/// time, so whole k use repeated multiplication and powers of two repeated square roots;
/// other k fall back to `powf`. Results agree with `powf` to a few ulps.
#[derive(Debug, Clone, Copy)]
struct Exponent {
    k: f64,
    whole: Option<i32>,
    halvings: Option<u32>,
}

impl Exponent {
    fn new(k: f64) -> Exponent {
        let whole = (k.fract() == 0.0 && (1.0..=64.0).contains(&k)).then_some(k as i32);
        let halvings = whole.filter(|w| (*w as u32).is_power_of_two()).map(|w| (w as u32).trailing_zeros());
        Exponent { k, whole, halvings }
    }

    fn pow(self, x: f64) -> f64 {
        match self.whole {
            // The defaults (SBX η 15, PM η 20) unrolled, multiplying in the loop's order.
            Some(16) => {
                let x4 = (x * x) * (x * x);
                let x8 = x4 * x4;
                x8 * x8
            }
            Some(21) => {
                let x4 = (x * x) * (x * x);
                let x16 = (x4 * x4) * (x4 * x4);
                (x * x4) * x16
            }
            // Squaring inline: `powi` with a run-time exponent is a library call.
            Some(mut k) => {
                let (mut base, mut product) = (x, 1.0);
                while k > 0 {
                    if k & 1 == 1 {
                        product *= base;
                    }
                    base *= base;
                    k >>= 1;
                }
                product
            }
            None => x.powf(self.k),
        }
    }

    fn root(self, x: f64) -> f64 {
        match self.halvings {
            Some(n) => (0..n).fold(x, |v, _| v.sqrt()),
            None => x.powf(1.0 / self.k),
        }
    }

    /// Two roots at once: their square-root chains interleave instead of waiting on each other.
    fn root_pair(self, x: f64, y: f64) -> (f64, f64) {
        match self.halvings {
            // SBX's default η = 15: four halvings, unrolled.
            Some(4) => (x.sqrt().sqrt().sqrt().sqrt(), y.sqrt().sqrt().sqrt().sqrt()),
            Some(n) => (0..n).fold((x, y), |(a, b), _| (a.sqrt(), b.sqrt())),
            None => (self.root(x), self.root(y)),
        }
    }
}

impl Sbx {
    /// Two children of two parents.
    pub fn cross(&self, space: &Space, a: &[f64], b: &[f64], rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
        let (mut c1, mut c2) = (a.to_vec(), b.to_vec());
        self.cross_in_place(space, &mut c1, &mut c2, rng);
        (c1, c2)
    }

    /// Crosses two parents' genes into two children where they lie.
    pub fn cross_in_place(&self, space: &Space, c1: &mut [f64], c2: &mut [f64], rng: &mut Rng) {
        if rng.next_f64() >= self.prob {
            return;
        }
        let exponent = Exponent::new(self.eta + 1.0);
        for i in 0..c1.len() {
            let (a, b) = (c1[i], c2[i]);
            if rng.next_f64() >= self.prob_var || (a - b).abs() <= EPS {
                continue;
            }
            let (lo, hi) = (space.lo[i], space.hi[i]);
            let (y1, y2) = if a < b { (a, b) } else { (b, a) };
            let delta = y2 - y1;
            let rand = rng.next_f64();
            // What betaq is the (η+1)-th root of, for one side's spread β.
            // `rand ≤ 1/α` is tested as `rand·α ≤ 1` (α ≥ 1): one division fewer per side.
            let radicand = |beta: f64| {
                let alpha = 2.0 - 1.0 / exponent.pow(beta);
                let r = rand * alpha;
                if r <= 1.0 {
                    r
                } else {
                    1.0 / (2.0 - r)
                }
            };
            let two_over_delta = 2.0 / delta;
            let (betaq1, betaq2) = exponent
                .root_pair(radicand(1.0 + (y1 - lo) * two_over_delta), radicand(1.0 + (hi - y2) * two_over_delta));
            let mut v1 = 0.5 * ((y1 + y2) - betaq1 * delta);
            let mut v2 = 0.5 * ((y1 + y2) + betaq2 * delta);
            if rng.next_f64() < self.prob_exch {
                std::mem::swap(&mut v1, &mut v2);
            }
            c1[i] = v1.clamp(lo, hi);
            c2[i] = v2.clamp(lo, hi);
        }
    }
}

impl PolynomialMutation {
    pub fn mutate(&self, space: &Space, x: &mut [f64], rng: &mut Rng) {
        let prob_var = self.prob_var.unwrap_or_else(|| (1.0 / x.len() as f64).min(0.5));
        let exponent = Exponent::new(self.eta + 1.0);
        for (i, v) in x.iter_mut().enumerate() {
            if rng.next_f64() >= prob_var {
                continue;
            }
            let (lo, hi) = (space.lo[i], space.hi[i]);
            if hi <= lo {
                continue;
            }
            let delta1 = (*v - lo) / (hi - lo);
            let delta2 = (hi - *v) / (hi - lo);
            let rand = rng.next_f64();
            let deltaq = if rand <= 0.5 {
                let val = 2.0 * rand + (1.0 - 2.0 * rand) * exponent.pow(1.0 - delta1);
                exponent.root(val) - 1.0
            } else {
                let val = 2.0 * (1.0 - rand) + 2.0 * (rand - 0.5) * exponent.pow(1.0 - delta2);
                1.0 - exponent.root(val)
            };
            *v = (*v + deltaq * (hi - lo)).clamp(lo, hi);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Exponent;

    #[test]
    fn fast_powers_agree_with_powf() {
        for k in [16.0, 21.0, 15.5, 2.0, 1.0] {
            let e = Exponent::new(k);
            for x in [1e-9, 0.001, 0.3, 0.999_999, 1.0, 1.7, 40.0] {
                let (pow, root) = (e.pow(x), e.root(x));
                assert!((pow - x.powf(k)).abs() <= 1e-12 * x.powf(k).abs().max(1.0), "{x}^{k}: {pow}");
                assert!((root - x.powf(1.0 / k)).abs() <= 1e-14 * root.abs().max(1.0), "{x}^(1/{k}): {root}");
            }
        }
    }
}
