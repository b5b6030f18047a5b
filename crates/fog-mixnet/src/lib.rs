//! Betanet, a Loopix-style mixnet: Sphinx packets, mixnodes in three stratified layers,
//! clients that keep a Poisson stream of real and cover packets, and a directory of signed
//! descriptors spread over gossip.
//!
//! # The packet
//! Every packet has the same length. A header routes it through at most [`sphinx::MAX_HOPS`]
//! hops (three mixnode layers and the destination make four); the payload is a 2,048-byte
//! block.
//!
//! ```text
//! header:  mode (1) | epoch (4) | α (32) | β: 5 routing slots | γ: MAC (16)
//! slot:    flag (1) | next address (32) | delay µs (4) | next MAC (16) [| next α (32), KEM mode]
//! payload: 2,048 bytes = 16 zero bytes (checked on delivery) | 2,032 bytes of data
//! ```
//!
//! | key mode | slot | header | packet |
//! |---|---|---|---|
//! | `sphinx` | 53 B | 318 B | 2,366 B |
//! | `kem` (default) | 85 B | 478 B | 2,526 B |
//!
//! **Group.** ristretto255 (curve25519-dalek): prime order, so a hop needs no cofactor or
//! small-subgroup checks beyond refusing the identity. A node's Sphinx key for an epoch is a
//! scalar; its public key a compressed ristretto point.
//!
//! **One hop.** The hop computes s = x·α with the secret of the packet's epoch, then one
//! keyed BLAKE2b of (s, α) seeds a ChaCha20 expander that gives the header stream key, the
//! MAC key, the replay tag, the Sphinx blinding factor and the four Lioness keys. It checks γ
//! (BLAKE2b-128 over mode, epoch, α and β), decrypts β with 53 (or 85) zero bytes appended
//! and reads its slot off the front; the rest is the next β, whose end the sender filled with
//! the filler so the length never changes. The payload is decrypted with Lioness.
//!
//! **The public-key step is pluggable** ([`sphinx::KeyMode`]):
//! - `sphinx`: the classic construction. One α for the route; each hop re-blinds it
//!   (α' = b·α), which costs a second scalar multiplication.
//! - `kem`: one key exchange a hop, in the manner of Outfox. The sender draws a fresh
//!   ephemeral key per hop and puts each next hop's α in the slot, so a hop does a single
//!   scalar multiplication. This costs 32 header bytes a hop and is the default.
//!
//! **Payload.** Lioness (ChaCha20 and keyed BLAKE2b-256, four rounds) over the whole block, a
//! layer per hop. Changing any bit of the block turns the whole of it into noise after the next
//! decryption, so a tagged packet fails the 16-zero-byte check at its destination and is
//! dropped. A flipped header bit fails the MAC of the next hop.
//!
//! **Senders** keep a precomputed table per mixnode key ([`sphinx::PreparedKey`]) for the
//! epoch, so each hop of a new packet costs two fixed-base multiplications.
//!
//! **SURBs.** A single-use reply block is a header for a route that ends at its creator (flag
//! "final, reply", with a 16-byte id) plus the first hop's address: 32 + 478 = 510 bytes in KEM
//! mode. Whoever holds it sends its data as a plain payload; every hop decrypts it with Lioness,
//! and the creator, which kept the hops' payload keys, re-encrypts with them in reverse and
//! checks the zero bytes.
//!
//! **Replays.** The replay tag is a hash of the shared secret, so the same packet gives the same
//! tag at a hop and different packets different tags. Mixnodes keep tags in a
//! [`replay::ReplayFilter`] for as long as the epoch's key is accepted.
//!
//! **Epochs.** The header names the epoch of its keys (a 4-byte hint). A node holds the key
//! of the current epoch, publishes the next one's ahead of time and keeps the previous one for a
//! grace period, so no packet in flight is lost to a rotation.
pub mod client;
pub mod crypto;
pub mod directory;
pub mod keys;
pub mod message;
pub mod mixnode;
pub mod model;
pub mod replay;
pub mod service;
pub mod sphinx;
pub mod store;

pub use sphinx::MAC_LEN;
