//! Capabilities: LXC's drop and keep lists, the five sets, and init's user and groups.
//!
//! The bounding set shrinks when the stage runs, so that nothing init executes afterwards can
//! regain a dropped capability. The other sets, and the user, are set at the exec gate: init
//! still needs `CAP_SYS_ADMIN` in between to enter its cgroup namespace.

use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use corral_hooks::{CapabilitySets, ProcessPlan};
use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

use crate::config::SecurityConfig;
use crate::stages::{Op, OpError, PlanError};

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

/// Plans the five sets from the drop or keep list, within the capabilities this process can
/// pass on (its own bounding set). Root gets the whole bounding set; another user keeps only
/// the keep list, through the ambient set.
pub fn plan(sec: &SecurityConfig, uid: u32) -> Result<CapabilitySets, PlanError> {
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
    let (full, carried) = if uid == 0 {
        (names(&bounding), Vec::new())
    } else {
        let kept: CapsHashSet = keep.intersection(&bounding).copied().collect();
        (names(&kept), names(&kept))
    };
    Ok(CapabilitySets {
        bounding: names(&bounding),
        effective: full.clone(),
        permitted: full,
        inheritable: carried.clone(),
        ambient: carried,
    })
}

/// Names in the kernel's order.
fn names(set: &CapsHashSet) -> Vec<String> {
    let mut v: Vec<&Capability> = set.iter().collect();
    v.sort_by_key(|c| c.index());
    v.into_iter().map(ToString::to_string).collect()
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

/// Shrinks the bounding set to the plan's.
pub fn shrink_bounding(sets: &CapabilitySets) -> Result<(), OpError> {
    let bounding = capability_set(&sets.bounding)?;
    let current =
        caps::read(None, CapSet::Bounding).map_err(caps_error("read the bounding set"))?;
    for cap in current.difference(&bounding) {
        caps::drop(None, CapSet::Bounding, *cap)
            .map_err(caps_error(&format!("drop {cap} from the bounding set")))?;
    }
    Ok(())
}

/// Whether `sets` leave `CAP_SYS_ADMIN` in effect, which loading seccomp and Landlock needs
/// when `no_new_privs` is off.
pub fn keeps_sys_admin(sets: &CapabilitySets) -> bool {
    sets.effective
        .iter()
        .any(|c| parse_capability(c) == Some(Capability::CAP_SYS_ADMIN))
}

/// Becomes the plan's user and sets the four remaining sets.
pub fn enter(sets: &CapabilitySets, process: &ProcessPlan) -> Result<(), OpError> {
    if process.uid != 0 || process.gid != 0 || !process.additional_gids.is_empty() {
        // Keep the permitted set across the change of user; it is trimmed just below.
        nix::sys::prctl::set_keepcaps(true).op(|| "keep capabilities across setuid".into())?;
        let groups: Vec<Gid> = process
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        setgroups(&groups).op(|| "set the supplementary groups".into())?;
        setgid(Gid::from_raw(process.gid)).op(|| format!("setgid {}", process.gid))?;
        setuid(Uid::from_raw(process.uid)).op(|| format!("setuid {}", process.uid))?;
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
        let sec = SecurityConfig::default();
        let root = plan(&sec, 0).unwrap();
        assert!(
            !root
                .bounding
                .iter()
                .any(|c| c == "CAP_SYS_MODULE" || c == "CAP_SYS_TIME")
        );
        assert!(root.bounding.iter().any(|c| c == "CAP_CHOWN"));
        assert_eq!(root.effective, root.bounding);
        assert!(root.ambient.is_empty());

        let mut sec = SecurityConfig {
            cap_keep: vec!["chown".into(), "net_bind_service".into()],
            ..SecurityConfig::default()
        };
        let user = plan(&sec, 1000).unwrap();
        let kept = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"];
        assert_eq!(user.bounding, kept);
        assert_eq!(user.ambient, kept);
        assert!(!keeps_sys_admin(&user));

        sec.cap_keep = vec!["bogus".into()];
        assert_eq!(plan(&sec, 0).unwrap_err().key, "security.cap_keep");
    }
}
