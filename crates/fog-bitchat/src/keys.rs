//! This device's two BitChat keys: the Curve25519 static key Noise uses (and the peer id is
//! derived from) and a separate Ed25519 signing key, as the apps keep them. They are created
//! once with the OS RNG and kept in `bitchat_keys` in the data directory, mode 0600, as two
//! labelled hex lines.

use std::path::Path;

use ed25519_dalek::SigningKey;
use fog_identity::{create_private_file, read_private_file, IdentityError};
use zeroize::Zeroizing;

use crate::identity::{fingerprint, peer_id};
use crate::PeerId;

/// File name of the keys inside the data directory.
pub const KEYS_FILE: &str = "bitchat_keys";

const NOISE_LABEL: &str = "noise-static-x25519";
const SIGNING_LABEL: &str = "signing-ed25519";

pub struct ChatKeys {
    noise_secret: Zeroizing<[u8; 32]>,
    noise_public: [u8; 32],
    signing: SigningKey,
}

impl ChatKeys {
    pub fn generate() -> ChatKeys {
        let mut noise = Zeroizing::new([0u8; 32]);
        let mut signing = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(noise.as_mut()).expect("the OS random number generator");
        getrandom::getrandom(signing.as_mut()).expect("the OS random number generator");
        ChatKeys::from_secrets(&noise, &signing)
    }

    pub fn from_secrets(noise_secret: &[u8; 32], signing_seed: &[u8; 32]) -> ChatKeys {
        let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*noise_secret));
        ChatKeys {
            noise_secret: Zeroizing::new(*noise_secret),
            noise_public: public.to_bytes(),
            signing: SigningKey::from_bytes(signing_seed),
        }
    }

    /// Loads the keys from `data_dir`, or creates and stores new ones. Returns them and whether
    /// they were just created.
    pub fn load_or_create(data_dir: &Path) -> Result<(ChatKeys, bool), IdentityError> {
        let path = data_dir.join(KEYS_FILE);
        match ChatKeys::load(&path) {
            Ok(keys) => Ok((keys, false)),
            Err(IdentityError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let keys = ChatKeys::generate();
                create_private_file(&path, keys.to_file().as_bytes())?;
                Ok((keys, true))
            }
            Err(e) => Err(e),
        }
    }

    pub fn load(path: &Path) -> Result<ChatKeys, IdentityError> {
        let bytes = read_private_file(path)?;
        let malformed = |reason: &str| IdentityError::Malformed { path: path.to_owned(), reason: reason.into() };
        let text = std::str::from_utf8(&bytes).map_err(|_| malformed("not UTF-8 text"))?;
        let secret = |label: &str| -> Result<Zeroizing<[u8; 32]>, IdentityError> {
            let line = text
                .lines()
                .find_map(|line| line.strip_prefix(label).and_then(|rest| rest.strip_prefix(" = ")))
                .ok_or_else(|| malformed(&format!("no `{label} = …` line")))?;
            let mut key = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(line.trim(), key.as_mut())
                .map_err(|_| malformed(&format!("`{label}` is not 64 hex digits")))?;
            Ok(key)
        };
        Ok(ChatKeys::from_secrets(&*secret(NOISE_LABEL)?, &*secret(SIGNING_LABEL)?))
    }

    fn to_file(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# BitChat keys of this Fog Compute node. Keep private: they are who you are on the mesh.\n\
             {NOISE_LABEL} = {}\n{SIGNING_LABEL} = {}\n",
            hex::encode(self.noise_secret.as_ref()),
            hex::encode(self.signing.to_bytes())
        ))
    }

    pub fn noise_secret(&self) -> &[u8; 32] {
        &self.noise_secret
    }

    pub fn noise_public(&self) -> &[u8; 32] {
        &self.noise_public
    }

    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    pub fn signing_public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn peer_id(&self) -> PeerId {
        peer_id(&self.noise_public)
    }

    pub fn fingerprint(&self) -> [u8; 32] {
        fingerprint(&self.noise_public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_keys_are_private_and_reload_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = ChatKeys::load_or_create(dir.path()).unwrap();
        assert!(created);
        let mode = std::fs::metadata(dir.path().join(KEYS_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (second, created) = ChatKeys::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(first.noise_public(), second.noise_public());
        assert_eq!(first.signing_public(), second.signing_public());
        assert_ne!(first.noise_public(), &first.signing_public(), "two separate keys");
    }

    #[test]
    fn refuses_keys_others_can_read_and_files_that_are_not_keys() {
        let dir = tempfile::tempdir().unwrap();
        ChatKeys::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEYS_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(ChatKeys::load(&path), Err(IdentityError::InsecurePermissions { .. })));
        std::fs::write(&path, "noise-static-x25519 = 12\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = ChatKeys::load(&path).err().unwrap();
        assert!(matches!(err, IdentityError::Malformed { .. }), "{err}");
    }
}
