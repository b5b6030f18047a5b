//! Example donated-compute jobs. Each job is a WASI command: it reads its input from stdin and
//! writes its result to stdout. The kernels live here so the same code can be run natively and
//! compared with its sandboxed run (`benches/idle.rs`).

use std::collections::HashMap;
use std::fmt;

/// Largest sieve limit a job accepts: the bitset over odd numbers then stays under 32 MiB.
pub const MAX_SIEVE_LIMIT: u64 = 500_000_000;
/// Largest Mandelbrot tile side, so an image stays under 16 MiB.
pub const MAX_TILE_SIDE: u32 = 4096;

/// Why a job's input was refused; the job prints it to stderr and exits with status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many primes there are up to `limit` (inclusive), and the largest of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SieveResult {
    pub count: u64,
    pub largest: Option<u64>,
}

/// Parses a sieve input: one decimal limit.
pub fn parse_sieve_input(input: &str) -> Result<u64, InputError> {
    let limit: u64 = input
        .trim()
        .parse()
        .map_err(|_| InputError(format!("expected one whole number (the sieve limit), got {:?}", short(input))))?;
    if limit > MAX_SIEVE_LIMIT {
        return Err(InputError(format!("the sieve limit is at most {MAX_SIEVE_LIMIT}, got {limit}")));
    }
    Ok(limit)
}

/// Sieve of Eratosthenes over odd numbers, one bit each.
pub fn sieve(limit: u64) -> SieveResult {
    if limit < 2 {
        return SieveResult { count: 0, largest: None };
    }
    // Bit i stands for the odd number 2i + 1; a set bit marks a composite.
    let odd_count = limit.div_ceil(2) as usize;
    let mut composite = vec![0u64; odd_count.div_ceil(64)];
    let mut i = 1usize;
    while (2 * i + 1) * (2 * i + 1) <= limit as usize {
        if composite[i / 64] & (1 << (i % 64)) == 0 {
            let p = 2 * i + 1;
            let mut j = (p * p) / 2;
            while j < odd_count {
                composite[j / 64] |= 1 << (j % 64);
                j += p;
            }
        }
        i += 1;
    }
    let mut count = 1; // 2
    let mut largest = 2;
    for k in 1..odd_count {
        if composite[k / 64] & (1 << (k % 64)) == 0 {
            count += 1;
            largest = 2 * k as u64 + 1;
        }
    }
    SieveResult { count, largest: Some(largest) }
}

/// A Mandelbrot tile: `width` × `height` pixels over the complex rectangle
/// [`x0`, `x1`] × [`y0`, `y1`], iterating at most `max_iter` times per pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tile {
    pub width: u32,
    pub height: u32,
    pub max_iter: u32,
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

/// Parses `width height max_iter [x0 y0 x1 y1]`; the rectangle defaults to the whole set.
pub fn parse_tile_input(input: &str) -> Result<Tile, InputError> {
    let fields: Vec<&str> = input.split_whitespace().collect();
    if fields.len() != 3 && fields.len() != 7 {
        return Err(InputError(format!("expected `width height max_iter [x0 y0 x1 y1]`, got {:?}", short(input))));
    }
    let whole = |i: usize, name: &str| -> Result<u32, InputError> {
        fields[i].parse().map_err(|_| InputError(format!("{name} must be a whole number, got {:?}", fields[i])))
    };
    let real = |i: usize| -> Result<f64, InputError> {
        fields[i]
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| InputError(format!("coordinates must be finite numbers, got {:?}", fields[i])))
    };
    let (width, height, max_iter) = (whole(0, "width")?, whole(1, "height")?, whole(2, "max_iter")?);
    if !(1..=MAX_TILE_SIDE).contains(&width) || !(1..=MAX_TILE_SIDE).contains(&height) {
        return Err(InputError(format!("width and height must be 1 to {MAX_TILE_SIDE}")));
    }
    if !(1..=255 * 1024).contains(&max_iter) {
        return Err(InputError("max_iter must be 1 to 261120".into()));
    }
    let (x0, y0, x1, y1) =
        if fields.len() == 7 { (real(3)?, real(4)?, real(5)?, real(6)?) } else { (-2.5, -1.25, 1.0, 1.25) };
    if x1 <= x0 || y1 <= y0 {
        return Err(InputError("the rectangle needs x0 < x1 and y0 < y1".into()));
    }
    Ok(Tile { width, height, max_iter, x0, y0, x1, y1 })
}

/// Renders the tile as a binary greyscale PGM (P5) image: black inside the set, lighter the
/// faster a point escapes.
pub fn mandelbrot(tile: &Tile) -> Vec<u8> {
    let header = format!("P5\n{} {}\n255\n", tile.width, tile.height);
    let mut image = Vec::with_capacity(header.len() + (tile.width * tile.height) as usize);
    image.extend_from_slice(header.as_bytes());
    let dx = (tile.x1 - tile.x0) / tile.width as f64;
    let dy = (tile.y1 - tile.y0) / tile.height as f64;
    for row in 0..tile.height {
        let ci = tile.y1 - (row as f64 + 0.5) * dy;
        for col in 0..tile.width {
            let cr = tile.x0 + (col as f64 + 0.5) * dx;
            let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0u32);
            while n < tile.max_iter && zr * zr + zi * zi <= 4.0 {
                let t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                n += 1;
            }
            let shade = if n == tile.max_iter { 0 } else { 255 - (n * 255 / tile.max_iter) as u8 };
            image.push(shade);
        }
    }
    image
}

/// Counts like `wc`, plus the distinct words and the most frequent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordCount {
    pub lines: u64,
    pub words: u64,
    pub bytes: u64,
    pub distinct: u64,
    pub most_common: Option<(String, u64)>,
}

/// Words are maximal runs of alphanumeric characters, compared case-insensitively.
pub fn word_count(text: &str) -> WordCount {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut words = 0;
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        words += 1;
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    // Ties go to the alphabetically first word so the result does not depend on hashing.
    let most_common =
        counts.iter().max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0))).map(|(w, n)| (w.clone(), *n));
    WordCount {
        lines: text.bytes().filter(|&b| b == b'\n').count() as u64,
        words,
        bytes: text.len() as u64,
        distinct: counts.len() as u64,
        most_common,
    }
}

fn short(input: &str) -> String {
    input.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sieve_counts_known_values() {
        assert_eq!(sieve(0), SieveResult { count: 0, largest: None });
        assert_eq!(sieve(2), SieveResult { count: 1, largest: Some(2) });
        assert_eq!(sieve(10), SieveResult { count: 4, largest: Some(7) });
        assert_eq!(sieve(100), SieveResult { count: 25, largest: Some(97) });
        assert_eq!(sieve(1_000_000), SieveResult { count: 78_498, largest: Some(999_983) });
    }

    #[test]
    fn sieve_input_is_checked() {
        assert_eq!(parse_sieve_input(" 1000\n"), Ok(1000));
        assert!(parse_sieve_input("ten").is_err());
        assert!(parse_sieve_input(&(MAX_SIEVE_LIMIT + 1).to_string()).is_err());
    }

    #[test]
    fn mandelbrot_tile_is_a_pgm_with_the_set_black() {
        let tile = parse_tile_input("8 4 50").unwrap();
        let image = mandelbrot(&tile);
        assert!(image.starts_with(b"P5\n8 4\n255\n"));
        assert_eq!(image.len(), "P5\n8 4\n255\n".len() + 32);
        // The pixel nearest the origin is inside the set.
        let origin = parse_tile_input("1 1 100 -0.1 -0.1 0.1 0.1").unwrap();
        assert_eq!(*mandelbrot(&origin).last().unwrap(), 0);
    }

    #[test]
    fn tile_input_is_checked() {
        assert!(parse_tile_input("0 4 50").is_err());
        assert!(parse_tile_input("4 4").is_err());
        assert!(parse_tile_input("4 4 10 1 0 0 1").is_err());
        assert!(parse_tile_input("4 4 10 NaN 0 1 1").is_err());
    }

    #[test]
    fn word_count_matches_wc() {
        let wc = word_count("the cat\nand The dog\n");
        assert_eq!((wc.lines, wc.words, wc.bytes, wc.distinct), (2, 5, 20, 4));
        assert_eq!(wc.most_common, Some(("the".into(), 2)));
    }
}
