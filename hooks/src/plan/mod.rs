//! The plans: what each stage will do, as plain serde data.

pub mod cgroups;
pub mod mounts;
pub mod namespaces;
pub mod network;
pub mod process;
pub mod security;

use serde::{Deserialize, Serialize};

/// The full plan of one container start: one plan per stage, plus the process to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The container's name.
    pub name: String,
    /// What the namespaces stage creates or shares.
    pub namespaces: namespaces::NamespacesPlan,
    /// What the mounts stage mounts, creates and pivots into.
    pub mounts: mounts::MountsPlan,
    /// What the network stage sets up.
    pub network: network::NetworkPlan,
    /// What the security stage enforces.
    pub security: security::SecurityPlan,
    /// The cgroup the container runs in and its limits.
    pub cgroups: cgroups::CgroupsPlan,
    /// The program that runs once every stage is applied.
    pub process: process::ProcessPlan,
}
