//! Variation operators with pymoo's semantics (pymoo 0.6), so results compare with it:
//! simulated binary crossover (SBX) and polynomial mutation (PM).

use crate::problem::Problem;
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

impl Sbx {
    /// Two children of two parents.
    pub fn cross(&self, problem: &dyn Problem, a: &[f64], b: &[f64], rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
        let (mut c1, mut c2) = (a.to_vec(), b.to_vec());
        if rng.next_f64() >= self.prob {
            return (c1, c2);
        }
        for i in 0..a.len() {
            if rng.next_f64() >= self.prob_var || (a[i] - b[i]).abs() <= EPS {
                continue;
            }
            let (lo, hi) = problem.bounds(i);
            let (y1, y2) = if a[i] < b[i] { (a[i], b[i]) } else { (b[i], a[i]) };
            let delta = y2 - y1;
            let rand = rng.next_f64();
            let betaq = |beta: f64| {
                let alpha = 2.0 - beta.powf(-(self.eta + 1.0));
                if rand <= 1.0 / alpha {
                    (rand * alpha).powf(1.0 / (self.eta + 1.0))
                } else {
                    (1.0 / (2.0 - rand * alpha)).powf(1.0 / (self.eta + 1.0))
                }
            };
            let mut v1 = 0.5 * ((y1 + y2) - betaq(1.0 + 2.0 * (y1 - lo) / delta) * delta);
            let mut v2 = 0.5 * ((y1 + y2) + betaq(1.0 + 2.0 * (hi - y2) / delta) * delta);
            if rng.next_f64() < self.prob_exch {
                std::mem::swap(&mut v1, &mut v2);
            }
            c1[i] = v1.clamp(lo, hi);
            c2[i] = v2.clamp(lo, hi);
        }
        (c1, c2)
    }
}

impl PolynomialMutation {
    pub fn mutate(&self, problem: &dyn Problem, x: &mut [f64], rng: &mut Rng) {
        let prob_var = self.prob_var.unwrap_or_else(|| (1.0 / x.len() as f64).min(0.5));
        let power = 1.0 / (self.eta + 1.0);
        for (i, v) in x.iter_mut().enumerate() {
            if rng.next_f64() >= prob_var {
                continue;
            }
            let (lo, hi) = problem.bounds(i);
            if hi <= lo {
                continue;
            }
            let delta1 = (*v - lo) / (hi - lo);
            let delta2 = (hi - *v) / (hi - lo);
            let rand = rng.next_f64();
            let deltaq = if rand <= 0.5 {
                let val = 2.0 * rand + (1.0 - 2.0 * rand) * (1.0 - delta1).powf(self.eta + 1.0);
                val.powf(power) - 1.0
            } else {
                let val = 2.0 * (1.0 - rand) + 2.0 * (rand - 0.5) * (1.0 - delta2).powf(self.eta + 1.0);
                1.0 - val.powf(power)
            };
            *v = (*v + deltaq * (hi - lo)).clamp(lo, hi);
        }
    }
}
