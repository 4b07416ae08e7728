//! The namespaces stage: which namespaces the container's init is cloned into, and its
//! hostname.
//!
//! The monitor clones init with the new namespaces (see [`crate::pipeline`]); init then sets
//! the hostname. The cgroup and time namespaces are the exception: init enters them only
//! once it is in its cgroup (so the cgroup namespace is rooted there) and for its children
//! (a time namespace only holds processes created after it).

use std::collections::BTreeMap;

use corral_hooks::{NamespaceKind, NamespaceMode, NamespacesPlan, NetworkMode};
use nix::sched::CloneFlags;
use nix::unistd::sethostname;

use super::{Op, OpError, PlanError};
use crate::config::ContainerConfig;

/// Builds the stage's plan. The network namespace follows the network mode.
pub fn plan(config: &ContainerConfig, name: &str) -> Result<NamespacesPlan, PlanError> {
    let ns = &config.namespaces;
    let net = match config.network.mode {
        NetworkMode::None => NamespaceMode::Host,
        NetworkMode::Empty => NamespaceMode::New,
    };
    let namespaces = BTreeMap::from([
        (NamespaceKind::Mnt, ns.mnt),
        (NamespaceKind::Pid, ns.pid),
        (NamespaceKind::Uts, ns.uts),
        (NamespaceKind::Ipc, ns.ipc),
        (NamespaceKind::Net, net),
        (NamespaceKind::User, NamespaceMode::Host),
        (NamespaceKind::Cgroup, ns.cgroup),
        (NamespaceKind::Time, ns.time),
    ]);
    if ns.mnt == NamespaceMode::Host {
        return Err(PlanError::new(
            "namespaces.mnt",
            "a container needs its own mount namespace to have its own root",
        ));
    }
    let hostname = config.hostname.clone().unwrap_or_else(|| name.to_owned());
    if ns.uts == NamespaceMode::New && (hostname.is_empty() || hostname.len() > 64) {
        return Err(PlanError::new(
            "hostname",
            format!("`{hostname}` must be 1 to 64 bytes long"),
        ));
    }
    Ok(NamespacesPlan {
        hostname: (ns.uts == NamespaceMode::New).then_some(hostname),
        namespaces,
    })
}

/// The namespaces init is cloned into.
pub fn clone_flags(plan: &NamespacesPlan) -> CloneFlags {
    [
        (NamespaceKind::Mnt, CloneFlags::CLONE_NEWNS),
        (NamespaceKind::Pid, CloneFlags::CLONE_NEWPID),
        (NamespaceKind::Uts, CloneFlags::CLONE_NEWUTS),
        (NamespaceKind::Ipc, CloneFlags::CLONE_NEWIPC),
        (NamespaceKind::Net, CloneFlags::CLONE_NEWNET),
    ]
    .into_iter()
    .filter(|(kind, _)| plan.is_new(*kind))
    .fold(CloneFlags::empty(), |flags, (_, flag)| flags | flag)
}

/// Applies the plan inside init: the hostname.
pub fn apply(plan: &NamespacesPlan) -> Result<(), OpError> {
    if let Some(hostname) = &plan.hostname {
        sethostname(hostname).op(|| format!("set the hostname to {hostname}"))?;
    }
    Ok(())
}
