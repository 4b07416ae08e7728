//! The cgroups stage's plan.

use serde::{Deserialize, Serialize};

/// Resource limits, independent of the cgroup version they are written to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupLimits {
    /// Memory limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memory: Option<u64>,
    /// Memory plus swap limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memory_swap: Option<u64>,
    /// Relative CPU weight, 1 to 10000 (cgroup v2 scale; converted to shares on v1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_weight: Option<u64>,
    /// CPU time allowed per period, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_quota_us: Option<u64>,
    /// The period of `cpu_quota_us`, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_period_us: Option<u64>,
    /// The CPUs the container may run on, as a cpuset list (`0-1,3`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpuset_cpus: Option<String>,
    /// The memory nodes the container may use, as a cpuset list.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpuset_mems: Option<String>,
    /// The most tasks the container may have.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pids: Option<u64>,
}

/// What the cgroups stage does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupsPlan {
    /// The container's cgroup, relative to the root of every hierarchy (`corral/web`).
    pub path: String,
    /// The limits written into it.
    pub limits: CgroupLimits,
    /// Whether init gets a cgroup namespace rooted at the container's cgroup.
    pub namespace: bool,
    /// Whether the container's cgroup tree is mounted at `/sys/fs/cgroup`, and how.
    pub mount: CgroupMount,
}

/// How the container sees its cgroups at `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMount {
    /// Nothing is mounted.
    Off,
    /// Mounted read-only.
    Ro,
    /// Mounted read-write.
    Rw,
}
