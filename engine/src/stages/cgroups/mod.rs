//! The cgroups stage: one cgroup per container, its limits, accounting and removal, on
//! cgroup v1 (and hybrid) hosts and on cgroup v2 hosts, detected at run time.
//!
//! The cgroup is created after init is cloned and before init runs anything of the
//! container's: init waits until the stage has moved it in, then enters a cgroup namespace
//! rooted there and mounts its view at `/sys/fs/cgroup` (see [`crate::pipeline`]).

pub mod devices;
mod layout;
mod v1;
mod v2;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use corral_hooks::{CgroupLimits, CgroupMount, CgroupsPlan, NamespaceMode};
use serde::{Deserialize, Serialize};

pub use layout::{Hierarchy, Layout};

use crate::config::ContainerConfig;

/// An error of the cgroups stage, naming the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup hierarchy could be found.
    #[error("cannot find the cgroup hierarchies")]
    Detect(#[source] io::Error),
    /// A cgroup directory could not be created.
    #[error("cannot create cgroup {}", .0.display())]
    Create(PathBuf, #[source] io::Error),
    /// A value could not be written.
    #[error("cannot write `{value}` to {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The value.
        value: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {}", .0.display())]
    Read(PathBuf, #[source] io::Error),
    /// A limit needs a controller or file this host does not have.
    #[error("{0}")]
    Unsupported(String),
    /// The cgroup could not be removed.
    #[error("cannot remove cgroup {}", .0.display())]
    Remove(PathBuf, #[source] io::Error),
}

/// Builds the stage's plan: the cgroup `<parent>/<name>` with the config's limits.
pub fn plan(config: &ContainerConfig, name: &str, parent: &str) -> CgroupsPlan {
    let c = &config.cgroup;
    let parent = parent.trim_matches('/');
    CgroupsPlan {
        path: if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}/{name}")
        },
        limits: CgroupLimits {
            memory: c.memory.map(|m| m.0),
            memory_swap: c.memory_swap.map(|m| m.0),
            cpu_weight: c.cpu_weight,
            cpu_quota_us: c.cpu_quota_us,
            cpu_period_us: c.cpu_period_us.or(c.cpu_quota_us.map(|_| 100_000)),
            cpuset_cpus: c.cpuset_cpus.clone(),
            cpuset_mems: c.cpuset_mems.clone(),
            pids: c.pids,
        },
        namespace: config.namespaces.cgroup == NamespaceMode::New,
        mount: config.mounts.auto.cgroup,
    }
}

/// Checks limits that can be judged without the host: ranges and their relations.
pub fn validate(limits: &CgroupLimits) -> Result<(), String> {
    if let Some(weight) = limits.cpu_weight
        && !(1..=10_000).contains(&weight)
    {
        return Err(format!("cpu_weight {weight} is outside 1..=10000"));
    }
    if let (Some(mem), Some(swap)) = (limits.memory, limits.memory_swap)
        && swap < mem
    {
        return Err(format!("memory_swap ({swap}) is below memory ({mem})"));
    }
    if limits.memory_swap.is_some() && limits.memory.is_none() {
        return Err("memory_swap needs memory".to_owned());
    }
    if let Some(period) = limits.cpu_period_us
        && !(1_000..=1_000_000).contains(&period)
    {
        return Err(format!("cpu_period_us {period} is outside 1000..=1000000"));
    }
    if limits.cpu_quota_us.is_some_and(|q| q < 1_000) {
        return Err("cpu_quota_us must be at least 1000".to_owned());
    }
    Ok(())
}

/// What the container used, read from its cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Memory in use, in bytes.
    pub memory_bytes: Option<u64>,
    /// The most memory ever in use, in bytes.
    pub memory_peak_bytes: Option<u64>,
    /// CPU time used, in nanoseconds.
    pub cpu_ns: Option<u64>,
    /// Tasks in the cgroup.
    pub pids: Option<u64>,
    /// Times a process was killed for going past the memory limit.
    pub oom_kills: Option<u64>,
    /// Bytes read from and written to block devices.
    pub blkio_bytes: Option<u64>,
    /// Kernel memory in use, in bytes.
    pub kmem_bytes: Option<u64>,
}

/// A container's cgroup, created in every hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    /// The path relative to each hierarchy's root.
    pub path: String,
    /// The container's directory in each hierarchy.
    pub dirs: Vec<PathBuf>,
    /// `v1` or `v2`.
    pub version: String,
}

impl Cgroup {
    /// The cgroup `path` in every hierarchy of `layout`, not yet created.
    pub fn new(layout: &Layout, path: &str) -> Cgroup {
        let dirs = match layout {
            Layout::V1(hierarchies) => hierarchies.iter().map(|h| h.mount.join(path)).collect(),
            Layout::V2(mount) => vec![mount.join(path)],
        };
        Cgroup {
            path: path.to_owned(),
            dirs,
            version: layout.name().to_owned(),
        }
    }

    /// Creates the cgroup's directories, with the controllers `limits` need. On failure, the
    /// directories made so far are removed again.
    pub fn create(&self, layout: &Layout, limits: &CgroupLimits) -> Result<(), CgroupError> {
        (0..self.dirs.len()).try_for_each(|step| self.create_step(layout, limits, step))
    }

    /// The `step`th part of [`Cgroup::create`], of one per directory: the directory in one
    /// v1 hierarchy, or the v2 directory. On failure, the directories made so far are removed
    /// again.
    pub fn create_step(
        &self,
        layout: &Layout,
        limits: &CgroupLimits,
        step: usize,
    ) -> Result<(), CgroupError> {
        let result = match (layout, self.dirs.get(step)) {
            (Layout::V1(hierarchies), Some(dir)) => match hierarchies.get(step) {
                Some(hierarchy) => v1::create(hierarchy, dir),
                None => Ok(()),
            },
            (Layout::V2(mount), Some(_)) => v2::create(mount, &self.dirs, limits),
            (_, None) => Ok(()),
        };
        if result.is_err() {
            // Best effort: the error that matters is the creation's.
            let _ = self.remove();
        }
        result
    }

    /// Writes the limits.
    pub fn apply_limits(&self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        match self.version.as_str() {
            "v1" => v1::apply_limits(&self.dirs, limits),
            _ => v2::apply_limits(self.dir(), limits),
        }
    }

    /// The files through which a process joins the cgroup by writing `0` into them: `tasks`
    /// on v1, which moves only the writer and so avoids the global threadgroup lock, and
    /// `cgroup.procs` on v2.
    pub fn join_paths(&self) -> Vec<PathBuf> {
        let name = if self.version == "v1" {
            "tasks"
        } else {
            "cgroup.procs"
        };
        self.dirs.iter().map(|dir| dir.join(name)).collect()
    }

    /// [`Cgroup::join_paths`], opened for writing.
    pub fn join_files(&self) -> Result<Vec<fs::File>, CgroupError> {
        self.join_paths()
            .into_iter()
            .map(|path| {
                fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|source| CgroupError::Write {
                        path,
                        value: "0".into(),
                        source,
                    })
            })
            .collect()
    }

    /// Freezes (or thaws) every process in the cgroup and waits, up to ten seconds, until
    /// the kernel says it is done.
    pub fn freeze(&self, frozen: bool) -> Result<(), CgroupError> {
        // v1 reports the state in the file it is set in; v2 in `cgroup.events`.
        let (file, value, done_file, done) = match (self.version.as_str(), frozen) {
            ("v1", true) => ("freezer.state", "FROZEN", "freezer.state", "FROZEN"),
            ("v1", false) => ("freezer.state", "THAWED", "freezer.state", "THAWED"),
            (_, true) => ("cgroup.freeze", "1", "cgroup.events", "frozen 1"),
            (_, false) => ("cgroup.freeze", "0", "cgroup.events", "frozen 0"),
        };
        let dir = self
            .dirs
            .iter()
            .find(|d| d.join(file).exists())
            .ok_or_else(|| {
                CgroupError::Unsupported(format!("this host has no {file} to freeze with"))
            })?;
        write(&dir.join(file), value)?;
        for _ in 0..1000 {
            let state = fs::read_to_string(dir.join(done_file))
                .map_err(|e| CgroupError::Read(dir.join(done_file), e))?;
            if state.lines().any(|l| l.trim() == done) {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(CgroupError::Unsupported(format!(
            "{} did not become `{value}`",
            dir.join(file).display()
        )))
    }

    /// Reads what the container used.
    pub fn usage(&self) -> Usage {
        match self.version.as_str() {
            "v1" => v1::usage(&self.dirs),
            _ => v2::usage(self.dir()),
        }
    }

    /// Kills every process left in the cgroup and its sub-cgroups (a system container's
    /// init makes its own), and waits until none is left.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        for _ in 0..100 {
            let mut alive = false;
            for dir in self.dirs.iter().flat_map(|d| subtree(d)) {
                let procs = dir.join("cgroup.procs");
                let text = match fs::read_to_string(&procs) {
                    Ok(text) => text,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(CgroupError::Read(procs, e)),
                };
                for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    alive = true;
                    // SAFETY: kill has no memory-safety preconditions; the pid was read from
                    // this container's own cgroup.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            if !alive {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(CgroupError::Unsupported(format!(
            "processes of cgroup {} did not die",
            self.path
        )))
    }

    /// Removes the cgroup, with the sub-cgroups made inside it, in every hierarchy, killing
    /// first whatever is still in it. The parent directories stay: they are shared with the
    /// world's other containers.
    pub fn remove(&self) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            if remove_subtree(dir).is_err() {
                // Tasks left in it (a host PID namespace) or a cgroup still settling.
                self.kill_all()?;
                for sub in subtree(dir).into_iter().rev() {
                    remove_dir(&sub)?;
                }
            }
        }
        Ok(())
    }

    /// The directory in the unified hierarchy, or the first v1 hierarchy.
    fn dir(&self) -> &Path {
        self.dirs.first().map_or(Path::new("/"), PathBuf::as_path)
    }
}

/// A cgroup filesystem to mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupView {
    /// `cgroup` or `cgroup2`.
    pub fstype: String,
    /// Where, inside the container.
    pub target: String,
    /// Mount data: the v1 hierarchy's controllers.
    pub data: String,
}

/// What the container mounts at `/sys/fs/cgroup` once it is in its cgroup namespace.
pub fn mount_view(layout: &Layout, mount: CgroupMount) -> Vec<CgroupView> {
    match (layout, mount) {
        (_, CgroupMount::Off) => Vec::new(),
        (Layout::V2(_), _) => vec![CgroupView {
            fstype: "cgroup2".into(),
            target: "/sys/fs/cgroup".into(),
            data: String::new(),
        }],
        (Layout::V1(hierarchies), _) => hierarchies
            .iter()
            .map(|h| {
                let dir = h.mount.file_name().map_or_else(
                    || h.controllers.join(","),
                    |n| n.to_string_lossy().into_owned(),
                );
                CgroupView {
                    fstype: "cgroup".into(),
                    target: format!("/sys/fs/cgroup/{dir}"),
                    data: h.controllers.join(","),
                }
            })
            .collect(),
    }
}

/// `dir` and every cgroup below it, parents before children.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_owned()];
    let mut i = 0;
    while let Some(d) = all.get(i).cloned() {
        if let Ok(entries) = fs::read_dir(&d) {
            all.extend(
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        i += 1;
    }
    all
}

/// Removes `dir` and the cgroups below it, children first, in one try each.
fn remove_subtree(dir: &Path) -> io::Result<()> {
    // A container's cgroup rarely has cgroups of its own (a systemd inside makes them):
    // removed at once, it is not listed, which took as long as the removal.
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    for sub in subtree(dir).into_iter().rev() {
        match fs::remove_dir(&sub) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<(), CgroupError> {
    // A cgroup whose last task was just reaped can stay busy for a moment.
    for _ in 0..50 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(CgroupError::Remove(dir.to_owned(), e)),
        }
    }
    fs::remove_dir(dir).map_err(|e| CgroupError::Remove(dir.to_owned(), e))
}

/// Creates `dir` and its missing parents, calling `init` on each directory it made.
fn create_dirs(
    dir: &Path,
    init: &mut dyn FnMut(&Path) -> Result<(), CgroupError>,
) -> Result<(), CgroupError> {
    // Mostly only the container's own directory is missing.
    match fs::create_dir(dir) {
        Ok(()) => return init(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(_) => {}
    }
    // A sibling's teardown may remove a shared parent between our mkdirs: try again.
    for attempt in 0..3 {
        let mut missing = Vec::new();
        let mut cur = dir;
        while !cur.exists() {
            missing.push(cur.to_owned());
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        let mut ok = true;
        for d in missing.iter().rev() {
            match fs::create_dir(d) {
                Ok(()) => init(d)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d != dir => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < 2 => {
                    ok = false;
                    break;
                }
                Err(e) => return Err(CgroupError::Create(d.clone(), e)),
            }
        }
        if ok {
            return Ok(());
        }
    }
    Err(CgroupError::Create(
        dir.to_owned(),
        io::Error::from(io::ErrorKind::NotFound),
    ))
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_owned(),
        value: value.to_owned(),
        source,
    })
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file such as `memory.stat` or `cpu.stat`.
fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}
