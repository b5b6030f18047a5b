//! The benchmarks a node runs for the dashboard and `fog bench`, with their input checked.

use crate::api::types::BenchRequest;
use fog_idle::bench::Figure;

/// Largest optimiser run accepted, in evaluations, so a run stays within seconds.
pub const MAX_EVALUATIONS: u64 = 1_000_000;

/// Runs a benchmark: ((suite, title), figures), or why the request cannot run.
pub fn run(request: &BenchRequest) -> Result<((String, String), Vec<Figure>), String> {
    match request.suite.as_str() {
        "nsga" => {
            let problem = request.problem.clone().unwrap_or_else(|| "zdt1".into());
            let algorithm = request.algorithm.clone().unwrap_or_else(|| "nsga2".into());
            let (pop, gens, seed) =
                (request.pop.unwrap_or(100) as usize, request.gens.unwrap_or(250) as usize, request.seed.unwrap_or(1));
            if (pop as u64) * (gens as u64 + 1) > MAX_EVALUATIONS {
                return Err(format!(
                    "pop × gens is at most {MAX_EVALUATIONS} evaluations here; use `fog bench nsga` for more"
                ));
            }
            let r = fog_sched::bench::nsga(&problem, &algorithm, pop, gens, seed, 1)?;
            let name = if algorithm == "nsga3" { "NSGA-III" } else { "NSGA-II" };
            let title = format!("{name} on {problem}, population {} × {gens} generations, seed {seed}", r.pop);
            let reference = r.reference_point.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", ");
            let hv_goal =
                (problem == "zdt1" && algorithm == "nsga2" && pop == 100 && gens == 250).then_some("≥ 0.8690");
            let figures = vec![
                Figure {
                    name: format!("hypervolume at ({reference})"),
                    value: r.hypervolume,
                    unit: String::new(),
                    goal: hv_goal.map(str::to_string),
                },
                Figure { name: "IGD to the true front".into(), value: r.igd, unit: String::new(), goal: None },
                Figure { name: "wall time".into(), value: r.wall_ms, unit: "ms".into(), goal: None },
                Figure { name: "evaluations".into(), value: r.evaluations as f64, unit: String::new(), goal: None },
                Figure {
                    name: "non-dominated solutions".into(),
                    value: r.front_size as f64,
                    unit: String::new(),
                    goal: None,
                },
            ];
            Ok((("nsga".into(), title), figures))
        }
        "sandbox" => {
            let figures = fog_idle::bench::sandbox()?;
            Ok((("sandbox".into(), "WebAssembly sandbox against native code, and the harvest policy".into()), figures))
        }
        "mixnode" => {
            let figures = crate::mix_bench::run(crate::mix_bench::MixBenchPlan::default())?;
            let title = "Betanet mixnodes on 127.0.0.1: one fed 10,000 packets/s, then three hops at 1,000 packets/s";
            Ok((("mixnode".into(), title.into()), figures))
        }
        other => Err(format!("no benchmark suite {other:?}; there are nsga, sandbox and mixnode")),
    }
}
