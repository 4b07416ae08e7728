//! The network stage's plan.

use serde::{Deserialize, Serialize};

/// How the container is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The host's network: no network namespace of its own.
    None,
    /// A new network namespace with only the loopback interface.
    Empty,
}

/// What the network stage does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPlan {
    /// The network mode.
    pub mode: NetworkMode,
    /// Whether the loopback interface of a new network namespace is brought up.
    pub loopback_up: bool,
}
