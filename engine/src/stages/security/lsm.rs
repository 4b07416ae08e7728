//! Linux security module labels: an AppArmor profile or SELinux context the program is
//! executed under, where the kernel has the module active; elsewhere an error, or a skip
//! that the plan records.

use std::io::Write;
use std::path::Path;

use corral_hooks::LsmPlan;

use crate::config::{LsmConfig, LsmMissing};
use crate::stages::mounts::{Root, fd_path};
use crate::stages::{Op, OpError, PlanError};

/// Whether AppArmor is active in this kernel.
fn apparmor_active() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is active in this kernel (its filesystem is mounted).
fn selinux_active() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Plans the labels against the modules this kernel has active.
pub fn plan(config: &LsmConfig) -> Result<LsmPlan, PlanError> {
    let mut plan = LsmPlan::default();
    let modules = [
        (
            "apparmor",
            &config.apparmor,
            apparmor_active(),
            &mut plan.apparmor,
        ),
        (
            "selinux",
            &config.selinux,
            selinux_active(),
            &mut plan.selinux,
        ),
    ];
    let mut skipped = Vec::new();
    for (module, label, active, planned) in modules {
        let Some(label) = label else { continue };
        if active {
            *planned = Some(label.clone());
        } else if config.missing == LsmMissing::Skip {
            skipped.push(format!("{module}: {label} (not active in this kernel)"));
        } else {
            return Err(PlanError::new(
                format!("security.lsm.{module}"),
                format!(
                    "{module} is not active in this kernel: set security.lsm.missing = \"skip\" to start without it"
                ),
            ));
        }
    }
    plan.skipped = skipped;
    Ok(plan)
}

/// Asks the kernel to execute the program under the labels: written to init's
/// `/proc/self/attr`, they are inherited by the fork that executes it.
pub fn apply(plan: &LsmPlan) -> Result<(), OpError> {
    let labels = [
        (
            "/proc/self/attr/apparmor/exec",
            plan.apparmor.as_ref().map(|p| format!("exec {p}")),
        ),
        ("/proc/self/attr/exec", plan.selinux.clone()),
    ];
    if labels.iter().all(|(_, l)| l.is_none()) {
        return Ok(());
    }
    let root = Root::open(Path::new("/")).op(|| "open /".into())?;
    for (file, label) in labels {
        let Some(label) = label else { continue };
        let fd = root
            .resolve(Path::new(file))
            .op(|| format!("find {file}"))?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(fd_path(&fd))
            .and_then(|mut f| f.write_all(label.as_bytes()))
            .op(|| format!("set the LSM label `{label}`"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_module_is_an_error_or_a_recorded_skip() {
        // This machine's kernel has neither module active.
        if apparmor_active() {
            return;
        }
        let mut config = LsmConfig {
            apparmor: Some("corral-default".into()),
            ..LsmConfig::default()
        };
        let err = plan(&config).unwrap_err();
        assert_eq!(err.key, "security.lsm.apparmor");
        config.missing = LsmMissing::Skip;
        let planned = plan(&config).unwrap();
        assert_eq!(planned.apparmor, None);
        assert_eq!(
            planned.skipped,
            ["apparmor: corral-default (not active in this kernel)"]
        );
    }
}
