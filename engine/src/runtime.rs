//! A running container's runtime directory: its state file, the monitor's control socket
//! and the console log. Later commands read it to find init, its cgroup and its plan, and
//! to clean up after a monitor that died.

use std::fs;
use std::path::{Path, PathBuf};

use corral_hooks::Plan;
use serde::{Deserialize, Serialize};

use crate::stages::cgroups::Cgroup;

const STATE_FILE: &str = "state.json";

/// The monitor's control socket in a runtime directory.
pub fn socket_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("monitor.sock")
}

/// The console log in a runtime directory.
pub fn console_log_path(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("console.log")
}

/// What later commands need to know about a running container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeState {
    /// Init's PID on the host.
    pub pid: i32,
    /// Init's start time in clock ticks (`/proc/PID/stat` field 22), to tell a recycled PID.
    pub start_time: u64,
    /// The container's cgroup.
    pub cgroup: Cgroup,
    /// The plan the container was started with.
    pub plan: Plan,
}

impl RuntimeState {
    /// Whether init still runs: its PID exists and was not recycled.
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && start_time(self.pid) == Some(self.start_time)
    }
}

fn start_time(pid: i32) -> Option<u64> {
    // Field 22, `starttime`.
    crate::procfs::stat_fields(&pid.to_string())?
        .split(' ')
        .nth(19)?
        .parse()
        .ok()
}

/// Records init, its cgroup and its plan. Written with a rename so that no reader sees half.
pub fn save(runtime_dir: &Path, pid: i32, cgroup: &Cgroup, plan: &Plan) {
    /// [`RuntimeState`], borrowed: serialised where it lies.
    #[derive(Serialize)]
    struct StateRef<'a> {
        pid: i32,
        start_time: u64,
        cgroup: &'a Cgroup,
        plan: &'a Plan,
    }
    let state = StateRef {
        pid,
        start_time: start_time(pid).unwrap_or(0),
        cgroup,
        plan,
    };
    let tmp = runtime_dir.join(".state.json.tmp");
    let written = serde_json::to_vec(&state)
        .map_err(std::io::Error::other)
        .and_then(|bytes| fs::write(&tmp, bytes))
        .and_then(|()| fs::rename(&tmp, runtime_dir.join(STATE_FILE)));
    if let Err(e) = written {
        tracing::warn!(%e, "cannot save the runtime state: a crash would leave the cgroup behind");
    }
}

/// Reads the runtime state, if the container runs (or a dead monitor left it).
pub fn load(runtime_dir: &Path) -> Option<RuntimeState> {
    serde_json::from_slice(&fs::read(runtime_dir.join(STATE_FILE)).ok()?).ok()
}

/// Cleans up after a monitor that died: kills what is left of the container, removes its
/// cgroup and runtime directory. Called with the container's lock held, so nothing of a live
/// monitor is touched.
pub fn clean_stale(runtime_dir: &Path) {
    if !runtime_dir.exists() {
        return;
    }
    if let Some(state) = load(runtime_dir) {
        tracing::info!(dir = %runtime_dir.display(), "cleaning up after a monitor that died");
        if let Err(e) = state.cgroup.remove() {
            tracing::warn!(error = %crate::error_chain(&e), "cannot remove a stale cgroup");
        }
    }
    if let Err(e) = fs::remove_dir_all(runtime_dir) {
        tracing::warn!(%e, dir = %runtime_dir.display(), "cannot remove a stale runtime directory");
    }
}
