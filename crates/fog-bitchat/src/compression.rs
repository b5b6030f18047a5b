//! Raw DEFLATE (RFC 1951, no zlib header), as both apps compress payloads: only when it pays,
//! and with guards on what a peer may make us inflate.

use std::io::{Read, Write};

use flate2::Compression;

/// Payloads shorter than this are sent as they are.
pub const MIN_COMPRESS_BYTES: usize = 100;
/// The largest original size accepted: iOS's limit (a framed 1 MiB file), the smaller of the two.
pub const MAX_DECOMPRESSED_BYTES: usize = 1_179_760;
/// The largest expansion accepted.
pub const MAX_RATIO: usize = 50_000;
/// iOS compresses with zlib at level 5; matching it keeps signatures verifiable there.
const LEVEL: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    #[error("a declared size of {0} bytes is over the {MAX_DECOMPRESSED_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("{original} bytes from {compressed} compressed is over the {MAX_RATIO}:1 ratio limit")]
    Ratio { original: usize, compressed: usize },
    #[error("the compressed payload is not raw DEFLATE: {0}")]
    Invalid(String),
    #[error("the payload inflates to {got} bytes, not the {declared} declared")]
    SizeMismatch { declared: usize, got: usize },
}

/// The compressed payload when compressing is worth it: at least 100 bytes, varied bytes
/// under 90 % (already-compressed data rarely shrinks), and a strictly smaller result.
pub fn compress_if_worth(payload: &[u8]) -> Option<Vec<u8>> {
    if payload.len() < MIN_COMPRESS_BYTES {
        return None;
    }
    let mut seen = [false; 256];
    payload.iter().for_each(|b| seen[*b as usize] = true);
    let distinct = seen.iter().filter(|s| **s).count();
    if distinct as f64 / payload.len().min(256) as f64 >= 0.9 {
        return None;
    }
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(LEVEL));
    encoder.write_all(payload).ok()?;
    let compressed = encoder.finish().ok()?;
    (compressed.len() < payload.len()).then_some(compressed)
}

/// Inflates `compressed`, which must give exactly `declared` bytes; never more than that is
/// allocated.
pub fn decompress(compressed: &[u8], declared: usize) -> Result<Vec<u8>, DecompressError> {
    if declared > MAX_DECOMPRESSED_BYTES {
        return Err(DecompressError::TooLarge(declared));
    }
    if declared > compressed.len().max(1).saturating_mul(MAX_RATIO) {
        return Err(DecompressError::Ratio { original: declared, compressed: compressed.len() });
    }
    let mut out = Vec::with_capacity(declared);
    // One byte more than declared tells a stream that runs long from one that fits.
    flate2::read::DeflateDecoder::new(compressed)
        .take(declared as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecompressError::Invalid(e.to_string()))?;
    if out.len() != declared {
        return Err(DecompressError::SizeMismatch { declared, got: out.len() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_only_what_pays_and_round_trips() {
        let text = "the mesh carries this line again and again; ".repeat(8).into_bytes();
        let compressed = compress_if_worth(&text).expect("repetitive text compresses");
        assert!(compressed.len() < text.len());
        assert_eq!(decompress(&compressed, text.len()).unwrap(), text);
        assert_eq!(compress_if_worth(b"short"), None);
        let varied: Vec<u8> = (0..=255).collect();
        assert_eq!(compress_if_worth(&varied), None, "every byte value once: not worth trying");
    }

    #[test]
    fn guards_hold() {
        let text = vec![b'a'; 1000];
        let compressed = compress_if_worth(&text).unwrap();
        assert_eq!(decompress(&compressed, 999), Err(DecompressError::SizeMismatch { declared: 999, got: 1000 }));
        assert!(matches!(decompress(&compressed, 1001), Err(DecompressError::SizeMismatch { .. })));
        assert!(matches!(decompress(&compressed, MAX_DECOMPRESSED_BYTES + 1), Err(DecompressError::TooLarge(_))));
        assert!(matches!(decompress(&[0x03, 0x00], 200_000), Err(DecompressError::Ratio { .. })));
        assert!(matches!(decompress(&[0xff; 8], 10), Err(DecompressError::Invalid(_))));
    }
}
