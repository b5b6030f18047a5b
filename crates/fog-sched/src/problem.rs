//! What the engine optimises: a vector of bounded real or integer genes, several objectives to
//! minimise, and constraints `g(x) ≤ 0`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gene {
    Real,
    /// Varied as a real number and rounded to the nearest integer (pymoo's rounding repair).
    Integer,
}

pub trait Problem: Sync {
    fn n_var(&self) -> usize;
    fn n_obj(&self) -> usize;
    fn n_constr(&self) -> usize {
        0
    }
    /// Lower and upper bound of gene `i`.
    fn bounds(&self, i: usize) -> (f64, f64);
    fn gene(&self, _i: usize) -> Gene {
        Gene::Real
    }
    /// Writes the objectives (to minimise) and the constraints (feasible when ≤ 0) of `x`.
    fn evaluate(&self, x: &[f64], objectives: &mut [f64], constraints: &mut [f64]);
}

/// One evaluated solution.
#[derive(Debug, Clone, PartialEq)]
pub struct Individual {
    pub x: Vec<f64>,
    pub f: Vec<f64>,
    /// Total constraint violation: the sum of the positive parts of `g`; 0 when feasible.
    pub cv: f64,
}

impl Individual {
    pub fn evaluate(problem: &dyn Problem, x: Vec<f64>) -> Individual {
        let mut individual = Individual { x, f: Vec::new(), cv: 0.0 };
        individual.reevaluate(problem);
        individual
    }

    /// An individual with no genes yet, whose buffers will be filled.
    pub fn empty() -> Individual {
        Individual { x: Vec::new(), f: Vec::new(), cv: 0.0 }
    }

    /// Evaluates again after the genes changed, reusing the objective buffer.
    pub fn reevaluate(&mut self, problem: &dyn Problem) {
        self.f.clear();
        self.f.resize(problem.n_obj(), 0.0);
        // A few constraints live on the stack rather than in an allocation per child.
        let n_constr = problem.n_constr();
        let (mut few, mut many) = ([0.0; 8], Vec::new());
        let g = if n_constr <= few.len() {
            &mut few[..n_constr]
        } else {
            many.resize(n_constr, 0.0);
            &mut many[..]
        };
        problem.evaluate(&self.x, &mut self.f, g);
        self.cv = g.iter().map(|v| v.max(0.0)).sum();
    }

    pub fn feasible(&self) -> bool {
        self.cv <= 0.0
    }
}

/// Every gene's bounds and kind, read from the problem once per run: the operators consult
/// them for every gene of every child.
#[derive(Debug, Clone)]
pub struct Space {
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
    pub integer: Vec<bool>,
    any_integer: bool,
}

impl Space {
    pub fn of(problem: &dyn Problem) -> Space {
        let n = problem.n_var();
        let (lo, hi) = (0..n).map(|i| problem.bounds(i)).unzip();
        let integer: Vec<bool> = (0..n).map(|i| problem.gene(i) == Gene::Integer).collect();
        Space { lo, hi, any_integer: integer.contains(&true), integer }
    }

    /// Rounds integer genes; the operators keep every gene within its bounds already.
    pub fn round_integers(&self, x: &mut [f64]) {
        if !self.any_integer {
            return;
        }
        for (i, v) in x.iter_mut().enumerate() {
            if self.integer[i] {
                *v = v.round().clamp(self.lo[i], self.hi[i]);
            }
        }
    }

    /// Rounds integer genes and clips every gene to its bounds.
    pub fn repair(&self, x: &mut [f64]) {
        for (i, v) in x.iter_mut().enumerate() {
            if self.integer[i] {
                *v = v.round();
            }
            *v = v.clamp(self.lo[i], self.hi[i]);
        }
    }
}
