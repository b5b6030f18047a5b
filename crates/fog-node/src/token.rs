//! The HTTP API's bearer token: 32 random bytes as hex, created at first start in a 0600 file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;

use crate::error::NodeError;

/// File name of the token inside the data directory.
pub const TOKEN_FILE: &str = "api_token";

/// The API token.
pub struct ApiToken {
    secret: String,
    path: PathBuf,
}

impl ApiToken {
    /// Loads the token from `data_dir`, or creates it.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, NodeError> {
        let path = data_dir.join(TOKEN_FILE);
        let io = |source| NodeError::Io { path: path.display().to_string(), source };
        match std::fs::metadata(&path) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(NodeError::InsecureToken { path: path.display().to_string(), mode });
                }
                let secret = std::fs::read_to_string(&path).map_err(io)?.trim().to_owned();
                if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(NodeError::MalformedToken { path: path.display().to_string() });
                }
                Ok(Self { secret, path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                OsRng.fill_bytes(&mut bytes);
                let secret = hex::encode(bytes);
                let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
                file.write_all(format!("{secret}\n").as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(Self { secret, path })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Where the token is stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `presented` is the token, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        self.secret.as_bytes().ct_eq(presented.trim().as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = ApiToken::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = ApiToken::load_or_create(dir.path()).unwrap();
        assert!(b.matches(&a.secret));
        assert!(!b.matches("nope"));
        assert!(!b.matches(""));
    }

    #[test]
    fn world_readable_or_malformed_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let t = ApiToken::load_or_create(dir.path()).unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(ApiToken::load_or_create(dir.path()), Err(NodeError::InsecureToken { .. })));
        std::fs::write(t.path(), "short").unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(ApiToken::load_or_create(dir.path()), Err(NodeError::MalformedToken { .. })));
    }
}
