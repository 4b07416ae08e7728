//! Limits and accounting on cgroup v1: one directory per hierarchy.

use std::path::{Path, PathBuf};

use corral_hooks::CgroupLimits;

use super::{CgroupError, Hierarchy, Usage, create_dirs, read_keyed, read_u64, write};

/// Creates the cgroup's directory `dir` in `hierarchy`.
pub(super) fn create(hierarchy: &Hierarchy, dir: &Path) -> Result<(), CgroupError> {
    let cpuset = hierarchy.has("cpuset");
    // A new cpuset cgroup has no CPUs and no memory nodes: it takes its parent's.
    let mut init = |dir: &Path| -> Result<(), CgroupError> {
        if cpuset {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                inherit(dir, file)?;
            }
        }
        Ok(())
    };
    create_dirs(dir, &mut init)
}

/// Gives `dir` its parent's value of the cpuset `file`. A parent without one yet gets its
/// own parent's first: another start that made it may not have given it its value yet.
fn inherit(dir: &Path, file: &str) -> Result<(), CgroupError> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    let path = parent.join(file);
    let read = || std::fs::read_to_string(&path).map_err(|e| CgroupError::Read(path.clone(), e));
    let mut value = read()?;
    if value.trim().is_empty() {
        inherit(parent, file)?;
        value = read()?;
    }
    write(&dir.join(file), value.trim())
}

/// The directory among `dirs` whose hierarchy has `file`.
fn find<'a>(dirs: &'a [PathBuf], file: &str) -> Result<&'a Path, CgroupError> {
    dirs.iter()
        .map(PathBuf::as_path)
        .find(|d| d.join(file).exists())
        .ok_or_else(|| {
            CgroupError::Unsupported(format!("this host's cgroup v1 hierarchies have no {file}"))
        })
}

fn set(dirs: &[PathBuf], file: &str, value: &str) -> Result<(), CgroupError> {
    write(&find(dirs, file)?.join(file), value)
}

pub(super) fn apply_limits(dirs: &[PathBuf], limits: &CgroupLimits) -> Result<(), CgroupError> {
    if let Some(memory) = limits.memory {
        set(dirs, "memory.limit_in_bytes", &memory.to_string())?;
    }
    if let Some(swap) = limits.memory_swap {
        let file = "memory.memsw.limit_in_bytes";
        find(dirs, file).map_err(|_| {
            CgroupError::Unsupported(format!(
                "memory_swap needs swap accounting, and this kernel has no {file} (boot with swapaccount=1)"
            ))
        })?;
        set(dirs, file, &swap.to_string())?;
    }
    if let Some(weight) = limits.cpu_weight {
        set(dirs, "cpu.shares", &weight_to_shares(weight).to_string())?;
    }
    if let Some(period) = limits.cpu_period_us {
        set(dirs, "cpu.cfs_period_us", &period.to_string())?;
    }
    if let Some(quota) = limits.cpu_quota_us {
        set(dirs, "cpu.cfs_quota_us", &quota.to_string())?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        set(dirs, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        set(dirs, "cpuset.mems", mems)?;
    }
    if let Some(pids) = limits.pids {
        set(dirs, "pids.max", &pids.to_string())?;
    }
    Ok(())
}

/// Maps a cgroup v2 weight (1..=10000) onto v1 shares (2..=262144), as runc and LXC do.
fn weight_to_shares(weight: u64) -> u64 {
    2 + (weight.clamp(1, 10_000) - 1) * 262_142 / 9_999
}

pub(super) fn usage(dirs: &[PathBuf]) -> Usage {
    let file = |name: &str| find(dirs, name).ok().map(|d| d.join(name));
    Usage {
        memory_bytes: file("memory.usage_in_bytes").and_then(|p| read_u64(&p)),
        memory_peak_bytes: file("memory.max_usage_in_bytes").and_then(|p| read_u64(&p)),
        cpu_ns: file("cpuacct.usage").and_then(|p| read_u64(&p)),
        pids: file("pids.current").and_then(|p| read_u64(&p)),
        oom_kills: file("memory.oom_control").and_then(|p| read_keyed(&p, "oom_kill")),
        blkio_bytes: file("blkio.throttle.io_service_bytes").and_then(|p| read_keyed(&p, "Total")),
        kmem_bytes: file("memory.kmem.usage_in_bytes").and_then(|p| read_u64(&p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpuset_parent_not_given_its_value_yet_gets_it_first() {
        // What a sibling start leaves for an instant: the parent made, its value not
        // written. Plain files stand in for the cgroup filesystem's.
        let root = tempfile::tempdir().expect("tempdir");
        let parent = root.path().join("corral");
        let child = parent.join("c");
        std::fs::create_dir_all(&child).unwrap();
        std::fs::write(root.path().join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(parent.join("cpuset.cpus"), "\n").unwrap();
        inherit(&child, "cpuset.cpus").unwrap();
        for dir in [&parent, &child] {
            assert_eq!(
                std::fs::read_to_string(dir.join("cpuset.cpus")).unwrap(),
                "0-1"
            );
        }
    }

    #[test]
    fn weights_map_onto_shares() {
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(100), 2597);
        assert_eq!(weight_to_shares(10_000), 262_144);
    }
}
