//! Node identity for Fog Compute.
//!
//! A node is an ed25519 key pair created on first start and kept in the data directory as a
//! PKCS#8 PEM file readable by its owner only (mode 0600). Its x25519 key for key agreement is
//! derived from the same secret, so one file holds the whole identity. The peer id uses the
//! libp2p encoding of the ed25519 public key, so the mesh (libp2p) sees the same id.
//!
//! This crate never invents a key: a missing file means "create one now with the OS RNG", a
//! file it cannot trust (wrong permissions, not a key) is an error naming the file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand_core::OsRng;
use sha2::{Digest, Sha256};

/// File name of the node key inside the data directory.
pub const NODE_KEY_FILE: &str = "node_key.pem";

/// What can go wrong loading or creating an identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}` if you trust it")]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("key file {path} is not a valid key: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot access key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("signature does not verify")]
    BadSignature,
}

/// The node's long-term identity.
pub struct NodeIdentity {
    signing: SigningKey,
    agreement: x25519_dalek::StaticSecret,
}

impl NodeIdentity {
    /// Creates a new identity from the operating system's random number generator.
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut OsRng))
    }

    /// Builds the identity around an existing ed25519 secret key.
    pub fn from_signing_key(signing: SigningKey) -> Self {
        // Same derivation as libsodium's crypto_sign_ed25519_sk_to_curve25519: the clamped
        // lower half of SHA-512(seed); x25519 clamps on use.
        let agreement = x25519_dalek::StaticSecret::from(signing.to_scalar_bytes());
        Self { signing, agreement }
    }

    /// Loads the key from `data_dir`, or creates and stores a new one if there is none.
    /// Returns the identity and whether it was just created.
    pub fn load_or_create(data_dir: &Path) -> Result<(Self, bool), IdentityError> {
        let path = data_dir.join(NODE_KEY_FILE);
        match Self::load(&path) {
            Ok(identity) => Ok((identity, false)),
            Err(IdentityError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let identity = Self::generate();
                identity.store_new(&path)?;
                Ok((identity, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Loads a key file, refusing one that others can read or write.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let bytes = read_private_file(path)?;
        let pem = std::str::from_utf8(&bytes)
            .map_err(|_| IdentityError::Malformed { path: path.to_owned(), reason: "not UTF-8 text".into() })?;
        let signing = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| IdentityError::Malformed { path: path.to_owned(), reason: e.to_string() })?;
        Ok(Self::from_signing_key(signing))
    }

    /// Writes the key to a new file with mode 0600. Never overwrites an existing key.
    pub fn store_new(&self, path: &Path) -> Result<(), IdentityError> {
        let pem = self
            .signing
            .to_pkcs8_pem(Default::default())
            .map_err(|e| IdentityError::Malformed { path: path.to_owned(), reason: e.to_string() })?;
        create_private_file(path, pem.as_bytes())
    }

    /// The ed25519 secret seed, for the mesh transport that authenticates with the same key.
    pub fn ed25519_secret(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.signing.to_bytes())
    }

    /// The ed25519 public key.
    pub fn public_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The x25519 public key for key agreement.
    pub fn agreement_public_key(&self) -> x25519_dalek::PublicKey {
        x25519_dalek::PublicKey::from(&self.agreement)
    }

    /// Diffie-Hellman with a peer's x25519 public key.
    pub fn agree(&self, peer: &x25519_dalek::PublicKey) -> [u8; 32] {
        self.agreement.diffie_hellman(peer).to_bytes()
    }

    /// Signs a message with the node key.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// The libp2p peer id of this node (base58, starts with `12D3KooW`).
    pub fn peer_id(&self) -> String {
        peer_id(&self.public_key())
    }

    /// SHA-256 fingerprint of the ed25519 public key.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.public_key())
    }
}

/// Reads a secret file, refusing one that other users can read or write.
pub fn read_private_file(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, IdentityError> {
    let io = |source| IdentityError::Io { path: path.to_owned(), source };
    let meta = fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::InsecurePermissions { path: path.to_owned(), mode });
    }
    Ok(zeroize::Zeroizing::new(fs::read(path).map_err(io)?))
}

/// Writes a secret to a new file with mode 0600, atomically (temp file, fsync, link, fsync of
/// the directory). Never replaces an existing file.
pub fn create_private_file(path: &Path, contents: &[u8]) -> Result<(), IdentityError> {
    let io = |source| IdentityError::Io { path: path.to_owned(), source };
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)?;
    // hard_link fails if the target exists, so a key created concurrently is never replaced.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(io)?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

/// Verifies a signature made by [`NodeIdentity::sign`].
pub fn verify(public: &VerifyingKey, message: &[u8], signature: &Signature) -> Result<(), IdentityError> {
    public.verify(message, signature).map_err(|_| IdentityError::BadSignature)
}

/// The libp2p peer id of an ed25519 public key: base58btc of the identity multihash of the
/// protobuf-encoded public key (type Ed25519 = 1, 32 data bytes).
pub fn peer_id(public: &VerifyingKey) -> String {
    let mut bytes = Vec::with_capacity(38);
    bytes.extend_from_slice(&[0x00, 36, 0x08, 0x01, 0x12, 32]);
    bytes.extend_from_slice(public.as_bytes());
    bs58::encode(bytes).into_string()
}

/// SHA-256 over a public key, shown to people to compare identities.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Fingerprint of an ed25519 public key.
    pub fn of(public: &VerifyingKey) -> Self {
        Self(Sha256::digest(public.as_bytes()).into())
    }
}

impl std::fmt::Display for Fingerprint {
    /// Upper-case hex in groups of four, like `AB12 CD34 …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex = hex::encode_upper(self.0);
        let groups: Vec<&str> = (0..hex.len()).step_by(4).map(|i| &hex[i..i + 4]).collect();
        f.write_str(&groups.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_key_is_private_and_reloads_to_the_same_identity() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = NodeIdentity::load_or_create(dir.path()).unwrap();
        assert!(created);
        let mode = fs::metadata(dir.path().join(NODE_KEY_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (second, created) = NodeIdentity::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(first.peer_id(), second.peer_id());
        assert_eq!(first.agreement_public_key().as_bytes(), second.agreement_public_key().as_bytes());
    }

    #[test]
    fn refuses_a_key_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        NodeIdentity::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(NODE_KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = NodeIdentity::load_or_create(dir.path()).err().unwrap();
        assert!(matches!(err, IdentityError::InsecurePermissions { mode: 0o644, .. }), "{err}");
    }

    #[test]
    fn refuses_a_file_that_is_not_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NODE_KEY_FILE);
        fs::write(&path, "not a key").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = NodeIdentity::load(&path).err().unwrap();
        assert!(matches!(err, IdentityError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains(NODE_KEY_FILE));
    }

    #[test]
    fn peer_id_matches_libp2p() {
        for _ in 0..16 {
            let id = NodeIdentity::generate();
            let lib = libp2p_identity::ed25519::PublicKey::try_from_bytes(id.public_key().as_bytes()).unwrap();
            let expected = libp2p_identity::PeerId::from_public_key(&lib.into()).to_base58();
            assert_eq!(id.peer_id(), expected);
            assert!(expected.starts_with("12D3KooW"));
        }
    }

    #[test]
    fn agreement_keys_agree() {
        let a = NodeIdentity::generate();
        let b = NodeIdentity::generate();
        assert_eq!(a.agree(&b.agreement_public_key()), b.agree(&a.agreement_public_key()));
    }

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let id = NodeIdentity::generate();
        let sig = id.sign(b"hello");
        verify(&id.public_key(), b"hello", &sig).unwrap();
        assert!(verify(&id.public_key(), b"hellp", &sig).is_err());
    }

    #[test]
    fn fingerprint_is_grouped_hex() {
        let fp = NodeIdentity::generate().fingerprint().to_string();
        assert_eq!(fp.len(), 64 + 15);
        assert!(fp.split(' ').all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_hexdigit())));
    }

    proptest::proptest! {
        #[test]
        fn any_seed_makes_a_loadable_identity(seed in proptest::array::uniform32(0u8..)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(NODE_KEY_FILE);
            let id = NodeIdentity::from_signing_key(SigningKey::from_bytes(&seed));
            id.store_new(&path).unwrap();
            let again = NodeIdentity::load(&path).unwrap();
            proptest::prop_assert_eq!(id.peer_id(), again.peer_id());
        }
    }
}
