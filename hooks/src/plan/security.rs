//! The security stage's plan.

use serde::{Deserialize, Serialize};

/// The five capability sets of the container's init, by name (`CAP_SYS_ADMIN`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitySets {
    /// Capabilities that may ever be gained again.
    pub bounding: Vec<String>,
    /// Capabilities in effect.
    pub effective: Vec<String>,
    /// Capabilities that may be made effective.
    pub permitted: Vec<String>,
    /// Capabilities kept across `execve` for programs with inheritable file capabilities.
    pub inheritable: Vec<String>,
    /// Capabilities kept across `execve` for unprivileged programs.
    pub ambient: Vec<String>,
}

/// What the security stage enforces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityPlan {
    /// The capability sets of init and everything it starts.
    pub capabilities: CapabilitySets,
    /// Whether `PR_SET_NO_NEW_PRIVS` is set.
    pub no_new_privs: bool,
}
