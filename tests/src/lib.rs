//! Support for corral's integration tests: a private corral world per test, the `corral`
//! binary run in it, and checks for what a container may leave behind.
//!
//! Every world has its own root and run directories and its own cgroup parent
//! (`corral-test-PID-N`), so tests run side by side and never touch anything else. Dropping
//! the world destroys its containers and removes its cgroup parents.

#![allow(
    clippy::expect_used,
    reason = "a test support library: panicking is how a test fails"
)]

pub mod net;
mod probe;

pub use probe::probe_bin;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static WORLDS: AtomicUsize = AtomicUsize::new(0);

/// The `corral` binary built next to the test binaries (`target/<profile>/corral`).
pub fn corral_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CORRAL_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("corral");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p corral-engine`",
        bin.display()
    );
    bin
}

/// Where cargo puts the plugins built with the tests (`target/<profile>`), which every
/// world's commands search first.
pub fn plugin_dir() -> PathBuf {
    corral_bin()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A private corral world.
pub struct World {
    dir: tempfile::TempDir,
    /// The cgroup parent of this world's containers.
    pub cgroup_parent: String,
}

/// What a corral command did.
#[derive(Debug)]
pub struct Run {
    /// Exit status (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

impl World {
    /// A new, empty world.
    pub fn new() -> World {
        assert!(
            nix_is_root(),
            "corral's integration tests run real containers and need root"
        );
        let dir = tempfile::Builder::new()
            .prefix("corral-test-")
            .tempdir()
            .expect("temp dir");
        let n = WORLDS.fetch_add(1, Ordering::SeqCst);
        let cgroup_parent = format!("corral-test-{}-{n}", std::process::id());
        fs::write(
            dir.path().join("global.toml"),
            format!("[cgroup]\nparent = \"{cgroup_parent}\"\n"),
        )
        .expect("global config");
        World { dir, cgroup_parent }
    }

    /// The world's own directory, for files tests keep next to it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The root directory of configs and root filesystems.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The runtime directory.
    pub fn run_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A `corral` command in this world.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(corral_bin());
        cmd.env("CORRAL_ROOT", self.root())
            .env("CORRAL_RUN_DIR", self.run_dir())
            .env("CORRAL_CONFIG", self.dir.path().join("global.toml"))
            .env("CORRAL_PLUGIN_PATH", plugin_dir())
            .env_remove("CORRAL_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a shell command line with this world's environment.
    pub fn cmd_shell(&self, line: &str) -> Run {
        let cmd = self.cmd();
        let bin = cmd.get_program().to_owned();
        let envs: Vec<_> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
            .collect();
        let mut sh = Command::new("/bin/sh");
        sh.arg("-c")
            .arg(line)
            .envs(envs)
            .env("CORRAL_BIN", bin)
            .stdin(Stdio::null());
        sh.output().expect("run sh").into()
    }

    /// Runs `corral ARGS` and collects what it did.
    pub fn corral(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().expect("run corral").into()
    }

    /// Creates a busybox container whose config is `config` (plus its hostname, unless
    /// `config` sets one).
    pub fn busybox(&self, name: &str, config: &str) -> PathBuf {
        self.corral(&["create", "-t", "busybox", "-n", name]).ok();
        let path = self.root().join(name).join("config.toml");
        let text = if config.starts_with("hostname") {
            config.to_owned()
        } else {
            format!("hostname = \"{name}\"\n{config}")
        };
        fs::write(&path, text).expect("write config");
        path
    }

    /// Runs a command in a container with `corral execute`.
    pub fn execute(&self, name: &str, command: &[&str]) -> Run {
        let mut args = vec!["execute", "-n", name, "--"];
        args.extend_from_slice(command);
        self.corral(&args)
    }

    /// The container's cgroup directories that exist, in every mounted hierarchy.
    pub fn cgroup_dirs(&self, name: &str) -> Vec<PathBuf> {
        cgroup_mounts()
            .into_iter()
            .map(|m| m.join(&self.cgroup_parent).join(name))
            .filter(|d| d.exists())
            .collect()
    }

    /// Asserts that a container left nothing behind: no cgroup, no runtime state, no held
    /// lock, no process, no mount of its rootfs on the host.
    #[track_caller]
    pub fn assert_clean(&self, name: &str) {
        assert_eq!(
            self.cgroup_dirs(name),
            Vec::<PathBuf>::new(),
            "cgroup left behind"
        );
        assert!(
            !self.run_dir().join(name).exists(),
            "runtime directory left behind"
        );
        let rootfs = self.root().join(name).join("rootfs");
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        assert!(
            !mountinfo.contains(&*rootfs.to_string_lossy()),
            "a mount of {} is visible on the host",
            rootfs.display()
        );
        for entry in fs::read_dir("/proc").expect("/proc").filter_map(Result::ok) {
            if let Ok(root) = fs::read_link(entry.path().join("root")) {
                assert!(
                    root != rootfs,
                    "process {:?} still runs in the container",
                    entry.file_name()
                );
            }
        }
        let host_masks = host_proc_sys_mounts();
        assert!(
            host_masks.is_empty(),
            "mounts on the host's /proc or /sys leaked: {host_masks:?}"
        );
        let ls = self.corral(&["ls", "--json"]);
        let list: serde_json::Value = serde_json::from_str(ls.ok()).expect("ls json");
        let running = list
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["name"] == name && c["state"] != "STOPPED");
        assert!(!running, "container {name} still counts as running");
    }
}

impl Default for World {
    fn default() -> World {
        World::new()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let names: Vec<String> = self
            .corral(&["ls"])
            .stdout
            .lines()
            .map(str::to_owned)
            .collect();
        for name in names {
            let _ = self.corral(&["destroy", "-f", "-n", &name]);
        }
        for mount in cgroup_mounts() {
            let parent = mount.join(&self.cgroup_parent);
            if parent.exists() {
                // Only empty directories can go: a leak shows up in the test's own checks.
                let _ = fs::remove_dir(&parent);
            }
        }
    }
}

/// Where each cgroup hierarchy is mounted (v1 controllers, and the unified tree).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(point))
        })
        .collect()
}

fn nix_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Mounts on top of paths inside the host's `/proc` or `/sys` (besides the cgroup tree): a
/// container's masks or read-only paths applied in the wrong namespace would show here.
pub fn host_proc_sys_mounts() -> Vec<String> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4).map(str::to_owned))
        .filter(|point| {
            (point.starts_with("/proc/") || point.starts_with("/sys/"))
                && !point.starts_with("/sys/fs/cgroup")
                && !point.starts_with("/proc/sys/fs/binfmt_misc")
                && !point.starts_with("/sys/kernel/")
        })
        .collect()
}
