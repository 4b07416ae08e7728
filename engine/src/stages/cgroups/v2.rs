//! Limits and accounting on cgroup v2: one directory in the unified hierarchy.

use std::fs;
use std::path::{Path, PathBuf};

use corral_hooks::CgroupLimits;

use super::{CgroupError, Usage, create_dirs, read_keyed, read_u64, write};

/// The controllers `limits` need, plus those accounting reads.
fn controllers(limits: &CgroupLimits) -> Vec<&'static str> {
    let mut wanted = vec!["memory", "pids", "cpu"];
    if limits.cpuset_cpus.is_some() || limits.cpuset_mems.is_some() {
        wanted.push("cpuset");
    }
    wanted
}

pub(super) fn create(
    mount: &Path,
    dirs: &[PathBuf],
    limits: &CgroupLimits,
) -> Result<(), CgroupError> {
    let Some(dir) = dirs.first() else {
        return Ok(());
    };
    let wanted = controllers(limits);
    // Each ancestor must delegate the controllers to its children, from the root down.
    let mut ancestors: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| a.starts_with(mount))
        .collect();
    ancestors.reverse();
    for ancestor in ancestors.iter().filter(|a| a.exists()) {
        enable(ancestor, &wanted)?;
    }
    let mut init = |d: &Path| if d == dir { Ok(()) } else { enable(d, &wanted) };
    create_dirs(dir, &mut init)
}

/// Enables in `dir`'s `cgroup.subtree_control` those of `wanted` it offers and lacks.
fn enable(dir: &Path, wanted: &[&str]) -> Result<(), CgroupError> {
    let read = |file: &str| {
        let path = dir.join(file);
        fs::read_to_string(&path).map_err(|e| CgroupError::Read(path, e))
    };
    let available = read("cgroup.controllers")?;
    let enabled = read("cgroup.subtree_control")?;
    let missing: Vec<String> = wanted
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &missing.join(" "))
}

fn set(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    if !path.exists() {
        return Err(CgroupError::Unsupported(format!(
            "{} is missing: the controller is not enabled for this cgroup",
            path.display()
        )));
    }
    write(&path, value)
}

pub(super) fn apply_limits(dir: &Path, limits: &CgroupLimits) -> Result<(), CgroupError> {
    if let Some(memory) = limits.memory {
        set(dir, "memory.max", &memory.to_string())?;
    }
    if let (Some(memory), Some(swap)) = (limits.memory, limits.memory_swap) {
        // v2 limits swap alone; the config's limit is memory plus swap, as on v1.
        set(dir, "memory.swap.max", &(swap - memory).to_string())?;
    }
    if let Some(weight) = limits.cpu_weight {
        set(dir, "cpu.weight", &weight.to_string())?;
    }
    if let Some(quota) = limits.cpu_quota_us {
        let period = limits.cpu_period_us.unwrap_or(100_000);
        set(dir, "cpu.max", &format!("{quota} {period}"))?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        set(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        set(dir, "cpuset.mems", mems)?;
    }
    if let Some(pids) = limits.pids {
        set(dir, "pids.max", &pids.to_string())?;
    }
    Ok(())
}

pub(super) fn usage(dir: &Path) -> Usage {
    Usage {
        memory_bytes: read_u64(&dir.join("memory.current")),
        memory_peak_bytes: read_u64(&dir.join("memory.peak")),
        cpu_ns: read_keyed(&dir.join("cpu.stat"), "usage_usec").map(|us| us * 1000),
        pids: read_u64(&dir.join("pids.current")),
        oom_kills: read_keyed(&dir.join("memory.events"), "oom_kill"),
        blkio_bytes: io_bytes(&dir.join("io.stat")),
        kmem_bytes: read_keyed(&dir.join("memory.stat"), "kernel"),
    }
}

/// Bytes read and written over every device in an `io.stat` file
/// (`8:0 rbytes=1 wbytes=2 rios=...`).
fn io_bytes(path: &Path) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    let sum = text
        .split_whitespace()
        .filter_map(|field| {
            field
                .strip_prefix("rbytes=")
                .or_else(|| field.strip_prefix("wbytes="))
        })
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    Some(sum)
}
