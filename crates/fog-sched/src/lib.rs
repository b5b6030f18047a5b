//! The batch scheduler of Fog Compute. Its pure core is the multi-objective engine (NSGA-II and
//! NSGA-III, generic over the problem, with pymoo's operator semantics), reference problems with
//! known fronts, the hypervolume and IGD indicators, the placement model and the job lifecycle.
//! Its service part is the job queue in SQLite ([`queue`]) and the [`service::Scheduler`] that
//! places queued jobs on the nodes of a [`service::Cluster`] and follows them to their end.

pub mod bench;
pub mod indicators;
pub mod lifecycle;
pub mod model;
pub mod nsga2;
pub mod nsga3;
pub mod operators;
mod pool;
pub mod problem;
pub mod problems;
pub mod queue;
pub mod rng;
pub mod service;
pub mod sort;

pub use nsga2::{run as nsga2, Nsga2Config, Outcome};
pub use problem::{Gene, Individual, Problem};

#[cfg(test)]
mod quality;
