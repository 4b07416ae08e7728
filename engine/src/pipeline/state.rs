//! The runtime state of a running container, kept so that a later command can find and
//! clean up what a monitor that died left behind.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::stages::cgroups::Cgroup;

const STATE_FILE: &str = "state.json";

/// What a later command needs to know about a running container.
#[derive(Debug, Serialize, Deserialize)]
struct RuntimeState {
    /// Init's PID on the host.
    pid: i32,
    /// Init's start time in clock ticks (`/proc/PID/stat` field 22), to tell a recycled PID.
    start_time: u64,
    /// The container's cgroup.
    cgroup: Cgroup,
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(19)?.parse().ok()
}

/// Records init and its cgroup. Written with a rename so that no reader sees half of it.
pub(super) fn save(runtime_dir: &Path, pid: i32, cgroup: &Cgroup) {
    let state = RuntimeState {
        pid,
        start_time: start_time(pid).unwrap_or(0),
        cgroup: cgroup.clone(),
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

fn load(runtime_dir: &Path) -> Option<RuntimeState> {
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

/// Kills a running container's init, checking first that its PID was not recycled.
pub fn kill(runtime_dir: &Path) {
    let Some(state) = load(runtime_dir) else {
        return;
    };
    if start_time(state.pid) == Some(state.start_time) {
        // SAFETY: kill has no memory-safety preconditions; the start time matched, so the
        // PID is the container's init.
        unsafe { libc::kill(state.pid, libc::SIGKILL) };
    }
}
