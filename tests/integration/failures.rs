//! A failure at any stage says which stage failed and why, and undoes everything: no
//! cgroup, mount, process, runtime state or lock is left behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use corral_tests::{World, cgroup_mounts};

#[track_caller]
fn assert_fails(run: &corral_tests::Run, code: i32, message: &str) {
    assert_eq!(run.code, code, "{run:?}");
    assert!(
        run.stderr.contains(message),
        "expected `{message}` in:\n{}",
        run.stderr
    );
}

#[test]
fn namespaces_stage_failure_when_init_cannot_be_cloned() {
    let w = World::new();
    w.busybox("ns", "");
    // corral runs alone in a cgroup of this test's that allows one task: cloning init fails.
    let jail = PidsJail::new(&w.cgroup_parent);
    let line = format!(
        "echo $$ > {} && exec \"$CORRAL_BIN\" execute -n ns -- /bin/true",
        jail.procs.display()
    );
    let run = w.cmd_shell(&line);
    assert_fails(
        &run,
        125,
        "stage namespaces failed: cannot clone init into its namespaces: Resource temporarily unavailable",
    );
    w.assert_clean("ns");
}

#[test]
fn mounts_stage_failure_on_a_missing_mount_source() {
    let w = World::new();
    w.busybox("mnt", "[[mounts.entry]]\nsource = \"/nonexistent/corral-src\"\ntarget = \"/data\"\ncreate = \"dir\"\n");
    let run = w.execute("mnt", &["/bin/true"]);
    assert_fails(
        &run,
        125,
        "stage mounts failed: mount /nonexistent/corral-src on /data (bind): No such file or directory",
    );
    w.assert_clean("mnt");
    // The same entry marked optional is skipped.
    w.busybox("opt", "[[mounts.entry]]\nsource = \"/nonexistent/corral-src\"\ntarget = \"/data\"\noptional = true\n");
    assert_eq!(w.execute("opt", &["/bin/true"]).code, 0);
}

#[test]
fn mount_entries_bind_tmpfs_and_read_only() {
    let w = World::new();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("hello"), "from the host\n").unwrap();
    w.busybox(
        "binds",
        &format!(
            "[[mounts.entry]]\nsource = \"{}\"\ntarget = \"/srv/data\"\ncreate = \"dir\"\noptions = [\"ro\"]\n\
             [[mounts.entry]]\nsource = \"tmpfs\"\ntarget = \"/scratch\"\ntype = \"tmpfs\"\noptions = [\"size=1m\", \"mode=700\"]\ncreate = \"dir\"\n",
            src.path().display()
        ),
    );
    let out = w.execute("binds", &["/bin/sh", "-c", "cat /srv/data/hello; touch /srv/data/x 2>&1 | grep -c Read-only; stat -c %a /scratch; touch /scratch/ok && echo tmpfs-ok"]);
    assert_eq!(out.ok(), "from the host\n1\n700\ntmpfs-ok\n");
    w.assert_clean("binds");
}

#[test]
fn cgroups_stage_failure_on_an_impossible_value() {
    let w = World::new();
    w.busybox("cg", "[cgroup]\ncpuset_cpus = \"999\"\n");
    let run = w.execute("cg", &["/bin/true"]);
    assert_fails(&run, 125, "stage cgroups failed: cannot write `999` to ");
    assert!(run.stderr.contains("cpuset.cpus"), "{}", run.stderr);
    w.assert_clean("cg");
}

#[test]
fn exec_failure_on_a_missing_init_binary() {
    let w = World::new();
    w.busybox("noinit", "[init]\ncmd = [\"/sbin/no-such-init\"]\n");
    let run = w.corral(&["execute", "-n", "noinit"]);
    assert_fails(
        &run,
        127,
        "cannot start the container's program: execute /sbin/no-such-init: No such file or directory",
    );
    w.assert_clean("noinit");
}

#[test]
fn bad_values_are_refused_before_anything_starts() {
    let w = World::new();
    w.busybox("weight", "[cgroup]\ncpu_weight = 0\n");
    assert_fails(
        &w.execute("weight", &["/bin/true"]),
        125,
        "key `cgroup`: cpu_weight 0 is outside 1..=10000",
    );
    w.busybox("caps", "[security]\ncap_drop = [\"sys_nonsense\"]\n");
    assert_fails(
        &w.execute("caps", &["/bin/true"]),
        125,
        "key `security.cap_drop`: `sys_nonsense` is not a capability",
    );
    w.busybox(
        "target",
        "[[mounts.entry]]\nsource = \"/tmp\"\ntarget = \"relative\"\n",
    );
    assert_fails(
        &w.execute("target", &["/bin/true"]),
        125,
        "key `mounts.entry[0].target`: `relative` is not an absolute path",
    );
    for name in ["weight", "caps", "target"] {
        w.assert_clean(name);
    }
}

#[test]
fn symlinks_in_the_rootfs_cannot_redirect_mounts_to_the_host() {
    let w = World::new();
    w.busybox("evil", "[[mounts.entry]]\nsource = \"tmpfs\"\ntype = \"tmpfs\"\ntarget = \"/escape/inner\"\ncreate = \"dir\"\n");
    let outside = tempfile::tempdir().unwrap();
    // An absolute symlink to a host directory: resolved inside the rootfs, it stays there.
    std::os::unix::fs::symlink(outside.path(), w.root().join("evil/rootfs/escape")).unwrap();
    let run = w.execute("evil", &["/bin/true"]);
    // Contained (the link resolves inside the rootfs, where its target is missing): refused.
    assert_fails(
        &run,
        125,
        "stage mounts failed: resolve /escape/inner in the rootfs",
    );
    assert!(
        !outside.path().join("inner").exists(),
        "corral created a directory on the host through a symlink"
    );
    // The same link pointing at a directory that exists inside the rootfs is followed there.
    let inside = w
        .root()
        .join("evil/rootfs")
        .join(outside.path().strip_prefix("/").unwrap());
    fs::create_dir_all(&inside).unwrap();
    assert_eq!(w.execute("evil", &["/bin/true"]).code, 0);
    assert!(
        inside.join("inner").is_dir(),
        "the mount target was created inside the rootfs"
    );
    assert!(!outside.path().join("inner").exists());
    w.assert_clean("evil");
}

/// A pids cgroup of the test's own, allowing one task, removed when dropped.
struct PidsJail {
    dir: PathBuf,
    procs: PathBuf,
}

impl PidsJail {
    fn new(parent: &str) -> PidsJail {
        let mounts = cgroup_mounts();
        let base = mounts
            .iter()
            .find(|m| m.ends_with("pids"))
            .or_else(|| {
                mounts
                    .iter()
                    .find(|m| m.join("cgroup.subtree_control").exists())
            })
            .expect("a pids hierarchy")
            .clone();
        let dir = base.join(format!("{parent}-jail"));
        fs::create_dir_all(&dir).unwrap();
        if !dir.join("pids.max").exists() {
            fs::write(base.join("cgroup.subtree_control"), "+pids").unwrap();
        }
        fs::write(dir.join("pids.max"), "1").unwrap();
        PidsJail {
            procs: dir.join("cgroup.procs"),
            dir,
        }
    }
}

impl Drop for PidsJail {
    fn drop(&mut self) {
        // The shell that joined it has exited; wait for the cgroup to empty, then remove it.
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = Command::new("cat").arg(&self.procs).status();
    }
}
