//! The pipeline's stages, one module each. Each builds its plan from the config (`plan`) and
//! applies it: on the host in the monitor, in the container's init, or both.
//! The order they run in is [`corral_hooks::Stage::ALL`].

pub mod cgroups;
pub mod mounts;
pub mod namespaces;
pub mod network;
pub mod security;

use serde::{Deserialize, Serialize};

/// A config value that a stage cannot plan with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key `{key}`: {message}")]
pub struct PlanError {
    /// The dotted config key.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl PlanError {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        PlanError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A system call that failed inside the container's init, with what it was doing. It crosses
/// the sync socket to the monitor, so it carries the errno rather than an `io::Error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{operation}: {}", std::io::Error::from_raw_os_error(*errno))]
pub struct OpError {
    /// What was being done (`mount /srv on /data`).
    pub operation: String,
    /// The OS error number.
    pub errno: i32,
}

/// Attaches what was being done to a failed system call.
pub(crate) trait Op<T> {
    /// Names the operation of a failed call.
    fn op(self, operation: impl FnOnce() -> String) -> Result<T, OpError>;
}

impl<T> Op<T> for nix::Result<T> {
    fn op(self, operation: impl FnOnce() -> String) -> Result<T, OpError> {
        self.map_err(|errno| OpError {
            operation: operation(),
            errno: errno as i32,
        })
    }
}

impl<T> Op<T> for std::io::Result<T> {
    fn op(self, operation: impl FnOnce() -> String) -> Result<T, OpError> {
        self.map_err(|e| OpError {
            operation: operation(),
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        })
    }
}
