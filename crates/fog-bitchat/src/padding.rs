//! PKCS#7-style padding to the next of 256, 512, 1024 or 2048 bytes, so a Noise frame's size
//! says little about its content.

/// Block sizes a frame is padded up to.
pub const BLOCKS: [usize; 4] = [256, 512, 1024, 2048];

/// Pads `frame` in place: to the smallest block with at least 16 bytes to spare, with k bytes
/// each equal to k. A frame too big for every block, or needing more than 255 bytes, is left
/// as it is.
pub fn pad(frame: &mut Vec<u8>) {
    let Some(block) = BLOCKS.into_iter().find(|block| frame.len() + 16 <= *block) else { return };
    let k = block - frame.len();
    if k <= 255 {
        frame.resize(block, k as u8);
    }
}

/// `bytes` without their PKCS#7 padding, if they end in a well-formed one.
pub fn unpad(bytes: &[u8]) -> Option<&[u8]> {
    let k = *bytes.last()? as usize;
    if k == 0 || k > bytes.len() {
        return None;
    }
    let (rest, padding) = bytes.split_at(bytes.len() - k);
    padding.iter().all(|b| *b as usize == k).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_frames_pad_to_256() {
        // VECTORS.md D3: the three XX handshake frames (v1, with recipient, unsigned).
        for (frame, fill) in [(62, 0xc2), (126, 0x82), (78, 0xb2)] {
            let mut bytes = vec![7u8; frame];
            pad(&mut bytes);
            assert_eq!(bytes.len(), 256);
            assert!(bytes[frame..].iter().all(|b| *b == fill), "{frame}");
            assert_eq!(unpad(&bytes), Some(&vec![7u8; frame][..]));
        }
    }

    #[test]
    fn too_big_or_too_far_stays_unpadded() {
        let mut big = vec![1u8; 2040];
        pad(&mut big);
        assert_eq!(big.len(), 2040, "2040 + 16 fits no block");
        let mut small = vec![1u8; 200];
        pad(&mut small);
        assert_eq!(small.len(), 256);
        let mut far = vec![1u8; 241];
        pad(&mut far);
        assert_eq!(far.len(), 241, "the next block is 512, and 271 bytes of padding is over 255");
        assert_eq!(unpad(&[1, 2, 0]), None);
        assert_eq!(unpad(&[5, 5]), None);
    }
}
