//! Errors at the node's boundary, mapped to the `{code, message}` shape the UI shows.

use fog_identity::IdentityError;
use fog_store::StoreError;

pub use crate::api::types::ApiError;

/// What can stop a node from starting.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("data directory {path} is in use by another Fog Compute node (lock file {lock}); stop it or choose another --data-dir")]
    DataDirInUse { path: String, lock: String },
    #[error("cannot use {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("API token file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    InsecureToken { path: String, mode: u32 },
    #[error("API token file {path} is malformed: expected 64 hex characters")]
    MalformedToken { path: String },
}

/// Stable error codes; tests pin them.
pub mod code {
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const INVALID_INPUT: &str = "invalid_input";
    pub const NOT_FOUND: &str = "not_found";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const STORAGE: &str = "storage_error";
    pub const IDENTITY: &str = "identity_error";
    pub const CONFIG: &str = "config_error";
    pub const INTERNAL: &str = "internal";
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self { code: code.to_owned(), message: message.into() }
    }

    /// Input that does not pass validation.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_INPUT, message)
    }

    /// HTTP status for this error's code.
    pub fn http_status(&self) -> u16 {
        match self.code.as_str() {
            code::UNAUTHORIZED => 401,
            code::INVALID_INPUT => 400,
            code::NOT_FOUND => 404,
            code::UNAVAILABLE => 503,
            _ => 500,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::new(code::STORAGE, e.to_string())
    }
}

impl From<fog_mesh::MeshError> for ApiError {
    fn from(e: fog_mesh::MeshError) -> Self {
        use fog_mesh::MeshError::*;
        match e {
            BadAddress { .. } | BadPeer(_) | BadTopic(_) | NotConnected(_) | Dial { .. } => {
                Self::invalid_input(e.to_string())
            }
            Stopped => Self::new(code::UNAVAILABLE, e.to_string()),
            _ => Self::new(code::INTERNAL, e.to_string()),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        Self::new(code::IDENTITY, e.to_string())
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Store(e) => e.into(),
            NodeError::Identity(e) => e.into(),
            NodeError::Config(e) => Self::new(code::CONFIG, e.to_string()),
            other => Self::new(code::INTERNAL, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_http_statuses() {
        assert_eq!(ApiError::new(code::UNAUTHORIZED, "x").http_status(), 401);
        assert_eq!(ApiError::invalid_input("x").http_status(), 400);
        assert_eq!(ApiError::new(code::NOT_FOUND, "x").http_status(), 404);
        assert_eq!(ApiError::new(code::UNAVAILABLE, "x").http_status(), 503);
        assert_eq!(ApiError::new(code::STORAGE, "x").http_status(), 500);
    }

    #[test]
    fn store_errors_keep_the_file_name() {
        let e: ApiError = StoreError::Corrupt { path: "/d/fog.db".into(), reason: "bad".into() }.into();
        assert_eq!(e.code, code::STORAGE);
        assert!(e.message.contains("/d/fog.db"));
    }
}
