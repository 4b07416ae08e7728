//! The security stage: capability sets and `no_new_privs`.
//!
//! It applies in two steps inside init. When the stage runs, the bounding set shrinks and
//! `no_new_privs` is set: nothing init executes can regain a dropped capability from then on.
//! The other four sets, and the user and groups, are set at the exec gate, after the cgroups
//! stage: init still needs `CAP_SYS_ADMIN` there to enter its cgroup namespace.

use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use corral_hooks::{CapabilitySets, ProcessPlan, SecurityPlan};
use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

use super::{OpError, PlanError};
use crate::config::ContainerConfig;

/// Parses a capability name as LXC writes it (`sys_admin`) or as the kernel does
/// (`CAP_SYS_ADMIN`).
pub fn parse_capability(name: &str) -> Option<Capability> {
    let upper = name.trim().to_ascii_uppercase();
    let canonical = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&canonical).ok()
}

/// Builds the stage's plan from the drop or keep list, within the capabilities this process
/// can pass on (its own bounding set).
pub fn plan(config: &ContainerConfig, uid: u32) -> Result<SecurityPlan, PlanError> {
    let sec = &config.security;
    let available = caps::read(None, CapSet::Bounding).map_err(|e| {
        PlanError::new(
            "security",
            format!("cannot read this process's capabilities: {e}"),
        )
    })?;
    let parse_list = |key: &str, names: &[String]| -> Result<CapsHashSet, PlanError> {
        names
            .iter()
            .map(|n| {
                parse_capability(n)
                    .ok_or_else(|| PlanError::new(key, format!("`{n}` is not a capability")))
            })
            .collect()
    };
    let drop = parse_list("security.cap_drop", &sec.cap_drop)?;
    let keep = parse_list("security.cap_keep", &sec.cap_keep)?;
    let bounding: CapsHashSet = if keep.is_empty() {
        available
            .iter()
            .copied()
            .filter(|c| !drop.contains(c))
            .collect()
    } else {
        keep.iter()
            .copied()
            .filter(|c| available.contains(c))
            .collect()
    };
    let names = |set: &CapsHashSet| -> Vec<String> {
        let mut v: Vec<&Capability> = set.iter().collect();
        v.sort_by_key(|c| c.index());
        v.into_iter().map(ToString::to_string).collect()
    };
    // root gets the whole bounding set at exec; another user keeps only the keep list, and
    // only through the ambient set.
    let (full, carried) = if uid == 0 {
        (names(&bounding), Vec::new())
    } else {
        let kept: CapsHashSet = keep.intersection(&bounding).copied().collect();
        (names(&kept), names(&kept))
    };
    Ok(SecurityPlan {
        capabilities: CapabilitySets {
            bounding: names(&bounding),
            effective: full.clone(),
            permitted: full,
            inheritable: carried.clone(),
            ambient: carried,
        },
        no_new_privs: sec.no_new_privs,
    })
}

fn capability_set(names: &[String]) -> Result<CapsHashSet, OpError> {
    names
        .iter()
        .map(|n| {
            parse_capability(n).ok_or(OpError {
                operation: format!("parse capability {n}"),
                errno: libc::EINVAL,
            })
        })
        .collect()
}

fn caps_error(operation: &str) -> impl FnOnce(caps::errors::CapsError) -> OpError + '_ {
    move |_| OpError {
        operation: operation.to_owned(),
        errno: nix::errno::Errno::last_raw(),
    }
}

/// Applies the stage's first step inside init: shrinks the bounding set, sets
/// `no_new_privs`.
pub fn apply(plan: &SecurityPlan) -> Result<(), OpError> {
    let bounding = capability_set(&plan.capabilities.bounding)?;
    let current =
        caps::read(None, CapSet::Bounding).map_err(caps_error("read the bounding set"))?;
    for cap in current.difference(&bounding) {
        caps::drop(None, CapSet::Bounding, *cap)
            .map_err(caps_error(&format!("drop {cap} from the bounding set")))?;
    }
    if plan.no_new_privs {
        nix::sys::prctl::set_no_new_privs().map_err(|errno| OpError {
            operation: "set no_new_privs".into(),
            errno: errno as i32,
        })?;
    }
    Ok(())
}

/// The exec gate's step: become the plan's user and set the remaining capability sets.
pub fn enter(plan: &SecurityPlan, process: &ProcessPlan) -> Result<(), OpError> {
    let sets = &plan.capabilities;
    let sys = |operation: &str| {
        let operation = operation.to_owned();
        move |errno: nix::errno::Errno| OpError {
            operation,
            errno: errno as i32,
        }
    };
    if process.uid != 0 || process.gid != 0 || !process.additional_gids.is_empty() {
        // Keep the permitted set across the change of user; it is trimmed just below.
        nix::sys::prctl::set_keepcaps(true).map_err(sys("keep capabilities across setuid"))?;
        let groups: Vec<Gid> = process
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&groups).map_err(sys("set the supplementary groups"))?;
        setgid(Gid::from_raw(process.gid)).map_err(sys(&format!("setgid {}", process.gid)))?;
        setuid(Uid::from_raw(process.uid)).map_err(sys(&format!("setuid {}", process.uid)))?;
    }
    // capset(2) wants effective within permitted at every step: shrink effective first.
    caps::set(None, CapSet::Effective, &capability_set(&sets.effective)?)
        .map_err(caps_error("set the effective set"))?;
    caps::set(None, CapSet::Permitted, &capability_set(&sets.permitted)?)
        .map_err(caps_error("set the permitted set"))?;
    caps::set(
        None,
        CapSet::Inheritable,
        &capability_set(&sets.inheritable)?,
    )
    .map_err(caps_error("set the inheritable set"))?;
    caps::clear(None, CapSet::Ambient).map_err(caps_error("clear the ambient set"))?;
    for cap in capability_set(&sets.ambient)? {
        caps::raise(None, CapSet::Ambient, cap)
            .map_err(caps_error(&format!("raise {cap} in the ambient set")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_parse_either_way() {
        assert_eq!(
            parse_capability("sys_admin"),
            Some(Capability::CAP_SYS_ADMIN)
        );
        assert_eq!(
            parse_capability("CAP_NET_RAW"),
            Some(Capability::CAP_NET_RAW)
        );
        assert_eq!(parse_capability("Net_Raw"), Some(Capability::CAP_NET_RAW));
        assert_eq!(parse_capability("sys_nonsense"), None);
    }

    #[test]
    fn default_drop_list_and_keep_list() {
        let config = ContainerConfig::default();
        let root = plan(&config, 0).unwrap();
        let bounding = &root.capabilities.bounding;
        assert!(
            !bounding
                .iter()
                .any(|c| c == "CAP_SYS_MODULE" || c == "CAP_SYS_TIME")
        );
        assert!(bounding.iter().any(|c| c == "CAP_CHOWN"));
        assert_eq!(&root.capabilities.effective, bounding);
        assert!(root.capabilities.ambient.is_empty());

        let mut config = ContainerConfig::default();
        config.security.cap_keep = vec!["chown".into(), "net_bind_service".into()];
        let user = plan(&config, 1000).unwrap();
        let kept = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"];
        assert_eq!(user.capabilities.bounding, kept);
        assert_eq!(user.capabilities.ambient, kept);

        config.security.cap_keep = vec!["bogus".into()];
        assert_eq!(plan(&config, 0).unwrap_err().key, "security.cap_keep");
    }
}
