//! Counts the primes up to the limit read from stdin.
use std::io::Read;

fn main() {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        fail(&format!("cannot read input: {e}"));
    }
    let limit = fog_jobs::parse_sieve_input(&input).unwrap_or_else(|e| fail(&e.0));
    let result = fog_jobs::sieve(limit);
    match result.largest {
        Some(largest) => println!("{} primes up to {limit}; the largest is {largest}", result.count),
        None => println!("0 primes up to {limit}"),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("{message}");
    std::process::exit(2)
}
