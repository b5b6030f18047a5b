//! Epoch keys and replay tags on disk. Each epoch's Sphinx secret is a 0600 file beside the
//! node key (`mix_keys/<epoch>.key`), created once and removed when the epoch retires; each
//! epoch's replay tags are appended to `mix_replay/<epoch>.log` before any packet they
//! belong to is sent on, so a restarted mixnode still refuses replays of what it forwarded.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use fog_identity::IdentityError;

use crate::mixnode::KeyRing;
use crate::sphinx::SecretKey;

pub struct KeyFiles {
    keys: PathBuf,
    replay: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("{0}: not a Sphinx secret key")]
    Invalid(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io { path: path.to_owned(), source }
}

impl KeyFiles {
    pub fn new(data_dir: &Path) -> Result<KeyFiles, KeyFileError> {
        let files = KeyFiles { keys: data_dir.join("mix_keys"), replay: data_dir.join("mix_replay") };
        for dir in [&files.keys, &files.replay] {
            fs::create_dir_all(dir).map_err(io(dir))?;
            let private = <fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700);
            fs::set_permissions(dir, private).map_err(io(dir))?;
        }
        Ok(files)
    }

    fn key_path(&self, epoch: u32) -> PathBuf {
        self.keys.join(format!("{epoch}.key"))
    }

    fn log_path(&self, epoch: u32) -> PathBuf {
        self.replay.join(format!("{epoch}.log"))
    }

    /// Every stored key.
    pub fn load(&self) -> Result<KeyRing, KeyFileError> {
        let mut ring = KeyRing::default();
        for entry in fs::read_dir(&self.keys).map_err(io(&self.keys))? {
            let path = entry.map_err(io(&self.keys))?.path();
            let Some(epoch) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".key"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let bytes = fog_identity::read_private_file(&path)?;
            let secret = <[u8; 32]>::try_from(&bytes[..])
                .ok()
                .and_then(SecretKey::from_bytes)
                .ok_or_else(|| KeyFileError::Invalid(path.clone()))?;
            ring.insert(epoch, secret);
        }
        Ok(ring)
    }

    /// A new key for `epoch`, stored before it is used.
    pub fn create(&self, epoch: u32) -> Result<SecretKey, KeyFileError> {
        let secret = SecretKey::generate();
        let path = self.key_path(epoch);
        let _ = fs::remove_file(&path);
        fog_identity::create_private_file(&path, &secret.to_bytes())?;
        Ok(secret)
    }

    /// Removes an epoch's key and replay log.
    pub fn retire(&self, epoch: u32) {
        let _ = fs::remove_file(self.key_path(epoch));
        let _ = fs::remove_file(self.log_path(epoch));
    }

    /// The replay tags logged for `epoch`.
    pub fn tags(&self, epoch: u32) -> Result<Vec<[u8; 16]>, KeyFileError> {
        let path = self.log_path(epoch);
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut file) => file.read_to_end(&mut bytes).map_err(io(&path))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path)(e)),
        };
        // A torn last record (a kill mid-write) is ignored.
        Ok(bytes.chunks_exact(16).map(|c| c.try_into().expect("16 bytes")).collect())
    }

    /// Appends tags; they are in the OS's hands (so survive a kill of the process) on return.
    pub fn append_tags(&self, tags: &[(u32, [u8; 16])]) -> Result<(), KeyFileError> {
        let mut by_epoch: std::collections::BTreeMap<u32, Vec<u8>> = Default::default();
        for (epoch, tag) in tags {
            by_epoch.entry(*epoch).or_default().extend_from_slice(tag);
        }
        for (epoch, bytes) in by_epoch {
            let path = self.log_path(epoch);
            let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
            file.write_all(&bytes).map_err(io(&path))?;
        }
        Ok(())
    }
}
