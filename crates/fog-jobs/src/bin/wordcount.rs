//! Counts lines, words and bytes of the UTF-8 text on stdin, like `wc`, plus distinct words.
use std::io::Read;

fn main() {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("the input must be UTF-8 text: {e}");
        std::process::exit(2);
    }
    let wc = fog_jobs::word_count(&input);
    println!("lines {}\nwords {}\nbytes {}\ndistinct {}", wc.lines, wc.words, wc.bytes, wc.distinct);
    if let Some((word, n)) = wc.most_common {
        println!("most common {word} ({n})");
    }
}
