//! The batch scheduler of Fog Compute. This first part is the pure multi-objective engine:
//! NSGA-II, generic over the problem, with pymoo's operator semantics, reference problems with
//! known fronts, and the hypervolume and IGD indicators to judge a run.

pub mod bench;
pub mod indicators;
pub mod lifecycle;
pub mod model;
pub mod nsga2;
pub mod nsga3;
pub mod operators;
pub mod problem;
pub mod problems;
pub mod rng;
pub mod sort;

pub use nsga2::{run as nsga2, Nsga2Config, Outcome};
pub use problem::{Gene, Individual, Problem};

#[cfg(test)]
mod quality;
