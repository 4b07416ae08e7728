//! The host's part of the cgroups stage, done early: the cgroup is made and configured while
//! init works through the stages before its own (mounts, network, security), for the plan as
//! it stands then. A before-hook that runs later may change what the cgroup was made for (its
//! path, its limits, the security stage's device rules); the cgroup is then made again, as
//! the hooks left the plan.

use std::fs::File;
use std::path::Path;

use corral_hooks::{CgroupLimits, DeviceRule, Plan, Stage};
use nix::unistd::Pid;

use super::{PipelineError, Rollback, Undo};
use crate::runtime;
use crate::stages::cgroups::{self, Cgroup, CgroupError, Layout};

/// The parts of a plan the cgroup is made from.
struct Target {
    path: String,
    limits: CgroupLimits,
    devices: Vec<DeviceRule>,
}

impl Target {
    fn of(plan: &Plan) -> Target {
        Target {
            path: plan.cgroups.path.clone(),
            limits: plan.cgroups.limits.clone(),
            devices: plan.security.devices.clone(),
        }
    }

    /// Whether `plan` still says what the cgroup was made for.
    fn is_of(&self, plan: &Plan) -> bool {
        self.path == plan.cgroups.path
            && self.limits == plan.cgroups.limits
            && self.devices == plan.security.devices
    }
}

/// Where a container's cgroup is made and recorded.
pub(super) struct CgroupSite<'a> {
    /// The container's runtime directory, where its state is saved.
    pub runtime_dir: &'a Path,
    /// The host's cgroup hierarchies.
    pub layout: &'a Layout,
    /// What a failed or ended start undoes.
    pub rollback: &'a Rollback,
}

/// The cgroup made while init works through the stages before its own: a directory at a
/// time, in the moments the monitor would otherwise wait for init.
pub(super) struct EarlyCgroup {
    /// What it was made for.
    target: Target,
    /// How many changes hooks had made to the plan then (see [`crate::hooks::HookSet::changes`]).
    hook_changes: u32,
    cgroup: Cgroup,
    /// How many of its directories are made.
    made: usize,
    /// Once it is made and configured: the files init joins it by, or why it could not be made.
    join: Option<Result<Vec<File>, PipelineError>>,
}

impl EarlyCgroup {
    /// Records the container's cgroup for `plan` as it stands, with init's `pid`, before
    /// anything of it is made: [`EarlyCgroup::step`] makes it.
    pub(super) fn begin(
        site: &CgroupSite<'_>,
        pid: Option<Pid>,
        plan: &Plan,
        hook_changes: u32,
    ) -> EarlyCgroup {
        let cgroup = Cgroup::new(site.layout, &plan.cgroups.path);
        // Recorded before anything exists, so a monitor killed halfway is cleaned up.
        runtime::save(site.runtime_dir, raw(pid), &cgroup, plan);
        site.rollback
            .push(Some(Stage::Cgroups), Undo::Cgroup(cgroup.clone()));
        EarlyCgroup {
            target: Target::of(plan),
            hook_changes,
            cgroup,
            made: 0,
            join: None,
        }
    }

    /// Does the next piece of the work: a directory, or at the end the limits, the device
    /// rules and the files init joins by. Returns whether work is left. A failure is kept
    /// for the cgroups stage to report.
    pub(super) fn step(&mut self, site: &CgroupSite<'_>) -> bool {
        if self.join.is_some() {
            return false;
        }
        if self.made < self.cgroup.dirs.len() {
            let limits = &self.target.limits;
            match self.cgroup.create_step(site.layout, limits, self.made) {
                Ok(()) => self.made += 1,
                Err(e) => self.join = Some(Err(PipelineError::stage(Stage::Cgroups)(e.into()))),
            }
            return self.join.is_none();
        }
        self.join = Some(configure(&self.cgroup, &self.target));
        false
    }

    /// The files init joins the container's cgroup by, for `plan` as the hooks left it
    /// (`hook_changes` of theirs so far): the early cgroup if it was made for what the plan
    /// still says, or else a cgroup made anew.
    pub(super) fn finish(
        mut self,
        site: &CgroupSite<'_>,
        pid: Option<Pid>,
        plan: &Plan,
        hook_changes: u32,
    ) -> Result<Vec<File>, PipelineError> {
        if self.target.is_of(plan) {
            let join = self.complete(site);
            if hook_changes != self.hook_changes && join.is_ok() {
                // The plan as the hooks left it, for later commands.
                runtime::save(site.runtime_dir, raw(pid), &self.cgroup, plan);
            }
            return join;
        }
        drop(self.join);
        // It stays recorded in the rollback, where removing it again is harmless.
        self.cgroup
            .remove()
            .map_err(|e| PipelineError::stage(Stage::Cgroups)(e.into()))?;
        EarlyCgroup::begin(site, pid, plan, hook_changes).complete(site)
    }

    /// Does what is left of the work, and returns its outcome.
    fn complete(&mut self, site: &CgroupSite<'_>) -> Result<Vec<File>, PipelineError> {
        loop {
            if let Some(join) = self.join.take() {
                return join;
            }
            self.step(site);
        }
    }
}

/// Writes the limits and the security stage's device rules into `cgroup`, made for
/// `target`, and opens the files init joins it by.
fn configure(cgroup: &Cgroup, target: &Target) -> Result<Vec<File>, PipelineError> {
    let fail = |e: CgroupError| PipelineError::stage(Stage::Cgroups)(e.into());
    cgroup.apply_limits(&target.limits).map_err(fail)?;
    // The security stage's device rules are enforced through the cgroup.
    cgroups::devices::apply(cgroup, &target.devices)
        .map_err(|e| PipelineError::stage(Stage::Security)(e.into()))?;
    let join = cgroup.join_files().map_err(fail)?;
    tracing::debug!(path = %cgroup.path, version = %cgroup.version, "cgroup created");
    Ok(join)
}

fn raw(pid: Option<Pid>) -> i32 {
    pid.map_or(0, Pid::as_raw)
}
