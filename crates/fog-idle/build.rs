//! Builds the example jobs (crate fog-jobs) for wasm32-wasip1 so the node can embed and run them.
//! The nested cargo uses its own target dir beside ours, so it never waits on the outer build's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

const JOBS: [&str; 3] = ["sieve", "mandelbrot", "wordcount"];
const TARGET: &str = "wasm32-wasip1";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let jobs_dir = manifest_dir.join("../fog-jobs");
    println!("cargo:rerun-if-changed={}", jobs_dir.join("src").display());
    println!("cargo:rerun-if-changed={}", jobs_dir.join("Cargo.toml").display());
    // The wasm-jobs profile lives in the workspace manifest.
    println!("cargo:rerun-if-changed={}", manifest_dir.join("../../Cargo.toml").display());

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = shared_target_dir(&out_dir).join("wasm-jobs");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--locked", "--package", "fog-jobs", "--bins", "--profile", "wasm-jobs"])
        .args(["--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(manifest_dir.join("../../Cargo.toml"));
    // The outer build's flags and wrappers (clippy, coverage, host RUSTFLAGS) are not for wasm.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        build.env_remove(var);
    }
    let status = build.status().unwrap_or_else(|e| panic!("cannot run cargo to build the example jobs: {e}"));
    if !status.success() {
        panic!(
            "building the example jobs for {TARGET} failed. If the target is missing, run \
             `rustup target add {TARGET}` (scripts/setup-debian does this)."
        );
    }
    let built = target_dir.join(TARGET).join("wasm-jobs");
    for job in JOBS {
        let wasm = built.join(format!("{job}.wasm"));
        std::fs::copy(&wasm, out_dir.join(format!("{job}.wasm")))
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", wasm.display()));
    }
}

/// `OUT_DIR` is `<target>/<profile>/build/<pkg>-<hash>/out`; the wasm build goes in `<target>`
/// so every profile and clippy share one copy.
fn shared_target_dir(out_dir: &Path) -> PathBuf {
    out_dir.ancestors().nth(4).map(Path::to_path_buf).unwrap_or_else(|| out_dir.join("target"))
}
