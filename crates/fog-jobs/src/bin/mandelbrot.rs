//! Renders a Mandelbrot tile described on stdin as a PGM image on stdout.
use std::io::{Read, Write};

fn main() {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        fail(&format!("cannot read input: {e}"));
    }
    let tile = fog_jobs::parse_tile_input(&input).unwrap_or_else(|e| fail(&e.0));
    let image = fog_jobs::mandelbrot(&tile);
    if let Err(e) = std::io::stdout().write_all(&image) {
        fail(&format!("cannot write the image: {e}"));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}
