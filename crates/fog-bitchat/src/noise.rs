//! Private messages ride Noise XX sessions (`Noise_XX_25519_ChaChaPoly_SHA256`, empty prologue,
//! empty handshake payloads: messages of 32, 96 and 64 bytes, the last two ending in the empty
//! payload's tag). The transport is BitChat's own
//! framing: a 4-byte big-endian send counter, then the ChaCha20-Poly1305 ciphertext and tag under
//! that counter as the nonce, so frames may arrive out of order; a 1024-wide window refuses
//! replays. The cryptography is `snow`'s.

use snow::{HandshakeState, StatelessTransportState};

use crate::identity::peer_id;
use crate::PeerId;

pub const PROTOCOL: &str = "Noise_XX_25519_ChaChaPoly_SHA256";
/// Longest handshake message accepted.
pub const MAX_HANDSHAKE_BYTES: usize = 2048;
/// Longest Noise message (the Noise spec's limit).
pub const MAX_MESSAGE_BYTES: usize = 65_535;
/// Counters a receiver remembers behind the highest it has seen.
pub const REPLAY_WINDOW: u64 = 1024;
const COUNTER_BYTES: usize = 4;
const TAG_BYTES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoiseError {
    #[error("Noise: {0}")]
    Protocol(String),
    #[error("a {0}-byte handshake message is over the {MAX_HANDSHAKE_BYTES}-byte limit")]
    HandshakeTooLong(usize),
    #[error("the handshake has not finished")]
    Unfinished,
    #[error("the peer's static key makes peer id {got}, not the {claimed} it claims")]
    WrongPeer { claimed: String, got: String },
    #[error("a {0}-byte transport frame is too short")]
    FrameTooShort(usize),
    #[error("message {0} was already received or is too old")]
    Replayed(u64),
    #[error("the send counter is used up; a new handshake is needed")]
    CounterExhausted,
    #[error("the plaintext is {0} bytes; at most {max} fit one frame", max = MAX_MESSAGE_BYTES - TAG_BYTES)]
    TooLong(usize),
}

fn protocol(e: snow::Error) -> NoiseError {
    NoiseError::Protocol(e.to_string())
}

/// One side of an XX handshake in progress.
pub struct Handshake {
    state: HandshakeState,
}

impl Handshake {
    pub fn initiator(static_private_key: &[u8; 32]) -> Result<Handshake, NoiseError> {
        Ok(Handshake { state: builder(static_private_key)?.build_initiator().map_err(protocol)? })
    }

    pub fn responder(static_private_key: &[u8; 32]) -> Result<Handshake, NoiseError> {
        Ok(Handshake { state: builder(static_private_key)?.build_responder().map_err(protocol)? })
    }

    /// Whether the next message is ours to write.
    pub fn our_turn(&self) -> bool {
        self.state.is_my_turn()
    }

    /// Our next handshake message (its payload is empty).
    pub fn write(&mut self) -> Result<Vec<u8>, NoiseError> {
        let mut out = vec![0; MAX_HANDSHAKE_BYTES];
        let len = self.state.write_message(&[], &mut out).map_err(protocol)?;
        out.truncate(len);
        Ok(out)
    }

    /// Reads the peer's next handshake message.
    pub fn read(&mut self, message: &[u8]) -> Result<(), NoiseError> {
        if message.len() > MAX_HANDSHAKE_BYTES {
            return Err(NoiseError::HandshakeTooLong(message.len()));
        }
        let mut payload = vec![0; message.len()];
        self.state.read_message(message, &mut payload).map_err(protocol)?;
        Ok(())
    }

    pub fn is_finished(&self) -> bool {
        self.state.is_handshake_finished()
    }

    /// The session, once the handshake is over and the peer's static key hashes to the peer id
    /// it claims; otherwise the session is discarded.
    pub fn finish(self, claimed: PeerId) -> Result<Session, NoiseError> {
        if !self.state.is_handshake_finished() {
            return Err(NoiseError::Unfinished);
        }
        let remote: [u8; 32] = self
            .state
            .get_remote_static()
            .and_then(|key| key.try_into().ok())
            .ok_or_else(|| NoiseError::Protocol("the peer sent no static key".into()))?;
        let got = peer_id(&remote);
        if got != claimed {
            return Err(NoiseError::WrongPeer { claimed: hex::encode(claimed), got: hex::encode(got) });
        }
        let handshake_hash = self.state.get_handshake_hash().to_vec();
        Ok(Session {
            transport: self.state.into_stateless_transport_mode().map_err(protocol)?,
            next_counter: 0,
            replay: ReplayWindow::default(),
            remote_static: remote,
            handshake_hash,
        })
    }
}

fn builder(static_private_key: &[u8; 32]) -> Result<snow::Builder<'_>, NoiseError> {
    snow::Builder::new(PROTOCOL.parse().expect("a valid Noise protocol name"))
        .local_private_key(static_private_key)
        .map_err(protocol)
}

/// Who keeps the initiator role when both sides start a handshake at once: the peer with the
/// smaller id (compared as the apps compare them, as lowercase hex, which orders as the bytes do).
pub fn keeps_initiator_role(local: PeerId, remote: PeerId) -> bool {
    local < remote
}

/// An established session: encrypts with an explicit counter, decrypts in any order once.
pub struct Session {
    transport: StatelessTransportState,
    next_counter: u64,
    replay: ReplayWindow,
    remote_static: [u8; 32],
    handshake_hash: Vec<u8>,
}

impl Session {
    pub fn remote_static_key(&self) -> &[u8; 32] {
        &self.remote_static
    }

    pub fn handshake_hash(&self) -> &[u8] {
        &self.handshake_hash
    }

    /// Messages sent so far.
    pub fn sent(&self) -> u64 {
        self.next_counter
    }

    /// counter (u32, big-endian) ‖ ciphertext ‖ tag.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if plaintext.len() > MAX_MESSAGE_BYTES - TAG_BYTES {
            return Err(NoiseError::TooLong(plaintext.len()));
        }
        let counter = self.next_counter;
        if counter >= u64::from(u32::MAX) {
            return Err(NoiseError::CounterExhausted);
        }
        let mut out = vec![0; COUNTER_BYTES + plaintext.len() + TAG_BYTES];
        out[..COUNTER_BYTES].copy_from_slice(&(counter as u32).to_be_bytes());
        let len = self.transport.write_message(counter, plaintext, &mut out[COUNTER_BYTES..]).map_err(protocol)?;
        out.truncate(COUNTER_BYTES + len);
        self.next_counter += 1;
        Ok(out)
    }

    pub fn decrypt(&mut self, frame: &[u8]) -> Result<Vec<u8>, NoiseError> {
        if frame.len() < COUNTER_BYTES + TAG_BYTES || frame.len() > COUNTER_BYTES + MAX_MESSAGE_BYTES {
            return Err(NoiseError::FrameTooShort(frame.len()));
        }
        let counter = u64::from(u32::from_be_bytes(frame[..COUNTER_BYTES].try_into().expect("4 bytes")));
        if !self.replay.is_fresh(counter) {
            return Err(NoiseError::Replayed(counter));
        }
        let mut out = vec![0; frame.len() - COUNTER_BYTES];
        let len = self.transport.read_message(counter, &frame[COUNTER_BYTES..], &mut out).map_err(protocol)?;
        out.truncate(len);
        // Only an authentic frame moves the window.
        self.replay.mark(counter);
        Ok(out)
    }
}

/// The counters seen lately: the highest, and a bit for each of the 1024 below it.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    highest: Option<u64>,
    seen: [u64; (REPLAY_WINDOW / 64) as usize],
}

impl ReplayWindow {
    /// Not seen before and not older than the window.
    pub fn is_fresh(&self, counter: u64) -> bool {
        match self.highest {
            None => true,
            Some(high) if counter > high => true,
            Some(high) => {
                let behind = high - counter;
                behind < REPLAY_WINDOW && !self.bit(behind)
            }
        }
    }

    pub fn mark(&mut self, counter: u64) {
        match self.highest {
            Some(high) if counter <= high => {
                let behind = high - counter;
                if behind < REPLAY_WINDOW {
                    self.set(behind);
                }
            }
            previous => {
                let shift = previous.map_or(REPLAY_WINDOW, |high| (counter - high).min(REPLAY_WINDOW));
                self.shift(shift);
                self.highest = Some(counter);
                self.set(0);
            }
        }
    }

    fn bit(&self, behind: u64) -> bool {
        self.seen[(behind / 64) as usize] & (1 << (behind % 64)) != 0
    }

    fn set(&mut self, behind: u64) {
        self.seen[(behind / 64) as usize] |= 1 << (behind % 64);
    }

    /// Moves every bit `by` places further behind (the bit for `behind` becomes `behind + by`).
    fn shift(&mut self, by: u64) {
        if by >= REPLAY_WINDOW {
            self.seen = [0; (REPLAY_WINDOW / 64) as usize];
            return;
        }
        let (words, bits) = ((by / 64) as usize, by % 64);
        let n = self.seen.len();
        for i in (0..n).rev() {
            let from = i.checked_sub(words);
            let lower = from.map_or(0, |f| self.seen[f]);
            let carry = from.and_then(|f| f.checked_sub(1)).map_or(0, |f| self.seen[f]);
            self.seen[i] = if bits == 0 { lower } else { (lower << bits) | (carry >> (64 - bits)) };
        }
    }
}

#[cfg(test)]
mod tests;
