//! The host's part of the cgroups stage, done early: the cgroup is made while init mounts,
//! and what hooks may still change (its path and limits, the security stage's device rules)
//! is written once they have run.

use std::path::Path;

use corral_hooks::{CgroupLimits, Plan, Stage};
use nix::unistd::Pid;

use super::{PipelineError, Rollback, Undo};
use crate::runtime;
use crate::stages::cgroups::{self, Cgroup, CgroupError, Layout};

/// The cgroup made while init mounts.
pub(super) enum EarlyCgroup {
    /// With its limits and device rules, and the files init joins it by.
    Ready(Vec<std::fs::File>),
    /// Only its directories, while hooks may still change the plan.
    Made {
        /// The cgroup.
        cgroup: Cgroup,
        /// The limits it was made for.
        limits: CgroupLimits,
        /// Whether the device rules are written.
        devices: bool,
    },
}

/// Makes the container's cgroup, with the controllers its limits need.
pub(super) fn create_cgroup(
    runtime_dir: &Path,
    pid: Option<Pid>,
    plan: &Plan,
    layout: &Layout,
    rollback: &Rollback,
) -> Result<Cgroup, PipelineError> {
    let cgroup = Cgroup::new(layout, &plan.cgroups.path);
    // Recorded before anything exists, so a monitor killed halfway is cleaned up.
    runtime::save(runtime_dir, pid.map_or(0, Pid::as_raw), &cgroup, plan);
    rollback.push(Some(Stage::Cgroups), Undo::Cgroup(cgroup.clone()));
    cgroup
        .create(layout, &plan.cgroups.limits)
        .map_err(|e| PipelineError::stage(Stage::Cgroups)(e.into()))?;
    Ok(cgroup)
}

/// The cgroup made early (for `limits`), given the controllers that limits a hook added
/// since need; or, where a hook moved it, removed (`None`): it is to be made anew.
pub(super) fn follow_hooks(
    cgroup: Cgroup,
    limits: &CgroupLimits,
    plan: &Plan,
    layout: &Layout,
) -> Result<Option<Cgroup>, PipelineError> {
    let fail = |e: CgroupError| PipelineError::stage(Stage::Cgroups)(e.into());
    if cgroup.path != plan.cgroups.path {
        // Still recorded in the rollback, where removing it again is harmless.
        cgroup.remove().map_err(fail)?;
        return Ok(None);
    }
    if *limits != plan.cgroups.limits {
        // Made again where it is: only the controllers the new limits need are added.
        cgroup.create(layout, &plan.cgroups.limits).map_err(fail)?;
    }
    Ok(Some(cgroup))
}

/// The rest of the host's part of the cgroups stage: writes the limits and, with
/// `devices`, the security stage's device rules, and opens the files init joins the cgroup
/// by.
pub(super) fn configure_cgroup(
    cgroup: &Cgroup,
    plan: &Plan,
    devices: bool,
) -> Result<Vec<std::fs::File>, PipelineError> {
    let fail = |e: CgroupError| PipelineError::stage(Stage::Cgroups)(e.into());
    cgroup.apply_limits(&plan.cgroups.limits).map_err(fail)?;
    // The security stage's device rules are enforced through the cgroup.
    if devices {
        cgroups::devices::apply(cgroup, &plan.security.devices)
            .map_err(|e| PipelineError::stage(Stage::Security)(e.into()))?;
    }
    let join = cgroup.join_files().map_err(fail)?;
    tracing::debug!(path = %cgroup.path, version = %cgroup.version, "cgroup created");
    Ok(join)
}
