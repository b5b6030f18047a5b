//! The example jobs of crate fog-jobs, built for wasm32-wasip1 by build.rs and embedded here so
//! every node can run them without a download.

use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Serialize, TS, ToSchema)]
pub struct ExampleJob {
    pub name: &'static str,
    pub description: &'static str,
    /// An input that finishes in about a second on a laptop core.
    pub sample_input: &'static str,
    #[serde(skip)]
    pub wasm: &'static [u8],
}

pub const EXAMPLES: [ExampleJob; 3] = [
    ExampleJob {
        name: "sieve",
        description: "Counts the primes up to a limit (sieve of Eratosthenes). Input: the limit.",
        sample_input: "50000000",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/sieve.wasm")),
    },
    ExampleJob {
        name: "mandelbrot",
        description: "Renders a Mandelbrot tile as a PGM image. Input: width height max_iter [x0 y0 x1 y1].",
        sample_input: "800 600 500",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/mandelbrot.wasm")),
    },
    ExampleJob {
        name: "wordcount",
        description: "Counts lines, words, bytes and distinct words of UTF-8 text, like wc. Input: the text.",
        sample_input: "the quick brown fox jumps over the lazy dog\n",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/wordcount.wasm")),
    },
];

pub fn example(name: &str) -> Option<&'static ExampleJob> {
    EXAMPLES.iter().find(|e| e.name == name)
}
