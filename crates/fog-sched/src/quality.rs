//! Quality of the engine against pymoo's published figures, over ten seeds (not timed).

use crate::indicators::{hypervolume, igd};
use crate::nsga2::{run, Nsga2Config};
use crate::problems::Zdt;

fn mean_hv(zdt: Zdt) -> (f64, f64) {
    let (mut hv_sum, mut igd_sum) = (0.0, 0.0);
    for seed in 1..=10 {
        let outcome = run(&zdt, &Nsga2Config { seed, ..Nsga2Config::default() });
        let front: Vec<Vec<f64>> = outcome.front().iter().map(|i| i.f.clone()).collect();
        hv_sum += hypervolume(&front, &zdt.reference_point());
        igd_sum += igd(&front, &zdt.true_front(1000));
    }
    (hv_sum / 10.0, igd_sum / 10.0)
}

#[test]
fn zdt1_zdt2_zdt3_reach_pymoos_hypervolume() {
    for (zdt, goal) in [(Zdt::Zdt1, 0.8690), (Zdt::Zdt2, 0.535), (Zdt::Zdt3, 1.326)] {
        let (hv, igd) = mean_hv(zdt);
        eprintln!("{zdt:?}: mean HV {hv:.4}, IGD {igd:.5}");
        assert!(hv >= goal, "{zdt:?}: mean HV {hv} < {goal}");
    }
}

#[test]
fn a_seeded_run_is_bit_reproducible() {
    let config = Nsga2Config { generations: 30, seed: 42, ..Nsga2Config::default() };
    let a = run(&Zdt::Zdt1, &config);
    let b = run(&Zdt::Zdt1, &config);
    assert_eq!(a.population, b.population);
    let threaded = run(&Zdt::Zdt1, &Nsga2Config { threads: 3, ..config.clone() });
    assert_eq!(a.population, threaded.population);
    let other = run(&Zdt::Zdt1, &Nsga2Config { seed: 43, ..config });
    assert_ne!(a.population, other.population);
}
