//! The pipeline's stages and their one fixed order.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One stage of the container start pipeline.
///
/// The order of [`Stage::ALL`] is the order in which stages build their plans, run their hooks
/// and apply their plans. It is written down here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Which namespaces are new, shared or inherited; the hostname.
    Namespaces,
    /// The rootfs, auto mounts, `/dev`, mount entries and `pivot_root`.
    Mounts,
    /// Interfaces, addresses and routes.
    Network,
    /// Capabilities, `no_new_privs` and, later, seccomp and Landlock.
    Security,
    /// The container's cgroup, its limits and the cgroup namespace.
    Cgroups,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 5] = [
        Stage::Namespaces,
        Stage::Mounts,
        Stage::Network,
        Stage::Security,
        Stage::Cgroups,
    ];

    /// The stage's name as users see it in plans, logs and errors.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Namespaces => "namespaces",
            Stage::Mounts => "mounts",
            Stage::Network => "network",
            Stage::Security => "security",
            Stage::Cgroups => "cgroups",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
