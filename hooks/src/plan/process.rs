//! The program the container runs once the pipeline is applied.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The container's main program and the identity it runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessPlan {
    /// The program and its arguments; the program is looked up in the container's `PATH`.
    pub args: Vec<String>,
    /// The environment, as `KEY=VALUE`.
    pub env: Vec<String>,
    /// The working directory inside the container.
    pub cwd: PathBuf,
    /// The user ID.
    pub uid: u32,
    /// The group ID.
    pub gid: u32,
    /// Supplementary group IDs.
    pub additional_gids: Vec<u32>,
    /// Whether the program gets a pseudo-terminal.
    pub terminal: bool,
    /// Whether corral's small init is PID 1 and runs the program as its child (application
    /// containers), rather than the program being PID 1 itself (system containers).
    pub corral_init: bool,
}
