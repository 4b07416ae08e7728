//! The global config: default paths, the cgroup parent and default container settings.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::container::ContainerConfig;

/// Where corral keeps its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// Container configs and root filesystems.
    pub root: PathBuf,
    /// Runtime files: locks, state, sockets.
    pub run: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            root: PathBuf::from("/var/lib/corral"),
            run: PathBuf::from("/run/corral"),
        }
    }
}

/// Where container cgroups are created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CgroupDefaults {
    /// The parent cgroup, relative to the root of each hierarchy.
    pub parent: String,
}

impl Default for CgroupDefaults {
    fn default() -> Self {
        CgroupDefaults {
            parent: "corral".to_owned(),
        }
    }
}

/// The global config file (`/etc/corral/corral.toml` by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalConfig {
    /// Default paths, overridden by the `--root`/`--run-dir` options and their variables.
    pub paths: PathsConfig,
    /// Where container cgroups go.
    pub cgroup: CgroupDefaults,
    /// Container settings layered under every container's own config.
    pub defaults: ContainerConfig,
    /// The `[defaults]` table as written, for layering key by key.
    #[serde(skip)]
    pub defaults_table: toml::Table,
}
