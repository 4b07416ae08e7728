//! The cgroup layer on the host's real hierarchies (v1 or hybrid here, v2 in the VM test):
//! create, limit, join, account, remove.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use std::fs;
use std::process::Command;

use corral::stages::cgroups::{Cgroup, Layout};
use corral_hooks::CgroupLimits;

#[test]
fn limits_are_applied_usage_is_read_and_the_cgroup_is_removed() {
    let layout = Layout::detect().expect("a cgroup hierarchy");
    let path = format!("corral-test-{}-cg/acct", std::process::id());
    let limits = CgroupLimits {
        memory: Some(64 << 20),
        pids: Some(10),
        cpu_weight: Some(200),
        cpu_quota_us: Some(50_000),
        cpu_period_us: Some(100_000),
        ..CgroupLimits::default()
    };
    let cgroup = Cgroup::new(&layout, &path);
    let _cleanup = Cleanup(cgroup.clone());
    cgroup.create(&layout, &limits).expect("create");
    cgroup.apply_limits(&limits).expect("limits");
    let read = |file: &str| {
        let dir = cgroup
            .dirs
            .iter()
            .find(|d| d.join(file).exists())
            .expect(file);
        fs::read_to_string(dir.join(file))
            .unwrap()
            .trim()
            .to_owned()
    };
    match layout {
        Layout::V1(_) => {
            assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
            assert_eq!(read("cpu.cfs_quota_us"), "50000");
            assert_eq!(read("cpu.shares"), "5219");
        }
        Layout::V2(_) => {
            assert_eq!(read("memory.max"), (64u64 << 20).to_string());
            assert_eq!(read("cpu.max"), "50000 100000");
            assert_eq!(read("cpu.weight"), "200");
        }
    }
    assert_eq!(read("pids.max"), "10");

    // A shell joins by writing 0 (itself), burns some CPU and memory, then waits.
    let joins: Vec<String> = cgroup
        .join_paths()
        .iter()
        .map(|p| format!("echo 0 > {}", p.display()))
        .collect();
    let script = format!(
        "{}; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 30 & echo joined; wait",
        joins.join("; ")
    );
    let mut child = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 7];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut buf).unwrap();
    let usage = cgroup.usage();
    assert!(
        usage.cpu_ns.unwrap_or(0) > 1_000_000,
        "CPU time accounted: {usage:?}"
    );
    assert!(
        usage.memory_bytes.unwrap_or(0) > 0,
        "memory accounted: {usage:?}"
    );
    assert_eq!(usage.pids, Some(2), "the shell and its sleep: {usage:?}");

    // Removal kills what is left, then every directory goes.
    cgroup.remove().expect("remove");
    let _ = child.wait();
    for dir in &cgroup.dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

/// Removes the cgroup and its parent even when an assertion fails.
struct Cleanup(Cgroup);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.remove();
        for dir in &self.0.dirs {
            if let Some(parent) = dir.parent() {
                let _ = fs::remove_dir(parent);
            }
        }
    }
}

#[test]
fn a_cgroup_with_cgroups_of_its_own_is_removed_whole() {
    // What a systemd inside a container leaves: cgroups below the container's.
    let layout = Layout::detect().expect("a cgroup hierarchy");
    let path = format!("corral-test-{}-cg/nested", std::process::id());
    let cgroup = Cgroup::new(&layout, &path);
    let _cleanup = Cleanup(cgroup.clone());
    cgroup
        .create(&layout, &CgroupLimits::default())
        .expect("create");
    for dir in &cgroup.dirs {
        fs::create_dir_all(dir.join("system.slice/inner")).expect("a cgroup below");
    }
    cgroup.remove().expect("remove");
    for dir in &cgroup.dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
