//! The security stage: capabilities, `no_new_privs`, seccomp, Landlock, masked and
//! read-only paths, device rules, sysctls, resource limits and LSM labels.
//!
//! It applies in three steps. When the stage runs in init, after `pivot_root`: sysctls,
//! resource limits, masked and read-only paths, the bounding set and `no_new_privs`
//! ([`apply`]). With the cgroup, in the monitor: the device rules
//! ([`crate::stages::cgroups::devices`]). At the exec gate ([`enter`]): init becomes
//! undumpable, takes its LSM labels, user and capability sets, then Landlock and, last,
//! seccomp, which therefore bind init as well as the program it forks.

mod caps;
mod devices;
mod landlock;
mod lsm;
mod paths;
mod rlimits;
pub mod seccomp;
mod sysctls;

use std::os::fd::OwnedFd;
use std::path::Path;

use corral_hooks::{ProcessPlan, SecurityPlan};

pub use self::caps::parse_capability;
pub use self::devices::plan as devices_plan;
pub use self::seccomp::answer_notification;

use super::mounts::Root;
use super::{Op, OpError, PlanError};
use crate::config::ContainerConfig;

/// Builds the stage's plan for a container whose init runs as `uid`. The seccomp filter is
/// compiled here too, once, for init to inherit (see [`seccomp`]).
pub fn plan(
    config: &ContainerConfig,
    uid: u32,
    seccomp_cache: &Path,
) -> Result<SecurityPlan, PlanError> {
    let sec = &config.security;
    let capabilities = caps::plan(sec, uid)?;
    let seccomp = seccomp::plan(&sec.seccomp, &capabilities)
        .map_err(|e| PlanError::new("security.seccomp.profile", crate::error_chain(&e)))?;
    if let Some(filter) = &seccomp {
        seccomp::prepare(filter, seccomp_cache)
            .map_err(|e| PlanError::new("security.seccomp.profile", crate::error_chain(&e)))?;
    }
    let (masked_paths, readonly_paths) = paths::plan(config);
    Ok(SecurityPlan {
        capabilities,
        no_new_privs: sec.no_new_privs,
        sysctls: sysctls::plan(config)?,
        rlimits: rlimits::plan(&sec.rlimits)?,
        masked_paths,
        readonly_paths,
        devices: devices::plan(&sec.devices)?,
        lsm: lsm::plan(&sec.lsm)?,
        landlock: landlock::plan(&sec.landlock)?,
        seccomp,
    })
}

/// The stage's first step inside init, once the container's root is `/`.
pub fn apply(plan: &SecurityPlan) -> Result<(), OpError> {
    let root = Root::open(Path::new("/")).op(|| "open /".into())?;
    // Sysctls first: /proc/sys is read-only afterwards.
    sysctls::apply(&root, &plan.sysctls)?;
    rlimits::apply(&plan.rlimits)?;
    paths::mask(&root, &plan.masked_paths)?;
    paths::make_readonly(&root, &plan.readonly_paths)?;
    caps::shrink_bounding(&plan.capabilities)?;
    if plan.no_new_privs {
        nix::sys::prctl::set_no_new_privs().op(|| "set no_new_privs".into())?;
    }
    Ok(())
}

/// The part of the first step that concerns only the calling process, not the mounts it
/// sees: for `corral attach`, which must never mount anything.
pub fn restrict_process(plan: &SecurityPlan) -> Result<(), OpError> {
    rlimits::apply(&plan.rlimits)?;
    caps::shrink_bounding(&plan.capabilities)?;
    if plan.no_new_privs {
        nix::sys::prctl::set_no_new_privs().op(|| "set no_new_privs".into())?;
    }
    Ok(())
}

/// The exec gate's step, in init: returns the seccomp listener of `notify` rules, which the
/// monitor serves ([`answer_notification`]).
pub fn enter(plan: &SecurityPlan, process: &ProcessPlan) -> Result<Option<OwnedFd>, OpError> {
    // Nothing in the container may ptrace init or open its /proc files (its exe is corral's
    // binary, its descriptors the monitor's socket) without CAP_SYS_PTRACE.
    nix::sys::prctl::set_dumpable(false).op(|| "make init undumpable".into())?;
    lsm::apply(&plan.lsm)?;
    // Without no_new_privs, Landlock and seccomp need CAP_SYS_ADMIN to load: when the
    // final sets lack it, they load before the user and capabilities change, and the
    // filter must then allow setresuid, setgroups, capset and prctl.
    let early = !plan.no_new_privs && !caps::keeps_sys_admin(&plan.capabilities);
    let mut listener = None;
    if early {
        listener = confine(plan)?;
    }
    caps::enter(&plan.capabilities, process)?;
    if !early {
        listener = confine(plan)?;
    }
    Ok(listener)
}

/// Landlock, then seccomp, the last restriction of all.
fn confine(plan: &SecurityPlan) -> Result<Option<OwnedFd>, OpError> {
    if let Some(ruleset) = &plan.landlock {
        landlock::apply(ruleset)?;
    }
    plan.seccomp.as_ref().map_or(Ok(None), seccomp::load)
}

/// Says why the program died, when a signal says more than its number: `SIGSYS` is what
/// the kernel kills with for a seccomp violation.
pub fn explain_death(signal: i32) {
    if signal == libc::SIGSYS {
        eprintln!("corral-init: the program was killed by seccomp (SIGSYS): a denied system call");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_says_everything() {
        let cache = tempfile::tempdir().unwrap();
        let plan = plan(&ContainerConfig::default(), 0, cache.path()).unwrap();
        let json = serde_json::to_value(&plan).unwrap();
        for key in [
            "capabilities",
            "seccomp",
            "masked_paths",
            "readonly_paths",
            "devices",
            "landlock",
            "lsm",
            "rlimits",
            "sysctls",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        assert_eq!(plan.devices.len(), 13);
        assert!(plan.landlock.is_none());
    }
}
